"""Issue 13 items 1-3: `sync` renumbers by identity, never leaves an invalid registry, and
recognises what is already on origin by content. Real bare origin, several clones, each
clone's identity set through the environment."""
import subprocess

import pytest

from modelreg import Registry
from modelreg.core.errors import PolicyViolation
from modelreg.promotion.sync import sync

from tests.conftest import git, write_weights
from tests.promotion.test_promote import run_cli


def as_user(monkeypatch, name):
    email = f"{name.lower()}@example.com"
    for var, value in (("GIT_AUTHOR_NAME", name), ("GIT_AUTHOR_EMAIL", email),
                       ("GIT_COMMITTER_NAME", name), ("GIT_COMMITTER_EMAIL", email)):
        monkeypatch.setenv(var, value)


@pytest.fixture
def origin(tmp_path, registry, monkeypatch):
    """A bare origin whose main has base model m (version 1) and adapter model lora."""
    as_user(monkeypatch, "Olga")
    bare = tmp_path / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(bare)], check=True)
    registry.register_model("m", "base_model")
    registry.register_model("lora", "adapter")
    registry.create_version("m", write_weights(tmp_path / "w1", seed=1))
    git(registry.root, "remote", "add", "origin", str(bare))
    git(registry.root, "push", "-q", "origin", "main")
    return bare


def clone(origin, path, branch, start="main"):
    git(path.parent, "clone", "-q", str(origin), path.name)
    git(path, "checkout", "-q", "-b", branch, f"origin/{start}")
    return path


def push_main(registry, tmp_path, seed):
    """Someone else lands another m@N on origin first."""
    registry.create_version("m", write_weights(tmp_path / f"theirs{seed}", seed=seed), description="theirs")
    git(registry.root, "push", "-q", "origin", "main")


def adapter(folder, seed):
    write_weights(folder, seed=seed)
    (folder / "adapter_config.json").write_text('{"peft_type": "LORA", "r": 2}\n')
    return folder


def shas(reg, model, at):
    return {v["version"]: tuple(a["sha256"] for a in v.get("artifacts", [])) for v in
            reg.list_versions(model, at=at)}


def test_renumbering_maps_each_reference_once(origin, tmp_path, registry, monkeypatch):
    """issue 13 item 1: edited records are renumbered once; the adapter keeps its real base."""
    as_user(monkeypatch, "Bea")
    b = clone(origin, tmp_path / "b", "b")
    with Registry(b) as reg:
        reg.create_version("m", write_weights(tmp_path / "b2", seed=2), description="b2")
        reg.create_version("m", write_weights(tmp_path / "b3", seed=3), description="b3")
        git(b, "branch", "-f", "main", "HEAD")  # the adapter's parent must resolve on main
        reg.create_version("lora", adapter(tmp_path / "l1", seed=4), parent="m@2")
        reg.transition_stage("m", 2, "staging")
        reg.transition_stage("lora", 1, "staging")
        mine = shas(reg, "m", "HEAD")
    as_user(monkeypatch, "Olga")
    push_main(registry, tmp_path, seed=9)
    as_user(monkeypatch, "Bea")
    with Registry(b) as reg:
        result = sync(reg.worktree)
        assert result["renumbered"] == {"m@2": 3, "m@3": 4}
        for number in (3, 4):
            assert reg.get_version("m", number, at="HEAD")["version"] == number
        assert shas(reg, "m", "HEAD")[3] == mine[2]
        assert reg.get_version("m", 3, at="HEAD")["stage"] == "staging"
        lora = reg.get_version("lora", 1, at="HEAD")
        assert lora["parent"]["version"] == 3, "the adapter must stay on the weights it was trained on"
        assert reg.check(at="HEAD").ok, reg.check(at="HEAD").problems


