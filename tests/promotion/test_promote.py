"""Promotion by pull request (issue 4): branch, push, PR body, reviewers; against Prism + fake."""
import subprocess
from pathlib import Path

import pytest

from modelreg.core.errors import ExternalError, PolicyViolation
from modelreg.core.records import dump_yaml, load_yaml

from tests.conftest import git, write_weights

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


class Ran:
    def __init__(self, exit_code, output):
        self.exit_code, self.output = exit_code, output


def run_cli(root, *args, capsys=None):
    """The real entry point (error mapping included); output is stdout + stderr."""
    import contextlib
    import io

    from modelreg.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["-C", str(root), *map(str, args)])
    return Ran(code, out.getvalue() + err.getvalue())


def test_promote_opens_pr_with_reviewers_and_body(staged, github, origin, monkeypatch):
    github.add_repo("org/registry", origin)
    monkeypatch.setenv("GITHUB_TOKEN", github.add_user("alice"))
    from modelreg.promotion.promote import promote

    proposal = promote(staged.worktree, "llama-ft", 2, "production")
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


@pytest.fixture
def opened(staged, github, origin, monkeypatch):
    """A promotion PR to production opened by alice; ml-leads = {lead}, qa = {tester, alice}."""
    github.add_repo("org/registry", origin)
    monkeypatch.setenv("GITHUB_TOKEN", github.add_user("alice"))
    github.add_team_member("org/ml-leads", "lead")
    github.add_team_member("org/qa", "tester")
    github.add_team_member("org/qa", "alice")
    from modelreg.promotion.promote import promote

    proposal = promote(staged.worktree, "llama-ft", 2, "production")
    return staged, proposal.branch, proposal.pull["number"]


def check_pr(reg, branch, number, comment=False):
    from modelreg.rules.check import post_comment

    result = reg.check(at=branch, base="main", pr=number, comment=comment)
    if comment:
        post_comment(result)
    return [p.message for p in result.problems]


def test_both_groups_needed(opened, github):
    reg, branch, number = opened
    problems = check_pr(reg, branch, number)
    assert any("one of @org/ml-leads" in p for p in problems)
    assert any("one of @org/qa" in p for p in problems)
    github.add_review("org/registry", number, "lead", "APPROVED")
    problems = check_pr(reg, branch, number)
    assert not any("ml-leads" in p for p in problems)
    assert any("one of @org/qa" in p for p in problems)
    github.add_review("org/registry", number, "tester", "APPROVED")
    assert check_pr(reg, branch, number) == []


def test_approval_then_changes_requested_blocks(opened, github):
    reg, branch, number = opened
    github.add_review("org/registry", number, "lead", "APPROVED")
    github.add_review("org/registry", number, "tester", "APPROVED")
    github.add_review("org/registry", number, "tester", "CHANGES_REQUESTED")
    problems = check_pr(reg, branch, number)
    assert "blocked: @tester requested changes" in problems
    assert any("one of @org/qa" in p for p in problems)
    # a later COMMENTED review does not undo the block; a new approval does
    github.add_review("org/registry", number, "tester", "COMMENTED")
    assert "blocked: @tester requested changes" in check_pr(reg, branch, number)
    github.add_review("org/registry", number, "tester", "APPROVED")
    assert check_pr(reg, branch, number) == []


def test_self_approval_refused(opened, github):
    reg, branch, number = opened
    github.add_review("org/registry", number, "lead", "APPROVED")
    github.add_review("org/registry", number, "alice", "APPROVED")  # alice is in qa and the author
    problems = check_pr(reg, branch, number)
    assert any("self-approval by the author @alice does not count" in p for p in problems)


def test_outsider_approval_does_not_count(opened, github):
    reg, branch, number = opened
    github.add_review("org/registry", number, "lead", "APPROVED")
    github.add_review("org/registry", number, "mallory", "APPROVED")
    assert any("one of @org/qa" in p for p in check_pr(reg, branch, number))


def test_approval_of_older_commit_does_not_count(opened, github, origin):
    reg, branch, number = opened
    github.add_review("org/registry", number, "lead", "APPROVED")
    github.add_review("org/registry", number, "tester", "APPROVED")
    git(reg.root, "checkout", "-q", branch)
    (reg.root / "registry/llama-ft/versions/2/card.yaml").write_text("license: mit\n")
    git(reg.root, "commit", "-qam", "sneak in a card edit")
    git(reg.root, "push", "-q", "origin", branch)
    git(reg.root, "checkout", "-q", "main")
    problems = check_pr(reg, branch, number)
    assert any("approved an earlier commit" in p for p in problems)


