"""Metadata edits (issue 20): `model set`, `model deprecate`/`undeprecate`, `version tag`/`untag`.

Each is one commit (or a pull request with --pr); bad input is exit 1, one line, nothing written;
a deprecated model still resolves, loads and pulls, with a warning naming the reason."""
import json

import pytest

from modelreg.core.errors import InvalidInput, NotFound
from tests.conftest import git


@pytest.fixture
def reg(registry):
    registry.register_model("llama", "base_model", description="first", owners=["@acme/ml"], tags={"team": "a"})
    registry.create_version("llama", source_uri="hf://meta/llama",
                            metrics=[{"benchmark": "mmlu", "metric": "accuracy", "value": 0.5}])
    return registry


def head(reg) -> str:
    return git(reg.root, "rev-parse", "HEAD").strip()


def message(reg) -> str:
    return git(reg.root, "log", "-1", "--format=%B")


def model_yaml(reg) -> str:
    return (reg.root / "registry/llama/model.yaml").read_text()


def cli(run_cli, reg, *args):
    return run_cli("-C", reg.root, *args)


# -- library -------------------------------------------------------------------------------
def test_update_model_edits_description_owners_tags_in_one_commit(reg):
    before = head(reg)
    result = reg.update_model("llama", description="second", add_owners=["@bob"], tags={"env": "prod"},
                              untag=["team"], reason="reorg")
    assert result["changed"] == {"description": ["first", "second"], "owners": [["@acme/ml"], ["@acme/ml", "@bob"]],
                                 "tags": [{"team": "a"}, {"env": "prod"}]}
    assert git(reg.root, "rev-list", "--count", f"{before}..HEAD").strip() == "1"
    record = reg.get_model("llama")
    assert record["description"] == "second" and record["owners"] == ["@acme/ml", "@bob"]
    assert record["tags"] == {"env": "prod"}
    assert "Modelreg-Action: model.update" in message(reg) and "Modelreg-Reason: reorg" in message(reg)
    assert git(reg.root, "status", "--porcelain").strip() == ""


def test_update_model_replaces_and_removes_owners_and_clears_the_description(reg):
    reg.update_model("llama", owners=["@carol", "@dave"], remove_owners=["@dave"], description="")
    record = reg.get_model("llama")
    assert record["owners"] == ["@carol"] and "description" not in record


def test_owner_change_keeps_codeowners_current(registry):
    from modelreg.registry import init_registry
    from modelreg import Registry

    root = init_registry(registry.root.parent / "owned", remote=str(registry.root.parent / "r2"),
                         approvers=["@acme/leads"])
    with Registry(root) as reg:
        reg.register_model("llama", "base_model", owners=["@acme/ml"])
        reg.update_model("llama", add_owners=["@bob"])
        text = (root / ".github/CODEOWNERS").read_text()
        assert "/registry/llama/ @acme/ml @bob" in text
        assert "CODEOWNERS" in git(root, "show", "--name-only", "--format=", "HEAD")


@pytest.mark.parametrize("kwargs,error", [
    ({}, "nothing to change in model llama"),
    ({"description": "first"}, "already says that"),
    ({"untag": ["nope"]}, "has no tag 'nope'"),
    ({"remove_owners": ["@nobody"]}, "has no owner @nobody"),
    ({"tags": {"bad key": "1"}}, "invalid tag key 'bad key'"),
])
def test_update_model_bad_input_writes_nothing(reg, kwargs, error):
    before = head(reg)
    with pytest.raises(InvalidInput, match=error):
        reg.update_model("llama", **kwargs)
    assert head(reg) == before and git(reg.root, "status", "--porcelain").strip() == ""


def test_update_unknown_model_is_not_found(reg):
    with pytest.raises(NotFound):
        reg.update_model("nope", description="x")


def test_deprecated_model_still_resolves_and_is_listed(reg):
    """issue 20: a deprecated model must not vanish from resolve or model list."""
    reg.deprecate_model("llama", "use llama-2")
    assert "deprecated:\n  value: true\n  reason: use llama-2" in model_yaml(reg)
    resolved = reg.resolve("llama@1")
    assert resolved.deprecated == {"value": True, "reason": "use llama-2"}
    assert resolved.to_dict()["deprecated"] == {"value": True, "reason": "use llama-2"}
    assert reg.resolve("llama@latest").version == 1
    assert [m["name"] for m in reg.list_models()] == ["llama"]
    assert reg.list_models(active=True) == []
    assert "Modelreg-Reason: use llama-2" in message(reg)
    assert reg.check().ok
    reg.undeprecate_model("llama")
    assert "deprecated" not in model_yaml(reg)
    assert reg.resolve("llama@1").deprecated is None and len(reg.list_models(active=True)) == 1


