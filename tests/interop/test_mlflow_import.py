"""`modelreg import mlflow` against a real MLflow, populated by MLflow's own client (issue 10 part 1)."""
import hashlib
import http.server
import shutil
import socket
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlparse

import pytest

from tests.conftest import git, write_weights
from tests.plugins.mlflow_env import fresh_db
from tests.plugins.mlflow_env import mlflow_server as start_mlflow_server

pytestmark = [pytest.mark.mlflow, pytest.mark.usefixtures("mlflow_plugins")]
mlflow = pytest.importorskip("mlflow")
from mlflow import MlflowClient  # noqa: E402


class Team:
    """An MLflow registry as a team has it, built through MLflow's client."""

    def __init__(self, uri: str, root: Path, local_artifacts: bool = True, experiment: str = "support"):
        self.uri, self.root = uri, root
        self.client = MlflowClient(tracking_uri=uri, registry_uri=uri)
        # sqlite: an explicit artifact location (the default is ./mlruns in the current folder);
        # a server: its own default, artifacts proxied through it (mlflow-artifacts:/).
        location = (root / "artifacts").as_uri() if local_artifacts else None
        self.experiment = self.client.create_experiment(experiment, artifact_location=location)
        self.folders = {}

    def version(self, name, seed, params=None, metrics=None, tags=None, stage=None, description=None):
        run = self.client.create_run(self.experiment)
        run_id = run.info.run_id
        for key, value in (params or {}).items():
            self.client.log_param(run_id, key, value)
        for key, value in (metrics or {}).items():
            self.client.log_metric(run_id, key, value)
        folder = write_weights(self.root / f"src-{name.replace(' ', '_')}-{seed}", seed=seed)
        self.client.log_artifacts(run_id, str(folder), "model")
        self.client.set_terminated(run_id)
        mv = self.client.create_model_version(name, f"{run.info.artifact_uri}/model", run_id,
                                              tags=tags, description=description)
        if stage:
            self.client.transition_model_version_stage(name, mv.version, stage)
        self.folders[(name, int(mv.version))] = folder
        return mv

    def artifact_dir(self, name, version) -> Path:
        source = self.client.get_model_version(name, str(version)).source
        return Path(urlparse(source).path)


def populate(team: Team) -> Team:
    """llama-ft: v1 archived, v2 production (alias champion), v3 deleted, v4 staging (alias canary);
    bert-cls: one version; "Fraud Detector": not a valid modelreg name."""
    c = team.client
    c.create_registered_model("llama-ft", tags={"team": "support"}, description="support bot")
    team.version("llama-ft", 1, {"lr": "0.001"}, {"eval/accuracy": 0.55}, stage="Archived")
    team.version("llama-ft", 2, {"lr": "0.0005", "epochs": "3"}, {"eval/accuracy": 0.61, "loss": 1.2},
                 tags={"data": "v7"}, stage="Production", description="second try")
    team.version("llama-ft", 3)
    c.delete_model_version("llama-ft", "3")
    team.version("llama-ft", 4, stage="Staging")
    c.set_registered_model_alias("llama-ft", "champion", "2")
    c.set_registered_model_alias("llama-ft", "canary", "4")
    c.create_registered_model("bert-cls")
    team.version("bert-cls", 7)
    c.create_registered_model("Fraud Detector")
    team.version("Fraud Detector", 8)
    return team


@pytest.fixture
def team(tmp_path, mlflow_template_db):
    return populate(Team(fresh_db(mlflow_template_db, tmp_path / "mlflow.db"), tmp_path / "team"))


@pytest.fixture
def run(registry, capsys):
    from modelreg.cli import main

    def _run(*args):
        code = main(["-C", str(registry.root), *map(str, args)])
        out, err = capsys.readouterr()
        return SimpleNamespace(code=code, out=out, err=err)
    return _run


def head(registry) -> str:
    return registry.git.rev_parse("HEAD")


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_dry_run_prints_the_mapping_and_writes_nothing(run, registry, team):
    """issue 10 part 1: --dry-run shows what becomes what and what is dropped and why; nothing written."""
    before = head(registry)
    result = run("import", "mlflow", "--tracking-uri", team.uri, "--dry-run")
    assert result.code == 1  # "Fraud Detector" is refused
    out = result.out
    assert "MLflow 'llama-ft' -> llama-ft: create" in out
    assert "version 2: Production -> production" in out and "version 1: Archived -> archived" in out
    assert "version 3: placeholder (deleted in MLflow" in out and "version 4: Staging -> staging" in out
    assert "alias champion -> 2" in out and "alias production -> 2" in out and "alias canary -> 4" in out
    assert "MLflow 'Fraud Detector' -> refused: invalid model name 'Fraud Detector'" in out
    assert "--into NAME" in out and "dry run: nothing was written" in out
    assert head(registry) == before and git(registry.root, "status", "--porcelain") == ""
    assert not (registry.root / "registry" / "llama-ft").exists()


