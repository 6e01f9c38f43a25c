"""issue 20, the first hour: the command on PATH, hints that match the install, a bare origin
named main, a never-pushed version that can be deleted, init that protects (or says it does
not), `--json` on every write, one event vocabulary, YAML where a record is printed."""
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from modelreg import Registry
from modelreg.core import extras
from modelreg.core.extras import install_command
from modelreg.registry import init_registry
from tests.conftest import git, write_weights
from tests.plugins.ports import claim_block, ephemeral_range, port_free

ROOT = Path(__file__).resolve().parents[2]
TOUR = ROOT / "scripts" / "tour.sh"
SHA = "0123456789abcdef0123456789abcdef01234567"


# -- the command and the hints that install what it lacks ----------------------------------
def _fake_dist(tmp_path, monkeypatch, direct: dict | None):
    dist = tmp_path / "site" / "modelreg-0.1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: modelreg\nVersion: 0.1.0\n")
    if direct is not None:
        (dist / "direct_url.json").write_text(json.dumps(direct))
    monkeypatch.syspath_prepend(str(tmp_path / "site"))


def test_the_extra_hint_installs_from_where_modelreg_came_from(tmp_path, monkeypatch):
    """Not `pip install 'modelreg[hf]'` (not on PyPI): the git URL and commit of a git install."""
    _fake_dist(tmp_path, monkeypatch, {"url": "https://github.com/acme/modelreg",
                                       "vcs_info": {"vcs": "git", "commit_id": SHA}})
    line = install_command("hf")
    assert line == f"{sys.executable} -m pip install 'modelreg[hf] @ git+https://github.com/acme/modelreg@{SHA}'"


def test_the_extra_hint_for_a_checkout_names_its_path(tmp_path, monkeypatch):
    checkout = tmp_path / "my checkout"
    _fake_dist(tmp_path, monkeypatch, {"url": checkout.as_uri(), "dir_info": {"editable": True}})
    assert install_command("s3") == f"{sys.executable} -m pip install -e '{checkout}[s3]'"


def test_the_extra_hint_from_an_index_is_the_name(tmp_path, monkeypatch):
    _fake_dist(tmp_path, monkeypatch, None)
    assert install_command("site").endswith(" -m pip install 'modelreg[site]'")
    assert extras.install_origin() is None


def test_tour_finds_modelreg_in_the_checkouts_venv_and_makes_its_folders(tmp_path):
    """After `make demo` the command is in .venv/bin, not on PATH: `tour.sh --setup` still works,
    says where it found it, and makes every folder the README's lines register."""
    if not (ROOT / ".venv" / "bin" / "modelreg").exists():
        pytest.skip("no .venv in this checkout (make demo makes it)")
    path = os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep)
                           if not (Path(p) / "modelreg").exists())
    ran = subprocess.run(["bash", str(TOUR), "--setup", str(tmp_path / "t")], env={**os.environ, "PATH": path},
                         capture_output=True, text=True, timeout=120)
    assert ran.returncode == 0, ran.stderr
    assert f"using {ROOT / '.venv' / 'bin'}/modelreg" in ran.stderr
    tour = TOUR.read_text().split("# --- tour ---\n")[1]
    used = set(re.findall(r"\.\./([\w-]+)(?=[\s/]|$)", tour)) - {"origin", "dvc"}
    made = {p.name for p in (tmp_path / "t").iterdir()}
    assert used and used <= made, used - made
    assert not (tmp_path / "t" / "myreg").exists()  # --setup stops before the first modelreg line


def test_tour_without_modelreg_anywhere_says_how_to_get_it(tmp_path):
    copy = tmp_path / "elsewhere" / "scripts"
    copy.mkdir(parents=True)
    shutil.copy(TOUR, copy / "tour.sh")  # no .venv beside this copy
    path = os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep) if not (Path(p) / "modelreg").exists())
    ran = subprocess.run(["bash", str(copy / "tour.sh"), str(tmp_path / "t")], env={**os.environ, "PATH": path},
                         capture_output=True, text=True, timeout=60)
    assert ran.returncode == 1
    assert "modelreg is not on PATH" in ran.stderr and "source .venv/bin/activate" in ran.stderr
    assert not (tmp_path / "t" / "base").exists()


# -- ports --------------------------------------------------------------------------------
def test_test_servers_get_ports_no_client_socket_can_take():
    """The port race (`bind: address already in use`): blocks come from below the ephemeral
    range, claimed per process, so two claims never overlap."""
    low, _ = ephemeral_range()
    first, second = claim_block(10), claim_block(10)
    assert abs(first - second) >= 10
    for base in (first, second):
        assert base + 9 < low and all(port_free(base + i) for i in range(10))


