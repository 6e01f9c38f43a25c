"""Issue 22, approvers in Git: the tag workflow records who approved each merge (from the GitHub
fake behind Prism), `history --json` carries it, and `modelreg audit` answers what was in
production over a window, who approved each move and which gates and signatures it passed.
Dates are set through the environment, as test_history does, so the clock is the registry's."""
import csv
import io
import json

import pytest

from modelreg.core.clock import NOTES_REF
from modelreg.promotion.releases import tag
from modelreg.store.approval_notes import approvals_for

from tests.conftest import git, write_weights
from tests.promotion.test_promote import origin, run_cli, staged  # noqa: F401  (fixtures)
from tests.store.test_history import when

pytestmark = pytest.mark.github
REPO = "org/registry"


def merge_pr(reg, github, number, merged_at, observed_at, monkeypatch, approvers=("lead", "tester")):
    """Reviews, a merge on the forge at `merged_at`, the pull here, and the tag workflow's run."""
    for login in approvers:
        github.add_review(REPO, number, login, "APPROVED")
    when(monkeypatch, "Merger", merged_at)
    sha = github.merge(REPO, number, by="maintainer")
    git(reg.root, "pull", "-q", "--ff-only", "origin", "main")
    tag(reg.worktree, push=True, observe=True, now=observed_at)
    return sha


@pytest.fixture
def story(request, monkeypatch, tmp_path):
    """llama-ft: v1 in production from Oct 1; PR #1 puts v2 there (Oct 5), PR #2 v3 (Oct 10), and
    PR #3 rolls back to v2 (Oct 15). ml-leads = {lead}, qa = {tester}; alice opens every PR."""
    from modelreg.promotion.promote import promote, rollback

    when(monkeypatch, "Olga", "2026-10-01T09:00:00Z")
    reg = request.getfixturevalue("staged")
    github = request.getfixturevalue("github")
    github.add_repo(REPO, request.getfixturevalue("origin"))
    monkeypatch.setenv("GITHUB_TOKEN", github.add_user("alice"))
    github.add_team_member("org/ml-leads", "lead")
    github.add_team_member("org/qa", "tester")
    tag(reg.worktree, push=True, observe=True, now="2026-10-01T10:00:00Z")
    when(monkeypatch, "Alice", "2026-10-02T09:00:00Z")
    promote(reg.worktree, "llama-ft", 2, "production")
    merges = [merge_pr(reg, github, 1, "2026-10-05T09:00:00Z", "2026-10-05T10:00:00Z", monkeypatch)]
    when(monkeypatch, "Olga", "2026-10-06T09:00:00Z")
    reg.create_version("llama-ft", write_weights(tmp_path / "w3", seed=3),
                       metrics=[{"benchmark": "mmlu", "metric": "accuracy", "value": 0.7}],
                       card={"license": "apache-2.0"})
    reg.transition_stage("llama-ft", 3, "staging")
    git(reg.root, "push", "-q", "origin", "main")
    tag(reg.worktree, push=True, observe=True, now="2026-10-06T10:00:00Z")
    when(monkeypatch, "Alice", "2026-10-07T09:00:00Z")
    promote(reg.worktree, "llama-ft", 3, "production")
    merges.append(merge_pr(reg, github, 2, "2026-10-10T09:00:00Z", "2026-10-10T10:00:00Z", monkeypatch))
    when(monkeypatch, "Alice", "2026-10-12T09:00:00Z")
    rollback(reg.worktree, "llama-ft", 2, "v3 hallucinates order numbers")
    merges.append(merge_pr(reg, github, 3, "2026-10-15T09:00:00Z", "2026-10-15T10:00:00Z", monkeypatch,
                           approvers=("lead", "tester", "bob")))
    return reg, github, merges


