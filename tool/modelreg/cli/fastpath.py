"""The console script's fast path: a plain `resolve` and a plain `pull`, without click.

Importing click costs a fresh process ~20-30 ms, as much as the rest of a `resolve` together
(issue 23: cold resolve <= 50 ms, CLI start-up of a cold pull <= 0.1 s). The two commands that
scripts, deploy hooks and serving containers run most are answered here with the same library
call and the same rendering as the click commands (cli/read_cmds.py, cli/artifact_cmds.py).

- `resolve REF [--json] [--at GITREF]`: the output is written only once everything succeeded; an
  error of any kind returns None and the click application runs the command from the start, so
  every message, hint and exit code is the click path's own (a resolve is read-only).
- `pull REF [-o DIR] [--at GITREF] [-q] [--json] [--verify-signature]`: a pull is not run twice,
  so its errors go to the click application's own error mapping (`app.failed`), which prints
  them exactly as the click command would.

Anything else (another command, another option, --help, --traceback) returns None at once and
the click application runs the command.
"""
import json
import math
import os
import sys


def answer(args: list[str]) -> int | None:
    """The exit code when this path answered; None: let the click application run `args`."""
    parsed = _parse(args)
    if parsed is None:
        pulled = _parse_pull(args)
        return None if pulled is None else _pull(args, *pulled)
    registry_dir, ref, at, as_json = parsed
    try:
        from ..registry import Registry

        resolved = Registry(registry_dir).resolve(ref, at=at)
        out, err = render_resolve(resolved, as_json)
        if "\x1b" in out or "\x1b" in err:
            return None  # an escape sequence in a record's text: click decides whether to strip it
    except KeyboardInterrupt:
        sys.stderr.write("Interrupted.\n")
        return 130
    except Exception:  # noqa: BLE001 - the click path reports it, as it always has
        return None
    try:
        if err:
            sys.stderr.write(err)
            sys.stderr.flush()
        sys.stdout.write(out)
        sys.stdout.flush()
    except BrokenPipeError:
        return 1
    return 0


def _parse(args: list[str]):
    """(registry_dir, ref, at, as_json) for exactly `[-C DIR] resolve REF [--json] [--at GITREF]`."""
    registry_dir = "."
    if args[:1] == ["-C"] and len(args) > 2:
        registry_dir, args = args[1], args[2:]
    if len(args) < 2 or args[0] != "resolve":
        return None
    ref, at, as_json, rest = None, None, False, args[1:]
    while rest:
        word = rest.pop(0)
        if word == "--json" and not as_json:
            as_json = True
        elif word == "--at" and at is None and rest and not rest[0].startswith("-"):
            at = rest.pop(0)
        elif ref is None and word and not word.startswith("-"):
            ref = word
        else:
            return None
    return None if ref is None else (registry_dir, ref, at, as_json)


PULL_FLAGS = {"-q": "quiet", "--quiet": "quiet", "--json": "as_json", "--verify-signature": "verify_signature"}
PULL_VALUES = {"-o": "dest", "--output": "dest", "--at": "at"}


def _parse_pull(args: list[str]):
    """(registry_dir, ref, options) for exactly `[-C DIR] pull REF` with the options above, each once."""
    registry_dir = "."
    if args[:1] == ["-C"] and len(args) > 2:
        registry_dir, args = args[1], args[2:]
    if len(args) < 2 or args[0] != "pull":
        return None
    ref, opts, rest = None, {}, args[1:]
    while rest:
        word = rest.pop(0)
        if word in PULL_FLAGS and PULL_FLAGS[word] not in opts:
            opts[PULL_FLAGS[word]] = True
        elif word in PULL_VALUES and PULL_VALUES[word] not in opts and rest and rest[0] and not rest[0].startswith("-"):
            opts[PULL_VALUES[word]] = rest.pop(0)
        elif ref is None and word and not word.startswith("-"):
            ref = word
        else:
            return None
    if ref is None or ("dest" in opts and os.path.lexists(opts["dest"]) and not os.path.isdir(opts["dest"])):
        return None  # an -o that is a file: click's own usage error
    return registry_dir, ref, opts


