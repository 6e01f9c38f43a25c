"""The CLI contract: names, flags, output, exit codes, and nothing written on bad input."""
import json
import os
import subprocess
import sys

import pytest

from modelreg.cli import LAZY_COMMANDS, cli, main
from tests.conftest import git, write_weights
from tests.test_registry import snapshot


@pytest.fixture
def run(registry_dir, capsys):
    def _run(*args):
        code = main(["-C", str(registry_dir), *map(str, args)])
        out, err = capsys.readouterr()
        return code, out, err
    return _run


@pytest.fixture
def populated(run, tmp_path):
    assert run("model", "register", "llama-ft", "--type", "fine_tuned", "--owner", "@acme/ml",
               "--tag", "team=support", "-d", "support bot")[0] == 0
    for seed in (1, 2):
        code, out, err = run("version", "create", "llama-ft", write_weights(tmp_path / f"w{seed}", seed),
                             "--metric", f"mmlu/accuracy=0.{60 + seed}", "--param", "lr=0.0001",
                             "--tag", "run=a", "--run-id", f"r{seed}", "--data-version", "d1")
        assert code == 0, err
    return run


def test_full_flow(populated, registry_dir):
    run = populated
    assert run("stage", "set", "llama-ft", "1", "staging")[0] == 0
    code, out, _ = run("stage", "set", "llama-ft", "1", "production")
    assert code == 0 and "llama-ft@1: staging -> production" in out
    assert run("alias", "set", "llama-ft", "canary", "2")[0] == 0
    code, out, _ = run("resolve", "llama-ft", "--json")
    data = json.loads(out)
    assert (data["model"], data["version"], data["stage"], data["aliases"]) == ("llama-ft", 1, "production", ["production"])
    assert data["commit"] == git(registry_dir, "rev-parse", "main").strip()
    assert json.loads(run("resolve", "llama-ft@canary", "--json")[1])["version"] == 2
    assert json.loads(run("resolve", "llama-ft@latest", "--json")[1])["version"] == 2
    code, out, _ = run("version", "list", "llama-ft", "--json")
    assert [v["version"] for v in json.loads(out)] == [1, 2]
    code, out, _ = run("version", "show", "llama-ft@1", "--json")
    assert json.loads(out)["metrics"] == [{"benchmark": "mmlu", "metric": "accuracy", "value": 0.61}]
    assert json.loads(out)["parameters"] == {"lr": 0.0001}
    code, out, _ = run("model", "list", "--tag", "team=support", "--json")
    assert [m["name"] for m in json.loads(out)] == ["llama-ft"]
    code, out, _ = run("history", "llama-ft", "--json")
    assert {"event": "alias.set", "alias": "canary"}.items() <= json.loads(out)[0].items()
    code, out, err = run("check")
    assert code == 0 and "ok" in err
    code, out, _ = run("version", "delete", "llama-ft@2", "--reason", "bad eval")
    assert code == 0 and "removed aliases canary" in out
    assert run("alias", "rm", "llama-ft", "production")[0] == 1


@pytest.mark.parametrize("args, message", [
    (["model", "register", "../x", "--type", "base_model"], "invalid model name"),
    (["model", "register", "a/b", "--type", "base_model"], "invalid model name"),
    (["model", "register", "Foo", "--type", "base_model"], "invalid model name"),
    (["model", "register", "x_v2", "--type", "base_model"], "version-like suffix"),
    (["model", "register", "a" * 65, "--type", "base_model"], "invalid model name"),
    (["model", "register", "", "--type", "base_model"], "invalid model name"),
    (["model", "register", "llama-ft", "--type", "base_model"], "already registered"),
    (["version", "create", "nope", "--source-uri", "s3://x"], "no model named 'nope'"),
    (["version", "create", "llama-ft", "--source-uri", "s3://x", "--metric", "accuracy=0.5"], "malformed --metric"),
    (["version", "create", "llama-ft", "--source-uri", "s3://x", "--metric", "mmlu/acc=high"], "malformed --metric"),
    (["version", "create", "llama-ft", "--source-uri", "s3://x", "--tag", "novalue"], "malformed --tag"),
    (["version", "create", "llama-ft", "/nonexistent/folder"], "does not exist"),
    (["version", "show", "llama-ft@9"], "has no version 9"),
    (["alias", "set", "llama-ft", "canary", "9"], "no version 9"),
    (["stage", "set", "llama-ft", "1", "prod"], "unknown stage"),
    (["stage", "set", "llama-ft", "1", "production"], "does not allow none -> production"),
    (["resolve", "llama-ft"], "no alias 'production'"),
    (["resolve", "llama-ft@1", "--at", "no-such-branch"], "no branch, tag or commit"),
    (["resolve", "llama-ft@1", "--as-of", "yesterday"], "invalid date"),
])
def test_bad_input_is_one_line_exit_1_and_writes_nothing(populated, registry_dir, args, message):
    before = snapshot(registry_dir)
    code, out, err = populated(*args)
    assert code == 1, (out, err)
    assert message in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert snapshot(registry_dir) == before


