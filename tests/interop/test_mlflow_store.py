"""MLflow clients read a modelreg registry through the `modelreg` store plugin (issue 10 part 2)."""
import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from modelreg.artifacts.cache import Cache
from tests.conftest import git, write_weights

pytestmark = [pytest.mark.mlflow, pytest.mark.usefixtures("mlflow_plugins")]
mlflow = pytest.importorskip("mlflow")
from mlflow import MlflowClient  # noqa: E402
from mlflow.exceptions import MlflowException  # noqa: E402


@pytest.fixture(scope="module")
def populated(tmp_path_factory):
    """llama-ft: v1 archived, v2 production (tagged run=b), v3 deleted, v4 staging; bert-cls tagged team=nlp.
    Built once for the module: every test here only reads it (the write tests check that too)."""
    from modelreg.registry import Registry, init_registry

    tmp_path = tmp_path_factory.mktemp("mlflow-store")
    init_registry(tmp_path / "reg", remote=str(tmp_path / "remote"))
    registry = Registry(tmp_path / "reg")
    registry.register_model("llama-ft", "fine_tuned", description="support bot", tags={"team": "support"})
    for n in range(1, 5):
        registry.create_version("llama-ft", write_weights(tmp_path / f"w{n}", seed=n), tags={"run": "ab"[n % 2]},
                                run_id=f"run{n}", metrics=[{"benchmark": "mmlu", "metric": "accuracy",
                                                            "value": 0.5 + n / 100}])
    for n in (1, 2):
        registry.transition_stage("llama-ft", n, "staging")
        registry.transition_stage("llama-ft", n, "production")
    registry.delete_version("llama-ft", 3, reason="bad data")
    registry.transition_stage("llama-ft", 4, "staging")
    registry.set_alias("llama-ft", "canary", 4)
    registry.register_model("bert-cls", "base_model", tags={"team": "nlp"})
    registry.create_version("bert-cls", write_weights(tmp_path / "b1", seed=7))
    yield registry
    registry.close()


@pytest.fixture
def client(populated):
    return MlflowClient(registry_uri=f"modelreg://{populated.root}")


def test_get_model_version_by_alias(client, populated):
    """issue 10 part 2: the issue's own example call, unchanged MLflow code."""
    mv = client.get_model_version_by_alias("llama-ft", "production")
    assert (mv.name, mv.version, mv.current_stage, mv.run_id) == ("llama-ft", "2", "Production", "run2")
    assert mv.tags == {"run": "a"} and mv.aliases == ["production"]
    assert mv.source == f"modelreg://{populated.root}#llama-ft@2"
    canary = client.get_model_version_by_alias("llama-ft", "canary")
    assert (canary.version, canary.current_stage) == ("4", "Staging")


def test_registered_models_and_tag_filters(client):
    """issue 10 part 2: search_registered_models, with tag and name filters."""
    assert [m.name for m in client.search_registered_models()] == ["bert-cls", "llama-ft"]
    (llama,) = client.search_registered_models("tags.team = 'support'")
    assert llama.name == "llama-ft" and llama.description == "support bot"
    assert llama.aliases == {"canary": "4", "production": "2"}
    assert {v.current_stage: v.version for v in llama.latest_versions} == \
        {"Archived": "1", "Production": "2", "Staging": "4"}
    assert [m.name for m in client.search_registered_models("name LIKE 'bert%'")] == ["bert-cls"]
    page = client.search_registered_models(max_results=1)
    assert len(page) == 1 and page.token
    assert [m.name for m in client.search_registered_models(max_results=1, page_token=page.token)] == ["llama-ft"]


def test_model_versions_search_skips_deleted_and_filters_tags(client):
    """issue 10 part 2: search_model_versions("name='x'") with tag filters; a deleted version is gone."""
    found = client.search_model_versions("name='llama-ft'")
    assert sorted(v.version for v in found) == ["1", "2", "4"]
    tagged = client.search_model_versions("name='llama-ft' and tags.run = 'a'")
    assert sorted(v.version for v in tagged) == ["2", "4"]
    assert [v.version for v in client.search_model_versions("run_id = 'run1'")] == ["1"]
    with pytest.raises(MlflowException, match="deleted"):
        client.get_model_version("llama-ft", "3")