def test_deprecate_needs_a_reason_and_undeprecate_a_deprecated_model(reg):
    before = head(reg)
    for reason in ("", "  ", None):
        with pytest.raises(InvalidInput, match="a reason is required"):
            reg.deprecate_model("llama", reason)
    with pytest.raises(InvalidInput, match="is not deprecated"):
        reg.undeprecate_model("llama")
    assert head(reg) == before
    reg.deprecate_model("llama", "old")
    with pytest.raises(InvalidInput, match="already deprecated"):
        reg.deprecate_model("llama", "old")
    reg.deprecate_model("llama", "older")  # a new reason is a change
    assert reg.get_model("llama")["deprecated"]["reason"] == "older"


def test_tag_and_untag_a_version(reg):
    result = reg.tag_version("llama", 1, {"eval": "done", "owner": "me"}, reason="eval run 7")
    assert result["tags"] == {"eval": "done", "owner": "me"}
    assert "Modelreg-Action: version.tag" in message(reg) and "Modelreg-Reason: eval run 7" in message(reg)
    reg.tag_version("llama", 1, untag=["owner"])
    assert reg.get_version("llama", 1)["tags"] == {"eval": "done"}
    assert "Modelreg-Action: version.untag" in message(reg)
    reg.tag_version("llama", 1, untag=["eval"])
    assert "tags" not in reg.get_version("llama", 1)
    before = head(reg)
    for kwargs, error in [({}, "nothing to change"), ({"untag": ["eval"]}, "has no tag 'eval'"),
                          ({"tags": {"bad key": "2"}}, "invalid tag key")]:
        with pytest.raises(InvalidInput, match=error):
            reg.tag_version("llama", 1, **kwargs)
    with pytest.raises(NotFound):
        reg.tag_version("llama", 9, {"a": "b"})
    assert head(reg) == before


def test_history_names_each_metadata_event(reg):
    reg.update_model("llama", description="second", reason="reorg")
    reg.deprecate_model("llama", "use llama-2")
    reg.undeprecate_model("llama", reason="still needed")
    reg.tag_version("llama", 1, {"eval": "done"})
    reg.tag_version("llama", 1, untag=["eval"])
    events = reg.history("llama", at="HEAD")
    kinds = [e["event"] for e in events]
    assert kinds[:5] == ["version.untag", "version.tag", "model.undeprecate", "model.deprecate", "model.update"]
    by_kind = {e["event"]: e for e in events}
    assert by_kind["model.update"]["changed"] == ["description"] and by_kind["model.update"]["reason"] == "reorg"
    assert by_kind["model.deprecate"]["reason"] == "use llama-2"
    assert by_kind["model.undeprecate"]["reason"] == "still needed"
    assert by_kind["version.tag"]["to"] == {"eval": "done"} and by_kind["version.untag"]["to"] == {}


