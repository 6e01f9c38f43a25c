"""The click application: the command group, its global options, and main() (errors -> exit codes).

Loaded through `modelreg.cli` (its `_app()`), by the console script whenever the fast path
(cli/fastpath.py) does not answer, and by anyone who asks `modelreg.cli` for `cli` or `main`.
"""
import importlib
import json
import logging
import sys

import click

from ..core.errors import RegistryError
from .logsetup import setup_logging

# the command table, modelreg.cli.LAZY_COMMANDS, handed over by the package when it loads this
# module (importing it back from here would make an import cycle)
LAZY_COMMANDS: dict[str, str] = {}


class LazyGroup(click.Group):
    def list_commands(self, ctx):
        return sorted(set(super().list_commands(ctx)) | set(LAZY_COMMANDS))

    def get_command(self, ctx, name):
        if name in LAZY_COMMANDS:
            module, attr = LAZY_COMMANDS[name].split(":")
            return getattr(importlib.import_module(module), attr)
        return super().get_command(ctx, name)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-C", "registry_dir", default=".", metavar="REGISTRY_DIR", show_default=True,
              help="Run as if started in REGISTRY_DIR.")
@click.option("--traceback", is_flag=True, help="Show the full traceback of an error.")
@click.option("-v", "--verbose", count=True, help="Log more (repeat for debug).")
@click.version_option(package_name="modelreg")
@click.pass_context
def cli(ctx, registry_dir, traceback, verbose):
    """modelreg: a Git-native model registry.

    Records are YAML files under JSON Schema in a Git repository, weights are tracked by
    DVC, and every change is a commit (or a pull request).
    """
    ctx.ensure_object(dict)
    ctx.obj["dir"] = registry_dir
    ctx.obj["traceback"] = traceback
    setup_logging(logging.WARNING - 10 * verbose)




def main(argv=None) -> int:
    """Entry point: maps errors to exit codes (1 registry, 2 usage, 3 unexpected, 130 ^C)."""
    args = sys.argv[1:] if argv is None else list(argv)
    try:
        rc = cli.main(args=args, prog_name="modelreg", standalone_mode=False)
        return rc if isinstance(rc, int) else 0
    except BaseException as exc:  # noqa: BLE001 - failed() words it or raises it again
        return failed(args, exc)


def failed(args: list[str], exc: BaseException) -> int:
    """The exit code for a command that raised `exc`, after one line on stderr saying why (also
    for the fast path's pull, so both word every failure the same way)."""
    if isinstance(exc, click.exceptions.Exit):
        return exc.exit_code
    if isinstance(exc, click.ClickException):
        if "--json" in args:
            return _fail(args, exc.format_message(), exc.exit_code)
        exc.show()
        return exc.exit_code
    if isinstance(exc, KeyboardInterrupt) or isinstance(exc, click.Abort) and isinstance(exc.__context__,
                                                                                          KeyboardInterrupt):
        click.echo("Interrupted.", err=True)  # ^C, whichever path the command took (click wraps it in Abort)
        return 130
    if isinstance(exc, click.Abort):  # a prompt declined
        click.echo("Aborted.", err=True)
        return 130
    if not isinstance(exc, Exception):  # SystemExit and the like: not ours to word
        raise exc
    if isinstance(exc, BrokenPipeError):
        return 1
    if "--traceback" in args:
        raise exc
    if isinstance(exc, RegistryError):
        from .hints import render

        return _fail(args, render(exc), 1)
    if isinstance(exc, ImportError):
        from ..core.extras import extra_for, install_command

        extra = extra_for(getattr(exc, "name", None))
        if extra is None:
            return _unexpected(args, exc)
        return _fail(args, f"this needs {exc.name}, from the {extra} extra: {install_command(extra)}", 1)
    return _unexpected(args, exc)  # a bug: say so briefly, unless asked for the traceback


def _fail(args: list[str], message: str, code: int, prefix: str = "error: ") -> int:
    """One line on stderr; under --json, a JSON object a script can parse."""
    if "--json" in args:
        click.echo(json.dumps({"error": message, "exit_code": code}), err=True)
    else:
        click.echo(f"{prefix}{message}", err=True)
    return code


def _unexpected(args: list[str], exc: Exception) -> int:
    return _fail(args, f"unexpected error: {type(exc).__name__}: {exc}\n"
                       "This is a bug in modelreg; please report it with the output of --traceback.",
                 3, prefix="")
