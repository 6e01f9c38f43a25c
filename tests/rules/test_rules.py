"""Pure rule functions of `check` (issue 8): approvals, rollback eligibility, gate conditions,
and the Snapshot/Change seams they run on."""
import math

import pytest

from modelreg.store.change import Move, is_policy_file
from modelreg.rules.approvals import POLICY, evaluate_approvals, policy_rule, required_groups
from modelreg.rules.changes import rollback_eligible
from modelreg.rules.gates import parse_condition, passes
from modelreg.core.settings import Settings

APPROVALS = {"staging": {"groups": [["@org/qa"]]},
             "production": {"groups": [["@org/ml-leads"], ["@org/qa"]], "allow_self_approval": True}}


def review(login, state, commit="head"):
    return {"user": {"login": login}, "state": state, "commit_id": commit}


def teams(org, team, login):
    return (team, login) in {("ml-leads", "lead"), ("qa", "tester"), ("qa", "alice")}


# -- approvals ----------------------------------------------------------------------------------
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


# -- rollback -------------------------------------------------------------------------------------
@pytest.mark.parametrize("src,stage,held,ok", [
    ("archived", "production", {"none", "staging", "production", "archived"}, True),
    ("archived", "production", {"none", "archived"}, False),  # none -> archived -> production
    ("archived", "production", {"staging", "archived"}, False),  # never reviewed for production
    ("staging", "production", set(), True),  # the normal edge is not a rollback
    ("archived", "staging", set(), True),  # staging is not exclusive: no rollback rule
])
def test_rollback_eligibility(src, stage, held, ok):
    """issue 8 hole 6: re-entering an exclusive stage from archived needs to have held it before."""
    assert rollback_eligible(stage, src, held, Settings({})) is ok


# -- gates ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("text,parsed", [
    ("mmlu/accuracy >= 0.6", ("mmlu", "accuracy", ">=", 0.6)),
    ("  a.b/c-d<1e-3 ", ("a.b", "c-d", "<", 0.001)),
    ("x/y == -2", ("x", "y", "==", -2.0)),
])
def test_condition_parsing(text, parsed):
    assert parse_condition(text) == parsed


@pytest.mark.parametrize("text", ["mmlu >= 0.6", "a/b => 1", "a/b >= nan", "a/b >= 1.2.3", "", None, 5])
def test_bad_conditions_are_value_errors(text):
    with pytest.raises(ValueError):
        parse_condition(text)


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, None, "0.9", True])
def test_non_numbers_never_pass_a_gate(value):
    """issue 8 hole 10: NaN >= 0.6 is False but NaN <= 0.6 too; inf passes >=: none may pass."""
    assert not passes(value, ">=", 0.6) and not passes(value, "<=", 0.6)


def test_finite_numbers_compare():
    assert passes(0.7, ">=", 0.6) and not passes(0.5, ">=", 0.6) and passes(1, "==", 1.0)


# -- seams ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("path,policy", [
    ("registry.yaml", True), ("schemas/card.schema.json", True), (".dvc/config", True),
    (".dvc/config.local", True), (".github/workflows/check.yml", True), ("CODEOWNERS", True),
    ("registry/m/model.yaml", False), ("README.md", False),
])
def test_policy_files(path, policy):
    assert is_policy_file(path) is policy


def test_snapshot_is_memoised_and_change_is_computed_from_blob_ids(registry, weights):
    from modelreg.store.change import Change
    from modelreg.store.snapshot import Snapshot

    registry.register_model("m", "base_model")
    base = registry.git.rev_parse("HEAD")
    registry.create_version("m", weights)
    head = registry.git.rev_parse("HEAD")
    assert Snapshot.at(registry.git, head) is Snapshot.at(registry.git, head)
    change = Change.between(Snapshot.at(registry.git, base), Snapshot.at(registry.git, head))
    assert [m.describe() for m in change.moves] == ["register m@1 (enters none)"]
    assert change.policy_files == [] and set(change.models) == {"m"}
    snap = Snapshot.at(registry.git, head)
    assert snap.versions("m") == [1] and snap.version("m", 1)["version"] == 1
    assert snap.settings.initial_stage == "none" and snap.pointer("m", 1).startswith(b"outs:")


def test_snapshot_records_parse_errors_instead_of_raising(registry):
    """issue 8 hole 11: a malformed record is recorded for check; the Registry's read still raises."""
    from modelreg.core.errors import InvalidRecord

    registry.register_model("m", "base_model")
    (registry.root / "registry/m/model.yaml").write_text("name: [oops\n")
    from tests.conftest import git
    git(registry.root, "commit", "-q", "-am", "break")
    snap = registry.snapshot(registry.git.rev_parse("HEAD"))
    assert snap.model("m") is None and "not valid YAML" in snap.errors["registry/m/model.yaml"]
    with pytest.raises(InvalidRecord):
        registry.get_model("m")


@pytest.mark.models
def test_soft_deleted_adapter_is_inert_in_check(registry, tiny_models, tmp_path, capsys):
    """issue 14.9: an adapter that does not fit its parent stops failing check once soft-deleted."""
    from modelreg.cli import main
    from tests.plugins.tiny_models import _builders

    b = _builders()
    wrong = b.build_adapter(tmp_path / "wrong", b.build_base(tmp_path / "narrow", hidden=32))
    registry.register_model("tiny", "base_model")
    registry.create_version("tiny", tiny_models["base"])
    registry.register_model("tiny-lora", "adapter")
    registry.create_version("tiny-lora", wrong, parent="tiny@1")
    assert main(["-C", str(registry.root), "check"]) == 1
    assert "does not fit" in capsys.readouterr().out
    registry.delete_version("tiny-lora", 1, reason="does not fit its parent")
    assert main(["-C", str(registry.root), "check"]) == 0, capsys.readouterr().out


@pytest.mark.parametrize("text", [
    "key: AKIAIOSFODNN7EXAMPLF\n", "aws_secret_access_key = wJalrXUtnFEMIK7MDENGbPxRfiCY\n",
    "Session_Token: FwoGZXIvYXdzEJr//////////wEaDKz\n", "access_key_id: abcdefgh12\n",
    "-----BEGIN RSA PRIVATE KEY-----\n", "token: ghp_" + "a" * 36 + "\n",
])
def test_credential_prefilter_is_a_superset_of_the_scan(text):
    """issue 8 speed: the one-search prefilter never hides what the line scan would find."""
    from modelreg.artifacts.secrets import find_credentials, may_hold_credentials

    assert find_credentials("f", text) and may_hold_credentials(text.encode())
    assert not may_hold_credentials(b"name: llama\nstage: production\n")


def test_check_of_a_valid_registry_never_imports_jsonschema(registry, weights):
    """issue 8 speed: valid records are decided by fastschema; jsonschema's import (lark grammars,
    about a second) is paid only when something is wrong."""
    import subprocess
    import sys

    registry.register_model("m", "base_model")
    registry.create_version("m", weights)
    code = ("import sys; from modelreg import Registry; r = Registry(sys.argv[1]); "
            "res = r.check(at='HEAD'); print(res.ok, 'jsonschema' in sys.modules)")
    ran = subprocess.run([sys.executable, "-c", code, str(registry.root)], capture_output=True, text=True)
    assert ran.stdout.split() == ["True", "False"], ran.stdout + ran.stderr
