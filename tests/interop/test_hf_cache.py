"""`modelreg pull --hf-cache`: a version in the Hugging Face hub cache, loaded by repo id (issue 10 part 3)."""
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from modelreg.artifacts.cache import Cache
from modelreg.interop import hf_cache
from tests.conftest import write_weights
from tests.plugins.tiny_models import register_tiny

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def run(capsys):
    """The CLI as a user runs it (main maps errors to exit codes): (exit code, stdout, stderr)."""
    from types import SimpleNamespace

    from modelreg.cli import main

    def _run(*args):
        code = main([str(a) for a in args])
        out, err = capsys.readouterr()
        return SimpleNamespace(exit_code=code, stdout=out, output=out + err, stderr=err)
    return _run


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def tree(path: Path) -> list[str]:
    return sorted(str(p.relative_to(path)) for p in path.rglob("*")) if path.exists() else []


@pytest.fixture
def llama(registry, weights):
    registry.register_model("llama-ft", "fine_tuned")
    registry.create_version("llama-ft", weights)
    registry.transition_stage("llama-ft", 1, "staging")
    registry.transition_stage("llama-ft", 1, "production")
    return registry


def test_layout_matches_the_hub_cache_and_links_the_verified_bytes(run, llama, weights, tmp_path):
    """issue 10 part 3: blobs named by sha256 and hard-linked to modelreg's cache; snapshot
    symlinks; refs per alias and version, holding the snapshot id without a newline."""
    result = run("-C", str(llama.root), "pull", "llama-ft@production", "--hf-cache",
                 "--repo-id", "acme/llama-ft", "--hf-home", str(tmp_path / "hf"))
    assert result.exit_code == 0, result.output
    repo = tmp_path / "hf" / "hub" / "models--acme--llama-ft"
    refs = {p.name: p.read_text() for p in (repo / "refs").iterdir()}
    assert set(refs) == {"production", "v1"} and len(set(refs.values())) == 1
    commit = refs["production"]
    assert len(commit) == 40 and "\n" not in commit
    snapshot = repo / "snapshots" / commit
    assert result.stdout.strip().splitlines()[-1] == str(snapshot)
    for name in ("model.safetensors", "config.json", "tokenizer.json"):
        link = snapshot / name
        assert link.is_symlink() and not os.path.isabs(os.readlink(link))
        assert link.read_bytes() == (weights / name).read_bytes()
        digest = sha(weights / name)
        assert Path(os.path.realpath(link)) == repo / "blobs" / digest
        assert os.path.samefile(repo / "blobs" / digest, Cache().object_path(digest))
    assert not (repo / ".modelreg-staging").exists()


def test_scan_cache_dir_reads_it_without_warnings(llama, tmp_path):
    """issue 10 part 3: huggingface_hub's own scanner sees one repo, one revision, our refs."""
    from huggingface_hub import scan_cache_dir

    hf_cache.pull_to_hf_cache(llama, "llama-ft@production", repo_id="acme/llama-ft", hf_home=tmp_path / "hf",
                              revisions=["main"])
    info = scan_cache_dir(tmp_path / "hf" / "hub")
    assert info.warnings == []
    (repo,) = info.repos
    (revision,) = repo.revisions
    assert repo.repo_id == "acme/llama-ft" and repo.repo_type == "model"
    assert set(revision.refs) == {"main", "production", "v1"} and revision.nb_files == 3


def test_same_version_twice_is_one_snapshot_and_an_alias_move_moves_the_ref(llama, tmp_path):
    """issue 10 part 3: idempotent; refs/production follows the alias, v1 stays."""
    hf = tmp_path / "hf"
    first = hf_cache.pull_to_hf_cache(llama, "llama-ft@production", hf_home=hf)
    again = hf_cache.pull_to_hf_cache(llama, "llama-ft@production", hf_home=hf)
    assert first.commit == again.commit and again.linked == 0 and again.copied == 0
    write_weights(tmp_path / "w2", seed=9)
    llama.create_version("llama-ft", tmp_path / "w2")
    llama.transition_stage("llama-ft", 2, "staging")
    llama.transition_stage("llama-ft", 2, "production")
    second = hf_cache.pull_to_hf_cache(llama, "llama-ft@production", hf_home=hf)
    repo = hf / "hub" / "models--modelreg--llama-ft"
    assert second.repo_id == "modelreg/llama-ft" and second.commit != first.commit
    assert (repo / "refs" / "production").read_text() == second.commit
    assert (repo / "refs" / "v1").read_text() == first.commit
    assert b'"seed": 9' in (repo / "snapshots" / second.commit / "config.json").read_bytes()


