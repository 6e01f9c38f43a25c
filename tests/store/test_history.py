"""Issue 13 items 5 and 9: one clock for `--as-of` and `history`, and a history that names the
real author, the PR and the rollback reason. Identities and author/committer dates are set
through the environment, as a user's clock and a forge's merge would set them."""
import subprocess
import sys

import pytest

from modelreg import Registry
from modelreg.promotion.releases import tag
from modelreg.promotion.sync import sync  # noqa: F401  (imported so a broken sync module fails here too)

from tests.conftest import git, write_weights
from tests.promotion.test_promote import run_cli


def when(monkeypatch, who: str, authored: str, committed: str | None = None):
    email = f"{who.lower()}@example.com"
    for var, value in (("GIT_AUTHOR_NAME", who), ("GIT_AUTHOR_EMAIL", email), ("GIT_COMMITTER_NAME", who),
                       ("GIT_COMMITTER_EMAIL", email), ("GIT_AUTHOR_DATE", authored),
                       ("GIT_COMMITTER_DATE", committed or authored)):
        monkeypatch.setenv(var, value)


@pytest.fixture
def reg(tmp_path, monkeypatch):
    """m@1 in production and m@2 in staging, all committed on 2026-10-30."""
    from modelreg.registry import init_registry

    when(monkeypatch, "Olga", "2026-10-30T09:00:00Z")
    init_registry(tmp_path / "reg", remote=str(tmp_path / "remote"))
    registry = Registry(tmp_path / "reg")
    registry.register_model("m", "base_model")
    registry.create_version("m", write_weights(tmp_path / "w1", seed=1))
    registry.create_version("m", write_weights(tmp_path / "w2", seed=2))
    registry.transition_stage("m", 1, "staging")
    registry.transition_stage("m", 1, "production")
    registry.transition_stage("m", 2, "staging")
    yield registry
    registry.close()


def promote_on_branch(reg, monkeypatch, who, authored, committed=None, reason=None, branch="pr"):
    git(reg.root, "checkout", "-q", "-b", branch)
    when(monkeypatch, who, authored, committed)
    if reason:
        reg.transition_stage("m", 1, "archived", reason=reason)
    else:
        reg.transition_stage("m", 2, "production")
    git(reg.root, "checkout", "-q", "main")


def production_as_of(reg, as_of):
    return reg.resolve("m@production", as_of=as_of).version


def test_fast_forwarded_pr_counts_from_when_main_moved(reg, monkeypatch):
    """issue 13 item 5: written on the 1st, fast-forwarded on the 20th: not in production on the 10th."""
    when(monkeypatch, "Bot", "2026-10-30T10:00:00Z")
    tag(reg.worktree, observe=True, now="2026-10-30T10:00:00Z")  # the tag workflow saw main here
    promote_on_branch(reg, monkeypatch, "Ann", "2026-11-01T09:00:00Z")
    git(reg.root, "merge", "-q", "--ff-only", "pr")
    tag(reg.worktree, observe=True, now="2026-11-20T10:00:00Z")
    assert production_as_of(reg, "2026-11-10T00:00:00Z") == 1
    assert production_as_of(reg, "2026-11-20T10:00:00Z") == 2
    moved = [e for e in reg.history("m") if e["event"] == "version.stage" and e["to"] == "production" and e["version"] == 2]
    assert moved and moved[0]["date"] == "2026-11-20T10:00:00Z" and moved[0]["clock"] == "observed"
    assert moved[0]["authored"] == "2026-11-01T09:00:00Z" and moved[0]["author"].startswith("Ann")


def test_history_and_as_of_use_the_same_clock(reg, monkeypatch):
    """issue 13 item 5: a rebase-merged commit authored on the 1st, committed on the 20th."""
    promote_on_branch(reg, monkeypatch, "Ann", "2026-11-01T09:00:00Z", committed="2026-11-20T10:00:00Z")
    git(reg.root, "merge", "-q", "--ff-only", "pr")
    events = [e for e in reg.history("m") if e["event"] == "version.stage" and e["version"] == 2 and e["to"] == "production"]
    assert events[0]["date"] == "2026-11-20T10:00:00Z"
    assert events[0]["clock"] == "claimed", "nothing but the committer's machine dates this commit"
    assert production_as_of(reg, events[0]["date"]) == 2
    assert production_as_of(reg, "2026-11-20T09:59:59Z") == 1
    out = run_cli(reg.root, "history", "m").output
    assert "2026-11-20T10:00:00Z*" in out and "author's claim only" in out