def test_gate_below_threshold(staged, tmp_path):
    reg = staged
    reg.create_version("llama-ft", write_weights(tmp_path / "w3", seed=3),
                       metrics=[{"benchmark": "mmlu", "metric": "accuracy", "value": 0.55}])
    reg.transition_stage("llama-ft", 3, "staging")
    git(reg.root, "checkout", "-q", "-b", "weak")
    # issue 19.14: the write names every failing gate and writes nothing
    with pytest.raises(PolicyViolation, match=r"llama-ft@3 cannot enter production: its gates fail: "
                       r"mmlu/accuracy >= 0.6 \(mmlu/accuracy = 0.55\); card.license \(empty\)"):
        reg.transition_stage("llama-ft", 3, "production")
    assert not git(reg.root, "status", "--porcelain")
    ran = run_cli(reg.root, "stage", "set", "llama-ft", "3", "production")
    assert ran.exit_code == 1 and "its gates fail: mmlu/accuracy >= 0.6" in ran.output
    # a branch that edits the stage by hand is still judged by check
    path = reg.root / "registry/llama-ft/versions/3/version.yaml"
    path.write_text(path.read_text().replace("stage: staging", "stage: production"))
    git(reg.root, "commit", "-qam", "by hand")
    git(reg.root, "checkout", "-q", "main")
    problems = check_pr(reg, "weak", None)
    assert "gate for production failed: mmlu/accuracy >= 0.6 (mmlu/accuracy = 0.55)" in problems
    assert "gate for production failed: card.license (empty)" in problems


def test_stage_skip_refused_locally_and_in_check(staged, tmp_path, monkeypatch):
    reg = staged
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_unused")
    reg.create_version("llama-ft", write_weights(tmp_path / "w3", seed=3),
                       metrics=[{"benchmark": "mmlu", "metric": "accuracy", "value": 0.9}])
    reg.transition_stage("llama-ft", 3, "development")
    from modelreg.promotion.promote import promote

    before = git(reg.root, "branch", "--list")
    with pytest.raises(PolicyViolation, match="development -> production"):
        promote(reg.worktree, "llama-ft", 3, "production")
    assert git(reg.root, "branch", "--list") == before and reg.git.current_branch() == "main"
    # a hand-edited branch that skips staging fails the check
    git(reg.root, "checkout", "-q", "-b", "skip")
    path = reg.root / "registry/llama-ft/versions/3/version.yaml"
    path.write_text(path.read_text().replace("stage: development", "stage: production"))
    git(reg.root, "commit", "-qam", "skip staging")
    git(reg.root, "checkout", "-q", "main")
    result = run_cli(reg.root, "check", "--base", "main", "--at", "skip")
    assert result.exit_code == 1
    assert "development -> production is not allowed" in result.output


def test_edit_to_merged_version_fails_check(staged):
    reg = staged
    git(reg.root, "checkout", "-q", "-b", "tamper")
    path = reg.root / "registry/llama-ft/versions/1/version.yaml"
    path.write_text(path.read_text().replace("value: 0.61", "value: 0.99"))
    git(reg.root, "commit", "-qam", "better numbers")
    git(reg.root, "checkout", "-q", "main")
    result = run_cli(reg.root, "check", "--base", "main", "--at", "tamper")
    assert result.exit_code == 1
    assert "a merged version may change only stage and status" in result.output


def test_missing_token_is_one_clear_line(staged, origin):
    result = run_cli(staged.root, "promote", "llama-ft", "2", "--to", "production")
    assert result.exit_code == 1
    assert "no GitHub token: set GITHUB_TOKEN" in result.output
    assert staged.git.branches.names("modelreg/*") == []  # failed before creating anything


def test_invalid_token(staged, github, origin, monkeypatch):
    github.add_repo("org/registry", origin)
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_not_a_real_token")
    result = run_cli(staged.root, "promote", "llama-ft", "2", "--to", "production")
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1] == (
        "error: GitHub refused the token (401 Bad credentials): set a valid GITHUB_TOKEN")


def test_token_from_gh_config(github, monkeypatch, tmp_path):
    from modelreg.promotion.forge import github as gh

    conf = tmp_path / "gh"
    conf.mkdir()
    (conf / "hosts.yml").write_text("github.com:\n    oauth_token: gho_from_gh\n    user: alice\n")
    monkeypatch.setenv("GH_CONFIG_DIR", str(conf))
    assert gh.token("https://api.github.com") == "gho_from_gh"
    with pytest.raises(ExternalError, match="no GitHub token"):
        gh.token("https://ghe.example.com/api/v3")
    monkeypatch.setenv("GITHUB_TOKEN", "bad token\r\nX-Evil: 1")
    with pytest.raises(ExternalError, match="malformed"):
        gh.token("https://api.github.com")


