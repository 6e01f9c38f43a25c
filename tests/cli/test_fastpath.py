"""The console script's fast path for `resolve` (issue 23: a cold resolve <= 50 ms): the same bytes,
warnings and exit codes as the click command, without importing click; anything else goes to click."""
import json
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