def test_latest_versions_by_stage(client):
    """issue 10 part 2: get_latest_versions, per stage and for all stages."""
    assert [v.version for v in client.get_latest_versions("llama-ft", stages=["Production"])] == ["2"]
    assert [v.version for v in client.get_latest_versions("llama-ft", stages=["staging"])] == ["4"]
    assert {v.current_stage for v in client.get_latest_versions("llama-ft")} == {"Archived", "Production", "Staging"}
    with pytest.raises(MlflowException, match="no model named 'nope'") as err:
        client.get_latest_versions("nope")
    assert err.value.error_code == "RESOURCE_DOES_NOT_EXIST"


@pytest.mark.parametrize("uri,version", [("models:/llama-ft@production", 2), ("models:/llama-ft/1", 1),
                                         ("models:/llama-ft/Staging", 4), ("models:/llama-ft/latest", 4)])
def test_download_artifacts_pulls_verified_files(populated, tmp_path, monkeypatch, uri, version):
    """issue 10 part 2: mlflow.artifacts.download_artifacts("models:/...") goes through modelreg's cache."""
    monkeypatch.setenv("MLFLOW_REGISTRY_URI", f"modelreg://{populated.root}")
    dest = tmp_path / "dl"
    dest.mkdir()
    path = Path(mlflow.artifacts.download_artifacts(uri, dst_path=str(dest)))
    record = populated.get_version("llama-ft", version)
    assert sorted(p.name for p in path.iterdir()) == sorted(a["path"] for a in record["artifacts"])
    for art in record["artifacts"]:
        digest = hashlib.sha256((path / art["path"]).read_bytes()).hexdigest()
        assert digest == art["sha256"] and Cache().object_path(digest).exists()
    assert f'"seed": {version}'.encode() in (path / "config.json").read_bytes()


def test_download_without_destination_and_single_file(populated, monkeypatch, tmp_path):
    """issue 10 part 2: the default destination is a fresh folder; a file path inside the version works."""
    import tempfile

    monkeypatch.setenv("MLFLOW_REGISTRY_URI", f"modelreg://{populated.root}")
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    folder = Path(mlflow.artifacts.download_artifacts("models:/bert-cls/1"))
    assert (folder / "model.safetensors").exists()
    one = Path(mlflow.artifacts.download_artifacts("models:/bert-cls/1/config.json"))
    assert one.name == "config.json" and b'"seed": 7' in one.read_bytes()
    assert folder.parent == tmp_path and folder.name.startswith("modelreg-mlflow-")


WRITER = """
import sys
from mlflow import MlflowClient
client = MlflowClient(registry_uri=sys.argv[1])
for folder in sys.argv[2:]:
    print(client.create_model_version("llm", folder).version)
"""


def test_writers_in_several_processes_on_one_clone_never_lose_a_version(team, tmp_path, mlflow_plugins):
    """issue 21: training jobs on one host share the clone; each write holds the clone's write lock
    through its push, so three processes registering at once get three numbers, all on origin."""
    reg, origin = team
    reg.register_model("llm", "base_model")
    git(reg.root, "push", "-q", "origin", "main")
    env = dict(os.environ, PYTHONPATH=mlflow_plugins["pythonpath"])
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, f"modelreg://{reg.root}",
                               str(write_weights(tmp_path / f"p{i}", seed=20 + i))],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i in range(3)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), [err[-1500:] for _, err in outs]
    assert sorted(out.strip() for out, _ in outs) == ["1", "2", "3"]
    assert git(origin, "rev-parse", "main") == git(reg.root, "rev-parse", "main")
    got = {a["sha256"] for n in (1, 2, 3) for a in reg.get_version("llm", n)["artifacts"]}
    for i in range(3):
        assert hashlib.sha256((tmp_path / f"p{i}" / "model.safetensors").read_bytes()).hexdigest() in got
    assert not reg.check().problems