def test_import_writes_one_commit_per_model_with_numbers_stages_aliases_and_runs(run, registry, team):
    """issue 10 part 1: records carry version numbers, stages, aliases, run params/metrics, tags,
    description; artifacts are registered through DVC and pull back byte for byte; `check` passes."""
    before = head(registry)
    result = run("import", "mlflow", "--tracking-uri", team.uri, "-q")
    assert result.code == 1 and "refused" in result.out  # only the invalid name
    log = git(registry.root, "log", "--format=%s", f"{before}..HEAD").splitlines()
    assert sorted(log) == ["modelreg: import bert-cls from MLflow model bert-cls (1 version(s))",
                           "modelreg: import llama-ft from MLflow model llama-ft (4 version(s))"]
    assert registry.aliases("llama-ft") == {"canary": 4, "champion": 2, "production": 2}
    assert [v["stage"] for v in registry.list_versions("llama-ft", include_deleted=True)] == \
        ["archived", "production", "archived", "staging"]
    v2 = registry.get_version("llama-ft", 2)
    assert v2["parameters"] == {"epochs": "3", "lr": "0.0005"}
    assert {(m["benchmark"], m["metric"], m["value"]) for m in v2["metrics"]} == \
        {("eval", "accuracy", 0.61), ("run", "loss", 1.2)}
    assert v2["tags"]["data"] == "v7" and v2["description"] == "second try"
    assert v2["source"]["run_id"] and v2["source"]["experiment_id"] == team.experiment
    v3 = registry.get_version("llama-ft", 3)
    assert v3["status"] == "deleted" and "deleted in MLflow" in v3["deleted"]["reason"]
    model = registry.get_model("llama-ft")
    assert model["description"] == "support bot"
    tags = {k: v for k, v in model["tags"].items() if k != "mlflow.synced"}
    assert tags == {"team": "support", "mlflow.name": "llama-ft"}
    folder = registry.pull("llama-ft@champion").path
    source = team.folders[("llama-ft", 2)]
    for name in ("model.safetensors", "config.json", "tokenizer.json"):
        assert sha(folder / name) == sha(source / name)
    assert run("check").code == 0


def test_second_run_imports_only_what_is_new(run, registry, team):
    """issue 10 part 1: idempotent (no commit when nothing changed), then resumable with new versions."""
    assert run("import", "mlflow", "--tracking-uri", team.uri, "--model", "llama-ft", "-q").code == 0
    first = head(registry)
    again = run("import", "mlflow", "--tracking-uri", team.uri, "--model", "llama-ft", "-q")
    assert again.code == 0 and "skip (nothing new)" in again.out and head(registry) == first
    team.version("llama-ft", 5, stage="Production")
    third = run("import", "mlflow", "--tracking-uri", team.uri, "--model", "llama-ft", "-q")
    assert third.code == 0, third.err
    assert git(registry.root, "rev-list", "--count", f"{first}..HEAD").strip() == "1"
    assert "version 1: skip (already imported)" in third.out
    # issue 21: a version imported into production takes it (and its alias) from version 2
    assert registry.get_version("llama-ft", 5)["stage"] == "production" and registry.aliases("llama-ft")["production"] == 5
    assert registry.get_version("llama-ft", 2)["stage"] == "archived" and "version 2: -> archived" in third.out
    assert run("check").code == 0


def test_invalid_name_imports_with_into_and_a_collision_is_refused(run, registry, team):
    """issue 10 bad input: an invalid MLflow name and a name collision are refused; --into renames."""
    registry.register_model("bert-cls", "base_model")
    before = head(registry)
    refused = run("import", "mlflow", "--tracking-uri", team.uri, "--model", "bert-cls")
    assert refused.code == 1 and "not imported from MLflow model 'bert-cls'" in refused.out
    assert head(registry) == before
    ok = run("import", "mlflow", "--tracking-uri", team.uri, "--model", "bert-cls", "--into", "bert-cls-ml", "-q")
    assert ok.code == 0 and registry.get_model("bert-cls-ml")["tags"]["mlflow.name"] == "bert-cls"
    fraud = run("import", "mlflow", "--tracking-uri", team.uri, "--model", "Fraud Detector", "--into", "fraud", "-q")
    assert fraud.code == 0 and registry.resolve("fraud@1").version == 1
    both = run("import", "mlflow", "--tracking-uri", team.uri, "--into", "x")
    assert both.code == 1 and "exactly one --model" in both.err


