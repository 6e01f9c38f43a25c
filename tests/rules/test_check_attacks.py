"""The attack corpus for `check` as a trust boundary (issue 8): one test per hole.

Each test plays the attacker on a real bare origin and a clone: it edits files by hand on a
branch, commits, and runs `modelreg check --base origin/main [--pr N]` through the real CLI
entry point. Every hole must be refused with exit code 1 and a line naming the file, the
rule and what to do.
"""
import contextlib
import io
import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from modelreg.cli import main
from modelreg.core.records import dump_yaml, load_yaml

from tests.conftest import git, write_weights

POLICY = {
    "gates": {"production": {"metrics": ["mmlu/accuracy >= 0.6"]}},
    "approvals": {"production": {"groups": [["@org/ml-leads"], ["@org/qa"]]}},
    "forge": {"type": "github", "repository": "org/registry"},
}


@dataclass
class World:
    reg: object  # the Registry on main (the maintainers' clone)
    origin: Path
    clone: Path  # the attacker's clone, on branch "pr" from origin/main


def run(root: Path, *args) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["-C", str(root), *map(str, args)])
    return code, out.getvalue() + err.getvalue()


def check(world: World, *extra) -> tuple[int, str]:
    return run(world.clone, "check", "--base", "origin/main", *extra)


def edit_yaml(root: Path, path: str, change) -> None:
    full = root / path
    doc = load_yaml(full.read_bytes(), path)
    change(doc)
    full.write_bytes(dump_yaml(doc))


def commit(root: Path, message: str = "attack") -> None:
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", message)


def set_main_policy(reg, **extra) -> None:
    edit_yaml(reg.root, "registry.yaml", lambda doc: doc.update(extra))
    git(reg.root, "commit", "-q", "-m", "policy", "--", "registry.yaml")


@pytest.fixture
def world(registry, weights, tmp_path):
    """llama: v1 production, v2 staging, v3 none (no weights); pushed; the attacker's clone on 'pr'."""
    reg = registry
    reg.register_model("llama", "fine_tuned", owners=["@org/llm"])
    reg.create_version("llama", weights, metrics=[{"benchmark": "mmlu", "metric": "accuracy", "value": 0.7}])
    reg.transition_stage("llama", 1, "staging")
    reg.transition_stage("llama", 1, "production")
    reg.create_version("llama", write_weights(tmp_path / "w2", seed=2),
                       metrics=[{"benchmark": "mmlu", "metric": "accuracy", "value": 0.72}])
    reg.transition_stage("llama", 2, "staging")
    reg.create_version("llama", source_uri="s3://elsewhere/llama-3")
    set_main_policy(reg, **POLICY)
    origin = tmp_path / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(origin)], check=True)
    git(reg.root, "remote", "add", "origin", str(origin))
    git(reg.root, "push", "-q", "origin", "main")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(origin), str(clone))
    git(clone, "checkout", "-q", "-b", "pr")
    return World(reg, origin, clone)


def refresh(world: World) -> None:
    """Push main again and restart the attacker's branch from it."""
    git(world.reg.root, "push", "-q", "origin", "main")
    git(world.clone, "fetch", "-q", "origin")
    git(world.clone, "checkout", "-q", "-B", "pr", "origin/main")


def assert_refused(code: int, output: str, *expected: str) -> None:
    assert code == 1, output
    for text in expected:
        assert text in output, (text, output)


def test_baseline_an_honest_pr_passes(world):
    """The corpus is meaningful only if an honest change passes the same command."""
    edit_yaml(world.clone, "registry/llama/versions/3/version.yaml", lambda d: d.update(stage="staging"))
    commit(world.clone)
    code, output = check(world)
    assert code == 0, output