@pytest.mark.parametrize("call,hint", [
    (lambda c: c.delete_registered_model("llama-ft"), "modelreg model deprecate"),
    (lambda c: c.rename_registered_model("llama-ft", "llama-2"), "pull request"),
])
def test_writes_modelreg_has_no_twin_for_are_refused_naming_the_way(client, populated, call, hint):
    """issue 10 part 2, kept by issue 21: what modelreg does another way says so; nothing changes."""
    head = populated.git.rev_parse("HEAD")
    with pytest.raises(MlflowException, match="read-only") as err:
        call(client)
    assert hint in str(err.value)
    assert populated.git.rev_parse("HEAD") == head and git(populated.root, "status", "--porcelain") == ""


# -- writes (issue 21): the real client drives register -> alias -> stage -> download --------
@pytest.fixture
def team(tmp_path):
    """A registry clone on main with a bare origin (HEAD main), as a training host has it."""
    from modelreg.registry import Registry, init_registry

    origin = tmp_path / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(origin)], check=True)
    root = init_registry(tmp_path / "reg", remote=str(tmp_path / "remote"))
    git(root, "remote", "add", "origin", str(origin))
    git(root, "push", "-q", "origin", "main")
    return Registry(root), origin


def test_the_mlflow_client_writes_and_every_write_is_a_pushed_commit(team, tmp_path, monkeypatch):
    reg, origin = team
    client = MlflowClient(registry_uri=f"modelreg://{reg.root}")
    model = client.create_registered_model("llm", tags={"team": "nlp", "modelreg.model_type": "fine_tuned"},
                                           description="support bot")
    assert (model.name, model.description, model.tags) == ("llm", "support bot", {"team": "nlp"})
    assert reg.get_model("llm")["model_type"] == "fine_tuned"
    mv = client.create_model_version("llm", str(write_weights(tmp_path / "w1", seed=1)), run_id="run-1",
                                     tags={"data": "v1"})
    assert (mv.version, mv.run_id, mv.tags, mv.current_stage) == ("1", "run-1", {"data": "v1"}, "None")
    client.set_registered_model_alias("llm", "champion", "1")
    assert client.get_model_version_by_alias("llm", "champion").version == "1"
    client.transition_model_version_stage("llm", "1", "Staging")
    client.set_model_version_tag("llm", "1", "eval", "passed")
    client.set_registered_model_tag("llm", "tier", "gold")
    client.update_registered_model("llm", "support chat bot")
    got = client.get_model_version("llm", "1")
    assert (got.current_stage, got.tags) == ("Staging", {"data": "v1", "eval": "passed"})
    assert client.get_registered_model("llm").tags == {"team": "nlp", "tier": "gold"}
    client.update_model_version("llm", "1", "the first checkpoint")  # the card's description
    assert client.get_model_version("llm", "1").description == "the first checkpoint"
    assert reg.snapshot(reg.commit_of()).has("registry/llm/versions/1/card.yaml")
    client.update_model_version("llm", "1", "the first checkpoint")  # the same again: nothing to do, no error
    client.delete_model_version_tag("llm", "1", "eval")
    client.delete_registered_model_alias("llm", "champion")
    assert reg.aliases("llm") == {}
    two = client.create_model_version("llm", str(write_weights(tmp_path / "w2", seed=2)))
    client.delete_model_version("llm", two.version)
    events = [e["event"] for e in reg.history("llm", limit=100)]
    for name in ("model.register", "version.create", "alias.set", "version.stage", "version.tag",
                 "model.update", "version.untag", "alias.remove", "version.delete"):
        assert name in events, name
    # every write landed on origin, and main passes check
    assert git(origin, "rev-parse", "main").strip() == git(reg.root, "rev-parse", "HEAD").strip()
    assert not reg.check().problems
    monkeypatch.setenv("MLFLOW_REGISTRY_URI", f"modelreg://{reg.root}")
    dest = Path(mlflow.artifacts.download_artifacts("models:/llm/1", dst_path=str(tmp_path / "dl")))
    assert (dest / "model.safetensors").read_bytes() == (tmp_path / "w1" / "model.safetensors").read_bytes()