def test_sync_refuses_two_production_versions(origin, tmp_path, registry, monkeypatch):
    """issue 13 item 2: a sync that would leave two production versions is refused, branch restored."""
    registry.transition_stage("m", 1, "staging")
    git(registry.root, "push", "-q", "origin", "main")
    as_user(monkeypatch, "Bea")
    b = clone(origin, tmp_path / "b", "b")
    with Registry(b) as reg:
        reg.create_version("m", write_weights(tmp_path / "b2", seed=2))
        reg.transition_stage("m", 2, "staging")
        reg.transition_stage("m", 2, "production")
        before = git(b, "rev-parse", "HEAD")
    as_user(monkeypatch, "Olga")
    push_main(registry, tmp_path, seed=9)
    registry.transition_stage("m", 1, "production")
    git(registry.root, "push", "-q", "origin", "main")
    as_user(monkeypatch, "Bea")
    with Registry(b) as reg:
        with pytest.raises(PolicyViolation, match="production"):
            sync(reg.worktree)
        assert git(b, "rev-parse", "HEAD") == before
        assert git(b, "symbolic-ref", "--short", "HEAD").strip() == "b"
        assert git(b, "status", "--porcelain", "--untracked-files=no") == ""
        assert (b / "registry/m/versions/2/weights/model.safetensors").exists()


def _three_clones(origin, tmp_path, registry, monkeypatch, theirs_first: bool):
    as_user(monkeypatch, "Bea")
    b = clone(origin, tmp_path / "b", "b")
    with Registry(b) as reg:
        reg.create_version("m", write_weights(tmp_path / "b2", seed=2), description="bea's")
    git(b, "push", "-q", "origin", "b")
    as_user(monkeypatch, "Dan")
    d = clone(origin, tmp_path / "d", "d", start="b")  # D builds on B's pushed, unsynced branch
    with Registry(d) as reg:
        reg.create_version("m", write_weights(tmp_path / "d3", seed=3), description="dan's")
        git(d, "branch", "-f", "main", "HEAD")
        reg.create_version("lora", adapter(tmp_path / "l1", seed=4), parent="m@2")
    as_user(monkeypatch, "Olga")
    if theirs_first:  # B's m@2 becomes m@3 on main
        push_main(registry, tmp_path, seed=9)
    else:  # B's m@2 keeps its number but is rebased: new commit ids, same content
        registry.register_model("other", "base_model")
        git(registry.root, "push", "-q", "origin", "main")
    as_user(monkeypatch, "Bea")
    with Registry(b) as reg:
        sync(reg.worktree)
        reg.git.branches.push("HEAD:refs/heads/main")
    as_user(monkeypatch, "Dan")
    result = run_cli(d, "sync")
    assert result.exit_code == 0, result.output
    git(d, "push", "-q", "origin", "HEAD:refs/heads/main")
    final = tmp_path / "final"
    git(tmp_path, "clone", "-q", str(origin), "final")
    return result, final


@pytest.mark.parametrize("theirs_first", [False, True], ids=["b-rebased", "b-renumbered"])
def test_sync_does_not_replay_a_version_already_on_origin(origin, tmp_path, registry, monkeypatch,
                                                          theirs_first):
    """issue 13 item 3: D's sync recognises B's landed version by content; no duplicate."""
    result, final = _three_clones(origin, tmp_path, registry, monkeypatch, theirs_first)
    assert "already on origin's main, not registered again: m@2 = m@" in result.output
    with Registry(final) as reg:
        versions = reg.list_versions("m")
        descriptions = [v.get("description") for v in versions]
        assert descriptions.count("bea's") == 1, descriptions
        assert descriptions.count("dan's") == 1, descriptions
        all_shas = [tuple(a["sha256"] for a in v["artifacts"]) for v in versions]
        assert len(all_shas) == len(set(all_shas)), "a version was registered twice"
        beas = next(v["version"] for v in versions if v.get("description") == "bea's")
        assert reg.get_version("lora", 1)["parent"]["version"] == beas
        assert [v["version"] for v in versions] == list(range(1, len(versions) + 1))
        assert reg.check().ok, reg.check().problems
    assert "bea's" not in git(final, "log", "--format=%an", "--author=Dan", "main")
    log = git(final, "log", "--format=%an %s", "main")
    assert sum("register m version" in line and line.startswith("Bea") for line in log.splitlines()) == 1