# -- hole 1: the PR's own registry.yaml judges the PR ------------------------------------------
def test_hole1_pr_cannot_add_a_transition_and_use_it(world):
    """issue 8 hole 1: a PR adding none -> production to transitions is judged by the base's."""
    def loosen(doc):
        doc["transitions"]["none"] = doc["transitions"]["none"] + ["production"]
    edit_yaml(world.clone, "registry.yaml", loosen)
    edit_yaml(world.clone, "registry/llama/versions/3/version.yaml", lambda d: d.update(stage="production"))
    edit_yaml(world.clone, "registry/llama/versions/1/version.yaml", lambda d: d.update(stage="archived"))
    edit_yaml(world.clone, "registry/llama/aliases.yaml", lambda d: d["aliases"].update(production=3))
    commit(world.clone)
    code, output = check(world)
    assert_refused(code, output, "registry/llama/versions/3/version.yaml:/stage: none -> production is not "
                   "allowed by registry.yaml's transitions (on the base branch)")


def test_hole1_pr_cannot_empty_stage_aliases_to_move_production(world):
    """issue 8 hole 1: emptying stage_aliases/protected_aliases in the PR does not free @production."""
    edit_yaml(world.clone, "registry.yaml", lambda d: d.update(stage_aliases={}, protected_aliases=[]))
    edit_yaml(world.clone, "registry/llama/aliases.yaml", lambda d: d["aliases"].update(production=2))
    commit(world.clone)
    code, output = check(world)
    assert_refused(code, output, "registry/llama/aliases.yaml:/aliases/production: must point at version 1, "
                   "the production version")


def test_hole1_initial_stage_comes_from_the_base(world, tmp_path):
    """issue 8 hole 1: a PR setting initial_stage: production cannot register straight into it."""
    edit_yaml(world.clone, "registry.yaml", lambda d: d.update(initial_stage="production"))
    folder = world.clone / "registry/llama/versions/4"
    folder.mkdir(parents=True)
    (folder / "version.yaml").write_bytes(dump_yaml({"version": 4, "model_type": "fine_tuned",
                                                     "stage": "production", "status": "active",
                                                     "source": {"uri": "s3://x/4"}}))
    commit(world.clone)
    code, output = check(world)
    assert_refused(code, output, "registry/llama/versions/4/version.yaml:/stage: a new version enters at none; "
                   "none -> production is not allowed")


# -- hole 2: registry.yaml is validated against its schema ------------------------------------
@pytest.mark.parametrize("change,expected", [
    ({"colour": "blue"}, "registry.yaml:/: unknown field(s)"),
    ({"forge": {"type": "gitlab"}}, "registry.yaml:/forge/type: 'gitlab' is not one of"),
    ({"stages": 5}, "registry.yaml:/stages: 5 is not of type 'array'"),
    ({"transitions": {"none": "production"}}, "registry.yaml:/transitions/none"),
])
def test_hole2_registry_yaml_is_schema_checked(world, change, expected):
    """issue 8 hole 2: unknown keys, bad enums and mistyped values are problems (exit 1, never 3)."""
    edit_yaml(world.clone, "registry.yaml", lambda d: d.update(change))
    commit(world.clone)
    assert_refused(*check(world), expected)
    assert_refused(*run(world.clone, "check"), expected)  # the whole-registry check too


def test_hole2_mistyped_registry_yaml_is_exit_1_for_writes_too(world):
    """issue 8 hole 2/10: a write on a registry whose registry.yaml is mistyped is one clear line."""
    edit_yaml(world.clone, "registry.yaml", lambda d: d.update(stages=5))
    code, output = run(world.clone, "stage", "set", "llama", "3", "staging")
    assert code == 1 and "registry.yaml:/stages: must be a list of names" in output, output


# -- hole 3: policy changes need approval ------------------------------------------------------
@pytest.fixture
def forge(world, github, monkeypatch):
    github.add_repo("org/registry", world.origin)
    monkeypatch.setenv("GITHUB_TOKEN", github.add_user("mallory"))
    github.add_team_member("org/ml-leads", "lead")
    github.add_team_member("org/qa", "tester")
    return github