def test_two_writers_never_lose_a_version(team, tmp_path):
    """Two clones register a version each; the second push finds origin moved, syncs (renumbers) and pushes."""
    from modelreg.registry import Registry

    reg, origin = team
    reg.register_model("llm", "base_model")
    git(reg.root, "push", "-q", "origin", "main")
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", str(origin), str(other))
    git(other, "config", "user.name", "Bob")
    git(other, "config", "user.email", "bob@example.com")
    first = MlflowClient(registry_uri=f"modelreg://{reg.root}")
    second = MlflowClient(registry_uri=f"modelreg://{other}")
    a = first.create_model_version("llm", str(write_weights(tmp_path / "a", seed=3)))
    b = second.create_model_version("llm", str(write_weights(tmp_path / "b", seed=4)))
    assert (a.version, b.version) == ("1", "2")  # the second writer's 1 was taken: sync renumbered it
    git(reg.root, "pull", "-q", "--ff-only", "origin", "main")
    mine = Registry(reg.root)
    assert [v["version"] for v in mine.list_versions("llm")] == [1, 2]
    sha = hashlib.sha256((tmp_path / "b" / "model.safetensors").read_bytes()).hexdigest()
    assert sha in {a["sha256"] for a in mine.get_version("llm", 2)["artifacts"]}


@pytest.mark.parametrize("call,hint", [
    (lambda c: c.set_registered_model_alias("llm", "champion", "9"), "no version 9"),
    (lambda c: c.delete_registered_model_alias("llm", "production"), "protected"),
    (lambda c: c.set_model_version_tag("llm", "1", "bad key!", "v"), "tag"),
    (lambda c: c.transition_model_version_stage("llm", "1", "Gold"), "Gold"),
])
def test_writes_the_policy_refuses_change_nothing(team, tmp_path, call, hint):
    reg, origin = team
    reg.register_model("llm", "base_model")
    reg.create_version("llm", write_weights(tmp_path / "w", seed=5))
    reg.transition_stage("llm", 1, "staging")
    reg.transition_stage("llm", 1, "production")
    git(reg.root, "push", "-q", "origin", "main")
    head = git(reg.root, "rev-parse", "HEAD")
    with pytest.raises(MlflowException) as err:
        call(MlflowClient(registry_uri=f"modelreg://{reg.root}"))
    assert hint in str(err.value)
    assert git(reg.root, "rev-parse", "HEAD") == head and git(reg.root, "status", "--porcelain") == ""
    assert git(origin, "rev-parse", "main") == head
    assert git(origin, "for-each-ref", "refs/heads/modelreg") == ""


APPROVALS = "approvals:\n  production:\n    groups:\n    - - '@acme/leads'\n"


@pytest.mark.parametrize("how", ["stage", "alias"])
def test_a_gated_stage_move_goes_to_a_branch_for_review(team, tmp_path, how):
    """issue 21: production needs approvals, there is no forge: the move is committed on a pushed
    branch (the PR to open is named) and main does not move. Setting the `production` alias, the
    MLflow 2.9+ way to promote, is the same stage move."""
    reg, origin = team
    path = reg.root / "registry.yaml"
    path.write_text(path.read_text() + APPROVALS)
    git(reg.root, "commit", "-qam", "production needs approvals")
    reg.register_model("llm", "base_model")
    reg.create_version("llm", write_weights(tmp_path / "w", seed=5))
    reg.transition_stage("llm", 1, "staging")
    git(reg.root, "push", "-q", "origin", "main")
    head = git(reg.root, "rev-parse", "HEAD")
    client = MlflowClient(registry_uri=f"modelreg://{reg.root}")
    if how == "stage":
        mv = client.transition_model_version_stage("llm", "1", "Production")
        assert mv.current_stage == "Staging" and "branch modelreg/llm-promote-1" in mv.status_message
    else:
        client.set_registered_model_alias("llm", "production", "1")
    assert git(reg.root, "rev-parse", "HEAD") == head == git(origin, "rev-parse", "main")
    assert reg.get_version("llm", 1, at="origin/modelreg/llm-promote-1")["stage"] == "production"
    assert reg.aliases("llm", at="origin/modelreg/llm-promote-1") == {"production": 1}
    assert client.get_model_version("llm", "1").current_stage == "Staging"
    assert not reg.check(at="origin/modelreg/llm-promote-1", base="main").problems


