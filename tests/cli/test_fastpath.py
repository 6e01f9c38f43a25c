"""The console script's fast path for `resolve` (issue 23: a cold resolve <= 50 ms): the same bytes,
warnings and exit codes as the click command, without importing click; anything else goes to click."""
import json
import shutil
import subprocess
import sys

import pytest

from modelreg.cli import fastpath
from tests.cli.test_cli import populated, run  # noqa: F401 - fixtures
from tests.conftest import git

SCRIPT = ("import sys\nfrom modelreg.cli import run\nsys.argv = ['modelreg', *sys.argv[1:]]\n"
          "try:\n    run()\nfinally:\n    print('click' in sys.modules, file=sys.stderr)\n")


def console(*args):
    """The console script in a fresh process: (exit code, stdout, stderr, whether click was imported)."""
    done = subprocess.run([sys.executable, "-c", SCRIPT, *map(str, args)], capture_output=True, text=True)
    *err, clicked = done.stderr.splitlines()
    return done.returncode, done.stdout, "".join(f"{line}\n" for line in err), clicked == "True"


@pytest.mark.parametrize("args", [
    ["resolve", "llama-ft@canary", "--json"], ["resolve", "llama-ft@1"], ["resolve", "--json", "llama-ft@latest"],
    ["resolve", "llama-ft@2", "--at", "main", "--json"],
])
def test_resolve_prints_what_the_click_command_prints_without_importing_click(populated, registry_dir, args):
    run = populated
    assert run("alias", "set", "llama-ft", "canary", "2")[0] == 0
    assert run("model", "deprecate", "llama-ft", "--reason", "use llama-ft-v2")[0] == 0
    assert run("version", "delete", "llama-ft@1", "--reason", "bad eval")[0] == 0
    expected = run(*args)
    code, out, err, clicked = console("-C", registry_dir, *args)
    assert (code, out, err) == expected and not clicked
    assert "deprecated" in err and (args[1] != "llama-ft@1" or "is deleted (bad eval)" in err)


@pytest.mark.parametrize("args", [
    ["resolve", "llama-ft@production"],  # an error: the click path words it, exit 1
    ["resolve", "nobody@1", "--json"],
    ["resolve", "llama-ft@1", "--as-of", "2026-01-01"],  # an option the fast path does not take
    ["resolve", "--help"], ["resolve"], ["resolve", "llama-ft@1", "extra"], ["--traceback", "resolve", "llama-ft@1"],
    ["version", "list", "llama-ft", "--json"],
])
def test_everything_else_is_the_click_commands_answer(populated, registry_dir, args):
    expected = populated(*args)
    code, out, err, clicked = console("-C", registry_dir, *args)
    assert (code, out, err) == expected and clicked


def test_a_hand_broken_record_is_reported_by_the_click_path(populated, registry_dir):
    (registry_dir / "registry/llama-ft/aliases.yaml").write_text("aliases: {canary: 1\n")
    git(registry_dir, "commit", "-qam", "break it")
    code, _, err, clicked = console("-C", registry_dir, "resolve", "llama-ft@canary", "--json")
    assert code == 1 and "not valid YAML" in json.loads(err)["error"] and clicked


def test_text_with_an_escape_sequence_is_left_to_click(populated, registry_dir):
    """click strips ANSI escapes from what it writes to a pipe; the fast path does not try to."""
    assert populated("model", "deprecate", "llama-ft", "--reason", "\x1b[31mred\x1b[0m")[0] == 0
    expected = populated("resolve", "llama-ft@1")
    code, out, err, clicked = console("-C", registry_dir, "resolve", "llama-ft@1")
    assert (code, out, err) == expected and clicked and "\x1b" not in err


def test_the_parser_takes_only_the_plain_forms():
    parse = fastpath._parse
    assert parse(["resolve", "m@1"]) == (".", "m@1", None, False)
    assert parse(["-C", "d", "resolve", "--at", "v1", "m", "--json"]) == ("d", "m", "v1", True)
    for args in (["resolve"], ["resolve", "m", "n"], ["resolve", "m", "--json", "--json"], ["resolve", "m", "--at"],
                 ["resolve", "m", "--at", "--json"], ["resolve", "m", "--at=v1"], ["-v", "resolve", "m"],
                 ["resolve", "-h"], ["resolve", "m", "--as-of", "x"], ["lineage", "m"], []):
        assert parse(args) is None, args


# -- pull ---------------------------------------------------------------------------------------

def _pull_pair(registry_dir, run, tmp_path, monkeypatch, args):
    """The click command's answer and the console script's, each from an empty cache and folder."""
    cache, out = tmp_path / "pull-cache", tmp_path / "pulled"
    monkeypatch.setenv("MODELREG_CACHE", str(cache))
    answers = []
    for how in ("click", "console"):
        shutil.rmtree(cache, ignore_errors=True)
        shutil.rmtree(out, ignore_errors=True)
        (tmp_path / "a-file").write_text("not a folder")
        words = [str(out) if w == "OUT" else str(tmp_path / "a-file") if w == "A_FILE" else w for w in args]
        answers.append(run(*words) if how == "click" else console("-C", registry_dir, *words))
    return answers