def open_pr(world, github, title="change") -> int:
    from modelreg.promotion.forge.github import GitHub

    git(world.clone, "push", "-q", "-f", "origin", "pr")
    client = GitHub("org/registry", github.add_user("mallory"), github.base_url)
    return client.create_pull(title, "pr", "main", "body")["number"]


@pytest.mark.github
@pytest.mark.parametrize("path,content", [
    ("registry.yaml", None),
    (".dvc/config", "[core]\n    remote = evil\n['remote \"evil\"']\n    url = s3://attacker/bucket\n"),
    (".github/workflows/check.yml", "name: check\non: [push]\njobs: {}\n"),
    (".github/CODEOWNERS", "* @mallory\n"),
    ("schemas/version.schema.json", None),
])
def test_hole3_policy_changes_need_the_policy_groups(world, forge, path, content):
    """issue 8 hole 3: editing the rules themselves needs approvals, and the comment says so."""
    full = world.clone / path
    full.parent.mkdir(parents=True, exist_ok=True)
    if path == "registry.yaml":
        edit_yaml(world.clone, path, lambda d: d["gates"]["production"].update(metrics=[]))
    elif path.startswith("schemas/"):
        doc = json.loads(full.read_text())
        doc["description"] = "loosened"
        full.write_text(json.dumps(doc, indent=2))
    else:
        full.write_text(content)
    commit(world.clone)
    number = open_pr(world, forge)
    code, output = check(world, "--pr", number, "--comment")
    assert_refused(code, output, f"{path}:/: a change of policy files needs an approval from one of "
                   "@org/ml-leads")
    comment = forge.pull_comments("org/registry", number)[0]["body"]
    assert "### Policy files changed" in comment and f"`{path}`" in comment
    forge.add_review("org/registry", number, "lead", "APPROVED")
    forge.add_review("org/registry", number, "tester", "APPROVED")
    code, output = check(world, "--pr", number)
    assert "policy files needs an approval" not in output, output


@pytest.mark.github
def test_hole3_explicit_policy_rule(world, forge):
    """issue 8 hole 3: approvals.policy on the base names who approves policy changes."""
    set_main_policy(world.reg, approvals={**POLICY["approvals"], "policy": {"groups": [["@org/admins"]]}})
    refresh(world)
    (world.clone / "CODEOWNERS").write_text("* @mallory\n")
    commit(world.clone)
    number = open_pr(world, forge)
    code, output = check(world, "--pr", number)
    assert_refused(code, output, "CODEOWNERS:/: a change of policy files needs an approval from one of @org/admins")


@pytest.mark.github
def test_a_signer_key_the_policy_names_is_a_policy_file(world, forge, tmp_path):
    """issue 19.1: a PR that replaces the key registry.yaml trusts (keys/release.pub) changes the
    trust policy: it needs the policy groups, checks every model, and the comment says so."""
    from tests.supply.conftest import ec_keypair

    _private, public = ec_keypair(tmp_path / "real")
    (world.reg.root / "keys").mkdir()
    (world.reg.root / "keys/release.pub").write_bytes(public.read_bytes())
    set_main_policy(world.reg, signatures={"production": {"required": False,
                                                          "signers": [{"key": "keys/release.pub"}]}})
    git(world.reg.root, "add", "keys")
    git(world.reg.root, "commit", "-q", "-m", "trust a key")
    refresh(world)
    _evil, forged = ec_keypair(tmp_path / "mallory")
    (world.clone / "keys/release.pub").write_bytes(forged.read_bytes())
    commit(world.clone, "rotate the key")
    number = open_pr(world, forge)
    code, output = check(world, "--pr", number, "--comment", "--json")
    assert code == 1, output
    report = json.loads(output)
    assert report["scope"] == "all"
    assert {"file": "keys/release.pub", "pointer": "/", "message": "a change of policy files needs an "
            "approval from one of @org/ml-leads"} in report["problems"], output
    assert "`keys/release.pub`" in forge.pull_comments("org/registry", number)[0]["body"]
    forge.add_review("org/registry", number, "lead", "APPROVED")
    forge.add_review("org/registry", number, "tester", "APPROVED")
    code, output = check(world, "--pr", number)
    assert "policy files needs an approval" not in output, output