def test_last_updated_moves_on_promotion_by_the_registry_clock(team, tmp_path, monkeypatch):
    """issue 21: MLflow's last_updated_timestamp is the last change to the version (a stage move),
    the model's the last change to anything in it; creation stays put."""
    reg, _ = team
    reg.register_model("llm", "base_model")
    reg.create_version("llm", write_weights(tmp_path / "w", seed=5))
    client = MlflowClient(registry_uri=f"modelreg://{reg.root}")
    first = client.get_model_version("llm", "1")
    monkeypatch.setenv("GIT_COMMITTER_DATE", "2027-03-01T00:00:00Z")  # what the clock reads for the move
    client.transition_model_version_stage("llm", "1", "Staging")
    moved = client.get_model_version("llm", "1")
    march = 1803859200000  # 2027-03-01T00:00:00Z in ms
    assert moved.creation_timestamp == first.creation_timestamp
    assert moved.last_updated_timestamp == march > first.last_updated_timestamp
    assert client.get_registered_model("llm").last_updated_timestamp == march


def test_a_url_registry_is_read_only_naming_a_local_clone(populated, tmp_path):
    bare = tmp_path / "origin.git"
    git(tmp_path, "clone", "-q", "--bare", str(populated.root), str(bare))
    git(bare, "config", "uploadpack.allowFilter", "true")
    client = MlflowClient(registry_uri=f"modelreg://file://{bare}")
    with pytest.raises(MlflowException, match="local clone"):
        client.create_registered_model("new-model")


def test_uri_pointing_at_no_registry(tmp_path):
    """issue 10 bad input: a modelreg: URI pointing at no registry is one clear error."""
    with pytest.raises(MlflowException, match="does not exist") as err:
        MlflowClient(registry_uri=f"modelreg://{tmp_path / 'nowhere'}").search_registered_models()
    assert str(tmp_path / "nowhere") in str(err.value)
    with pytest.raises(MlflowException, match="names no registry"):
        MlflowClient(registry_uri="modelreg:").search_registered_models()
    plain = tmp_path / "plain"
    plain.mkdir()
    git(plain, "init", "-q")
    with pytest.raises(MlflowException, match="not a modelreg registry"):
        MlflowClient(registry_uri=f"modelreg://{plain}").search_registered_models()
    with pytest.raises(MlflowException, match="not inside a Git repository"):
        MlflowClient(registry_uri=f"modelreg://{tmp_path}").search_registered_models()


def test_git_url_registry_reads_a_blobless_clone(populated, tmp_path, monkeypatch):
    """issue 10 part 2: `modelreg://<git url>` reads a remote registry the way modelreg.load does."""
    bare = tmp_path / "origin.git"
    git(tmp_path, "clone", "-q", "--bare", str(populated.root), str(bare))
    git(bare, "config", "uploadpack.allowFilter", "true")
    client = MlflowClient(registry_uri=f"modelreg://file://{bare}")
    assert client.get_model_version_by_alias("llama-ft", "production").version == "2"
    monkeypatch.setenv("MLFLOW_REGISTRY_URI", f"modelreg://file://{bare}")
    path = Path(mlflow.artifacts.download_artifacts("models:/llama-ft@canary", dst_path=str(tmp_path)))
    assert b'"seed": 4' in (path / "config.json").read_bytes()


CLIENT_SCRIPT = """
import mlflow
from mlflow import MlflowClient
client = MlflowClient(registry_uri=REGISTRY)
print(client.get_model_version_by_alias("llama-ft", "production").version)
"""


def test_entry_point_discovery_in_a_fresh_process(populated, mlflow_plugins):
    """issue 10 part 2: a new Python process finds the plugin by entry point alone (no import of modelreg)."""
    code = CLIENT_SCRIPT.replace("REGISTRY", repr(f"modelreg://{populated.root}"))
    env = dict(os.environ, PYTHONPATH=mlflow_plugins["pythonpath"])
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "2"