def test_a_future_dated_commit_is_not_counted_early(reg, monkeypatch):
    """issue 13 item 5: a commit claiming 2030 does not put its move (or later ones) in effect in 2026."""
    promote_on_branch(reg, monkeypatch, "Skewed", "2030-01-01T00:00:00Z")
    git(reg.root, "merge", "-q", "--ff-only", "pr")
    when(monkeypatch, "Olga", "2026-11-25T00:00:00Z")
    reg.set_alias("m", "canary", 1)
    assert production_as_of(reg, "2026-11-26T00:00:00Z") == 1
    assert production_as_of(reg, "2030-01-02T00:00:00Z") == 2


def test_a_bare_date_means_midnight_utc(reg, monkeypatch):
    """issue 13 item 5: --as-of 2026-11-20 is 00:00 UTC, not now's time of day on the 20th."""
    promote_on_branch(reg, monkeypatch, "Ann", "2026-11-20T00:00:01Z")
    git(reg.root, "merge", "-q", "--ff-only", "pr")
    assert production_as_of(reg, "2026-11-20") == 1
    assert production_as_of(reg, "2026-11-21") == 2
    out = run_cli(reg.root, "resolve", "m@production", "--as-of", "2026-11-20")
    assert out.exit_code == 0 and out.output.startswith("m@1 ")


def test_git_pull_merge_credits_the_author_not_the_merger(reg, monkeypatch, tmp_path):
    """issue 13 item 5: Bob's `git pull` merges Alice's move; history says Alice moved it."""
    bare = tmp_path / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(bare)], check=True)
    git(reg.root, "remote", "add", "origin", str(bare))
    git(reg.root, "push", "-q", "origin", "main")
    git(tmp_path, "clone", "-q", str(bare), "bob")
    when(monkeypatch, "Alice", "2026-11-02T09:00:00Z")
    reg.transition_stage("m", 2, "production")
    git(reg.root, "push", "-q", "origin", "main")
    when(monkeypatch, "Bob", "2026-11-03T09:00:00Z")
    with Registry(tmp_path / "bob") as bob:
        bob.create_version("m", write_weights(tmp_path / "w3", seed=3))
        git(bob.root, "pull", "-q", "--no-rebase", "--no-edit", "origin", "main")
        events = bob.history("m")
    moved = [e for e in events if e["event"] == "version.stage" and e["to"] == "production" and e["version"] == 2]
    assert moved[0]["author"] == "Alice <alice@example.com>"
    assert moved[0]["merged_by"] == "Bob <bob@example.com>"
    assert moved[0]["clock"] == "merged"


def test_history_names_the_pr_author_and_the_rollback_reason(reg, monkeypatch):
    """issue 13 item 9: a merged rollback PR shows its author and its reason, not the merger."""
    promote_on_branch(reg, monkeypatch, "Carol", "2026-11-05T09:00:00Z", reason="latency regression",
                      branch="carol/rollback")
    when(monkeypatch, "GitHub", "2026-11-06T12:00:00Z")
    git(reg.root, "merge", "-q", "--no-ff", "-m", "Merge pull request #7 from carol/rollback", "carol/rollback")
    moved = [e for e in reg.history("m") if e["event"] == "version.stage" and e["to"] == "archived"][0]
    assert moved["author"] == "Carol <carol@example.com>" and moved["merged_by"].startswith("GitHub")
    assert moved["pr"] == 7 and moved["reason"] == "latency regression"
    assert moved["date"] == "2026-11-06T12:00:00Z" and moved["clock"] == "merged"
    out = run_cli(reg.root, "history", "m").output
    assert "latency regression" in out and "Carol" in out


def test_lineage_says_a_parent_is_soft_deleted(registry, tmp_path):
    """issue 13 item 9: lineage marks a soft-deleted parent instead of presenting it as live."""
    registry.register_model("base", "base_model")
    registry.register_model("ft", "fine_tuned")
    registry.create_version("base", write_weights(tmp_path / "b", seed=1))
    registry.create_version("ft", write_weights(tmp_path / "f", seed=2), parent="base@1")
    registry.delete_version("base", 1, reason="license withdrawn")
    out = run_cli(registry.root, "lineage", "ft@1")
    assert out.exit_code == 0
    assert "base@1 base_model none DELETED" in out.output and "soft-deleted" in out.output
    out = run_cli(registry.root, "lineage", "ft@1", "--json")
    assert '"status": "deleted"' in out.output