def test_every_policy_path_needs_an_owner_in_codeowners(world):
    """issue 19.1: with approval groups, a hand-written CODEOWNERS that leaves .dvc/ or a named key
    without an owner fails check: GitHub would request no review for them."""
    set_main_policy(world.reg, signatures={"production": {"signers": [{"key": "keys/release.pub"}]}})
    refresh(world)
    (world.clone / ".github").mkdir(exist_ok=True)
    (world.clone / ".github/CODEOWNERS").write_text("/registry.yaml @org/ml-leads\n/schemas/ @org/ml-leads\n"
                                                    "/.github/ @org/ml-leads\n/registry/ @org/llm\n")
    commit(world.clone, "hand-written owners")
    code, output = run(world.clone, "check")
    assert_refused(code, output, ".github/CODEOWNERS:/: no owner for the policy files .dvc/config, .dvcignore, "
                   "CODEOWNERS, keys/release.pub")
    (world.clone / ".github/CODEOWNERS").write_text("* @org/ml-leads\n")
    commit(world.clone, "owners for everything")
    code, output = run(world.clone, "check")
    assert "no owner" not in output, output


def _adapter_on(world, parent: str, stage: str | None = None) -> None:
    world.reg.register_model("llama-lora", "adapter")
    world.reg.create_version("llama-lora", source_uri="s3://elsewhere/lora", parent=parent)
    if stage:
        world.reg.transition_stage("llama-lora", 1, stage)
    refresh(world)


def test_deleting_the_base_of_a_live_adapter_is_refused(world):
    """issue 19.13: soft-deleting llama@2 would strand llama-lora@1 (staging, another model): the
    write refuses, and a hand-made delete in a PR fails check though it touches only llama."""
    _adapter_on(world, "llama@2", "staging")
    code, output = run(world.clone, "version", "delete", "llama@2", "--reason", "old")
    assert_refused(code, output, "llama@2 is the parent of llama-lora@1 (staging), which would no longer load")
    assert "deleted" not in (world.clone / "registry/llama/versions/2/version.yaml").read_text()
    edit_yaml(world.clone, "registry/llama/versions/2/version.yaml", lambda d: d.update(
        status="deleted", deleted={"reason": "old", "at": "2026-01-01T00:00:00Z", "by": "mallory"}))
    commit(world.clone, "delete by hand")
    assert_refused(*check(world), "registry/llama/versions/2/version.yaml:/status: deletes llama@2, the parent "
                   "of llama-lora@1 (staging), which would no longer load")


def test_a_version_standing_on_a_deleted_parent_cannot_enter_a_stage(world):
    """issue 19.13: the dependents are judged too: an archived adapter whose base was deleted
    (before this rule) cannot be rolled back into service."""
    _adapter_on(world, "llama@3", "archived")
    edit_yaml(world.reg.root, "registry/llama/versions/3/version.yaml", lambda d: d.update(
        status="deleted", deleted={"reason": "old", "at": "2026-01-01T00:00:00Z", "by": "admin"}))
    git(world.reg.root, "commit", "-q", "-am", "an old delete")
    refresh(world)
    edit_yaml(world.clone, "registry/llama-lora/versions/1/version.yaml", lambda d: d.update(stage="staging"))
    commit(world.clone, "roll back the adapter")
    assert_refused(*check(world), "registry/llama-lora/versions/1/version.yaml:/stage: enters staging, but its "
                   "lineage includes deleted llama@3")