def test_retries_5xx_then_succeeds(github, origin, monkeypatch):
    from modelreg.promotion.forge.github import GitHub

    github.add_repo("org/registry", origin)
    client = GitHub("org/registry", github.add_user("alice"), github.base_url)
    github.fail_next(502, count=2)
    assert client.get_repo()["default_branch"] == "main"
    assert len(github.requests) == 3


def test_gives_up_after_bounded_retries(github, origin):
    from modelreg.promotion.forge.github import GitHub

    github.add_repo("org/registry", origin)
    client = GitHub("org/registry", github.add_user("alice"), github.base_url, max_wait=0.01)
    github.fail_next(503, count=10)
    with pytest.raises(ExternalError, match="kept answering 503 .* after 4 tries"):
        client.get_repo()
    assert len(github.requests) == 4


@pytest.mark.parametrize("status,headers,message", [
    (429, {"Retry-After": "0"}, "too many requests"),
    (403, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "0"}, "API rate limit exceeded"),
    (403, {}, "You have exceeded a secondary rate limit"),
])
def test_rate_limits_are_retried(github, origin, status, headers, message):
    from modelreg.promotion.forge.github import GitHub

    github.add_repo("org/registry", origin)
    client = GitHub("org/registry", github.add_user("alice"), github.base_url, max_wait=0.01)
    github.fail_next(status, count=1, headers=headers, message=message)
    assert client.get_repo()["full_name"] == "org/registry"
    github.fail_next(status, count=10, headers=headers, message=message)
    with pytest.raises(ExternalError, match=f"kept answering {status}"):
        client.get_repo()


def test_plain_403_is_not_retried(github, origin):
    from modelreg.promotion.forge.github import GitHub

    github.add_repo("org/registry", origin)
    client = GitHub("org/registry", github.add_user("alice"), github.base_url, max_wait=0.01)
    github.fail_next(403, message="Resource not accessible by integration")
    with pytest.raises(ExternalError, match="403 Resource not accessible"):
        client.get_repo()
    assert len(github.requests) == 1


def test_contract_server_rejects_bad_requests_and_responses(github, origin):
    """Prism validates both sides: a request GitHub would refuse never reaches the fake,
    and a response GitHub could not send becomes a 500."""
    from modelreg.promotion.forge.github import GitHub

    github.add_repo("org/registry", origin)
    client = GitHub("org/registry", github.add_user("alice"), github.base_url, max_wait=0.01)
    with pytest.raises(ExternalError, match="422"):
        client.request("POST", "/repos/org/registry/pulls", {"title": "no head", "base": "main"})
    assert github.requests == []
    github.add_team_member("org/qa", "bob", role="boss")  # not a role GitHub has
    with pytest.raises(ExternalError, match="500"):
        client.is_team_member("org", "qa", "bob")
    with pytest.raises(Exception, match="no path matched|404"):
        client.request("GET", "/repos/org/registry/hooks")


def test_without_forge_pushes_and_prints_what_to_open(staged, origin):
    set_policy(staged.root, forge={"type": "none"})
    result = run_cli(staged.root, "promote", "llama-ft", "2", "--to", "production")
    assert result.exit_code == 0, result.output
    assert "branch modelreg/llama-ft-promote-1 pushed to origin; no forge is configured" in result.output
    assert "llama-ft@2: staging -> production" in result.output
    assert git(origin, "rev-parse", "--verify", "refs/heads/modelreg/llama-ft-promote-1").strip()


def test_full_flow_promote_pr_reviews_check_merge_tag_resolve(opened, github, origin):
    """promote -> PR -> reviews -> check (with the summary comment) -> merge -> tag -> resolve."""
    reg, branch, number = opened
    assert run_cli(reg.root, "check", "--base", "main", "--at", branch, "--pr", number, "--comment").exit_code == 1
    github.add_review("org/registry", number, "lead", "APPROVED")
    github.add_review("org/registry", number, "tester", "APPROVED")
    ran = run_cli(reg.root, "check", "--base", "main", "--at", branch, "--pr", number, "--comment")
    assert ran.exit_code == 0, ran.output
    comments = github.pull_comments("org/registry", number)
    assert len(comments) == 1  # kept up to date, not repeated
    assert "modelreg check: ✅ all checks pass" in comments[0]["body"]
    assert "approved by @lead" in comments[0]["body"] and "approved by @tester" in comments[0]["body"]
    github.merge("org/registry", number)
    git(reg.root, "pull", "-q", "--ff-only", "origin", "main")
    ran = run_cli(reg.root, "tag", "--push")
    assert ran.exit_code == 0, ran.output
    assert "llama-ft#production#2" in ran.output  # the second time production moved
    tags = git(origin, "tag", "--list").split()
    assert {"llama-ft@v1", "llama-ft@v2", "llama-ft#production#2", "llama-ft#archived#1"} <= set(tags)
    assert run_cli(reg.root, "tag").output.strip().endswith("0 tag(s) created")  # idempotent
    ran = run_cli(reg.root, "check-ref", "llama-ft#production#2", "--json")
    import json

    facts = json.loads(ran.output)
    assert facts["model"] == "llama-ft" and facts["version"] == 2 and facts["stage"] == "production"
    assert reg.resolve("llama-ft@production").version == 2
    assert reg.resolve("llama-ft@production", at="llama-ft#production#2").version == 2
    assert reg.resolve("llama-ft@production", at="llama-ft#production#1").version == 1