def test_deleted_artifacts_write_nothing_for_that_model(run, registry, team):
    """issue 10 bad input: a version whose artifacts were deleted fails its model whole; others import."""
    shutil.rmtree(team.artifact_dir("llama-ft", 4))
    before = head(registry)
    result = run("import", "mlflow", "--tracking-uri", team.uri, "--model", "llama-ft", "--model", "bert-cls", "-q")
    assert result.code == 1
    errors = [line for line in result.err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "llama-ft" in errors[0] and "version 4" in errors[0] and "nothing was written" in errors[0]
    assert git(registry.root, "log", "--format=%s", f"{before}..HEAD").strip() == \
        "modelreg: import bert-cls from MLflow model bert-cls (1 version(s))"
    assert not (registry.root / "registry" / "llama-ft").exists()
    assert git(registry.root, "status", "--porcelain") == ""


def test_model_without_artifacts(run, registry, team, tmp_path):
    """issue 10 bad input: a version registered with an empty artifact folder is one clear line."""
    run_id = team.client.create_run(team.experiment).info.run_id
    artifacts = team.client.get_run(run_id).info.artifact_uri
    (Path(urlparse(artifacts).path) / "model").mkdir(parents=True)
    team.client.create_registered_model("hollow")
    team.client.create_model_version("hollow", f"{artifacts}/model", run_id)
    result = run("import", "mlflow", "--tracking-uri", team.uri, "--model", "hollow", "-q")
    assert result.code == 1 and "version 1 has no artifacts" in result.err
    assert not (registry.root / "registry" / "hollow").exists()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _QuietFiles(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # the test asserts on stderr
        pass


@pytest.fixture
def not_mlflow(tmp_path):
    """A web server that is not MLflow (serves an empty folder: 404 for the registry API)."""
    handler = lambda *a: _QuietFiles(*a, directory=str(tmp_path))  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_unreachable_and_non_mlflow_uris(run, registry, tmp_path, not_mlflow):
    """issue 10 bad input: unreachable or non-MLflow tracking URIs: one line, exit 1, nothing written."""
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("create table t (x)").connection.commit()
    before = head(registry)
    cases = [(f"http://127.0.0.1:{_closed_port()}", "cannot reach MLflow"),
             (not_mlflow, "is not an MLflow tracking server (HTTP 404"),
             (f"sqlite:///{tmp_path / 'missing.db'}", "no MLflow database"),
             (f"sqlite:///{other}", "is not an MLflow database")]
    for uri, message in cases:
        result = run("import", "mlflow", "--tracking-uri", uri)
        assert result.code == 1 and message in result.err, (uri, result.err)
        assert len(result.err.strip().splitlines()) == 1
    assert not (tmp_path / "missing.db").exists()
    assert head(registry) == before


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory, mlflow_template_db):
    """`mlflow server` on loopback with a sqlite backend, serving artifacts itself."""
    root = tmp_path_factory.mktemp("mlflow-server")
    backend = fresh_db(mlflow_template_db, root / "mlflow.db")
    with start_mlflow_server(root, "--backend-store-uri", backend, "--artifacts-destination",
                             str(root / "artifacts")) as uri:
        yield SimpleNamespace(uri=uri, root=root)


def test_through_mlflow_server_on_loopback(run, registry, mlflow_server, tmp_path):
    """issue 10 part 1: the same import through `mlflow server` (REST API, proxied artifacts)."""
    team = Team(mlflow_server.uri, tmp_path / "team", local_artifacts=False)
    team.client.create_registered_model("llama-ft")
    team.version("llama-ft", 1, {"lr": "0.1"}, {"loss": 0.5})
    team.version("llama-ft", 2, stage="Production")
    team.client.set_registered_model_alias("llama-ft", "champion", "1")
    result = run("import", "mlflow", "--tracking-uri", mlflow_server.uri, "--model", "llama-ft", "-q")
    assert result.code == 0, result.err
    assert registry.aliases("llama-ft") == {"champion": 1, "production": 2}
    assert registry.get_version("llama-ft", 1)["parameters"] == {"lr": "0.1"}
    assert registry.get_version("llama-ft", 2)["source"]["uri"].startswith("mlflow-artifacts:")
    folder = registry.pull("llama-ft@production").path
    assert sha(folder / "model.safetensors") == sha(team.folders[("llama-ft", 2)] / "model.safetensors")


@pytest.mark.github
def test_pr_puts_each_model_on_a_pull_request(run, registry, team, github, tmp_path, monkeypatch):
    """issue 10 part 1: --pr: one branch and pull request per model (Prism + the GitHub fake); main untouched."""
    from tests.promotion.test_promote import set_policy

    bare = tmp_path / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(bare)], check=True)
    git(registry.root, "remote", "add", "origin", str(bare))
    set_policy(registry.root, forge={"type": "github", "repository": "org/registry"})
    git(registry.root, "push", "-q", "origin", "main")
    github.add_repo("org/registry", bare)
    monkeypatch.setenv("GITHUB_TOKEN", github.add_user("alice"))
    before = head(registry)
    result = run("import", "mlflow", "--tracking-uri", team.uri, "--model", "llama-ft", "--model", "bert-cls",
                 "--pr", "-q")
    assert result.code == 0, result.err
    assert "opened pull request #1" in result.out and "opened pull request #2" in result.out
    bodies = [github.pull("org/registry", n)["body"] for n in (1, 2)]
    assert any("register bert-cls@1" in b for b in bodies)
    llama = next(b for b in bodies if "llama-ft" in b)
    assert "register llama-ft@2" in llama and "Imported by `modelreg import mlflow`" in llama
    heads = {github.pull("org/registry", n)["head"] for n in (1, 2)}
    assert heads == {"modelreg/llama-ft-version-1", "modelreg/bert-cls-version-1"}
    assert head(registry) == before and registry.git.current_branch() == "main"
    # records live on the branches only (DVC's git-ignored weights folders stay, as with version create --pr)
    assert not (registry.root / "registry" / "llama-ft" / "model.yaml").exists()
    assert git(registry.root, "status", "--porcelain") == ""


def _pickled_mlflow_model(team, tmp_path) -> None:
    """MLflow's sk-model@1: weights plus a pickle, which the default formats policy refuses."""
    folder = write_weights(tmp_path / "pickled", seed=3)
    (folder / "model.pkl").write_bytes(b"\x80\x04K\x01.")
    run_id = team.client.create_run(team.experiment).info.run_id
    team.client.log_artifacts(run_id, str(folder), "model")
    team.client.create_registered_model("sk-model")
    team.client.create_model_version("sk-model", f"{team.client.get_run(run_id).info.artifact_uri}/model", run_id)