def test_mlflow_server_serves_the_rest_api_over_the_git_registry(team, tmp_path, mlflow_plugins, mlflow_template_db):
    """`mlflow server --registry-store-uri modelreg://...`: MLflow's own REST API reads and writes the registry."""
    import json
    import urllib.request

    from tests.plugins.mlflow_env import fresh_db, mlflow_server

    reg, origin = team
    reg.register_model("llm", "base_model", description="served")
    reg.create_version("llm", write_weights(tmp_path / "w", seed=6))
    git(reg.root, "push", "-q", "origin", "main")
    env = dict(os.environ, PYTHONPATH=mlflow_plugins["pythonpath"])
    with mlflow_server(tmp_path, "--backend-store-uri", fresh_db(mlflow_template_db, tmp_path / "track.db"),
                       "--registry-store-uri", f"modelreg://{reg.root}", env=env) as ui:
        base = f"{ui}/api/2.0/mlflow"

        def call(path, body=None):
            request = urllib.request.Request(base + path, data=None if body is None else json.dumps(body).encode(),
                                             headers={"Content-Type": "application/json"},
                                             method="GET" if body is None else "POST")
            with urllib.request.urlopen(request, timeout=30) as answer:
                return json.loads(answer.read() or b"{}")

        model = call("/registered-models/get?name=llm")["registered_model"]
        assert (model["name"], model["description"]) == ("llm", "served")
        call("/registered-models/alias", {"name": "llm", "alias": "champion", "version": "1"})
        assert call("/registered-models/alias?name=llm&alias=champion")["model_version"]["version"] == "1"
        assert reg.aliases("llm") == {"champion": 1}
        assert git(origin, "rev-parse", "main") == git(reg.root, "rev-parse", "HEAD")
        assert "NotImplementedError" not in (tmp_path / "server.log").read_text()
        _models_page_shows(ui, "llm", "champion", tmp_path)


def _models_page_shows(ui: str, model: str, alias: str, tmp_path) -> None:
    """MLflow's own UI, in Debian's headless Chromium: the Models list and the model's page."""
    from tests.site.test_browser import CHROMIUM, DRIVER, missing

    webdriver = pytest.importorskip("selenium.webdriver")
    if not (CHROMIUM and DRIVER):
        missing("Debian's chromium and chromium-driver are not installed (make install does it)")
    from selenium.webdriver.support.ui import WebDriverWait

    os.environ.setdefault("SE_OFFLINE", "true")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1280,1000", "--no-first-run", "--disable-background-networking"):
        options.add_argument(arg)
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=DRIVER))
    try:
        body = lambda d: d.find_element("tag name", "body").text  # noqa: E731
        driver.get(f"{ui}/#/models")
        WebDriverWait(driver, 90).until(lambda d: model in body(d))
        driver.get(f"{ui}/#/models/{model}")
        WebDriverWait(driver, 90).until(lambda d: alias in body(d) and "Version 1" in body(d))
        driver.save_screenshot(str(tmp_path / "mlflow-model.png"))
    finally:
        driver.quit()


def test_an_imported_mlflow_stage_tag_never_goes_stale(team, tmp_path):
    """issue 21: `import mlflow` records mlflow.stage; MLflow clients read the stage the version holds now."""
    reg, _ = team
    reg.register_model("llm", "base_model")
    reg.create_version("llm", write_weights(tmp_path / "w", seed=7), tags={"mlflow.stage": "Staging"})
    reg.transition_stage("llm", 1, "staging")
    reg.transition_stage("llm", 1, "production")
    got = MlflowClient(registry_uri=f"modelreg://{reg.root}").get_model_version("llm", "1")
    assert (got.current_stage, got.tags["mlflow.stage"]) == ("Production", "Production")