def test_a_version_in_a_gated_stage_that_fails_its_gates_fails_plain_check(world):
    """issue 19.14: a move committed past the PR's check (by hand, straight to main) is caught by
    the plain check of main, naming the gate."""
    edit_yaml(world.reg.root, "registry/llama/versions/1/version.yaml", lambda d: d.update(
        metrics=[{"benchmark": "mmlu", "metric": "accuracy", "value": 0.5}]))
    git(world.reg.root, "commit", "-q", "-am", "straight to main")
    code, output = run(world.reg.root, "check")
    assert_refused(code, output, "registry/llama/versions/1/version.yaml:/metrics: llama@1 is in production but "
                   "fails its gate mmlu/accuracy >= 0.6 (mmlu/accuracy = 0.5)")


def test_new_gates_must_hold_for_the_versions_already_in_the_stage(world):
    """issue 19.14: a policy PR raising production's gate above what llama@1 shows would turn main's
    own check red after the merge: refused, as removing a held stage is."""
    edit_yaml(world.clone, "registry.yaml", lambda d: d["gates"]["production"].update(
        metrics=["mmlu/accuracy >= 0.9"]))
    commit(world.clone, "raise the bar")
    assert_refused(*check(world), "registry.yaml:/gates/production: the new gates of production fail for 1 "
                   "version(s) in it (llama@1)")


# -- hole 4: deleting a whole model ------------------------------------------------------------
def test_hole4_deleting_a_model_folder_is_refused(world):
    """issue 8 hole 4: removing registry/<model>/ (production included) is refused."""
    git(world.clone, "rm", "-q", "-r", "registry/llama")
    commit(world.clone)
    assert_refused(*check(world), "registry/llama/model.yaml:/: a registered model cannot be removed",
                   "modelreg model deprecate NAME --reason TEXT")


# -- hole 5: protected aliases by hand ---------------------------------------------------------
def test_hole5_protected_alias_cannot_move_by_editing_aliases_yaml(world):
    """issue 8 hole 5: a protected alias that is not a stage alias is enforced in check too."""
    edit_yaml(world.reg.root, "registry/llama/aliases.yaml", lambda d: d["aliases"].update(stable=1))
    git(world.reg.root, "commit", "-q", "-am", "stable alias")
    set_main_policy(world.reg, protected_aliases=["production", "stable"])
    refresh(world)
    edit_yaml(world.clone, "registry/llama/aliases.yaml", lambda d: d["aliases"].update(stable=2))
    commit(world.clone)
    assert_refused(*check(world), "registry/llama/aliases.yaml:/aliases/stable: alias 'stable' is protected")


# -- hole 6: the rollback edge -----------------------------------------------------------------
def test_hole6_never_reviewed_version_cannot_enter_production_through_archived(world):
    """issue 8 hole 6: none -> archived (merged), then archived -> production is refused."""
    world.reg.transition_stage("llama", 3, "archived")  # merged on main: allowed by the transitions
    refresh(world)
    edit_yaml(world.clone, "registry/llama/versions/3/version.yaml", lambda d: d.update(stage="production"))
    edit_yaml(world.clone, "registry/llama/versions/1/version.yaml", lambda d: d.update(stage="archived"))
    edit_yaml(world.clone, "registry/llama/aliases.yaml", lambda d: d["aliases"].update(production=3))
    commit(world.clone)
    assert_refused(*check(world), "registry/llama/versions/3/version.yaml:/stage: archived -> production is a "
                   "rollback, and llama@3 never held production on the base branch")


def test_hole6_a_real_rollback_passes(world):
    """issue 8 hole 6: a version that held production before may return to it."""
    world.reg.transition_stage("llama", 2, "production")  # v1 is archived, v2 in production
    refresh(world)
    edit_yaml(world.clone, "registry/llama/versions/1/version.yaml", lambda d: d.update(stage="production"))
    edit_yaml(world.clone, "registry/llama/versions/2/version.yaml", lambda d: d.update(stage="archived"))
    edit_yaml(world.clone, "registry/llama/aliases.yaml", lambda d: d["aliases"].update(production=1))
    commit(world.clone)
    code, output = check(world)
    assert code == 0, output