def test_alias_on_deleted_version_is_refused(populated, registry_dir):
    assert populated("version", "delete", "llama-ft@2", "--reason", "broken")[0] == 0
    before = snapshot(registry_dir)
    code, _, err = populated("alias", "set", "llama-ft", "canary", "2")
    assert code == 1 and "deleted" in err
    assert snapshot(registry_dir) == before


def test_weights_with_escaping_symlink_and_empty_folder(populated, registry_dir, tmp_path):
    evil = tmp_path / "evil"
    evil.mkdir()
    os.symlink("/etc/passwd", evil / "passwd")
    empty = tmp_path / "empty"
    empty.mkdir()
    before = snapshot(registry_dir)
    assert "outside the folder" in populated("version", "create", "llama-ft", evil)[2]
    assert "is empty" in populated("version", "create", "llama-ft", empty)[2]
    assert snapshot(registry_dir) == before


def test_hand_broken_yaml_gives_one_line(populated, registry_dir):
    aliases = registry_dir / "registry/llama-ft/aliases.yaml"
    aliases.write_text("aliases: {canary: 1\n")
    git(registry_dir, "commit", "-qam", "break it")
    code, _, err = populated("resolve", "llama-ft@canary")
    assert code == 1 and "aliases.yaml: not valid YAML" in err and len(err.splitlines()) == 1


def test_usage_error_is_exit_2(run):
    assert run("stage", "set", "only-model")[0] == 2
    assert run("no-such-command")[0] == 2


def test_unexpected_error_is_exit_3_and_traceback_flag_reraises(run, monkeypatch):
    from modelreg import registry as registry_module

    def boom(*a, **k):
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(registry_module.Registry, "list_models", boom)
    code, _, err = run("model", "list")
    assert code == 3 and "please report" in err
    with pytest.raises(ZeroDivisionError):
        run("--traceback", "model", "list")


def test_every_command_has_help(capsys):
    for name in LAZY_COMMANDS:
        command = cli.get_command(None, name)
        assert command is not None and (command.help or "").strip(), name
        assert main([name, "--help"]) == 0
        out = capsys.readouterr().out
        assert "Usage:" in out
        for sub in getattr(command, "commands", {}).values():
            assert (sub.help or "").strip(), f"{name} {sub.name}"


def test_read_only_commands_do_not_import_heavy_modules(populated, registry_dir):
    assert populated("stage", "set", "llama-ft", "1", "staging")[0] == 0
    assert populated("stage", "set", "llama-ft", "1", "production")[0] == 0
    code = ("import sys, runpy\nfrom modelreg.cli import main\n"
            f"rc = main(['-C', {str(registry_dir)!r}, 'resolve', 'llama-ft', '--json'])\n"
            "heavy = [m for m in ('dvc', 'boto3', 'obstore', 'torch', 'transformers', 'jsonschema', 'git') if m in sys.modules]\n"
            "print(rc, heavy)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "0 []"


def test_init_creates_a_valid_registry_in_one_commit(tmp_path, capsys):
    target = tmp_path / "newreg"
    assert main(["init", str(target), "--remote", str(tmp_path / "store")]) == 0
    assert git(target, "rev-list", "--count", "HEAD").strip() == "1"
    assert (target / ".dvc" / "config").read_text().count(str(tmp_path / "store")) == 1
    assert "analytics = False" in (target / ".dvc" / "config").read_text()
    assert git(target, "status", "--porcelain").strip() == ""
    assert main(["-C", str(target), "check"]) == 0
    assert main(["init", str(target)]) == 1
    assert "already a registry" in capsys.readouterr().err


def test_init_scaffolds_this_repos_workflows_installing_the_pinned_source(tmp_path):
    """issue 14 item 1: the same workflows, installing from .github/modelreg-requirements.txt."""
    from pathlib import Path

    from modelreg.writes.scaffold import _OWN_INSTALL, _OWN_SITE_INSTALL, _PINNED_INSTALL, WORKFLOWS

    target = tmp_path / "reg2"
    assert main(["init", str(target), "--remote", str(tmp_path / "store")]) == 0
    repo_workflows = Path(__file__).resolve().parents[2] / ".github" / "workflows"
    for name in WORKFLOWS:
        written = (target / ".github" / "workflows" / name).read_text()
        assert written.count(_PINNED_INSTALL) == 1
        own = (repo_workflows / name).read_text().replace(_OWN_SITE_INSTALL, _OWN_INSTALL)
        assert written.replace(_PINNED_INSTALL, _OWN_INSTALL) == own


def test_init_without_git_identity_fails_before_writing(tmp_path, monkeypatch, capsys):
    for var in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL"):
        monkeypatch.delenv(var, raising=False)
    (tmp_path / "home").mkdir()
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert main(["init", str(tmp_path / "reg"), "--remote", str(tmp_path / "store")]) == 1
    assert "git has no identity" in capsys.readouterr().err
    assert not (tmp_path / "reg").exists() and not (tmp_path / "store").exists()
