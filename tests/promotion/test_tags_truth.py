"""Issue 13 items 6, 7 and 9: release tags stay true after history rewrites, one long name does
not stop tagging, a failed push leaves nothing behind, releases cannot shadow move tags."""
import shutil
import subprocess

import pytest

from modelreg.core.errors import ExternalError, IntegrityError, InvalidInput
from modelreg.promotion.releases import check_ref, cut_release, released, tag

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


def forge_tag(reg, name: str, commit: str, **facts) -> None:
    """What anyone with push access can do: an annotated tag with modelreg's trailers, made by hand."""
    lines = ["modelreg: forged", ""] + [f"Modelreg-{k.capitalize()}: {v}" for k, v in facts.items()]
    git(reg.root, "tag", "-a", "-m", "\n".join(lines + [f"Modelreg-Commit: {commit}"]), name, commit)


def test_a_forged_tag_is_not_a_release(reg):
    """issue 19.2: trailers claiming bert@1 entered production on main's tip (it never did) are
    refused by check-ref, and `check-ref --commit` does not list the forged tag."""
    tag(reg.worktree)
    head = git(reg.root, "rev-parse", "main").strip()
    forge_tag(reg, "bert#production#7", head, event="stage", model="bert", version="1", stage="production")
    out = run_cli(reg.root, "check-ref", "bert#production#7", "--json")
    assert out.exit_code == 1
    assert "tag 'bert#production#7' says bert@1 entered production at " in out.output
    assert "the registry's records there show no such move" in out.output
    listed = run_cli(reg.root, "check-ref", "--commit", head, "--json")
    assert listed.exit_code == 0 and '"tag": "bert#production#7"' not in listed.output
    assert '"tag": "bert@champion#1"' in listed.output  # the true tag of that commit still answers


def test_a_move_made_on_a_branch_and_undone_before_merging_was_never_on_main(reg):
    """issue 19.2: a tag naming a real move on a branch commit that main only merged (reverted
    before the merge) is not "on main": only main's first-parent history is."""
    git(reg.root, "checkout", "-q", "-b", "side")
    reg.transition_stage("bert", 1, "production")
    moved = git(reg.root, "rev-parse", "HEAD").strip()
    git(reg.root, "revert", "--no-edit", "HEAD")
    git(reg.root, "checkout", "-q", "main")
    git(reg.root, "merge", "-q", "--no-ff", "-m", "merge side", "side")
    forge_tag(reg, "bert#production#1", moved, event="stage", model="bert", version="1", stage="production")
    facts = check_ref(reg.worktree, "bert#production#1")
    assert facts["on_main"] is False and "warning" in facts
    assert "bert#production#1" not in {t["tag"] for t in tag(reg.worktree)}


def test_decoy_tags_pushed_in_advance_do_not_stop_the_real_ones(reg, tmp_path):
    """issue 19.2: decoys holding the names the next moves would take (pointing at main, with
    false trailers) do not make `tag` skip the real moves: the stage move takes the next free
    name, the version tag replaces its decoy, and check-ref verifies the real ones only."""
    tag(reg.worktree)
    head = git(reg.root, "rev-parse", "main").strip()
    forge_tag(reg, "bert#production#1", head, event="stage", model="bert", version="1", stage="production")
    forge_tag(reg, "bert@v2", head, event="version", model="bert", version="2")
    reg.transition_stage("bert", 1, "production")
    reg.create_version("bert", write_weights(tmp_path / "w2", seed=2))
    created = {t["tag"]: t for t in tag(reg.worktree)}
    assert "bert#production#2" in created and "bert#production#1" not in created
    assert created["bert@v2"]["replaces"] == head
    assert check_ref(reg.worktree, "bert#production#2")["on_main"] is True
    assert check_ref(reg.worktree, "bert@v2")["commit"] == git(reg.root, "rev-parse", "main").strip()
    with pytest.raises(IntegrityError, match="no such move"):
        check_ref(reg.worktree, "bert#production#1")
    assert tag(reg.worktree) == []  # and the next run is a no-op



def test_a_true_tag_on_a_branch_commit_does_not_stop_the_merged_move_being_tagged(reg):
    """issue 19.2: a tag pushed in advance on a PR's branch commit (its trailers true there) is
    not the tag of the same move once main makes it: the squash-merged move on main is tagged."""
    tag(reg.worktree)
    git(reg.root, "checkout", "-q", "-b", "pr")
    reg.transition_stage("bert", 1, "production")
    branch = git(reg.root, "rev-parse", "HEAD").strip()
    git(reg.root, "tag", "-a", "-m", "\n".join([
        "modelreg: bert@1 enters production", "", "Modelreg-Event: stage", "Modelreg-Model: bert",
        "Modelreg-Version: 1", "Modelreg-Stage: production", f"Modelreg-Commit: {branch}"]),
        "bert#production#1", branch)
    git(reg.root, "checkout", "-q", "main")
    git(reg.root, "merge", "-q", "--squash", "pr")
    git(reg.root, "commit", "-q", "-m", "Move bert@1 to production (#12)")
    merged = git(reg.root, "rev-parse", "main").strip()
    assert check_ref(reg.worktree, "bert#production#1")["on_main"] is False
    created = {t["tag"]: t for t in tag(reg.worktree)}
    assert created["bert#production#2"]["commit"] == merged
    assert [t["tag"] for t in released(reg.worktree, merged) if t.get("stage") == "production"] == ["bert#production#2"]


def test_a_tag_pointing_away_from_its_move_is_not_a_release(reg, tmp_path):
    """issue 19.2: trailers naming a real move's commit on a tag that points at an older commit
    (where the version does not exist) are refused, and `tag` still makes the real tag."""
    tag(reg.worktree)
    old = git(reg.root, "rev-parse", "main").strip()
    reg.create_version("bert", write_weights(tmp_path / "w2", seed=2))
    real = git(reg.root, "rev-parse", "main").strip()
    forge_tag(reg, "bert@v2", real, event="version", model="bert", version="2")
    git(reg.root, "tag", "-f", "-a", "-m", git(reg.root, "tag", "-l", "--format=%(contents)", "bert@v2"),
        "bert@v2", old)
    with pytest.raises(IntegrityError, match="no such move"):
        check_ref(reg.worktree, "bert@v2")
    created = {t["tag"]: t for t in tag(reg.worktree)}
    assert created["bert@v2"]["commit"] == real
    assert check_ref(reg.worktree, "bert@v2")["on_main"] is True