def test_the_tag_workflow_records_pr_author_merger_and_each_approval(story, origin):
    reg, _github, merges = story
    note = git(reg.root, "notes", f"--ref={NOTES_REF}", "show", merges[0])
    assert "Modelreg-PR: 1\n" in note and "Modelreg-PR-Author: alice\n" in note
    assert "Modelreg-Merged-By: maintainer\n" in note
    assert "Modelreg-Approval: lead 2026-01-01T00:00:00Z production/1=@org/ml-leads\n" in note
    record = approvals_for(reg.git, merges[0])
    assert record["recorded_by"] == "workflow" and record["pr"] == 1 and record["pr_verified"]
    assert record["author"] == "alice" and record["merged_by"] == "maintainer"
    assert record["approvals"] == [
        {"login": "lead", "at": "2026-01-01T00:00:00Z",
         "groups": [{"stage": "production", "group": 1, "via": "@org/ml-leads"}]},
        {"login": "tester", "at": "2026-01-01T00:00:00Z",
         "groups": [{"stage": "production", "group": 2, "via": "@org/qa"}]}]
    # an approval by someone in no group is recorded too, satisfying none
    assert {"login": "bob", "at": "2026-01-01T00:00:00Z", "groups": []} in approvals_for(reg.git, merges[2])["approvals"]
    # the records went to origin with the tags, in the clock's notes
    assert "Modelreg-PR: 3\n" in git(origin, "notes", f"--ref={NOTES_REF}", "show", merges[2])


def test_history_json_carries_the_approvals_of_each_merge(story):
    reg, _github, merges = story
    ran = run_cli(reg.root, "history", "llama-ft", "--json")
    assert ran.exit_code == 0, ran.output
    events = json.loads(ran.output)
    moved = [e for e in events if e["commit"] == merges[1] and e["event"] == "version.stage" and e["to"] == "production"]
    assert moved and moved[0]["pr"] == 2
    assert [a["login"] for a in moved[0]["approvals"]["approvals"]] == ["lead", "tester"]
    direct = [e for e in events if e["event"] == "version.create" and e["version"] == 3]
    assert direct and direct[0]["approvals"] is None  # pushed straight to main: no PR, no record
    # `modelreg events` (and so every webhook payload) carries the same record
    typed = json.loads(run_cli(reg.root, "events", "--since", merges[0] + "~1", "--json").output)
    staged = [e for e in typed if e["commit"] == merges[1] and e["type"] == "stage.changed"
              and e["after"] == "production"]
    assert staged and [a["login"] for a in staged[0]["approvals"]["approvals"]] == ["lead", "tester"]
    assert all(e["approvals"] is None for e in typed if e["pr"] is None)


def test_audit_two_promotions_and_a_rollback(story):
    reg, _github, merges = story
    ran = run_cli(reg.root, "audit", "--from", "2026-10-03", "--to", "2026-10-20", "--json")
    assert ran.exit_code == 0, ran.output
    report = json.loads(ran.output)
    assert report["from"] == "2026-10-03T00:00:00Z" and report["to"] == "2026-10-20T00:00:00Z"
    (model,) = report["models"]
    spans = [(i["version"], i["from"], i["to"]) for i in model["intervals"]]
    assert spans == [(1, "2026-10-01T09:00:00Z", "2026-10-05T10:00:00Z"),
                     (2, "2026-10-05T10:00:00Z", "2026-10-10T10:00:00Z"),
                     (3, "2026-10-10T10:00:00Z", "2026-10-15T10:00:00Z"),
                     (2, "2026-10-15T10:00:00Z", None)]
    first, v2, v3, back = model["intervals"]
    assert first["approvals"] is None and first["pr"] is None  # moved on main before any PR
    assert [i["commit"] for i in (v2, v3, back)] == merges
    for item, pr in ((v2, 1), (v3, 2), (back, 3)):
        assert item["pr"] == pr and item["approvals"]["pr"] == pr and item["clock"] == "observed"
        assert item["approvals_source"] == "recorded by the workflow" and item["missing_groups"] == []
        assert item["approvals"]["merged_by"] == "maintainer"
        assert {g["condition"]: g["ok"] for g in item["gates"]} == {"mmlu/accuracy >= 0.6": True, "card.license": True}
        assert item["signature"] == {"status": "unsigned", "required": False}
    assert [r["group"] for r in v3["required_groups"]] == [1, 2]
    # a window after the rollback sees only v2, still in production; one model asked for by name
    later = json.loads(run_cli(reg.root, "audit", "--from", "2026-10-16", "--to", "2026-10-17", "--model",
                               "llama-ft", "--json").output)
    assert [(i["version"], i["to"]) for i in later["models"][0]["intervals"]] == [(2, None)]
    text = run_cli(reg.root, "audit", "--from", "2026-10-03", "--to", "2026-10-20").output
    assert "approvals (recorded by the workflow): lead (production/1 via @org/ml-leads)" in text
    assert "approvals: no record" in text and "gate pass: mmlu/accuracy >= 0.6 (mmlu/accuracy = 0.7)" in text