def test_format_policy_applies_to_imported_versions(run, registry, team, tmp_path):
    """issue 10 part 1: imported artifacts pass the registry's format policy like `version create`:
    a pickle in an MLflow model is refused naming the file, and nothing is written for that model."""
    _pickled_mlflow_model(team, tmp_path)
    result = run("import", "mlflow", "--tracking-uri", team.uri, "--model", "sk-model", "-q")
    assert result.code == 1 and "model.pkl" in result.err and "nothing was written" in result.err
    assert not (registry.root / "registry" / "sk-model").exists()


# -- issue 19 item 8: an import brings nothing from the importing machine ----------------------
def _secret(tmp_path) -> Path:
    """A file of the importing machine that must never enter the registry."""
    secret = tmp_path / "home" / ".ssh" / "id_ed25519"
    secret.parent.mkdir(parents=True)
    secret.write_text("-----PRIVATE KEY OF THE IMPORTER-----\n")
    return secret


def _nothing_written(registry, before, name):
    assert head(registry) == before and git(registry.root, "status", "--porcelain") == ""
    assert not (registry.root / "registry" / name).exists()


def test_symlink_in_the_artifact_tree_is_refused(run, registry, team, tmp_path):
    """issue 19 item 8: a symlink in a version's artifact folder (MLflow's copy follows it) is
    refused, naming it; the linked file of this machine goes nowhere."""
    secret = _secret(tmp_path)
    (team.artifact_dir("bert-cls", 1) / "tokenizer.model").symlink_to(secret)
    before = head(registry)
    result = run("import", "mlflow", "--tracking-uri", team.uri, "--model", "bert-cls", "-q")
    assert result.code == 1
    assert "holds a symlink, tokenizer.model" in result.err and "nothing was written" in result.err
    _nothing_written(registry, before, "bert-cls")
    remote = tmp_path / "remote"
    assert not any(p.is_file() and p.read_bytes() == secret.read_bytes() for p in remote.rglob("*"))


@pytest.mark.parametrize("form", ["path", "file-uri", "dotdot"])
def test_local_source_outside_the_artifact_location_is_refused(run, registry, team, tmp_path, form):
    """issue 19 item 8: a version whose source is a local folder outside its experiment's artifact
    location (a bare path, a file: URI, or a path that climbs out with '..') is refused; nothing
    of that folder is imported."""
    private = write_weights(tmp_path / "home" / "private-model")  # files any format policy admits
    run_id = team.client.create_run(team.experiment).info.run_id
    artifacts = team.client.get_run(run_id).info.artifact_uri
    depth = len(Path(urlparse(artifacts).path).relative_to(tmp_path).parts)
    source = {"path": str(private), "file-uri": private.as_uri(),
              "dotdot": f"{artifacts}/{'../' * depth}home/private-model"}[form]
    team.client.create_registered_model("stolen")
    team.client.create_model_version("stolen", source, run_id)
    before = head(registry)
    result = run("import", "mlflow", "--tracking-uri", team.uri, "--model", "stolen", "-q")
    assert result.code == 1, result.out
    assert "outside the artifact location of its MLflow experiment" in result.err
    _nothing_written(registry, before, "stolen")


def test_a_link_out_of_the_artifact_location_is_refused(run, registry, team, tmp_path):
    """issue 19 item 8: a runs:/ source whose folder inside the artifact location is a symlink to
    a folder of this machine is followed to where it really is, and refused; a runs:/ source
    that really is the run's artifacts still imports."""
    secret = _secret(tmp_path)
    write_weights(secret.parent)
    run_id = team.client.create_run(team.experiment).info.run_id
    artifacts = Path(urlparse(team.client.get_run(run_id).info.artifact_uri).path)
    artifacts.mkdir(parents=True)
    (artifacts / "model").symlink_to(secret.parent)
    team.client.create_registered_model("linked")
    team.client.create_model_version("linked", f"runs:/{run_id}/model", run_id)
    before = head(registry)
    result = run("import", "mlflow", "--tracking-uri", team.uri, "--model", "linked", "-q")
    assert result.code == 1 and "outside the artifact location" in result.err
    _nothing_written(registry, before, "linked")
    mv = team.client.get_model_version("bert-cls", "1")
    team.client.create_registered_model("via-runs")
    team.client.create_model_version("via-runs", f"runs:/{mv.run_id}/model", mv.run_id)
    assert run("import", "mlflow", "--tracking-uri", team.uri, "--model", "via-runs", "-q").code == 0
    folder = registry.pull("via-runs@1").path
    assert sha(folder / "model.safetensors") == sha(team.folders[("bert-cls", 1)] / "model.safetensors")


# -- issue 19 item 11: credentials in MLflow sources and tracking URIs are never recorded -------
SIGNED = "https://alice:s3cr3t-pw@127.0.0.1:9/bucket/model?X-Amz-Signature=deadbeefsig&X-Amz-Date=20261201"


