"""Approval groups of a pull request (issue 8): pure functions over reviews and the base's policy."""
from modelreg.core.settings import Settings
from modelreg.rules.approvals import POLICY, evaluate_approvals, policy_rule, required_groups
from modelreg.store.change import Move

APPROVALS = {"staging": {"groups": [["@org/qa"]]},
             "production": {"groups": [["@org/ml-leads"], ["@org/qa"]], "allow_self_approval": True}}


def review(login, state, commit="head"):
    return {"user": {"login": login}, "state": state, "commit_id": commit}


def teams(org, team, login):
    return (team, login) in {("ml-leads", "lead"), ("qa", "tester"), ("qa", "alice")}


def test_policy_changes_default_to_the_strictest_stage_and_never_self_approval():
    """issue 8 hole 3: without approvals.policy, policy files need the strictest stage's groups."""
    groups, allow_self = policy_rule(Settings({"approvals": APPROVALS}))
    assert groups == [["@org/ml-leads"], ["@org/qa"]] and allow_self is False
    explicit = Settings({"approvals": {**APPROVALS, POLICY: {"groups": [["@org/admins"]]}}})
    assert policy_rule(explicit)[0] == [["@org/admins"]]
    assert policy_rule(Settings({}))[0] == []


def test_required_groups_add_policy_only_when_policy_files_change():
    settings = Settings({"approvals": APPROVALS})
    moves = [Move("stage", "m", 2, "none", "staging")]
    assert [s for s, _, _ in required_groups(settings, moves)] == ["staging"]
    found = required_groups(settings, moves, ["registry.yaml"])
    assert [(s, g) for s, g, _ in found] == [("staging", ["@org/qa"]), (POLICY, ["@org/ml-leads"]),
                                             (POLICY, ["@org/qa"])]


def test_all_groups_must_approve_latest_review_counts_and_stale_approvals_do_not():
    groups = [("production", ["@org/ml-leads"], False), ("production", ["@org/qa"], False)]
    results, blockers = evaluate_approvals(groups, [review("lead", "APPROVED"), review("tester", "APPROVED", "old")],
                                           "alice", "head", teams)
    assert [r.ok for r in results] == [True, False] and blockers == []
    assert any("approved an earlier commit" in n for n in results[1].notes)
    results, blockers = evaluate_approvals(groups, [review("lead", "APPROVED"), review("lead", "CHANGES_REQUESTED")],
                                           "alice", "head", teams)
    assert blockers == ["@lead requested changes"] and not results[0].ok


def test_self_approval_only_when_allowed():
    denied = [("production", ["@org/qa"], False)]
    results, _ = evaluate_approvals(denied, [review("alice", "APPROVED")], "alice", "head", teams)
    assert not results[0].ok and "self-approval" in results[0].notes[0]
    allowed = [("production", ["@org/qa"], True)]
    results, _ = evaluate_approvals(allowed, [], "alice", "head", teams)
    assert results[0].ok