# -- CLI -----------------------------------------------------------------------------------
def test_cli_model_set_and_json(reg, run_cli):
    result = cli(run_cli, reg, "model", "set", "llama", "-d", "second", "--tag", "env=prod", "--untag", "team",
                 "--add-owner", "@bob", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["event"] == "model.update" and data["model"] == "llama" and data["commit"] == head(reg)
    assert sorted(data["changed"]) == ["description", "owners", "tags"] and data["record"]["tags"] == {"env": "prod"}
    text = cli(run_cli, reg, "model", "set", "llama", "--remove-owner", "@bob")
    assert text.exit_code == 0 and text.stdout.strip() == "Updated model llama: owners"


@pytest.mark.parametrize("args,error", [
    (["model", "set", "llama"], "nothing to change in model llama"),
    (["model", "set", "nope", "-d", "x"], "no model named 'nope'"),
    (["model", "set", "llama", "--tag", "bad key=1"], "invalid tag key"),
    (["model", "set", "llama", "--tag", "novalue"], "malformed --tag"),
    (["model", "deprecate", "llama"], "a reason is required to deprecate a model (--reason TEXT)"),
    (["model", "undeprecate", "llama"], "is not deprecated"),
    (["version", "tag", "llama@1"], "nothing to change on llama@1"),
    (["version", "tag", "llama@1", "bad key=1"], "invalid tag key"),
    (["version", "untag", "llama@1", "nope"], "llama@1 has no tag 'nope'"),
    (["version", "tag", "llama@7", "a=b"], "llama has no version 7"),
])
def test_cli_bad_input_is_one_line_exit_1_nothing_written(reg, run_cli, args, error):
    before = head(reg)
    result = cli(run_cli, reg, *args)
    assert result.exit_code == 1, result.output
    assert error in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert head(reg) == before and git(reg.root, "status", "--porcelain").strip() == ""


def test_cli_deprecated_model_resolves_with_a_warning_and_is_listed(reg, run_cli):
    result = cli(run_cli, reg, "model", "deprecate", "llama", "--reason", "use llama-2", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["event"] == "model.deprecate" and data["reason"] == "use llama-2" and data["commit"] == head(reg)
    resolved = cli(run_cli, reg, "resolve", "llama@1")
    assert resolved.exit_code == 0 and resolved.stdout.startswith("llama@1 ")
    assert resolved.stderr.strip() == ("warning: model llama is deprecated (use llama-2); it still resolves, "
                                       "but move off it")
    as_json = cli(run_cli, reg, "resolve", "llama@latest", "--json")
    assert json.loads(as_json.stdout)["deprecated"]["reason"] == "use llama-2"
    listed = cli(run_cli, reg, "model", "list")
    assert "DEPRECATED (use llama-2): first" in listed.stdout
    assert json.loads(cli(run_cli, reg, "model", "list", "--json").stdout)[0]["deprecated"]["value"] is True
    assert cli(run_cli, reg, "model", "list", "--active").stdout.strip() == "No models."
    assert "deprecated:" in cli(run_cli, reg, "model", "show", "llama").stdout
    undone = cli(run_cli, reg, "model", "undeprecate", "llama", "--json")
    assert json.loads(undone.stdout)["event"] == "model.undeprecate"
    assert cli(run_cli, reg, "resolve", "llama@1").stderr == ""


def test_cli_version_tag_untag_and_history(reg, run_cli):
    result = cli(run_cli, reg, "version", "tag", "llama@1", "eval=done", "owner=me", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["event"] == "version.tag" and data["version"] == 1 and data["tags"] == {"eval": "done", "owner": "me"}
    assert data["commit"] == head(reg)
    untag = cli(run_cli, reg, "version", "untag", "llama@1", "owner", "--reason", "wrong")
    assert untag.exit_code == 0 and untag.stdout.strip() == "llama@1 tags: eval=done"
    shown = cli(run_cli, reg, "history", "llama").stdout
    assert "tagged llama@1: eval=done, owner=me" in shown
    assert "untagged llama@1: -owner (reason: wrong)" in shown
    events = json.loads(cli(run_cli, reg, "history", "llama", "--json").stdout)
    assert [e["event"] for e in events[:2]] == ["version.untag", "version.tag"]


def test_cli_pull_warns_for_a_deprecated_model(registry, weights, run_cli, tmp_path):
    registry.register_model("llama", "base_model")
    registry.create_version("llama", weights)
    registry.deprecate_model("llama", "use llama-2")
    result = run_cli("-C", registry.root, "pull", "llama@1", "-o", tmp_path / "out", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["deprecated"] == {"value": True, "reason": "use llama-2"}
    assert "warning: model llama is deprecated (use llama-2)" in result.stderr
    assert (tmp_path / "out" / "model.safetensors").exists()


def test_cli_pr_mode_commits_on_a_branch_not_main(reg, run_cli):
    """--pr: the edit lands on a new branch (no forge, no origin: printed for the user to open)."""
    before = head(reg)
    result = cli(run_cli, reg, "model", "deprecate", "llama", "--reason", "use llama-2", "--pr", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["branch"] == "modelreg/llama-deprecate-1" and data["pushed"] is False
    assert "- deprecated model llama (use llama-2)" in data["body"]  # the PR body says what it does
    assert head(reg) == before and "deprecated" not in model_yaml(reg)
    assert "reason: use llama-2" in git(reg.root, "show", f"{data['branch']}:registry/llama/model.yaml")
    tagged = cli(run_cli, reg, "version", "tag", "llama@1", "eval=done", "--pr", "--json")
    branch = json.loads(tagged.stdout)["branch"]
    assert branch == "modelreg/llama-tag-1" and "- tagged llama@1: eval=done" in json.loads(tagged.stdout)["body"]
    assert reg.check(at=branch, base="main").ok


def test_readme_metadata_examples_run_as_written(registry, run_cli):
    """The README's "Metadata" block, line by line, on a registry with llama-ft@1 and @2."""
    import re
    import shlex
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = text.split("## Metadata: descriptions, owners, tags, deprecation", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```sh\n(.*?)```", section, re.S).group(1)
    registry.register_model("llama-ft", "fine_tuned", owners=["@acme/ml"], tags={"team": "support"})
    for _ in range(2):
        registry.create_version("llama-ft", source_uri="hf://acme/llama-ft")
    lines = [shlex.split(line, comments=True) for line in block.splitlines()]
    assert len(lines) == 6
    for words in lines:
        assert words[0] == "modelreg"
        result = run_cli("-C", registry.root, *words[1:])
        assert result.exit_code == 0, (words, result.output)
    record = registry.get_model("llama-ft")
    assert record["owners"] == ["@acme/ml-leads"] and record["tags"] == {"tier": "gold"}
    assert "deprecated" not in record
    assert registry.get_version("llama-ft", 2)["tags"] == {"eval": "passed", "dataset": "tickets-2026-11"}


@pytest.mark.models
def test_cli_load_warns_for_a_deprecated_model(registry, tiny_models, run_cli):
    """A deprecated model still loads (production keeps serving); `load` says why it is deprecated."""
    from modelreg.loading import loader, sources

    registry.register_model("tiny", "base_model")
    registry.create_version("tiny", tiny_models["base"])
    registry.deprecate_model("tiny", "use tiny-2")
    try:
        result = run_cli("-C", registry.root, "load", "tiny@1", "-d", "cpu", "--json")
    finally:
        loader.unload()
        sources.forget()
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["deprecated"] == {"value": True, "reason": "use tiny-2"}
    assert "warning: model tiny is deprecated (use tiny-2)" in result.stderr