# -- hole 7: where the token goes --------------------------------------------------------------
@pytest.mark.github
def test_hole7_token_never_goes_to_a_url_from_registry_yaml(world, forge, monkeypatch):
    """issue 8 hole 7: forge.api_url in registry.yaml cannot send GITHUB_TOKEN to its own host."""
    set_main_policy(world.reg, forge={**POLICY["forge"], "api_url": "https://collector.example/api"})
    refresh(world)
    edit_yaml(world.clone, "registry/llama/versions/2/version.yaml", lambda d: d.update(stage="production"))
    edit_yaml(world.clone, "registry/llama/versions/1/version.yaml", lambda d: d.update(stage="archived"))
    edit_yaml(world.clone, "registry/llama/aliases.yaml", lambda d: d["aliases"].update(production=2))
    commit(world.clone)
    number = open_pr(world, forge)
    monkeypatch.delenv("GITHUB_API_URL")  # as on a developer's machine
    assert_refused(*check(world, "--pr", number), "forge.api_url 'https://collector.example/api' is not the "
                   "API of github.com", "set GITHUB_API_URL")


def test_hole7_api_base_rules(monkeypatch):
    """issue 8 hole 7: env first (https, or loopback http), else https on the origin's host."""
    from modelreg.core.errors import ExternalError
    from modelreg.promotion.forge import github as gh
    from modelreg.core.settings import Settings

    assert gh.api_url(Settings({}), "git@ghe.example.com:org/reg.git") == "https://ghe.example.com/api/v3"
    assert gh.api_url(Settings({}), "https://github.com/org/reg.git") == "https://api.github.com"
    chosen = Settings({"forge": {"api_url": "https://api.ghe.example.com"}})
    assert gh.api_url(chosen, "https://ghe.example.com/org/reg") == "https://api.ghe.example.com"
    with pytest.raises(ExternalError, match="not the API of github.com"):
        gh.api_url(Settings({"forge": {"api_url": "http://evil.example"}}), None)
    monkeypatch.setenv("GITHUB_API_URL", "http://ghe.example.com/api/v3")
    with pytest.raises(ExternalError, match="never sent over plain http"):
        gh.api_url(chosen, None)
    monkeypatch.setenv("GITHUB_API_URL", "http://127.0.0.1:9/")
    assert gh.api_url(chosen, None) == "http://127.0.0.1:9"


# -- hole 8: credentials files -----------------------------------------------------------------
@pytest.mark.parametrize("content", ["[core]\n    remote = storage\n",
                                     "['remote \"storage\"']\n    secret_access_key = wJalrXUtnFEMIK7MDENGbPxRfiCY\n"])
def test_hole8_tracked_dvc_config_local_is_refused(world, content):
    """issue 8 hole 8: .dvc/config.local is where DVC reads credentials: it may never be tracked."""
    (world.clone / ".dvc").mkdir(exist_ok=True)
    (world.clone / ".dvc/config.local").write_text(content)
    git(world.clone, "add", "-f", ".dvc/config.local")
    commit(world.clone)
    assert_refused(*check(world), ".dvc/config.local:/: is tracked by git", "git rm --cached")


def test_plain_check_of_the_working_tree_refuses_a_tracked_config_local(world):
    """issue 19.12: `modelreg check` with no base reads the working tree, and a tracked (even
    if git-ignored) .dvc/config.local is refused there as in a commit's check."""
    (world.clone / ".dvc").mkdir(exist_ok=True)
    (world.clone / ".dvc/config.local").write_text("['remote \"storage\"']\n    access_key_id = AKIAIOSFODNN7EXAMPLE\n")
    (world.clone / ".gitignore").write_text(".dvc/config.local\n")
    git(world.clone, "add", "-f", ".dvc/config.local")
    code, output = run(world.clone, "check")
    assert_refused(code, output, ".dvc/config.local:/: is tracked by git")
    git(world.clone, "rm", "-q", "--cached", ".dvc/config.local")
    code, output = run(world.clone, "check")
    assert "config.local" not in output, output