def _other_filesystem(tmp_path) -> Path | None:
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK) and os.stat(shm).st_dev != os.stat(tmp_path).st_dev:
        return shm
    return None


def test_another_filesystem_copies_and_says_so(run, llama, weights, tmp_path):
    """issue 10 bad input: an --hf-cache target on another filesystem is copied, not linked, with a warning."""
    other = _other_filesystem(tmp_path)
    if other is None:
        pytest.skip("no writable second filesystem (/dev/shm) on this machine")
    hf = other / f"modelreg-test-{os.getpid()}-{tmp_path.name}"
    try:
        result = run("-C", str(llama.root), "pull", "llama-ft@1", "--hf-cache", "--hf-home", str(hf))
        assert result.exit_code == 0, result.output
        assert "another filesystem" in result.output and "copied 3 file(s)" in result.output
        snapshot = Path(result.stdout.strip().splitlines()[-1])
        blob = Path(os.path.realpath(snapshot / "model.safetensors"))
        assert blob.read_bytes() == (weights / "model.safetensors").read_bytes()
        assert os.stat(blob).st_nlink == 1
    finally:
        import shutil

        shutil.rmtree(hf, ignore_errors=True)


@pytest.mark.parametrize("args,message", [
    (["--repo-id", "acme"], "invalid repo id 'acme'"),
    (["--repo-id", "acme/../x"], "invalid repo id"),
    (["--repo-id", "a--b/c"], "no '--'"),
    (["--revision", "../main"], "invalid revision name"),
])
def test_bad_hf_options_are_one_line_and_write_nothing(run, llama, tmp_path, args, message):
    """issue 10 bad input: one line, exit 1, nothing written."""
    result = run("-C", str(llama.root), "pull", "llama-ft@1", "--hf-cache", "--hf-home", str(tmp_path / "hf"), *args)
    assert result.exit_code == 1 and message in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert tree(tmp_path / "hf") == []


def test_unknown_alias_and_hf_options_without_the_flag(run, llama, tmp_path):
    """issue 10 bad input: a ref that resolves nowhere writes nothing; --repo-id alone is refused."""
    result = run("-C", str(llama.root), "pull", "llama-ft@canary", "--hf-cache", "--hf-home", str(tmp_path / "hf"))
    assert result.exit_code == 1 and "no alias 'canary'" in result.output
    assert tree(tmp_path / "hf") == []
    result = run("-C", str(llama.root), "pull", "llama-ft@1", "--repo-id", "acme/x")
    assert result.exit_code == 1 and "add --hf-cache" in result.output


def test_corrupt_remote_object_leaves_no_revision(run, llama, weights, tmp_path):
    """issue 10 bad input: a version whose bytes fail verification writes no blob, snapshot or ref."""
    from modelreg.artifacts.config import worktree_config
    from modelreg.artifacts.dvc import object_key

    remote = Path(worktree_config(llama.root, "storage").url)
    md5 = hashlib.md5((weights / "model.safetensors").read_bytes()).hexdigest()
    obj = remote / object_key(md5)
    os.chmod(obj, 0o644)
    obj.write_bytes(b"x" * obj.stat().st_size)
    result = run("-C", str(llama.root), "pull", "llama-ft@1", "--hf-cache", "--hf-home", str(tmp_path / "hf"))
    assert result.exit_code == 1 and "sha256 mismatch" in result.output
    assert tree(tmp_path / "hf") == []