@pytest.mark.parametrize("args", [
    ["pull", "llama-ft@1", "-o", "OUT"], ["pull", "--json", "llama-ft@2", "--output", "OUT"],
    ["pull", "-q", "llama-ft@latest"], ["pull", "llama-ft@2", "--at", "main", "--quiet", "-o", "OUT"],
    ["pull", "llama-ft@1"],
])
def test_pull_prints_what_the_click_command_prints_without_importing_click(populated, registry_dir, tmp_path,
                                                                           monkeypatch, args):
    assert populated("model", "deprecate", "llama-ft", "--reason", "use llama-ft-v2")[0] == 0
    expected, (code, out, err, clicked) = _pull_pair(registry_dir, populated, tmp_path, monkeypatch, args)
    assert (code, out, err) == expected and not clicked
    assert code == 0 and "deprecated" in err
    if "OUT" in args:  # the files are there, verified, from the fast path's own pull
        assert sorted(p.name for p in (tmp_path / "pulled").iterdir()) == ["config.json", "model.safetensors", "tokenizer.json"]


@pytest.mark.parametrize("args", [
    ["pull", "nobody@1"], ["pull", "llama-ft@production", "--json"], ["pull", "llama-ft@9", "-q", "-o", "OUT"],
    ["pull", "llama-ft@1", "-o", "A_FILE"],  # click's usage error (exit 2), not the library's
])
def test_a_failed_pull_is_worded_as_the_click_command_words_it(populated, registry_dir, tmp_path, monkeypatch,
                                                               args):
    expected, (code, out, err, _) = _pull_pair(registry_dir, populated, tmp_path, monkeypatch, args)
    assert (code, out, err) == expected and code == (2 if "A_FILE" in args else 1)
    assert "A_FILE" in args or err.count("\n") == 1


def test_a_pull_into_a_folder_holding_other_files_is_refused_on_both_paths(populated, registry_dir, tmp_path,
                                                                         monkeypatch):
    (tmp_path / "pulled").mkdir()
    keep = tmp_path / "pulled" / "mine.txt"
    keep.write_text("not modelreg's")
    expected = populated("pull", "llama-ft@1", "-o", tmp_path / "pulled")
    code, out, err, _ = console("-C", registry_dir, "pull", "llama-ft@1", "-o", tmp_path / "pulled")
    assert (code, out, err) == expected and code == 1 and "mine.txt" in err
    assert keep.read_text() == "not modelreg's" and sorted(p.name for p in keep.parent.iterdir()) == ["mine.txt"]


def test_the_pull_parser_takes_only_the_plain_forms():
    parse = fastpath._parse_pull
    assert parse(["pull", "m@1"]) == (".", "m@1", {})
    assert parse(["-C", "d", "pull", "-q", "m", "-o", "x", "--at", "v1", "--json", "--verify-signature"]) == (
        "d", "m", {"quiet": True, "dest": "x", "at": "v1", "as_json": True, "verify_signature": True})
    for args in (["pull"], ["pull", "m", "n"], ["pull", "m", "-q", "--quiet"], ["pull", "m", "-o"],
                 ["pull", "m", "-o", "--json"], ["pull", "m", "--output=x"], ["pull", "m", "--hf-cache"],
                 ["pull", "m", "--repo-id", "a/b"], ["--traceback", "pull", "m"], ["-v", "pull", "m"],
                 ["pull", "-h"], ["pull", "m", "-o", ""], ["pull", "m", "-qo", "x"]):
        assert parse(args) is None, args


def test_a_plain_resolve_loads_no_more_than_it_needs(populated, registry_dir):
    """What a fresh `resolve` must not import (each costs a cold process milliseconds): click, logging
    (with traceback), the write modules, dataclasses (with inspect and ast), and every outside library."""
    code = ("import sys\nfrom modelreg.cli import run\n"
            f"sys.argv = ['modelreg', '-C', {str(registry_dir)!r}, 'resolve', 'llama-ft@1', '--json']\n"
            "try:\n    run()\nfinally:\n"
            "    print(sorted(m for m in ('click', 'logging', 'modelreg.writes.versions', 'modelreg.writes.models',"
            " 'dataclasses', 'dvc', 'obstore', 'boto3', 'torch', 'jsonschema', 'yaml') if m in sys.modules),"
            " file=sys.stderr)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0 and json.loads(done.stdout)["version"] == 1, done.stderr
    assert done.stderr.strip().splitlines()[-1] == "[]"
