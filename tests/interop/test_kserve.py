"""`modelreg fetch-into` / `modelreg-storage-initializer`: KServe's storage-initializer contract (issue 10 part 4)."""
import hashlib
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from modelreg.cli.interop_cmds import storage_initializer
from modelreg.interop.kserve import parse_uri
from tests.conftest import git, write_weights

ROOT = Path(__file__).resolve().parents[2]


def publish(registry, git_root: Path, org="acme", repo="models") -> str:
    """Push the registry to a bare repository at GIT_BASE/ORG/REPO.git, as a forge would host it."""
    bare = git_root / org / f"{repo}.git"
    bare.parent.mkdir(parents=True, exist_ok=True)
    git(git_root, "clone", "-q", "--bare", str(registry.root), str(bare))
    git(bare, "config", "uploadpack.allowFilter", "true")
    git(bare, "config", "uploadpack.allowAnySHA1InWant", "true")
    return f"file://{git_root}"


@pytest.fixture
def served(registry, weights, tmp_path, monkeypatch):
    """llama-ft@1 in production, v2 registered later; the registry published as acme/models."""
    registry.register_model("llama-ft", "fine_tuned")
    registry.create_version("llama-ft", weights)
    registry.transition_stage("llama-ft", 1, "staging")
    registry.transition_stage("llama-ft", 1, "production")
    git(registry.root, "tag", "deployed")
    registry.create_version("llama-ft", write_weights(tmp_path / "w2", seed=3))
    monkeypatch.setenv("MODELREG_GIT_BASE", publish(registry, tmp_path / "forge"))
    return registry