LOAD_BY_REPO_ID = r"""
import json, sys, torch
from huggingface_hub import scan_cache_dir
from peft import PeftModel
from transformers import AutoModelForCausalLM, AutoTokenizer

tok = AutoTokenizer.from_pretrained("acme/tiny", revision="production")
base = AutoModelForCausalLM.from_pretrained("acme/tiny", revision="production")
ids = tok("the registry keeps", return_tensors="pt")
with torch.no_grad():
    by_id = base(**ids).logits
    direct = AutoModelForCausalLM.from_pretrained(sys.argv[1])(**ids).logits
    tuned = PeftModel.from_pretrained(base, "acme/tiny-lora", revision="production")
    adapted = tuned(**ids).logits
    recipe = {}
    exec(sys.argv[3], recipe)  # what the command printed: the base pinned to its snapshot id
    pinned = recipe["model"](**ids).logits
    reference = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(sys.argv[1]), sys.argv[2])(**ids).logits
info = scan_cache_dir()
print(json.dumps({"base_equal": torch.equal(by_id, direct), "adapter_equal": torch.equal(adapted, reference),
                  "recipe_equal": torch.equal(pinned, reference),
                  "adapter_changes": not torch.equal(adapted, by_id), "warnings": [str(w) for w in info.warnings],
                  "repos": sorted(r.repo_id for r in info.repos)}))
"""