def test_source_credentials_are_stripped_from_plan_json_and_errors(run, registry, team):
    """issue 19 item 11: a version source with userinfo and a presigned signature is shown in the
    dry run (--json) and in the download error without either."""
    team.client.create_registered_model("signed")
    team.client.create_model_version("signed", SIGNED)
    planned = run("import", "mlflow", "--tracking-uri", team.uri, "--model", "signed", "--dry-run", "--json")
    assert planned.code == 1, planned.err  # issue 21: the dry run downloads, as the real run does
    import json

    version = json.loads(planned.out)["models"][0]["versions"][0]
    assert version["source"] == "https://127.0.0.1:9/bucket/model?X-Amz-Date=20261201"
    failed = run("import", "mlflow", "--tracking-uri", team.uri, "--model", "signed")
    assert failed.code == 1 and "127.0.0.1:9/bucket/model" in failed.err
    for out in (planned.out + planned.err, failed.out + failed.err):
        assert "s3cr3t-pw" not in out and "deadbeefsig" not in out and "alice" not in out


def test_recorded_source_has_no_credentials(run, registry, team):
    """issue 19 item 11: the recorded source.uri of an imported version carries no credentials
    (an MLflow source URI with a token query parameter)."""
    mv = team.client.get_model_version("bert-cls", "1")
    team.client.create_registered_model("tokened")
    team.client.create_model_version("tokened", f"runs:/{mv.run_id}/model?token=tok-123", mv.run_id)
    result = run("import", "mlflow", "--tracking-uri", team.uri, "--model", "tokened", "-q")
    assert result.code == 0, result.err
    text = (registry.root / "registry" / "tokened" / "versions" / "1" / "version.yaml").read_text()
    assert "tok-123" not in text and f"runs:/{mv.run_id}/model" in text
    assert run("check").code == 0


def test_tracking_uri_credentials_reach_the_server_but_no_output(run, registry, mlflow_server, tmp_path):
    """issue 19 item 11: `--tracking-uri http://user:pw@host` works (the probe sends them as MLflow's
    client does) and neither --json nor an error line shows the password."""
    team = Team(mlflow_server.uri, tmp_path / "team", local_artifacts=False, experiment="basic-auth")
    team.client.create_registered_model("basic-auth")
    team.version("basic-auth", 1)
    with_pw = mlflow_server.uri.replace("http://", "http://bob:hunter2-pw@")
    result = run("import", "mlflow", "--tracking-uri", with_pw, "--model", "basic-auth", "--dry-run", "--json")
    assert result.code == 0, result.err
    assert "hunter2-pw" not in result.out + result.err, result.out
    import json

    doc = json.loads(result.out[result.out.index("{\n"):])  # after MLflow's "View run" lines
    assert doc["tracking_uri"] == mlflow_server.uri
    down = run("import", "mlflow", "--tracking-uri", f"http://bob:hunter2-pw@127.0.0.1:{_closed_port()}")
    assert down.code == 1 and "cannot reach MLflow at http://127.0.0.1:" in down.err
    assert "hunter2-pw" not in down.out + down.err


# -- issue 21: an import that is faithful and repeatable -----------------------------------------
def test_reimport_into_a_stage_moves_the_stage_alias_and_check_passes(run, registry, team):
    """issue 21: a version imported into a stage by a second import gets the stage and its alias
    (before: @production unset, `check` failing on main)."""
    assert run("import", "mlflow", "--tracking-uri", team.uri, "--model", "bert-cls", "-q").code == 0
    mv = team.version("bert-cls", 12)
    team.client.transition_model_version_stage("bert-cls", mv.version, "Production")
    again = run("import", "mlflow", "--tracking-uri", team.uri, "--model", "bert-cls", "-q")
    assert again.code == 0, again.err
    assert registry.get_version("bert-cls", 2)["stage"] == "production"
    assert registry.aliases("bert-cls")["production"] == 2
    assert run("check").code == 0
    assert run("tag").code == 0  # what the tag workflow does on main: the move gets its stage tag
    tags = git(registry.root, "tag", "--list").split()
    assert "bert-cls@production#1" in tags and "bert-cls@v2" in tags, tags
    # a version created already in a stage gets that stage's tag, which check-ref bears out
    assert "bert-cls#production#1" in tags and "bert-cls#none#1" not in tags, tags
    ref = run("check-ref", "bert-cls#production#1", "--json")
    assert ref.code == 0 and '"version": 2' in ref.out and '"stage": "production"' in ref.out, ref.out
    assert run("tag").code == 0 and git(registry.root, "tag", "--list").split() == tags  # idempotent
    assert run("check").code == 0


def test_first_import_into_stages_tags_each_stage(run, registry, team):
    """issue 21: the first import creates llama-ft@2 in production and @4 in staging: `modelreg tag`
    gives each its stage tag; the deleted placeholder (archived) gets none."""
    assert run("import", "mlflow", "--tracking-uri", team.uri, "--model", "llama-ft", "-q").code == 0
    assert run("tag").code == 0
    tags = set(git(registry.root, "tag", "--list").split())
    assert {"llama-ft#production#1", "llama-ft#staging#1", "llama-ft#archived#1"} <= tags, tags
    assert "llama-ft#archived#2" not in tags  # version 3 is a deleted placeholder
    ref = run("check-ref", "llama-ft#archived#1", "--json")
    assert ref.code == 0 and '"version": 1' in ref.out, ref.out