def initializer(capsys, *args):
    code = storage_initializer([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def listing(path: Path) -> list[str]:
    return sorted(str(p.relative_to(path)) for p in path.rglob("*")) if path.exists() else []


def test_uri_in_verified_files_out(served, weights, tmp_path, capsys):
    """issue 10 part 4: the storage initializer fills the folder with exactly the registered bytes."""
    dest = tmp_path / "mnt" / "models"
    code, out, err = initializer(capsys, "modelreg://acme/models/llama-ft@production", dest)
    assert code == 0, err
    assert "llama-ft@1" in out and "verified" in out
    assert listing(dest) == ["config.json", "model.safetensors", "tokenizer.json"]
    record = served.get_version("llama-ft", 1)
    for art in record["artifacts"]:
        assert hashlib.sha256((dest / art["path"]).read_bytes()).hexdigest() == art["sha256"]
    assert (dest / "model.safetensors").read_bytes() == (weights / "model.safetensors").read_bytes()


def test_version_number_and_at_a_tag(served, tmp_path, capsys):
    """issue 10 part 4: NAME@N and ?at=GITREF resolve where asked."""
    code, _, err = initializer(capsys, "modelreg://acme/models/llama-ft@2", tmp_path / "a")
    assert code == 0, err and b'"seed": 3' in (tmp_path / "a" / "config.json").read_bytes()
    code, out, err = initializer(capsys, "modelreg://acme/models/llama-ft@latest?at=deployed", tmp_path / "b")
    assert code == 0, err
    assert "llama-ft@1" in out


def test_console_script_is_declared_and_runs_as_a_process(served, tmp_path):
    """issue 10 part 4: the console script pyproject declares exists and keeps the exit-code contract."""
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["modelreg-storage-initializer"] == "modelreg.cli.interop_cmds:storage_initializer"
    code = "import sys; from modelreg.cli.interop_cmds import storage_initializer as s; sys.exit(s())"
    env = dict(os.environ, PYTHONPATH=str(ROOT / "tool"))
    ok = subprocess.run([sys.executable, "-c", code, "modelreg://acme/models/llama-ft", str(tmp_path / "m")],
                        env=env, capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr
    assert (tmp_path / "m" / "model.safetensors").exists()
    bad = subprocess.run([sys.executable, "-c", code, "modelreg://acme/models/llama-ft@canary", str(tmp_path / "n")],
                         env=env, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 1 and bad.stderr.strip().startswith("error:")
    usage = subprocess.run([sys.executable, "-c", code, "modelreg://acme/models/llama-ft"],
                           env=env, capture_output=True, text=True, timeout=120)
    assert usage.returncode == 2


@pytest.mark.parametrize("uri,message", [
    ("s3://bucket/llama", "unsupported source"),
    ("modelreg://acme/llama-ft@production", "malformed source"),
    ("modelreg://acme/models/Llama@production", "invalid model name"),
    ("modelreg://acme/models/llama-ft@production?rev=main", "?at="),
    ("modelreg://acme/../llama-ft@1", "malformed source"),
    ("modelreg://acme/models/llama-ft@canary", "no alias 'canary'"),
    ("modelreg://acme/elsewhere/llama-ft@production", "git"),
])
def test_bad_sources_are_one_line_exit_1_and_write_nothing(served, tmp_path, capsys, uri, message):
    """issue 10 bad input: malformed, unknown registry, unknown alias: one line, exit 1, folder untouched."""
    dest = tmp_path / "models"
    code, out, err = initializer(capsys, uri, dest)
    assert code == 1 and message in err
    assert len(err.strip().splitlines()) == 1 and err.startswith("error:")
    assert listing(dest) == []


def test_a_version_without_weights_and_a_file_as_destination(served, tmp_path, capsys):
    """issue 10 bad input: a model with no artifacts, and a destination that is a file."""
    served.register_model("external", "base_model")
    served.create_version("external", source_uri="s3://elsewhere/model")
    git(tmp_path, "-C", str(tmp_path / "forge" / "acme" / "models.git"), "fetch", "-q",
        str(served.root), "+main:main")
    code, _, err = initializer(capsys, "modelreg://acme/models/external@1", tmp_path / "x")
    assert code == 1 and "no weights" in err and listing(tmp_path / "x") == []
    (tmp_path / "file").write_text("")
    code, _, err = initializer(capsys, "modelreg://acme/models/llama-ft", tmp_path / "file")
    assert code == 1 and "is a file" in err


def test_corrupt_object_leaves_the_folder_empty(served, weights, tmp_path, capsys):
    """issue 10 bad input: bytes that fail sha256 never reach the model folder."""
    from modelreg.artifacts.config import worktree_config
    from modelreg.artifacts.dvc import object_key

    remote = Path(worktree_config(served.root, "storage").url)
    obj = remote / object_key(hashlib.md5((weights / "config.json").read_bytes()).hexdigest())
    os.chmod(obj, 0o644)
    obj.write_bytes(b"{" * obj.stat().st_size)
    dest = tmp_path / "models"
    code, _, err = initializer(capsys, "modelreg://acme/models/llama-ft@production", dest)
    assert code == 1 and "sha256 mismatch" in err
    assert listing(dest) == []


@pytest.mark.s3
def test_weights_from_an_s3_remote(s3_registry, weights, tmp_path, monkeypatch, capsys):
    """issue 10 part 4: the usual deployment: registry on a forge, weights in S3 (SeaweedFS here)."""
    s3_registry.register_model("llama-ft", "fine_tuned")
    s3_registry.create_version("llama-ft", weights)
    monkeypatch.setenv("MODELREG_GIT_BASE", publish(s3_registry, tmp_path / "forge"))
    code, _, err = initializer(capsys, "modelreg://acme/models/llama-ft@latest", tmp_path / "models")
    assert code == 0, err
    assert (tmp_path / "models" / "model.safetensors").read_bytes() == (weights / "model.safetensors").read_bytes()


def test_parse_uri_maps_org_repo_onto_the_git_base():
    source = parse_uri("modelreg://acme/models/llama-ft", git_base="https://git.example.com/")
    assert (source.registry_url, source.ref, source.at) == ("https://git.example.com/acme/models.git",
                                                           "llama-ft@production", None)


def test_deploy_manifests_name_the_initializer():
    """issue 10 part 4: the example ClusterStorageContainer claims modelreg:// and runs our entry point."""
    doc = yaml.safe_load((ROOT / "deploy/kserve/cluster-storage-container.yaml").read_text())
    assert doc["kind"] == "ClusterStorageContainer"
    assert doc["spec"]["container"]["name"] == "storage-initializer"
    assert doc["spec"]["supportedUriFormats"] == [{"prefix": "modelreg://"}]
    isvc = yaml.safe_load((ROOT / "deploy/kserve/inferenceservice.yaml").read_text())
    assert parse_uri(isvc["spec"]["predictor"]["model"]["storageUri"]).ref == "llama-ft@production"
    dockerfile = (ROOT / "deploy/kserve/Dockerfile").read_text()
    assert 'ENTRYPOINT ["modelreg-storage-initializer"]' in dockerfile


def test_fetch_into_a_used_folder_leaves_exactly_the_version_and_refuses_a_foreign_one(served, tmp_path, capsys):
    """issue 19 item 9: fetch-into over an earlier fetch leaves exactly the new version's files;
    a folder holding a file no fetch put there is refused (one line, exit 1) and left as it was."""
    dest = tmp_path / "mnt" / "models"
    assert initializer(capsys, "modelreg://acme/models/llama-ft@1", dest)[0] == 0
    (dest / "tokenizer.json").unlink()  # as if an older version had a file the new one lacks...
    (dest / "stale.bin").write_bytes(b"old weights")  # ...and this one is nobody's: refused
    code, _, err = initializer(capsys, "modelreg://acme/models/llama-ft@2", dest)
    assert code == 1 and "stale.bin, which no earlier pull put there" in err
    assert listing(dest) == ["config.json", "model.safetensors", "stale.bin"]
    (dest / "stale.bin").unlink()
    code, _, err = initializer(capsys, "modelreg://acme/models/llama-ft@2", dest)
    assert code == 0, err
    assert listing(dest) == ["config.json", "model.safetensors", "tokenizer.json"]
    assert b'"seed": 3' in (dest / "config.json").read_bytes()


def test_at_a_tag_off_main_is_refused(registry, weights, tmp_path, monkeypatch, capsys):
    """issue 19.10: ?at= a tag pushed on an unreviewed branch delivers nothing: the storage
    initializer says whose records they are, exit 1, and the folder stays empty."""
    registry.register_model("llama-ft", "fine_tuned")
    registry.create_version("llama-ft", weights)
    git(registry.root, "checkout", "-q", "-b", "unreviewed")
    registry.set_alias("llama-ft", "canary", 1)
    git(registry.root, "tag", "canary-tag")
    git(registry.root, "checkout", "-q", "main")
    monkeypatch.setenv("MODELREG_GIT_BASE", publish(registry, tmp_path / "forge"))
    dest = tmp_path / "mnt"
    code, _, err = initializer(capsys, "modelreg://acme/models/llama-ft@canary?at=canary-tag", dest)
    assert code == 1 and "canary-tag (" in err and "is not a commit main ever had" in err
    assert listing(dest) == []