@pytest.mark.models
def test_transformers_and_peft_load_by_repo_id_offline(run, registry, tiny_models, tmp_path):
    """issue 10 part 3: from_pretrained("ORG/NAME", revision="production") with HF_HUB_OFFLINE=1 and
    HF_HOME at the target loads exactly the registered model; the adapter (and its base, laid out
    through lineage) loads with peft by repo id the same way."""
    register_tiny(registry, tiny_models)
    hf = tmp_path / "hf"
    result = run("-C", str(registry.root), "pull", "tiny-lora@production", "--hf-cache",
                 "--repo-id", "acme/tiny-lora", "--hf-home", str(hf), "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["base"]["repo_id"] == "acme/tiny" and "production" in out["base"]["refs"]
    assert f'"acme/tiny", revision="{out["base"]["commit"]}"' in out["load"]
    env = dict(os.environ, HF_HOME=str(hf), HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    env.pop("HF_HUB_CACHE", None)
    proc = subprocess.run([sys.executable, "-c", LOAD_BY_REPO_ID, str(tiny_models["base"]), str(tiny_models["adapter"]),
                           out["load"]], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report == {"base_equal": True, "adapter_equal": True, "recipe_equal": True, "adapter_changes": True,
                      "warnings": [], "repos": ["acme/tiny", "acme/tiny-lora"]}


LOAD_CHAIN_BY_REPO_ID = r"""
import json, sys, torch
from huggingface_hub import scan_cache_dir
from peft import PeftModel
from transformers import AutoModelForCausalLM

base = AutoModelForCausalLM.from_pretrained("acme/tiny", revision="v1", dtype=torch.float32)
lower = PeftModel.from_pretrained(base, "acme/tiny-lora", revision="v1").merge_and_unload()
top = PeftModel.from_pretrained(lower, "acme/tiny-lora2", revision="v1")
ids = torch.tensor([[1, 2, 3, 4, 5]])
with torch.no_grad():
    logits = top(input_ids=ids).logits
torch.save(logits, sys.argv[1])
print(json.dumps({"warnings": [str(w) for w in scan_cache_dir().warnings],
                  "repos": sorted(r.repo_id for r in scan_cache_dir().repos)}))
"""


@pytest.mark.models
def test_adapter_on_an_adapter_lays_out_its_whole_lineage(run, registry, tiny_models, tmp_path):
    """--hf-cache for tiny-lora2 (on tiny-lora, on tiny) lays out all three, so peft can build
    the chain by repo id offline, and it computes what modelreg.load computes."""
    import torch

    from modelreg import load, unload

    register_tiny(registry, tiny_models, promote=False)
    registry.register_model("tiny-lora2", "adapter")
    registry.create_version("tiny-lora2", tiny_models["adapter2"], parent="tiny-lora@1")
    hf = tmp_path / "hf"
    result = run("-C", str(registry.root), "pull", "tiny-lora2@1", "--hf-cache", "--repo-id", "acme/tiny-lora2",
                 "--hf-home", str(hf), "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert [out["repo_id"], out["base"]["repo_id"], out["base"]["base"]["repo_id"]] == \
        ["acme/tiny-lora2", "acme/tiny-lora", "acme/tiny"]
    assert "base" not in out["base"]["base"]
    env = dict(os.environ, HF_HOME=str(hf), HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    env.pop("HF_HUB_CACHE", None)
    saved = tmp_path / "logits.pt"
    proc = subprocess.run([sys.executable, "-c", LOAD_CHAIN_BY_REPO_ID, str(saved)], env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report == {"warnings": [], "repos": ["acme/tiny", "acme/tiny-lora", "acme/tiny-lora2"]}
    ours = load("tiny-lora2@1", registry=registry.root, device="cpu", dtype="float32")
    try:
        with torch.no_grad():
            expected = ours.model(input_ids=torch.tensor([[1, 2, 3, 4, 5]])).logits
        assert torch.allclose(torch.load(saved), expected, atol=1e-5)
    finally:
        unload()


def test_a_warm_pull_after_hf_cache_hashes_nothing(llama, tmp_path, monkeypatch):
    """issue 10 part 3: linking blobs into the HF cache (a ctime change on the cache objects) does
    not make the next warm pull re-hash every object."""
    from modelreg.artifacts import cache as cachemod

    hf_cache.pull_to_hf_cache(llama, "llama-ft@1", hf_home=tmp_path / "hf")
    monkeypatch.setattr(cachemod, "sha256_file", lambda p: pytest.fail(f"warm pull re-hashed {p}"))
    assert llama.pull("llama-ft@1").fetched_files == 0
    hf_cache.pull_to_hf_cache(llama, "llama-ft@1", hf_home=tmp_path / "hf2")
    assert llama.pull("llama-ft@1").fetched_files == 0


# -- issue 19 item 9: what --hf-cache leaves is exactly the version ------------------------------
def test_a_blob_of_the_right_size_is_relinked_from_the_verified_cache(llama, weights, tmp_path):
    """issue 19 item 9: a blob swapped for other bytes of the same size is not trusted by its
    size: the next pull links the verified cache object in again."""
    hf = tmp_path / "hf"
    first = hf_cache.pull_to_hf_cache(llama, "llama-ft@production", repo_id="acme/llama-ft", hf_home=hf)
    digest = sha(weights / "model.safetensors")
    blob = hf / "hub" / "models--acme--llama-ft" / "blobs" / digest
    size = blob.stat().st_size
    blob.unlink()
    blob.write_bytes(b"\0" * size)  # same size, other bytes
    again = hf_cache.pull_to_hf_cache(llama, "llama-ft@production", repo_id="acme/llama-ft", hf_home=hf)
    assert again.linked == 1
    assert sha(first.snapshot / "model.safetensors") == digest
    assert os.path.samefile(blob, Cache().object_path(digest))


def test_a_file_added_to_the_snapshot_is_removed(llama, tmp_path):
    """issue 19 item 9: a file dropped into the version's snapshot (custom code transformers
    would import with trust_remote_code) is gone after the next pull."""
    hf = tmp_path / "hf"
    first = hf_cache.pull_to_hf_cache(llama, "llama-ft@production", hf_home=hf)
    (first.snapshot / "modeling_evil.py").write_text("import os\n")
    (first.snapshot / "sub").mkdir()
    (first.snapshot / "sub" / "x.json").write_text("{}")
    hf_cache.pull_to_hf_cache(llama, "llama-ft@production", hf_home=hf)
    assert tree(first.snapshot) == ["config.json", "model.safetensors", "tokenizer.json"]


def test_a_moved_or_removed_alias_leaves_no_stale_ref(llama, tmp_path):
    """issue 19 item 9: refs/champion written for v1 is deleted when champion moves to v2 (or is
    removed), so revision='champion' never loads a version the alias no longer names; refs
    modelreg did not write stay."""
    hf = tmp_path / "hf"
    llama.set_alias("llama-ft", "champion", 1)
    llama.set_alias("llama-ft", "canary", 1)
    first = hf_cache.pull_to_hf_cache(llama, "llama-ft@1", hf_home=hf)
    refs = hf / "hub" / "models--modelreg--llama-ft" / "refs"
    (refs / "mine").write_text(first.commit)  # written by someone else: not ours to judge
    assert {"champion", "canary"} <= {p.name for p in refs.iterdir()}
    llama.create_version("llama-ft", write_weights(tmp_path / "w2", seed=9))
    llama.set_alias("llama-ft", "champion", 2)
    llama.remove_alias("llama-ft", "canary")
    hf_cache.pull_to_hf_cache(llama, "llama-ft@1", hf_home=hf)
    assert sorted(p.name for p in refs.iterdir()) == ["mine", "production", "v1"]
    second = hf_cache.pull_to_hf_cache(llama, "llama-ft@champion", hf_home=hf)
    assert (refs / "champion").read_text() == second.commit and (refs / "v1").read_text() == first.commit


@pytest.mark.parametrize("alias,extra,message", [
    ("main", (), "reads as the revision loaded when none is given"),
    ("deadbeef" * 5, (), "reads as a commit id"),
    (None, ("v2",), "names version 2's ref"),
    (None, ("c0ffee" * 6 + "abcd",), "40 hex digits name a commit"),
])
def test_names_the_hub_cache_gives_a_meaning_are_refused(run, llama, tmp_path, alias, extra, message):
    """issue 19 item 9: an alias `main` or of 40 hex digits, a --revision of 40 hex digits or
    naming another version's v<N>: one line, exit 1, nothing written to the HF cache."""
    if alias:
        llama.set_alias("llama-ft", alias, 1)
    args = [a for name in extra for a in ("--revision", name)]
    result = run("-C", str(llama.root), "pull", "llama-ft@1", "--hf-cache", "--hf-home", str(tmp_path / "hf"), *args)
    assert result.exit_code == 1 and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "hf").exists()


@pytest.fixture
def lora(registry, weights, tmp_path):
    """A base in production and an adapter registered on it (torch-free files)."""
    registry.register_model("base", "base_model")
    registry.create_version("base", weights)
    for stage in ("staging", "production"):
        registry.transition_stage("base", 1, stage)
    registry.register_model("lora", "adapter")
    folder = write_weights(tmp_path / "lora-src", seed=4)
    (folder / "adapter_config.json").write_text('{"peft_type": "LORA", "target_modules": []}\n')
    registry.create_version("lora", folder, parent="base@production")
    return registry


def test_an_adapters_recipe_pins_its_base_and_survives_a_production_move(run, lora, tmp_path):
    """issue 20: the recipe printed for an adapter loads its base by the snapshot laid out for
    the adapter's parent (its 40-hex id), never by `production`: after the base's production
    moves and is pulled into the same cache, the pinned revision still opens the parent's bytes."""
    from huggingface_hub import try_to_load_from_cache

    hf = tmp_path / "hf"
    result = run("-C", str(lora.root), "pull", "lora@1", "--hf-cache", "--hf-home", str(hf), "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    pinned = out["base"]["commit"]
    assert f'AutoModelForCausalLM.from_pretrained("modelreg/base", revision="{pinned}")  # base@1' in out["load"]
    assert f'PeftModel.from_pretrained(model, "modelreg/lora", revision="{out["commit"]}")' in out["load"]
    assert "production" not in out["load"]
    text = run("-C", str(lora.root), "pull", "lora@1", "--hf-cache", "--hf-home", str(hf))
    assert out["load"] in text.stderr
    lora.create_version("base", write_weights(tmp_path / "w2", seed=9))
    for stage in ("staging", "production"):
        lora.transition_stage("base", 2, stage)
    moved = hf_cache.pull_to_hf_cache(lora, "base@production", hf_home=hf)
    hub = hf / "hub"
    assert (hub / "models--modelreg--base" / "refs" / "production").read_text() == moved.commit != pinned
    found = try_to_load_from_cache("modelreg/base", "config.json", cache_dir=hub, revision=pinned)
    assert '"seed": 0' in Path(found).read_text()
    now = try_to_load_from_cache("modelreg/base", "config.json", cache_dir=hub, revision="production")
    assert '"seed": 9' in Path(now).read_text()


def hf_snapshot(hub: Path, repo: str, files: dict[str, bytes], rev: str = "a" * 40) -> Path:
    """A snapshot as huggingface_hub lays it out: bytes in blobs/<sha256>, relative links in
    snapshots/<rev>/, refs/main naming the revision."""
    folder = hub / ("models--" + repo.replace("/", "--"))
    snapshot = folder / "snapshots" / rev
    for rel, data in files.items():
        blob = folder / "blobs" / hashlib.sha256(data).hexdigest()
        blob.parent.mkdir(parents=True, exist_ok=True)
        blob.write_bytes(data)
        link = snapshot / rel
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(os.path.relpath(blob, link.parent))
    (folder / "refs").mkdir(exist_ok=True)
    (folder / "refs" / "main").write_text(rev)
    return snapshot


def cache_state(hub: Path) -> list:
    return sorted((str(p.relative_to(hub)), os.readlink(p) if p.is_symlink() else p.read_bytes(), p.lstat().st_mtime_ns)
                  for p in hub.rglob("*") if not p.is_dir() or p.is_symlink())


def test_version_create_from_a_hub_cache_snapshot_tracks_the_blobs_bytes(run, registry, tmp_path):
    """issue 20: `version create MODEL .../models--org--name/snapshots/REV` follows the snapshot's
    links into the repo's blobs/; the version records (and DVC tracks) the bytes as real files,
    and the cache is left as it was."""
    hub = tmp_path / "hub"
    files = {"config.json": b'{"model_type": "llama"}\n', "model.safetensors": bytes(range(256)) * 8,
             "sub/tokenizer.json": b'{"version": "1.0"}\n'}
    snapshot = hf_snapshot(hub, "org/name", files)
    before = cache_state(hub)
    registry.register_model("name", "base_model")
    result = run("-C", registry.root, "version", "create", "name", snapshot)
    assert result.exit_code == 0, result.output
    record = registry.get_version("name", 1)
    assert {a["path"]: a["sha256"] for a in record["artifacts"]} == \
        {rel: hashlib.sha256(data).hexdigest() for rel, data in files.items()}
    tracked = registry.root / "registry/name/versions/1/weights"
    for rel, data in files.items():
        assert not (tracked / rel).is_symlink() and (tracked / rel).read_bytes() == data
    assert cache_state(hub) == before
    pulled = registry.pull("name@1", dest=tmp_path / "pulled").path
    assert (pulled / "model.safetensors").read_bytes() == files["model.safetensors"]


@pytest.mark.parametrize("target", ["outside", "other-repo"])
def test_a_link_leaving_the_cache_repo_is_refused_and_nothing_is_committed(run, registry, tmp_path, target):
    """issue 20: a snapshot link pointing outside its repo's blobs/ (a file of the machine, or
    another repo's blob) is one line, exit 1, and no commit."""
    hub = tmp_path / "hub"
    snapshot = hf_snapshot(hub, "org/name", {"config.json": b"{}\n"})
    other = hf_snapshot(hub, "org/other", {"model.safetensors": b"other"})
    secret = tmp_path / "secret.txt"
    secret.write_text("not a model file")
    wanted = secret if target == "outside" else (other / "model.safetensors").resolve()
    (snapshot / "model.safetensors").symlink_to(os.path.relpath(wanted, snapshot))
    registry.register_model("name", "base_model")
    head = registry.git.rev_parse("HEAD")
    result = run("-C", registry.root, "version", "create", "name", snapshot)
    assert result.exit_code == 1
    (line,) = result.stderr.strip().splitlines()
    assert "model.safetensors is a symlink to" in line and "outside the folder and" in line
    assert str(hub / "models--org--name" / "blobs") in line
    assert registry.git.rev_parse("HEAD") == head
    assert not (registry.root / "registry/name/versions/1").exists()