def test_audit_csv_header_and_rows(story):
    reg, _github, merges = story
    ran = run_cli(reg.root, "audit", "--from", "2026-10-03", "--to", "2026-10-20", "--csv")
    assert ran.exit_code == 0, ran.output
    rows = list(csv.reader(io.StringIO(ran.output)))
    assert rows[0] == ["model", "version", "from", "to", "clock", "commit", "pr", "merged_by", "approved_by",
                       "approvals_source", "missing_groups", "gates", "signature"]
    assert [(r[1], r[6]) for r in rows[1:]] == [("1", ""), ("2", "1"), ("3", "2"), ("2", "3")]
    rollback = dict(zip(rows[0], rows[4]))
    assert rollback["commit"] == merges[2] and rollback["to"] == "" and rollback["merged_by"] == "maintainer"
    assert rollback["approved_by"].startswith("lead 2026-01-01T00:00:00Z production/1=@org/ml-leads; tester ")
    assert rollback["approvals_source"] == "recorded by the workflow" and rollback["missing_groups"] == "none"
    assert rollback["gates"] == ("pass mmlu/accuracy >= 0.6 (mmlu/accuracy = 0.64); "
                                 "pass card.license (filled)") and rollback["signature"] == "unsigned"
    assert dict(zip(rows[0], rows[1]))["approvals_source"] == "no record"


def audit_json(root, *args) -> dict:
    """The report on stdout (warnings about ignored notes go to stderr)."""
    import contextlib

    from modelreg.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        assert main(["-C", str(root), "audit", *args, "--json"]) == 0
    return json.loads(out.getvalue())


def _note(reg, commit, text):
    git(reg.root, "notes", f"--ref={NOTES_REF}", "add", "-f", "-m", text, commit)


def test_forged_notes_are_ignored(story):
    """A note is a claim: a malformed record, one naming another PR than the merge, or one on a
    commit that was never main (a PR branch's commit) is no record, and makes no state appear."""
    reg, _github, merges = story
    shown = git(reg.root, "notes", f"--ref={NOTES_REF}", "show", merges[1])
    before = audit_json(reg.root, "--from", "2026-10-03", "--to", "2026-10-20")
    # wrong format: an approval line the workflow never writes
    _note(reg, merges[1], shown + "Modelreg-Approval: mallory yesterday production/1=@org/ml-leads\n")
    assert approvals_for(reg.git, merges[1]) is None
    # another PR's number than the merge commit names
    _note(reg, merges[1], shown.replace("Modelreg-PR: 2", "Modelreg-PR: 7"))
    assert approvals_for(reg.git, merges[1]) is None
    # a well-formed record on the PR branch's commit (merged in, never main's tip)
    side = git(reg.root, "rev-parse", f"{merges[1]}^2").strip()
    _note(reg, side, shown.replace("lead", "mallory"))
    assert approvals_for(reg.git, side) is None
    after = audit_json(reg.root, "--from", "2026-10-03", "--to", "2026-10-20")
    intervals = after["models"][0]["intervals"]
    assert [(i["version"], i["from"], i["to"]) for i in intervals] == \
        [(i["version"], i["from"], i["to"]) for i in before["models"][0]["intervals"]]
    assert intervals[2]["approvals"] is None and intervals[2]["missing_groups"] is None
    assert "mallory" not in json.dumps(after)
    # the genuine record back: counted again
    _note(reg, merges[1], shown)
    assert approvals_for(reg.git, merges[1])["pr"] == 2