def _pull(args: list[str], registry_dir: str, ref: str, opts: dict) -> int:
    import logging  # here, not above: a resolve logs nothing and must not pay for the import

    from .logsetup import setup_logging

    quiet, as_json = opts.get("quiet", False), opts.get("as_json", False)
    setup_logging(logging.WARNING)
    try:
        from ..registry import Registry

        result = Registry(registry_dir).pull(ref, at=opts.get("at"), dest=opts.get("dest"),
                                             progress=progress_bars(not (quiet or as_json)),
                                             verify_signature=opts.get("verify_signature", False))
    except BaseException as exc:  # noqa: BLE001 - worded and mapped to an exit code as the click path does
        from .app import failed

        return failed(args, exc)
    lines = [(deprecated_warning(result.model, result.deprecated), True)]
    if as_json:
        lines.append((json_text(result.to_dict()), False))
    elif not quiet:
        lines.append((f"{result.model}@{result.version}: {result.files} file(s), {human_size(result.bytes)}, "
                      f"fetched {human_size(result.fetched_bytes)}", True))
        lines.append((str(result.path), False))
    return _echo([(text, err) for text, err in lines if text is not None])


def _echo(lines: list[tuple[str, bool]]) -> int:
    """Print (text, to stderr) lines; text holding an escape sequence goes through click, which
    strips escapes from what it writes to a pipe, as the click command's output would be."""
    try:
        if any("\x1b" in text for text, _ in lines):
            import click

            for text, err in lines:
                click.echo(text, err=err)
            return 0
        for text, err in lines:
            stream = sys.stderr if err else sys.stdout
            stream.write(text + "\n")
            stream.flush()
    except BrokenPipeError:
        return 1
    return 0


def progress_bars(enabled: bool = True):
    """The progress callback the core reports through: byte bars on stderr, on a terminal only."""
    if not enabled or not sys.stderr.isatty():
        return None

    def start(phase: str, total: int):
        from tqdm import tqdm

        return tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=phase, leave=False)
    return start


def human_size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024


def render_resolve(resolved, as_json: bool) -> tuple[str, str]:
    """What `resolve` prints: (stdout, stderr) text."""
    warnings = "".join(f"{w}\n" for w in (deleted_warning(resolved),
                                            deprecated_warning(resolved.model, resolved.deprecated)) if w)
    if as_json:
        return json_text(resolved.to_dict()) + "\n", warnings
    aliases = f" [{', '.join(resolved.aliases)}]" if resolved.aliases else ""
    deleted = " DELETED" if resolved.status == "deleted" else ""
    return (f"{resolved.model}@{resolved.version} {resolved.stage}{deleted}{aliases} "
            f"(commit {resolved.commit[:12]})\n", warnings)


def json_text(data) -> str:
    """The JSON every --json prints (NaN and infinities as text: they are not JSON, hole 10)."""
    return json.dumps(_finite(data), indent=2, sort_keys=False, default=str)


def _finite(data):
    if isinstance(data, float) and not math.isfinite(data):
        return str(data)
    if isinstance(data, dict):
        return {k: _finite(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [_finite(v) for v in data]
    return data


def deleted_warning(resolved) -> str | None:
    """A deleted version still resolves by number (history stays readable), with a warning."""
    if resolved.status != "deleted":
        return None
    reason = (resolved.record.get("deleted") or {}).get("reason")
    return (f"warning: {resolved.model}@{resolved.version} is deleted"
            + (f" ({reason})" if reason else "") + "; do not deploy it")


def deprecated_warning(model: str, deprecated: dict | None) -> str | None:
    """A deprecated model still resolves and loads (production keeps serving), with a warning."""
    if not deprecated:
        return None
    reason = deprecated.get("reason") or "no reason given"
    return f"warning: model {model} is deprecated ({reason}); it still resolves, but move off it"