def test_reimport_matches_versions_by_mlflow_identity_not_number(run, registry, team, tmp_path):
    """issue 21: both sides registered a version 2 after the first import: MLflow's comes in as a
    new modelreg version with its own bytes, never as an alias of modelreg's version 2."""
    assert run("import", "mlflow", "--tracking-uri", team.uri, "--model", "bert-cls", "-q").code == 0
    ours = write_weights(tmp_path / "ours", seed=40)
    registry.create_version("bert-cls", ours)
    team.version("bert-cls", 41)
    again = run("import", "mlflow", "--tracking-uri", team.uri, "--model", "bert-cls", "-q")
    assert again.code == 0, again.err
    assert "version 3: None -> none" in again.out and "mlflow version 2" in again.out
    v3 = registry.get_version("bert-cls", 3)
    assert v3["tags"]["mlflow.version"] == "2"
    assert v3["source"]["run_id"] == team.client.get_model_version("bert-cls", "2").run_id
    assert "mlflow.version" not in (registry.get_version("bert-cls", 2).get("tags") or {})
    assert sha(registry.pull("bert-cls@3").path / "model.safetensors") == \
        sha(team.folders[("bert-cls", 2)] / "model.safetensors")
    assert sha(registry.pull("bert-cls@2").path / "model.safetensors") == sha(ours / "model.safetensors")
    third = run("import", "mlflow", "--tracking-uri", team.uri, "--model", "bert-cls", "-q")
    assert third.code == 0 and "skip (nothing new)" in third.out
    assert run("check").code == 0


def test_no_invented_creator_and_millisecond_timestamps(run, registry, team):
    """issue 21: MLflow recorded no user: no created_by; creation times keep their milliseconds."""
    assert run("import", "mlflow", "--tracking-uri", team.uri, "--model", "bert-cls", "-q").code == 0
    mv = team.client.get_model_version("bert-cls", "1")
    rm = team.client.get_registered_model("bert-cls")
    assert not mv.user_id
    v1, model = registry.get_version("bert-cls", 1), registry.get_model("bert-cls")
    assert "created_by" not in v1 and "created_by" not in model
    from datetime import datetime

    for record, millis in ((v1, mv.creation_timestamp), (model, rm.creation_timestamp)):
        stamp = record["created_at"]
        assert stamp.endswith("Z") and "." in stamp, stamp
        parsed = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
        assert int(parsed.timestamp()) * 1000 + parsed.microsecond // 1000 == millis
    assert run("check").code == 0


def test_dry_run_reports_what_the_real_run_refuses(run, registry, team, tmp_path):
    """issue 21: --dry-run applies the formats policy and the artifact checks of the real run."""
    _pickled_mlflow_model(team, tmp_path)
    (team.artifact_dir("bert-cls", 1) / "tokenizer.model").symlink_to(_secret(tmp_path))
    before = head(registry)
    result = run("import", "mlflow", "--tracking-uri", team.uri, "--model", "sk-model", "--model", "bert-cls",
                 "--dry-run", "-q")
    assert result.code == 1
    assert "model.pkl" in result.err and "holds a symlink, tokenizer.model" in result.err
    assert "dry run: nothing was written" in result.out
    _nothing_written(registry, before, "sk-model")
    assert not (registry.root / "registry" / "bert-cls").exists()
    ok = run("import", "mlflow", "--tracking-uri", team.uri, "--model", "llama-ft", "--dry-run", "--json")
    assert ok.code == 0, ok.err
    team.client.create_registered_model("long-notes")
    team.version("long-notes", 50, description="x" * 70000)  # longer than version.yaml allows
    for flags in (["--dry-run"], []):
        refused = run("import", "mlflow", "--tracking-uri", team.uri, "--model", "long-notes", "-q", *flags)
        assert refused.code == 1 and "description" in refused.err, refused.err
    assert not (registry.root / "registry" / "long-notes").exists()


def test_quiet_silences_mlflow_progress_bars(run, registry, team):
    """issue 21: -q: no MLflow "Downloading artifacts" bars on stderr."""
    loud = run("import", "mlflow", "--tracking-uri", team.uri, "--model", "bert-cls", "--into", "loud")
    assert loud.code == 0 and "Downloading artifacts" in loud.err
    quiet = run("import", "mlflow", "--tracking-uri", team.uri, "--model", "bert-cls", "-q")
    assert quiet.code == 0 and "Downloading artifacts" not in quiet.err, quiet.err


def test_type_sets_what_imported_models_are(run, registry, team):
    """issue 21: --type chooses the model type of imported models and their versions."""
    result = run("import", "mlflow", "--tracking-uri", team.uri, "--model", "bert-cls", "--type", "fine_tuned", "-q")
    assert result.code == 0, result.err
    assert registry.get_model("bert-cls")["model_type"] == "fine_tuned"
    assert registry.get_version("bert-cls", 1)["model_type"] == "fine_tuned"
    other = run("import", "mlflow", "--tracking-uri", team.uri, "--model", "bert-cls", "--type", "merged")
    assert other.code == 1 and "was imported as fine_tuned, not merged" in other.out
    bad = run("import", "mlflow", "--tracking-uri", team.uri, "--model", "llama-ft", "--type", "nonsense")
    assert bad.code != 0 and "nonsense" in bad.err