# -- hole 9: the bytes a new version claims ----------------------------------------------------
def test_hole9_new_version_sha256_must_match_the_remote_bytes(world, tmp_path):
    """issue 8 hole 9: `check --base --remote` hashes a new version's objects against version.yaml."""
    reg = world.reg
    git(reg.root, "checkout", "-q", "-b", "pr")
    reg.create_version("llama", write_weights(tmp_path / "w4", seed=4))
    edit_yaml(reg.root, "registry/llama/versions/4/version.yaml",
              lambda d: d["artifacts"][0].update(sha256="0" * 64))
    git(reg.root, "commit", "-q", "-am", "claim other bytes")
    code, output = run(reg.root, "check", "--base", "main", "--remote")
    assert_refused(code, output, "registry/llama/versions/4/weights.dvc:/:", "sha256 mismatch")


# -- hole 10: numbers that are not numbers, deep records, non-registries ----------------------
@pytest.mark.parametrize("option", ["--metric", "--param"])
@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_hole10_non_finite_numbers_are_refused_at_the_cli(world, tmp_path, option, value):
    """issue 8 hole 10: NaN/inf would pass >= gates and break --json: refused, nothing written."""
    item = f"mmlu/accuracy={value}" if option == "--metric" else f"lr={value}"
    before = git(world.reg.root, "rev-parse", "HEAD")
    code, output = run(world.reg.root, "version", "create", "llama", "--source-uri", "s3://x/y", option, item)
    assert code == 1 and "not a finite number" in output, output
    assert git(world.reg.root, "rev-parse", "HEAD") == before


def test_hole10_nan_in_a_record_fails_gates_and_check(world):
    """issue 8 hole 10: a hand-written .nan never passes a gate, and check names it."""
    edit_yaml(world.clone, "registry/llama/versions/2/version.yaml",
              lambda d: d.update(stage="production", metrics=[{"benchmark": "mmlu", "metric": "accuracy",
                                                                "value": float("nan")}]))
    commit(world.clone)
    code, output = check(world, "--json")
    assert code == 1
    report = json.loads(output[output.index("{"):output.rindex("}") + 1])  # valid JSON
    messages = [p["message"] for p in report["problems"]]
    assert any("nan is not a finite number" in m for m in messages), messages
    assert any("gate for production failed" in m for m in messages), messages


def test_hole10_deeply_nested_record_is_a_problem_not_a_crash(world):
    """issue 8 hole 10: a 700-level record is one problem line (exit 1), never exit 3."""
    path = world.clone / "registry/llama/versions/3/card.yaml"
    path.write_text("a: " + "[" * 700 + "]" * 700 + "\n")
    commit(world.clone)
    assert_refused(*check(world), "registry/llama/versions/3/card.yaml:/: line 1: nested deeper than 64 levels")


def test_hole10_register_in_a_repo_that_is_not_a_registry(tmp_path):
    """issue 8 hole 10: `model register` in a plain Git repository commits nothing to it."""
    repo = tmp_path / "plain"
    repo.mkdir()
    git(repo, "init", "-q")
    git(repo, "commit", "-q", "--allow-empty", "-m", "start")
    code, output = run(repo, "model", "register", "x", "--type", "base_model")
    assert code == 1 and "not a registry" in output and "modelreg init" in output, output
    assert git(repo, "status", "--porcelain") == ""
    assert git(repo, "rev-list", "--count", "HEAD").strip() == "1"