def test_search_model_versions_compares_and_orders_numbers_as_mlflow_does(team, tmp_path):
    """issue 21: `version_number > 1` works, and the default order is MLflow's (name, then newest
    version first), numerically: 10 before 9."""
    reg, _ = team
    reg.register_model("llm", "base_model")
    for n in range(1, 11):
        reg.create_version("llm", write_weights(tmp_path / f"w{n}", seed=n))
    client = MlflowClient(registry_uri=f"modelreg://{reg.root}")
    assert [v.version for v in client.search_model_versions("name = 'llm' and version_number > 8")] == ["10", "9"]
    assert [v.version for v in client.search_model_versions("name = 'llm'")][:3] == ["10", "9", "8"]


@pytest.mark.parametrize("committed", [False, True])
def test_a_host_cannot_loosen_the_policy_its_writes_are_judged_by(team, tmp_path, committed):
    """Attack: production needs approvals on origin/main; the training host drops `approvals:` from
    its own registry.yaml (edited, or committed but not pushed) and promotes through MLflow."""
    reg, origin = team
    path = reg.root / "registry.yaml"
    path.write_text(path.read_text() + "approvals:\n  production:\n    groups:\n    - - '@acme/leads'\n")
    git(reg.root, "commit", "-qam", "production needs approvals")
    reg.register_model("llm", "base_model")
    reg.create_version("llm", write_weights(tmp_path / "w", seed=5))
    reg.transition_stage("llm", 1, "staging")
    git(reg.root, "push", "-q", "origin", "main")
    path.write_text(path.read_text().split("approvals:")[0])
    if committed:
        git(reg.root, "commit", "-qam", "no approvals here")
    head = git(reg.root, "rev-parse", "HEAD")
    with pytest.raises(MlflowException, match="differs from origin/main"):
        MlflowClient(registry_uri=f"modelreg://{reg.root}").transition_model_version_stage("llm", "1", "Production")
    assert git(reg.root, "rev-parse", "HEAD") == head
    assert reg.get_version("llm", 1, at="origin/main")["stage"] == "staging"


@pytest.mark.github
def test_on_a_forge_governed_main_every_mlflow_write_is_a_pull_request(team, tmp_path, github, monkeypatch):
    """issue 21: `mlflow.register_model` on a forge-governed main opens one pull request (the model
    and its first version); MLflow sees PENDING_REGISTRATION naming it, READY once it is merged,
    FAILED_REGISTRATION for a version whose pull request was closed unmerged. Main never moves
    without review."""
    reg, origin = team
    _governed(reg, origin, github, monkeypatch)
    main = git(origin, "rev-parse", "main")

    mv = mlflow.register_model(str(write_weights(tmp_path / "w1", seed=1)), "llm")  # returns: no 300 s wait
    assert (mv.version, mv.status) == ("1", "PENDING_REGISTRATION")
    assert "pull request #1" in mv.status_message
    assert list(github.pulls["org/registry"]) == [1] and github.pull("org/registry", 1)["head"] == "modelreg/llm-model-1"
    assert git(origin, "rev-parse", "main") == main
    client = MlflowClient(registry_uri=f"modelreg://{reg.root}")
    with pytest.raises(MlflowException, match="already exists"):
        client.create_registered_model("llm")  # its registration awaits review
    assert client.get_model_version("llm", "1").status == "PENDING_REGISTRATION"
    github.merge("org/registry", 1)
    ready = client.get_model_version("llm", "1")
    assert (ready.status, ready.status_message) == ("READY", None)
    assert git(origin, "rev-parse", "main") == git(reg.root, "rev-parse", "main")  # READY caught this clone up
    dest = Path(mlflow.artifacts.download_artifacts("models:/llm/1", dst_path=str(tmp_path / "dl1")))
    assert (dest / "model.safetensors").read_bytes() == (tmp_path / "w1" / "model.safetensors").read_bytes()

    two = client.create_model_version("llm", str(write_weights(tmp_path / "w2", seed=2)))
    assert (two.version, two.status) == ("2", "PENDING_REGISTRATION") and "pull request #2" in two.status_message
    github.pull("org/registry", 2)["state"] = "closed"  # rejected by review
    failed = client.get_model_version("llm", "2")
    assert failed.status == "FAILED_REGISTRATION" and "closed without merging" in failed.status_message

    client.set_registered_model_alias("llm", "champion", "1")  # alias, then stage: a pull request each
    assert github.pull("org/registry", 3)["head"] == "modelreg/llm-alias-1"
    assert client.get_registered_model("llm").aliases == {}
    github.merge("org/registry", 3)
    staged = client.transition_model_version_stage("llm", "1", "Staging")  # branches from origin's main
    assert staged.current_stage == "None" and "pull request #4" in staged.status_message
    github.merge("org/registry", 4)
    git(reg.root, "pull", "-q", "--ff-only", "origin", "main")
    champion = client.get_model_version_by_alias("llm", "champion")
    assert (champion.version, champion.current_stage) == ("1", "Staging")
    dest = Path(mlflow.artifacts.download_artifacts("models:/llm@champion", dst_path=str(tmp_path / "dl2")))
    assert (dest / "model.safetensors").read_bytes() == (tmp_path / "w1" / "model.safetensors").read_bytes()
    assert not reg.check().problems
    assert [s for s in git(origin, "log", "--first-parent", "--format=%s", "main").splitlines()
            if s.startswith("Merge pull request")] == [f"Merge pull request #{n} from modelreg/llm-{b}"
                                                        for n, b in ((4, "promote-1"), (3, "alias-1"), (1, "model-1"))]