@pytest.mark.parametrize("args,message", [
    (["--from", "last tuesday", "--to", "2026-10-20"], "invalid date 'last tuesday'"),
    (["--from", "2026-10-20", "--to", "2026-10-03"], "the window starts at 2026-10-20T00:00:00Z, after it ends"),
])
def test_bad_times_are_one_clear_line(registry, args, message):
    ran = run_cli(registry.root, "audit", *args)
    assert ran.exit_code == 1
    assert ran.output.count("\n") == 1 and message in ran.output, ran.output


def test_unknown_model_and_an_empty_window(registry, weights):
    registry.register_model("m", "base_model")
    assert run_cli(registry.root, "audit", "--from", "2020-01-01", "--to", "2020-01-02", "--json").exit_code == 0
    ran = run_cli(registry.root, "audit", "--from", "2020-01-01", "--to", "2030-01-01", "--model", "nope")
    assert ran.exit_code == 1 and "no model 'nope'" in ran.output
    ran = run_cli(registry.root, "audit", "--from", "2020-01-01", "--to", "2030-01-01")
    assert ran.exit_code == 0 and "m: nothing in production" in ran.output


def test_audit_verifies_signatures_at_the_move(registry, weights, tmp_path):
    """The signature column is re-derived: model.sig at the moving commit, verified against the
    signers of the policy in force there (a real key, the real model-signing library)."""
    from modelreg.supply import signatures
    from tests.supply.conftest import ec_keypair, trust_key

    private, public = ec_keypair(tmp_path / "keys")
    registry.register_model("llm", "fine_tuned")
    registry.create_version("llm", weights)
    registry.transition_stage("llm", 1, "staging")
    trust_key(registry, public)
    signatures.sign_version(registry.worktree, "llm", 1, key=private)
    registry.transition_stage("llm", 1, "production")
    report = audit_json(registry.root, "--from", "2020-01-01", "--to", "2030-01-01")
    (interval,) = report["models"][0]["intervals"]
    assert interval["signature"]["status"] == "verified" and interval["signature"]["required"] is True
    assert interval["signature"]["signer"] and interval["signature"]["problems"] == []


def test_an_unreachable_forge_holds_up_neither_the_clock_nor_the_tags(staged, github, origin, monkeypatch):
    """GitHub answering 500 to every try: the observation and the tags are written, the record is
    not (a warning says so), and audit says 'no record' for that move."""
    from modelreg.promotion.promote import promote

    github.add_repo(REPO, origin)
    monkeypatch.setenv("GITHUB_TOKEN", github.add_user("alice"))
    promote(staged.worktree, "llama-ft", 2, "production")
    github.add_review(REPO, 1, "lead", "APPROVED")
    sha = github.merge(REPO, 1)
    git(staged.root, "pull", "-q", "--ff-only", "origin", "main")
    github.fail_next(500, count=8)
    created = tag(staged.worktree, push=True, observe=True)
    assert "llama-ft#production#2" in {c["tag"] for c in created}
    note = git(staged.root, "notes", f"--ref={NOTES_REF}", "show", sha)
    assert note.startswith("Modelreg-Observed: ") and "Modelreg-PR" not in note
    assert approvals_for(staged.git, sha) is None