def test_reimport_refuses_a_version_whose_files_changed_in_mlflow(run, registry, team):
    """issue 21: a version imported before is recognised by MLflow's identity and its bytes: when
    its files were overwritten in MLflow (same names, same size), the re-import and its dry run
    say so, naming the file; nothing is written, the imported bytes stay."""
    assert run("import", "mlflow", "--tracking-uri", team.uri, "--model", "bert-cls", "-q").code == 0
    first = head(registry)
    weights = team.artifact_dir("bert-cls", 1) / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[0] ^= 0xFF
    weights.write_bytes(bytes(data))
    team.version("bert-cls", 60)  # something new as well: it waits until the change is resolved
    for flags in (["--dry-run"], []):
        result = run("import", "mlflow", "--tracking-uri", team.uri, "--model", "bert-cls", "-q", *flags)
        assert result.code == 1, result.out
        assert "MLflow version 1 changed since it was imported as bert-cls@1" in result.err, result.err
        assert "(model.safetensors)" in result.err and "register the new files there as a new version" in result.err
    assert head(registry) == first and git(registry.root, "status", "--porcelain") == ""
    assert sha(registry.pull("bert-cls@1").path / "model.safetensors") == \
        sha(team.folders[("bert-cls", 1)] / "model.safetensors")


def _origin(registry, tmp_path) -> None:
    bare = tmp_path / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(bare)], check=True)
    git(registry.root, "remote", "add", "origin", str(bare))
    git(registry.root, "push", "-q", "origin", "main")


def test_import_into_a_gated_stage_with_approvals_goes_through_review(run, registry, team, tmp_path):
    """issue 21: an import into a stage is not a way around its gates and approvals: a direct
    import into a gated stage is refused by its gate, one into a stage with approvals naming
    --pr, nothing written; with --pr the branch's `check --base main` judges the gates."""
    from tests.promotion.test_promote import set_policy

    _origin(registry, tmp_path)
    set_policy(registry.root, gates={"production": {"metrics": ["eval/accuracy >= 0.9"]}})
    before = head(registry)
    gated = run("import", "mlflow", "--tracking-uri", team.uri, "--model", "llama-ft", "-q")
    assert gated.code == 1 and "llama-ft@2 cannot enter production: its gates fail" in gated.err, gated.err
    assert head(registry) == before and git(registry.root, "status", "--porcelain") == ""
    set_policy(registry.root, approvals={"production": {"groups": [["@org/leads"]]}})
    before = head(registry)
    for flags in (["--dry-run"], []):
        refused = run("import", "mlflow", "--tracking-uri", team.uri, "--model", "llama-ft", "-q", *flags)
        assert refused.code == 1, refused.out
        line = next(x for x in refused.err.splitlines() if x.startswith("error:"))
        assert "llama-ft@2 would enter production, which needs approvals" in line and "(--pr)" in line, line
    assert head(registry) == before and not (registry.root / "registry" / "llama-ft").exists()
    assert run("import", "mlflow", "--tracking-uri", team.uri, "--model", "bert-cls", "-q").code == 0  # no stage
    proposed = run("import", "mlflow", "--tracking-uri", team.uri, "--model", "llama-ft", "--pr", "-q")
    assert proposed.code == 0, proposed.err
    branch = next(b for b in git(registry.root, "branch", "--format=%(refname:short)").split() if "llama-ft" in b)
    checked = run("check", "--at", branch, "--base", "main")
    assert checked.code == 1 and "eval/accuracy >= 0.9" in checked.out, checked.out


def test_a_direct_import_on_a_forge_governed_main_is_refused_naming_pr(run, registry, team, tmp_path):
    """issue 21: on a main that a forge governs, every change is a pull request: the import too."""
    from tests.promotion.test_promote import set_policy

    _origin(registry, tmp_path)
    set_policy(registry.root, forge={"type": "github", "repository": "org/registry"})
    before = head(registry)
    refused = run("import", "mlflow", "--tracking-uri", team.uri, "--model", "bert-cls", "-q")
    assert refused.code == 1, refused.out
    line = next(x for x in refused.err.splitlines() if x.startswith("error:"))
    assert "governed by a forge" in line and "(--pr)" in line, line
    assert head(registry) == before and not (registry.root / "registry" / "bert-cls").exists()


# Fields that differ by design between MLflow's answers and modelreg's (issue 21 done-means):
# - tags named mlflow.*: the import's bookkeeping (mlflow.name on the model; mlflow.version,
#   mlflow.stage and mlflow.synced on versions: which MLflow version, its stage and a digest of
#   its fields at the last import, so a re-import brings in only what MLflow changed since);
# - the `production` alias: in modelreg it follows the production stage (MLflow has none);
# - last_updated_timestamp: modelreg's is the registry clock's time of the last change
#   (interop/mlflow_store.py), not MLflow's database write time.
BY_DESIGN = {"production"}


def _model_fields(rm) -> dict:
    return {"name": rm.name, "description": rm.description or None,
            "tags": {k: v for k, v in rm.tags.items() if not k.startswith("mlflow.")},
            "aliases": {a: str(v) for a, v in rm.aliases.items() if a not in BY_DESIGN},
            "creation_timestamp": rm.creation_timestamp}