def _governed(reg, origin, github, monkeypatch) -> None:
    """registry.yaml says GitHub governs main (committed and pushed); the fake knows the repository."""
    from modelreg.core.records import dump_yaml, load_yaml

    path = reg.root / "registry.yaml"
    doc = load_yaml(path.read_bytes(), "registry.yaml")
    doc["forge"] = {"type": "github", "repository": "org/registry"}
    path.write_bytes(dump_yaml(doc, "schemas/registry.schema.json"))
    git(reg.root, "commit", "-qam", "main is governed by GitHub")
    git(reg.root, "push", "-q", "origin", "main")
    github.add_repo("org/registry", origin)
    monkeypatch.setenv("GITHUB_TOKEN", github.add_user("alice"))
    monkeypatch.setenv("MLFLOW_REGISTRY_URI", f"modelreg://{reg.root}")


@pytest.mark.github
def test_another_version_landing_under_the_pending_number_is_not_ready(team, tmp_path, github, monkeypatch):
    """Attack: while llm@2 awaits review, someone lands a different version 2 on main (other bytes,
    other author). MLflow must not be told its version is READY, nor be handed those bytes: READY
    needs the pending version's own identity on main, never its number."""
    from modelreg.registry import Registry

    reg, origin = team
    reg.register_model("llm", "base_model")
    reg.create_version("llm", write_weights(tmp_path / "w1", seed=1))
    git(reg.root, "push", "-q", "origin", "main")
    _governed(reg, origin, github, monkeypatch)
    client = MlflowClient(registry_uri=f"modelreg://{reg.root}")
    mine = client.create_model_version("llm", str(write_weights(tmp_path / "mine", seed=2)))
    assert (mine.version, mine.status) == ("2", "PENDING_REGISTRATION")
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", str(origin), str(other))
    git(other, "config", "user.name", "Mallory")
    git(other, "config", "user.email", "mallory@example.com")
    Registry(other).create_version("llm", write_weights(tmp_path / "theirs", seed=3))
    git(other, "push", "-q", "origin", "main")  # lands llm@2 with other bytes
    got = client.get_model_version("llm", "2")
    assert got.status == "PENDING_REGISTRATION" and "pull request #1" in got.status_message
    theirs = hashlib.sha256((tmp_path / "theirs" / "model.safetensors").read_bytes()).hexdigest()
    ours = hashlib.sha256((tmp_path / "mine" / "model.safetensors").read_bytes()).hexdigest()
    assert {a["sha256"] for a in reg.get_version("llm", 2, at="origin/main")["artifacts"]} >= {theirs}
    assert ours not in {a["sha256"] for a in reg.get_version("llm", 2, at="origin/main")["artifacts"]}
