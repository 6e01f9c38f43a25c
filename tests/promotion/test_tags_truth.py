"""Issue 13 items 6, 7 and 9: release tags stay true after history rewrites, one long name does
not stop tagging, a failed push leaves nothing behind, releases cannot shadow move tags."""
import shutil
import subprocess

import pytest

from modelreg.core.errors import ExternalError, InvalidInput
from modelreg.promotion.releases import check_ref, cut_release, tag

from tests.conftest import git, write_weights
from tests.promotion.test_promote import run_cli


@pytest.fixture
def reg(registry, tmp_path):
    registry.register_model("bert", "base_model")
    registry.create_version("bert", write_weights(tmp_path / "w1", seed=1))
    registry.transition_stage("bert", 1, "staging")
    registry.set_alias("bert", "champion", 1)
    return registry


def rewrite_main(reg, monkeypatch):
    """Rebase main onto itself with new commit ids and the same content (a history rewrite)."""
    monkeypatch.setenv("GIT_COMMITTER_DATE", "2031-01-01T00:00:00Z")
    root = git(reg.root, "rev-list", "--max-parents=0", "main").strip()
    git(reg.root, "rebase", "-q", "--force-rebase", "--root" if not root else root, "main")
    monkeypatch.delenv("GIT_COMMITTER_DATE")


def test_rebased_main_gets_no_second_set_of_move_tags(reg, monkeypatch):
    """issue 13 item 6: the same moves on rewritten commits are not tagged again (no double deploy)."""
    first = {t["tag"] for t in tag(reg.worktree)}
    assert {"bert@v1", "bert#staging#1", "bert@champion#1"} <= first
    before = git(reg.root, "rev-parse", "main")
    rewrite_main(reg, monkeypatch)
    assert git(reg.root, "rev-parse", "main") != before
    assert tag(reg.worktree) == []
    reg.transition_stage("bert", 1, "production")  # a new move after the rewrite is still tagged
    assert {t["tag"] for t in tag(reg.worktree)} == {"bert#production#1", "bert@production#1"}


def test_orphaned_version_tag_is_moved_and_check_ref_says_so(reg, tmp_path, monkeypatch):
    """issue 13 item 6: a version tag on a commit main dropped never describes other weights."""
    tag(reg.worktree)
    old = git(reg.root, "rev-parse", "bert@v1^{commit}").strip()
    # main is rewritten: bert@1 is registered again with other bytes (e.g. a bad push undone)
    git(reg.root, "reset", "-q", "--hard", git(reg.root, "rev-list", "-n1", "main", "--", "registry/bert/model.yaml").strip())
    shutil.rmtree(reg.root / "registry/bert/versions")  # the ignored weights folder too
    reg.create_version("bert", write_weights(tmp_path / "w9", seed=9))
    facts = check_ref(reg.worktree, "bert@v1")
    assert facts["on_main"] is False and "no longer on main" in facts["warning"]
    out = run_cli(reg.root, "check-ref", "bert@v1")
    assert "no longer on main" in out.output
    created = {t["tag"]: t for t in tag(reg.worktree)}
    assert "bert@v1" in created and created["bert@v1"]["replaces"] == old
    assert check_ref(reg.worktree, "bert@v1")["on_main"] is True
    assert git(reg.root, "rev-parse", "bert@v1^{commit}").strip() == git(reg.root, "rev-parse", "main").strip()


def test_one_long_name_does_not_stop_tagging(registry, tmp_path):
    """issue 13 item 7: a 64-character model with a 64-character alias is shortened, the rest tagged."""
    long_model, long_alias = "m" + "x" * 63, "a" + "y" * 63
    registry.register_model(long_model, "base_model")
    registry.create_version(long_model, write_weights(tmp_path / "w1", seed=1))
    registry.set_alias(long_model, long_alias, 1)
    registry.register_model("bert", "base_model")
    registry.create_version("bert", write_weights(tmp_path / "w2", seed=2))
    out = run_cli(registry.root, "tag")
    assert out.exit_code == 0, out.output
    names = git(registry.root, "tag", "--list").split()
    assert "bert@v1" in names and f"{long_model}@v1" in names
    long_tag = [n for n in names if n.startswith(f"{long_model}@a")]
    assert len(long_tag) == 1 and len(long_tag[0]) <= 128
    assert check_ref(registry.worktree, long_tag[0])["alias"] == long_alias
    assert tag(registry.worktree) == []  # deterministic: the next run finds the same name


def test_failed_tag_push_leaves_no_local_tags(reg, tmp_path):
    """issue 13 item 9: `tag --push` whose push fails leaves no local tags (or clock notes) behind."""
    git(reg.root, "remote", "add", "origin", str(tmp_path / "missing.git"))
    with pytest.raises(ExternalError):
        tag(reg.worktree, push=True, observe=True)
    assert git(reg.root, "tag", "--list") == ""
    assert git(reg.root, "notes", "--ref=refs/notes/modelreg", "list") == ""
    out = run_cli(reg.root, "tag", "--push")
    assert out.exit_code == 1 and git(reg.root, "tag", "--list") == ""
    bare = tmp_path / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(bare)], check=True)
    git(reg.root, "remote", "set-url", "origin", str(bare))
    git(reg.root, "push", "-q", "origin", "main")
    assert {t["tag"] for t in tag(reg.worktree, push=True, observe=True)} >= {"bert@v1"}
    assert "bert@v1" in git(bare, "tag", "--list")
    assert git(bare, "notes", "--ref=refs/notes/modelreg", "list").strip()


@pytest.mark.parametrize("name", ["bert@v2", "bert#production#1", "bert@champion#3"])
def test_release_named_like_a_move_tag_is_refused(reg, name):
    """issue 13 item 9: a release named like a version tag would suppress that tag: refused."""
    with pytest.raises(InvalidInput, match="looks like"):
        cut_release(reg.worktree, name)
    assert git(reg.root, "tag", "--list") == ""
    assert cut_release(reg.worktree, "2026-q4")["created"] is True


def test_tag_push_in_a_clone_without_tags(reg, tmp_path, monkeypatch):
    """issue 13 item 9: `tag --push` from a clone that has none of origin's tags makes no duplicates."""
    bare = tmp_path / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(bare)], check=True)
    git(reg.root, "remote", "add", "origin", str(bare))
    git(reg.root, "push", "-q", "origin", "main")
    pushed = {t["tag"] for t in tag(reg.worktree, push=True)}
    git(tmp_path, "clone", "-q", "--no-tags", str(bare), "fresh")
    fresh = tmp_path / "fresh"
    assert git(fresh, "tag", "--list") == ""
    monkeypatch.setenv("GIT_COMMITTER_DATE", "2031-01-01T00:00:00Z")  # another run, another tagger date
    out = run_cli(fresh, "tag", "--push")
    assert out.exit_code == 0, out.output
    assert set(git(fresh, "tag", "--list").split()) == pushed
    assert set(git(bare, "tag", "--list").split()) == pushed