def _version_fields(mv) -> dict:
    return {"version": str(mv.version), "current_stage": mv.current_stage, "description": mv.description or None,
            "tags": {k: v for k, v in mv.tags.items() if not k.startswith("mlflow.")}, "run_id": mv.run_id,
            "user_id": mv.user_id or None, "creation_timestamp": mv.creation_timestamp, "source": mv.source,
            "aliases": sorted(a for a in mv.aliases if a not in BY_DESIGN), "status": str(mv.status)}


def _answers(client) -> dict:
    out = {}
    for rm in client.search_registered_models():
        versions = client.search_model_versions(f"name = '{rm.name}'")
        out[rm.name] = {"model": _model_fields(client.get_registered_model(rm.name)),
                        "versions": {str(v.version): _version_fields(client.get_model_version(rm.name, v.version))
                                     for v in versions}}
    return out


def test_sqlite_registry_imported_twice_equals_what_mlflow_answers(run, registry, tmp_path, mlflow_template_db):
    """issue 21 done-means: an MLflow sqlite registry (outside the registry folder) imported, changed
    (new versions, stage moves, alias moves, tags, descriptions, a deleted version) and imported
    again answers through MlflowClient(registry_uri="modelreg://...") what MLflow itself answers,
    field by field; nothing leaves an mlflow.db in the registry folder."""
    team = Team(fresh_db(mlflow_template_db, tmp_path / "mlflow.db"), tmp_path / "team")
    c = team.client
    c.create_registered_model("clf", tags={"team": "risk", "tier": "2"}, description="fraud classifier")
    team.version("clf", 1, stage="Production", tags={"data": "v1", "owner": "ana"}, description="first")
    team.version("clf", 2, stage="Staging", tags={"data": "v2"})
    team.version("clf", 3)
    c.set_registered_model_alias("clf", "champion", "1")
    c.create_registered_model("ranker", description="search ranker")
    team.version("ranker", 4, description="only one")
    assert run("import", "mlflow", "--tracking-uri", team.uri, "-q").code == 0
    theirs = MlflowClient(tracking_uri=team.uri, registry_uri=team.uri)
    ours = MlflowClient(registry_uri=f"modelreg://{registry.root}")
    assert _answers(ours) == _answers(theirs)
    # MLflow moves on: a new version into production (the old one archived), a stage move out of
    # staging, alias moves, tags set and removed, descriptions, a deleted version
    new = team.version("clf", 5, tags={"data": "v5"}).version
    c.transition_model_version_stage("clf", new, "Production", archive_existing_versions=True)
    c.transition_model_version_stage("clf", "2", "None")
    c.set_registered_model_alias("clf", "champion", new)
    c.set_registered_model_alias("clf", "canary", "2")
    c.set_model_version_tag("clf", "2", "data", "v2b")
    c.delete_model_version_tag("clf", "1", "owner")
    c.update_model_version("clf", "2", description="retrained labels")
    c.update_registered_model("clf", description="fraud classifier, v2 labels")
    c.set_registered_model_tag("clf", "tier", "1")
    c.delete_registered_model_tag("clf", "team")
    c.delete_model_version("clf", "3")
    again = run("import", "mlflow", "--tracking-uri", team.uri, "-q")
    assert again.code == 0, again.err
    assert "version 3: delete (deleted in MLflow since the import)" in again.out, again.out
    assert "alias champion -> 4" in again.out and "alias canary -> 2" in again.out
    assert "version 2: update (MLflow changed stage Staging -> None, description, tags)" in again.out
    assert _answers(ours) == _answers(theirs)
    assert run("import", "mlflow", "--tracking-uri", team.uri, "-q").out.count("skip (nothing new)") == 2
    assert run("check").code == 0
    assert not (registry.root / "mlflow.db").exists() and not (registry.root / "mlruns").exists()
    assert "mlflow.db" not in git(registry.root, "status", "--porcelain", "--ignored")


def test_reimport_keeps_what_modelreg_changed_and_mlflow_did_not(run, registry, team):
    """issue 21: a re-import brings in only the fields MLflow changed since the last import (their
    digests are recorded): a tag, a description and a stage move made in modelreg stay."""
    assert run("import", "mlflow", "--tracking-uri", team.uri, "--model", "llama-ft", "-q").code == 0
    assert run("version", "tag", "llama-ft@4", "reviewed=yes").code == 0
    assert run("model", "set", "llama-ft", "--description", "the support bot, in Git").code == 0
    assert run("stage", "set", "llama-ft", "4", "production").code == 0  # modelreg promotes v4; v2 archived
    team.client.update_model_version("llama-ft", "1", description="the first try")
    again = run("import", "mlflow", "--tracking-uri", team.uri, "--model", "llama-ft", "-q")
    assert again.code == 0, again.err
    assert "version 1: update (MLflow changed description)" in again.out, again.out
    assert "version 4: skip" in again.out and "version 2: skip" in again.out
    assert registry.get_version("llama-ft", 4)["tags"]["reviewed"] == "yes"
    assert registry.get_version("llama-ft", 4)["stage"] == "production"
    assert registry.aliases("llama-ft")["production"] == 4
    assert registry.get_model("llama-ft")["description"] == "the support bot, in Git"
    card = registry.root / "registry" / "llama-ft" / "versions" / "1" / "card.yaml"
    assert "the first try" in card.read_text()
    assert run("check").code == 0