# -- a bare origin whose HEAD is master ------------------------------------------------------
def test_a_clone_with_only_origin_main_is_told_to_check_it_out(tmp_path, run_cli):
    origin = tmp_path / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "master", str(origin)], check=True)
    root = init_registry(tmp_path / "r", remote=tmp_path / "store")
    git(root, "remote", "add", "origin", str(origin))
    git(root, "push", "-q", "origin", "main")
    subprocess.run(["git", "clone", "-q", str(origin), str(tmp_path / "c")], check=True, capture_output=True)
    ran = run_cli("-C", tmp_path / "c", "model", "list")
    assert ran.exit_code == 1
    assert "no branch named 'main'" in ran.stderr and "origin/main exists" in ran.stderr
    assert "git checkout main" in ran.stderr and "--at origin/main" in ran.stderr
    assert run_cli("-C", tmp_path / "c", "model", "list", "--at", "origin/main").exit_code == 0


# -- deleting a version nobody else ever saw -------------------------------------------------
@pytest.fixture
def pushed(tmp_path):
    """A registry with m@1 pushed to a bare origin (HEAD main) and m@2 registered but not pushed."""
    origin = tmp_path / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(origin)], check=True)
    root = init_registry(tmp_path / "r", remote=tmp_path / "store")
    git(root, "remote", "add", "origin", str(origin))
    reg = Registry(root)
    reg.register_model("m", "base_model")
    reg.create_version("m", write_weights(tmp_path / "w1", 1))
    git(root, "push", "-q", "origin", "main")
    reg.create_version("m", write_weights(tmp_path / "w2", 2))
    reg.set_alias("m", "canary", 2)
    return reg


def test_deleting_a_never_pushed_version_removes_it_and_check_passes(pushed, run_cli):
    root = pushed.root
    ran = run_cli("-C", root, "version", "delete", "m@2", "--reason", "wrong checkpoint", "--json")
    assert ran.exit_code == 0, ran.stderr
    out = json.loads(ran.stdout)
    assert out["removed"] is True and out["aliases_removed"] == ["canary"] and out["event"] == "version.delete"
    assert out["commit"] == git(root, "rev-parse", "HEAD").strip()
    assert not (root / "registry" / "m" / "versions" / "2").exists()
    assert git(root, "status", "--porcelain").strip() == ""
    ran = run_cli("-C", root, "check", "--base", "origin/main")
    assert ran.exit_code == 0, ran.output
    assert pushed.history("m")[0]["event"] in ("version.remove", "alias.remove")
    assert "version.remove" in {e["event"] for e in pushed.history("m", limit=1)}


def test_deleting_a_pushed_version_stays_a_soft_delete(pushed, run_cli):
    ran = run_cli("-C", pushed.root, "version", "delete", "m@1", "--reason", "regressed")
    assert ran.exit_code == 0 and "Deleted m@1" in ran.stdout
    assert pushed.get_version("m", 1, at="HEAD")["status"] == "deleted"


def test_without_a_remote_a_delete_is_soft(registry, weights):
    registry.register_model("m", "base_model")
    registry.create_version("m", weights)
    assert registry.delete_version("m", 1, "x")["removed"] is False
    assert registry.get_version("m", 1)["status"] == "deleted"


def test_a_hand_made_deleted_new_version_names_the_way_out(pushed, run_cli):
    """What check says if a new version starts deleted anyway (an old modelreg, a hand edit)."""
    root = pushed.root
    path = root / "registry" / "m" / "versions" / "2" / "version.yaml"
    doc = yaml.safe_load(path.read_text())
    doc.update(status="deleted", deleted={"reason": "x"})
    path.write_text(yaml.safe_dump(doc))
    git(root, "commit", "-qam", "hand delete")
    ran = run_cli("-C", root, "check", "--base", "origin/main")
    assert ran.exit_code == 1
    assert "git rm -r registry/m/versions/2" in ran.output


# -- init protects, or says it does not ------------------------------------------------------
def test_init_with_approvers_protects_the_policy_and_production(tmp_path, run_cli):
    ran = run_cli("init", tmp_path / "r", "--remote", tmp_path / "s", "--approver", "@acme/leads", "--json")
    assert ran.exit_code == 0, ran.stderr
    out = json.loads(ran.stdout)
    root = Path(out["path"])
    assert out["commit"] == git(root, "rev-parse", "HEAD").strip()
    settings = yaml.safe_load((root / "registry.yaml").read_text())
    assert settings["approvals"] == {"production": {"groups": [["@acme/leads"]], "allow_self_approval": False}}
    from modelreg.promotion.codeowners import owners_of

    for path in (".github/modelreg-requirements.txt", ".github/workflows/modelreg-check.yml", "registry.yaml"):
        assert owners_of(root, path) == ["@acme/leads"], path
    assert "NOTHING reviews" not in (root / ".github/modelreg-requirements.txt").read_text()
    assert not any("nothing is protected" in n for n in out["notes"])
    assert run_cli("-C", root, "check").exit_code == 0


def test_init_without_approvers_says_nothing_is_protected(tmp_path, run_cli):
    ran = run_cli("init", tmp_path / "r", "--remote", tmp_path / "s")
    assert ran.exit_code == 0
    assert "nothing is protected yet" in ran.stderr and "init --approver" in ran.stderr
    pin = (tmp_path / "r" / ".github/modelreg-requirements.txt").read_text()
    assert "NOTHING reviews a change to this file yet" in pin and "CODEOWNERS covers" not in pin