# -- hole 11: a malformed record does not hide the other problems ------------------------------
@pytest.mark.github
def test_hole11_malformed_record_lists_every_problem_in_the_comment(world, forge):
    """issue 8 hole 11: one broken file is one problem among the others, and the comment shows all."""
    (world.clone / "registry/llama/versions/3/version.yaml").write_text("version: [unclosed\n")
    edit_yaml(world.clone, "registry/llama/model.yaml", lambda d: d.update(name="other"))
    commit(world.clone)
    number = open_pr(world, forge)
    code, output = check(world, "--pr", number, "--comment")
    assert_refused(code, output, "registry/llama/versions/3/version.yaml:/: not valid YAML",
                   "registry/llama/model.yaml:/name: name 'other' does not match its folder")
    body = forge.pull_comments("org/registry", number)[0]["body"]
    assert "not valid YAML" in body and "does not match its folder" in body


# -- issue 14.7 / 14.9 / 14.11 (check side) ---------------------------------------------------
def test_schema_drift_is_reported(world):
    """issue 14.7: the packaged schemas are the truth; a drifted committed copy is a problem."""
    path = world.clone / "schemas/model.schema.json"
    doc = json.loads(path.read_text())
    doc["additionalProperties"] = True
    path.write_text(json.dumps(doc))
    commit(world.clone)
    assert_refused(*run(world.clone, "check"), "schemas/model.schema.json:/: differs from the schema modelreg "
                   "validates with", "cp ")


def test_scope_is_reported(world):
    """issue 14.11: --base checks the changed models only, and says so; a policy edit checks all."""
    edit_yaml(world.clone, "registry/llama/versions/3/version.yaml", lambda d: d.update(stage="staging"))
    commit(world.clone)
    code, output = check(world, "--json")
    report = json.loads(output[output.index("{"):output.rindex("}") + 1])
    assert (report["scope"], report["models_checked"]) == ("changed", 1)
    edit_yaml(world.clone, "registry.yaml", lambda d: d.update(tag_format={"version": "{model}-v{version}"}))
    commit(world.clone)
    code, output = check(world, "--json")
    report = json.loads(output[output.index("{"):output.rindex("}") + 1])
    assert report["scope"] == "all"


def test_policy_edit_must_fit_the_records_it_will_govern(world):
    """issue 8 (policy edits): removing a stage that versions are in would leave main red."""
    def drop_staging(doc):
        doc["stages"] = [s for s in doc["stages"] if s != "staging"]
        doc["transitions"] = {k: [t for t in v if t != "staging"] for k, v in doc["transitions"].items()
                              if k != "staging"}
    edit_yaml(world.clone, "registry.yaml", drop_staging)
    commit(world.clone)
    assert_refused(*check(world), "registry.yaml:/stages: the new stages leave out 'staging', which 1 "
                   "version(s) are in (llama@2)")


def test_a_base_whose_registry_yaml_cannot_be_applied_fails_closed(world):
    """issue 8 hole 1/2: a mistyped base registry.yaml never falls back to looser defaults."""
    (world.reg.root / "registry.yaml").write_text((world.reg.root / "registry.yaml").read_text()
                                                  .replace("approvals:\n", "approvals:\n  staging: oops\n"))
    git(world.reg.root, "commit", "-q", "-am", "break the policy")
    refresh(world)
    edit_yaml(world.clone, "registry/llama/versions/3/version.yaml", lambda d: d.update(stage="staging"))
    commit(world.clone)
    assert_refused(*check(world), "registry.yaml:/: cannot be applied on the base branch",
                   "/approvals/staging: must be a mapping")


def test_hole8_tracked_file_that_dvc_reads_credentials_from_is_refused(world):
    """issue 8 hole 8: a tracked file named by .dvc/config's credentialpath is refused too."""
    config = world.clone / ".dvc/config"
    config.write_text(config.read_text() + "    credentialpath = ../secrets/aws.ini\n")
    (world.clone / "secrets").mkdir()
    (world.clone / "secrets/aws.ini").write_text("[default]\nregion = eu-west-1\n")
    commit(world.clone)
    assert_refused(*check(world), "secrets/aws.ini:/: is tracked by git, but .dvc/config names it as "
                   "credentialpath", "git rm --cached secrets/aws.ini")