def test_observation_notes_only_what_main_newly_reached(reg, monkeypatch):
    """issue 13 item 5: the first observation dates only the head (older commits were main before
    anyone watched); later ones date every commit a push brought, all at the push's time."""
    from modelreg.promotion.releases import observe_main

    assert len(observe_main(reg.worktree, now="2026-10-31T00:00:00Z")) == 1
    when(monkeypatch, "Ann", "2026-11-01T09:00:00Z")
    reg.set_alias("m", "canary", 1)
    reg.set_alias("m", "canary", 2)
    assert len(observe_main(reg.worktree, now="2026-11-09T00:00:00Z")) == 2
    assert observe_main(reg.worktree, now="2026-11-10T00:00:00Z") == []
    assert reg.aliases("m", as_of="2026-11-08T23:59:59Z").get("canary") is None
    assert reg.aliases("m", as_of="2026-11-09")["canary"] == 2  # never the intermediate state
    events = [e for e in reg.history("m") if e["event"] == "alias.set" and e["alias"] == "canary"]
    assert {e["clock"] for e in events} == {"observed"} and {e["date"] for e in events} == {"2026-11-09T00:00:00Z"}


def test_a_note_off_mains_first_parent_line_is_no_witness(reg, monkeypatch, tmp_path):
    """issue 19.3 (was issue 13 item 5): main was at Alice's move (observed) before Bob pushed a
    `git pull` merge whose first parent is his local work. A note off the first-parent line
    cannot be told from one on a branch commit that never was main (notes are not protected),
    so it is no witness: the move counts from Bob's merge, and history still credits Alice."""
    from modelreg.promotion.releases import observe_main

    bare = tmp_path / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(bare)], check=True)
    git(reg.root, "remote", "add", "origin", str(bare))
    observe_main(reg.worktree, now="2026-10-30T10:00:00Z")
    git(reg.root, "push", "-q", "origin", "main", "refs/notes/modelreg")
    git(tmp_path, "clone", "-q", str(bare), "bob")
    when(monkeypatch, "Bob", "2026-11-01T09:00:00Z")
    with Registry(tmp_path / "bob") as bob:
        bob.create_version("m", write_weights(tmp_path / "w3", seed=3))  # Bob's local work
    when(monkeypatch, "Alice", "2026-11-02T09:00:00Z")
    reg.transition_stage("m", 2, "production")
    observe_main(reg.worktree, now="2026-11-02T10:00:00Z")
    git(reg.root, "push", "-q", "origin", "main", "refs/notes/modelreg")
    when(monkeypatch, "Bob", "2026-11-03T09:00:00Z")
    with Registry(tmp_path / "bob") as bob:
        git(bob.root, "pull", "-q", "--no-rebase", "--no-edit", "origin", "main")
        git(bob.root, "fetch", "-q", "origin", "refs/notes/*:refs/notes/*")
        assert bob.resolve("m@production", as_of="2026-11-02T12:00:00Z").version == 1
        assert bob.resolve("m@production", as_of="2026-11-03T09:00:00Z").version == 2
        moved = [e for e in bob.history("m") if e["event"] == "version.stage" and e["to"] == "production"
                 and e["version"] == 2][0]
    assert moved["date"] == "2026-11-03T09:00:00Z" and moved["clock"] == "merged"
    assert moved["author"].startswith("Alice") and moved["merged_by"].startswith("Bob")


def note(reg, commit: str, text: str) -> None:
    """What anyone who can push the notes ref can write."""
    git(reg.root, "notes", "--ref=refs/notes/modelreg", "add", "-f", "-m", text, commit)


def test_a_forged_note_cannot_put_a_never_merged_state_in_effect(reg, monkeypatch):
    """issue 19.3: m@2 entered production on a branch and was reverted before the merge; a note on
    that branch commit (shaped like the workflow's) does not make m@2 "in production" as of then."""
    git(reg.root, "checkout", "-q", "-b", "side")
    when(monkeypatch, "Mallory", "2026-11-01T09:00:00Z")
    reg.transition_stage("m", 2, "production")
    moved = git(reg.root, "rev-parse", "HEAD").strip()
    git(reg.root, "revert", "--no-edit", "HEAD")
    git(reg.root, "checkout", "-q", "main")
    when(monkeypatch, "Olga", "2026-11-05T09:00:00Z")
    git(reg.root, "merge", "-q", "--no-ff", "-m", "merge side", "side")
    note(reg, moved, "Modelreg-Observed: 2026-11-03T00:00:00Z\nModelreg-Branch: main\n")
    for as_of in ("2026-11-03T00:00:00Z", "2026-11-04T00:00:00Z", "2026-11-06T00:00:00Z"):
        assert production_as_of(reg, as_of) == 1, as_of


