"""Promotion by pull request (issue 4): branch, push, PR body, reviewers; against Prism + fake."""
import subprocess
from pathlib import Path

import pytest

from modelreg import Registry
from modelreg.errors import ExternalError, PolicyViolation
from modelreg.records import dump_yaml, load_yaml

from .conftest import git, write_weights

pytestmark = pytest.mark.github

POLICY = {
    "gates": {"production": {"metrics": ["mmlu/accuracy >= 0.6"], "card_fields": ["license"]}},
    "approvals": {"production": {"groups": [["@org/ml-leads"], ["@org/qa"]], "allow_self_approval": False}},
    "forge": {"type": "github", "repository": "org/registry"},
}


def set_policy(root: Path, **extra) -> None:
    """Edit registry.yaml on main and commit it (the policy in force is the base's)."""
    path = root / "registry.yaml"
    doc = load_yaml(path.read_bytes(), "registry.yaml")
    doc.update(extra)
    path.write_bytes(dump_yaml(doc, "schemas/registry.schema.json"))
    git(root, "commit", "-q", "-m", "policy", "--", "registry.yaml")


@pytest.fixture
def origin(tmp_path, registry_dir):
    bare = tmp_path / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(bare)], check=True)
    git(registry_dir, "remote", "add", "origin", str(bare))
    git(registry_dir, "push", "-q", "origin", "main")
    return bare


@pytest.fixture
def staged(registry, weights, tmp_path, origin):
    """llama-ft: v1 in production, v2 in staging with better metrics; pushed to origin."""
    reg = registry
    reg.register_model("llama-ft", "fine_tuned", owners=["@org/llm-team"])
    reg.create_version("llama-ft", weights, metrics=[{"benchmark": "mmlu", "metric": "accuracy", "value": 0.61}],
                       card={"license": "apache-2.0", "intended_use": "chat"})
    reg.transition_stage("llama-ft", 1, "staging")
    reg.transition_stage("llama-ft", 1, "production")
    reg.create_version("llama-ft", write_weights(tmp_path / "w2", seed=2),
                       metrics=[{"benchmark": "mmlu", "metric": "accuracy", "value": 0.64}],
                       card={"license": "apache-2.0"})
    reg.transition_stage("llama-ft", 2, "staging")
    set_policy(reg.root, **POLICY)
    git(reg.root, "push", "-q", "origin", "main")
    return reg


def run_cli(root, *args, env=None):
    from click.testing import CliRunner

    from modelreg.cli import cli

    result = CliRunner().invoke(cli, ["-C", str(root), *args], env=env, catch_exceptions=False)
    return result


def test_promote_opens_pr_with_reviewers_and_body(staged, github, origin, monkeypatch):
    github.add_repo("org/registry", origin)
    monkeypatch.setenv("GITHUB_TOKEN", github.add_user("alice"))
    from modelreg.promote import promote

    proposal = promote(staged, "llama-ft", 2, "production")
    assert proposal.branch == "modelreg/llama-ft-promote-1"
    assert staged.git.current_branch() == "main"
    pr = github.pull("org/registry", proposal.pull["number"])
    assert pr["head"] == proposal.branch and pr["base"] == "main" and pr["author"] == "alice"
    assert pr["requested_teams"] == {"ml-leads", "qa"}
    body = pr["body"]
    assert "llama-ft@2: staging -> production" in body
    assert "llama-ft@1: production -> archived" in body
    assert "llama-ft@production: 1 -> 2" in body
    assert "| mmlu/accuracy | 0.61 | 0.64 | +0.03 |" in body
    assert "✅ llama-ft@2 → production: `mmlu/accuracy >= 0.6`" in body
    assert "Lineage: llama-ft@2 (fine_tuned)" in body
    # main is untouched until the PR merges
    assert staged.resolve("llama-ft@production").version == 1
    print(body)
