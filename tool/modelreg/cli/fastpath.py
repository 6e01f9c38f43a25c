"""The console script's fast path: a plain `modelreg resolve REF [--json] [--at GITREF]`, without click.

Importing click costs a fresh process ~30 ms, as much as the rest of a `resolve` together (issue
23: cold resolve <= 50 ms). The most common command in scripts and deploy hooks is answered here
with the same library call and the same rendering as the click command (cli/read_cmds.py), and
the output is written only once everything succeeded. Anything else — another command, another
option, --help, an error of any kind — returns None and the click application runs the command
from the start, so every message, hint and exit code is the click path's own.
"""
import json
import math
import sys


def answer(args: list[str]) -> int | None:
    """The exit code when this path answered; None: let the click application run `args`."""
    parsed = _parse(args)
    if parsed is None:
        return None
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