def test_only_notes_shaped_and_dated_as_the_workflow_writes_them_count(reg, monkeypatch):
    """issue 19.3: on main's own line, a note without the workflow's Modelreg-Branch line, or one
    claiming main reached a commit before the commit existed, is no witness."""
    when(monkeypatch, "Ann", "2026-11-20T10:00:00Z")
    reg.transition_stage("m", 2, "production")
    head = git(reg.root, "rev-parse", "HEAD").strip()
    note(reg, head, "Modelreg-Observed: 2026-11-01T00:00:00Z\nModelreg-Branch: main\n")  # before it existed
    assert production_as_of(reg, "2026-11-10T00:00:00Z") == 1
    note(reg, head, "Modelreg-Observed: 2026-11-25T00:00:00Z\n")  # not the workflow's shape
    event = [e for e in reg.history("m") if e["event"] == "version.stage" and e["version"] == 2 and e["to"] == "production"][0]
    assert event["clock"] == "claimed" and event["date"] == "2026-11-20T10:00:00Z"
    note(reg, head, "Modelreg-Observed: 2026-11-25T00:00:00Z\nModelreg-Branch: main\n")
    event = [e for e in reg.history("m") if e["event"] == "version.stage" and e["version"] == 2 and e["to"] == "production"][0]
    assert event["clock"] == "observed" and event["date"] == "2026-11-25T00:00:00Z"


def test_a_note_cannot_hold_main_back_past_a_newer_observation_or_now(reg, monkeypatch):
    """issue 19.3: the workflow notes main's commits in the order main reached them, never in the
    future. A note on an older commit later than a newer commit's observation, or one from the
    future on the tip, is no witness: it cannot keep a reviewed move out of effect."""
    when(monkeypatch, "Ann", "2026-11-20T09:00:00Z")
    reg.transition_stage("m", 2, "production")
    tag(reg.worktree, observe=True, now="2026-11-20T10:00:00Z")  # the workflow saw main reach the move
    head = git(reg.root, "rev-parse", "HEAD").strip()
    note(reg, f"{head}~1", "Modelreg-Observed: 2026-11-25T00:00:00Z\nModelreg-Branch: main\n")
    assert production_as_of(reg, "2026-11-21T00:00:00Z") == 2
    git(reg.root, "notes", "--ref=refs/notes/modelreg", "remove", f"{head}~1")
    note(reg, head, "Modelreg-Observed: 2099-01-01T00:00:00Z\nModelreg-Branch: main\n")
    assert production_as_of(reg, "2026-11-21T00:00:00Z") == 2  # from its own date, not 2099
    event = [e for e in reg.history("m") if e["event"] == "version.stage" and e["version"] == 2 and e["to"] == "production"][0]
    assert event["date"] == "2026-11-20T09:00:00Z" and event["clock"] == "claimed"


@pytest.mark.parametrize("planted", ["hello\n", "Modelreg-Observed: 2099-01-01T00:00:00Z\nModelreg-Branch: main\n"])
def test_the_workflow_observes_a_tip_whose_note_is_no_witness(reg, monkeypatch, planted):
    """issue 19.3: a note planted on main's tip before the tag workflow runs (junk, or an
    observation the clock refuses) neither fails the run nor stops the real observation."""
    from modelreg.promotion.releases import observe_main

    when(monkeypatch, "Ann", "2026-11-20T09:00:00Z")
    reg.transition_stage("m", 2, "production")
    head = git(reg.root, "rev-parse", "HEAD").strip()
    note(reg, head, planted)
    assert observe_main(reg.worktree, now="2026-11-20T10:00:00Z") == [head]
    event = [e for e in reg.history("m") if e["event"] == "version.stage" and e["version"] == 2 and e["to"] == "production"][0]
    assert event["date"] == "2026-11-20T10:00:00Z" and event["clock"] == "observed"
    assert observe_main(reg.worktree, now="2026-11-21T10:00:00Z") == []


def test_a_folder_no_model_can_be_named_stops_no_reader(registry, weights, tmp_path):
    """A commit made outside modelreg (a PR author's) can hold registry/Bad Name/: check flags it,
    and history, events, audit and the site still answer for the models that are models."""
    registry.register_model("m", "base_model")
    registry.create_version("m", weights)
    bad = registry.root / "registry" / "Bad Name"
    bad.mkdir()
    (bad / "model.yaml").write_text((registry.root / "registry/m/model.yaml").read_text())
    git(registry.root, "add", "-A")
    git(registry.root, "commit", "-qm", "a folder with a space")
    for args in (["history", "--json"], ["events", "--json"], ["audit", "--from", "2000-01-01", "--to", "2100-01-01"]):
        done = subprocess.run([sys.executable, "-m", "modelreg", "-C", str(registry.root), *args],
                              capture_output=True, text=True)
        assert done.returncode == 0 and "m" in done.stdout, (args, done.stderr)
    assert any("invalid model name 'Bad Name'" in str(p) for p in registry.check(at="HEAD").problems)
