"""CODEOWNERS generated from owners and approval groups (issue 4)."""
from pathlib import Path

import pytest

from modelreg.promotion.codeowners import PATH, generate, owners_of
from modelreg.core.errors import PolicyViolation

from tests.conftest import git
from tests.promotion.test_promote import POLICY, run_cli, set_policy

ROOT = Path(__file__).resolve().parents[2]


def test_generate_and_match(registry):
    registry.register_model("llama-ft", "fine_tuned", owners=["@org/llm-team", "@alice"])
    set_policy(registry.root, approvals=POLICY["approvals"])
    assert generate(registry.worktree)["changed"] is True  # the approvers changed
    path = "registry/llama-ft/versions/3/version.yaml"
    assert owners_of(registry.root, path) == ["@org/llm-team", "@alice", "@org/ml-leads", "@org/qa"]
    assert owners_of(registry.root, "registry.yaml") == ["@org/ml-leads", "@org/qa"]
    assert generate(registry.worktree, check=True)["changed"] is False


def test_policy_paths_and_named_keys_are_owned_by_the_approvers(registry):
    """issue 19.1: .dvc/, .dvcignore, a root CODEOWNERS and every key file the signature policy
    names are owned by the approvers, after the model folders (the last match wins on GitHub), so
    a key kept in a model's folder is still the approvers'."""
    registry.register_model("llama-ft", "fine_tuned", owners=["@alice"])
    set_policy(registry.root, approvals=POLICY["approvals"], signatures={"production": {"signers": [
        {"key": "keys/release.pub"}, {"key": "registry/llama-ft/ci.pub"},
        {"key": "-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----\n"}]}})
    generate(registry.worktree)
    leads = ["@org/ml-leads", "@org/qa"]
    for path in (".dvc/config", ".dvcignore", "CODEOWNERS", "keys/release.pub", "registry/llama-ft/ci.pub",
                 ".github/workflows/check.yml", "schemas/version.schema.json"):
        assert owners_of(registry.root, path) == leads, path
    assert owners_of(registry.root, "registry/llama-ft/model.yaml") == ["@alice", *leads]
    assert "BEGIN" not in (registry.root / PATH).read_text()


def test_stale_codeowners_fails_check(registry):
    registry.register_model("llama-ft", "fine_tuned", owners=["@org/llm-team"])
    assert generate(registry.worktree)["changed"] is False  # register kept it current
    # an owner edited by hand (register keeps the file current: issue 14 item 2)
    model = registry.root / "registry" / "llama-ft" / "model.yaml"
    model.write_text(model.read_text().replace("@org/llm-team", "@bob"))
    git(registry.root, "commit", "-qam", "owners by hand")
    with pytest.raises(PolicyViolation, match="CODEOWNERS is stale: regenerate it") as raised:
        generate(registry.worktree, check=True)
    assert "modelreg" not in str(raised.value)  # the library's words; the CLI names the command
    ran = run_cli(registry.root, "codeowners", "--check")
    assert ran.exit_code == 1 and "stale" in ran.output and "('modelreg codeowners')" in ran.output
    assert run_cli(registry.root, "codeowners").exit_code == 0
    assert run_cli(registry.root, "codeowners", "--check").exit_code == 0


def test_missing_codeowners_fails_check(registry):
    (registry.root / PATH).unlink()
    with pytest.raises(PolicyViolation, match="missing"):
        generate(registry.worktree, check=True)


def test_this_repository_codeowners_is_current():
    """The project's own .github/CODEOWNERS matches its registry/ and registry.yaml."""
    if not (ROOT / "registry.yaml").exists():
        pytest.skip("this checkout has no registry.yaml")
    ran = run_cli(ROOT, "codeowners", "--check")
    assert ran.exit_code == 0, ran.output