@pytest.mark.parametrize("args,action,moved", [
    (["alias", "set", "llama-ft", "champion", "2", "--pr"], "alias", "llama-ft@champion: -> 2"),
    (["stage", "set", "llama-ft", "2", "production", "--pr"], "stage", "llama-ft@2: staging -> production"),
])
def test_pr_flag_on_write_commands(staged, github, origin, monkeypatch, args, action, moved):
    github.add_repo("org/registry", origin)
    monkeypatch.setenv("GITHUB_TOKEN", github.add_user("alice"))
    ran = run_cli(staged.root, *args)
    assert ran.exit_code == 0, ran.output
    assert "opened pull request #1" in ran.output
    pr = github.pull("org/registry", 1)
    assert pr["head"] == f"modelreg/llama-ft-{action}-1" and moved in pr["body"]
    assert staged.git.current_branch() == "main" and "champion" not in staged.aliases("llama-ft")


def test_version_create_pr(staged, github, origin, monkeypatch, tmp_path):
    github.add_repo("org/registry", origin)
    monkeypatch.setenv("GITHUB_TOKEN", github.add_user("alice"))
    src = write_weights(tmp_path / "w9", seed=9)
    ran = run_cli(staged.root, "version", "create", "llama-ft", src, "--metric", "mmlu/accuracy=0.7", "--pr")
    assert ran.exit_code == 0, ran.output
    body = github.pull("org/registry", 1)["body"]
    assert "register llama-ft@3 (enters none)" in body
    assert "| mmlu/accuracy | 0.61 | 0.7 | +0.09 |" in body
    # the weights stay with the branch's version folder, which main does not have
    assert not (staged.root / "registry/llama-ft/versions/3/version.yaml").exists()


def test_rollback_pr(staged, github, origin, monkeypatch):
    github.add_repo("org/registry", origin)
    monkeypatch.setenv("GITHUB_TOKEN", github.add_user("alice"))
    from modelreg.promotion.promote import promote, rollback

    promote(staged.worktree, "llama-ft", 2, "production")
    github.add_team_member("org/ml-leads", "lead")
    github.add_team_member("org/qa", "tester")
    github.add_review("org/registry", 1, "lead", "APPROVED")
    github.add_review("org/registry", 1, "tester", "APPROVED")
    github.merge("org/registry", 1)
    git(staged.root, "pull", "-q", "--ff-only", "origin", "main")
    proposal = rollback(staged.worktree, "llama-ft", 1, "v2 hallucinates order numbers")
    assert proposal.branch == "modelreg/llama-ft-rollback-1"
    body = github.pull("org/registry", 2)["body"]
    assert "> Reason: v2 hallucinates order numbers" in body
    assert "llama-ft@1: archived -> production" in body and "llama-ft@2: production -> archived" in body
    assert "Modelreg-Reason: v2 hallucinates order numbers" in git(staged.root, "log", "-1", proposal.branch)


def test_repository_and_pr_number_from_workflow_environment(monkeypatch, tmp_path):
    from modelreg.promotion.forge import github as gh

    assert gh.repository(None, "git@github.com:acme/models.git") == "acme/models"
    assert gh.repository(None, "https://ghe.example.com/acme/models") == "acme/models"
    monkeypatch.setenv("GITHUB_REPOSITORY", "org/registry")
    assert gh.repository(None, "git@github.com:acme/models.git") == "org/registry"
    event = tmp_path / "event.json"
    event.write_text('{"action": "submitted", "review": {"state": "approved"}, "pull_request": {"number": 42}}')
    monkeypatch.setenv("GITHUB_EVENT_PATH", str(event))
    assert gh.event_pull_number() == 42
    monkeypatch.setenv("GITHUB_API_URL", "https://ghe.example.com/api/v3/")
    assert gh.api_url() == "https://ghe.example.com/api/v3"
    assert gh.web_host(gh.api_url()) == "ghe.example.com"