def test_init_refuses_a_bad_approver_and_writes_nothing(tmp_path, run_cli):
    ran = run_cli("init", tmp_path / "r", "--approver", "acme")
    assert ran.exit_code == 1 and "invalid approver 'acme'" in ran.stderr
    assert not (tmp_path / "r").exists()


# -- --json on every write, one vocabulary ---------------------------------------------------
def test_every_write_prints_json_with_its_commit(registry, tmp_path, run_cli):
    root = registry.root
    registry.register_model("m", "base_model", owners=["@acme/ml"])
    registry.create_version("m", write_weights(tmp_path / "w1", 1), metrics=[
        {"benchmark": "mmlu", "metric": "accuracy", "value": 0.7}])
    registry.create_version("m", write_weights(tmp_path / "w2", 2))

    def json_of(*args):
        ran = run_cli("-C", root, *args, "--json")
        assert ran.exit_code == 0, (args, ran.stderr)
        return json.loads(ran.stdout)

    head = lambda: git(root, "rev-parse", "HEAD").strip()  # noqa: E731
    out = json_of("stage", "set", "m", "1", "staging")
    assert (out["event"], out["commit"]) == ("version.stage", head())
    assert out["moved"] == [{"model": "m", "version": 1, "from": "none", "to": "staging"}]
    out = json_of("alias", "set", "m", "canary", "2")
    assert (out["event"], out["version"], out["previous"], out["commit"]) == ("alias.set", 2, None, head())
    out = json_of("alias", "rm", "m", "canary")
    assert (out["event"], out["previous"], out["commit"]) == ("alias.remove", 2, head())
    out = json_of("card", "set", "m@1", "--field", "license=mit")
    assert out["card"] == {"license": "mit"} and out["commit"] == head()
    (root / ".github" / "CODEOWNERS").unlink()
    git(root, "commit", "-qam", "drop CODEOWNERS")
    out = json_of("codeowners")
    assert out["changed"] is True and out["commit"] == head()
    out = json_of("lock", "m@1", "-o", tmp_path / "models.lock")
    assert out["path"] == str(tmp_path / "models.lock") and out["models"]["m@1"]["version"] == 1
    out = json_of("version", "delete", "m@2", "--reason", "bad")
    assert (out["event"], out["removed"], out["commit"]) == ("version.delete", False, head())
    names = {e["event"] for e in registry.history("m")}
    assert {"version.stage", "alias.set", "alias.remove", "version.delete", "version.create",
            "model.register", "card.update"} <= names
    assert all(re.fullmatch(r"[a-z]+\.[a-z]+", name) for name in names), names


def test_bom_prints_json(registry, weights, tmp_path, run_cli):
    pytest.importorskip("cyclonedx")
    registry.register_model("m", "base_model")
    registry.create_version("m", weights)
    ran = run_cli("-C", registry.root, "bom", "m@1", "-o", tmp_path / "bom.json", "--json")
    assert ran.exit_code == 0, ran.stderr
    out = json.loads(ran.stdout)
    assert (out["model"], out["version"], out["path"]) == ("m", 1, str(tmp_path / "bom.json"))
    assert (tmp_path / "bom.json").exists()


def test_model_show_prints_tags_and_owners_as_yaml(registry, run_cli):
    registry.register_model("m", "base_model", owners=["@acme/ml"], tags={"team": "support", "tier": "1"})
    ran = run_cli("-C", registry.root, "model", "show", "m")
    fields = yaml.safe_load(ran.stdout.split("aliases:")[0])
    assert fields["tags"] == {"team": "support", "tier": "1"} and fields["owners"] == ["@acme/ml"]
    assert "{'team'" not in ran.stdout


def test_version_show_warns_about_a_deprecated_model(registry, weights, run_cli):
    registry.register_model("m", "base_model")
    registry.create_version("m", weights)
    registry.deprecate_model("m", "use n")
    ran = run_cli("-C", registry.root, "version", "show", "m@1")
    assert ran.exit_code == 0 and "warning: model m is deprecated (use n)" in ran.stderr


def test_a_forged_origin_main_cannot_remove_a_merged_version(pushed, run_cli):
    """Attack: `version delete` removes outright what origin/main never had; point the local
    origin/main back to before m@1 and m@1 is removed too. The PR's check judges by main itself."""
    root = pushed.root
    first = git(root, "rev-list", "--max-parents=0", "HEAD").strip()
    git(root, "update-ref", "refs/remotes/origin/main", first)  # the forgery: a local ref only
    ran = run_cli("-C", root, "version", "delete", "m@1", "--reason", "gone", "--json")
    assert json.loads(ran.stdout)["removed"] is True  # the tool was fooled, locally
    git(root, "fetch", "-q", "origin")  # what CI sees: the real main
    ran = run_cli("-C", root, "check", "--base", "origin/main")
    assert ran.exit_code == 1 and "registry/m/versions/1" in ran.output
