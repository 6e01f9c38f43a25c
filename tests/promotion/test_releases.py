"""Release tags (issue 4): tag per merge, check-ref, release cut, unsafe tag names."""
import json

import pytest

from modelreg.core.errors import AlreadyExists, InvalidInput
from modelreg.promotion.releases import check_ref, cut_release, tag

from tests.conftest import git, write_weights
from tests.promotion.test_promote import run_cli


@pytest.fixture
def history(registry, weights, tmp_path):
    reg = registry
    reg.register_model("bert", "base_model")
    reg.create_version("bert", weights)
    reg.transition_stage("bert", 1, "staging")
    reg.set_alias("bert", "champion", 1)
    return reg


def test_tags_say_what_each_commit_did(history):
    created = {t["tag"]: t for t in tag(history.worktree)}
    assert set(created) == {"bert@v1", "bert#staging#1", "bert@champion#1"}
    assert check_ref(history.worktree, "bert@v1") == {
        "tag": "bert@v1", "event": "version", "commit": created["bert@v1"]["commit"], "model": "bert", "version": 1,
        "on_main": True}
    assert check_ref(history.worktree, "bert@champion#1")["alias"] == "champion"
    assert tag(history.worktree) == []  # idempotent


def test_stage_counter_increments(history, tmp_path):
    reg = history
    tag(reg.worktree)
    reg.create_version("bert", write_weights(tmp_path / "w2", seed=2))
    reg.transition_stage("bert", 2, "staging")
    names = [t["tag"] for t in tag(reg.worktree)]
    assert names == ["bert@v2", "bert#staging#2"]
    assert check_ref(reg.worktree, "bert#staging#2")["version"] == 2


def test_release_cut_and_resolve_at(history, tmp_path):
    reg = history
    assert cut_release(reg.worktree, "2026-q4")["created"] is True
    reg.create_version("bert", write_weights(tmp_path / "w2", seed=2))
    reg.set_alias("bert", "champion", 2)
    assert reg.resolve("bert@champion").version == 2
    ran = run_cli(reg.root, "resolve", "bert@champion", "--at", "2026-q4", "--json")
    assert json.loads(ran.output)["version"] == 1
    assert check_ref(reg.worktree, "2026-q4")["event"] == "release"
    assert cut_release(reg.worktree, "2026-q4", at="2026-q4")["created"] is False  # same commit: a no-op
    with pytest.raises(AlreadyExists):
        cut_release(reg.worktree, "2026-q4")


@pytest.mark.parametrize("name", ["v1; rm -rf ~", "$(touch pwned)", "`id`", "a b", "-x", "x..y", "a@{1}",
                                  "rel|cat", "x\ny", "../../etc"])
def test_tag_names_with_shell_metacharacters_refused(history, name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InvalidInput, match="invalid tag name"):
        cut_release(history.worktree, name)
    with pytest.raises(InvalidInput, match="invalid tag name"):
        check_ref(history.worktree, name)
    ran = run_cli(history.root, "release", "cut", name)
    assert ran.exit_code in (1, 2) and "pwned" not in {p.name for p in tmp_path.iterdir()}
    assert git(history.root, "tag", "--list") == ""


def test_check_ref_of_foreign_tag(history):
    git(history.root, "tag", "-a", "-m", "hand made", "v0")
    with pytest.raises(InvalidInput, match="not made by modelreg"):
        check_ref(history.worktree, "v0")
