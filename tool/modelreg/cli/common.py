"""Helpers shared by the command modules: opening the registry, options, output."""
import json
import math
import sys

import click

from ..core.errors import InvalidInput
from ..core.names import check_tag_key
from ..registry import Registry

json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")


def open_registry(ctx) -> Registry:
    return Registry(ctx.obj["dir"])


def progress_bars(enabled: bool = True):
    """The progress callback the core reports through: byte bars on stderr, on a terminal only."""
    if not enabled or not sys.stderr.isatty():
        return None

    def start(phase: str, total: int):
        from tqdm import tqdm

        return tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=phase, leave=False)
    return start


def emit_json(data) -> None:
    click.echo(json.dumps(_finite(data), indent=2, sort_keys=False, default=str))


def written(reg, result: dict) -> dict:
    """A write's JSON: what it did and the commit it made (HEAD of the working tree's branch)."""
    return {**result, "commit": reg.git.rev_parse("HEAD")}


def _finite(data):
    """NaN and infinities are not JSON: print them as text rather than emit invalid JSON (hole 10)."""
    if isinstance(data, float) and not math.isfinite(data):
        return str(data)
    if isinstance(data, dict):
        return {k: _finite(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [_finite(v) for v in data]
    return data


def warn_deleted(resolved) -> None:
    """A deleted version still resolves by number (history stays readable), with a warning."""
    if resolved.status == "deleted":
        reason = (resolved.record.get("deleted") or {}).get("reason")
        click.echo(f"warning: {resolved.model}@{resolved.version} is deleted"
                   + (f" ({reason})" if reason else "") + "; do not deploy it", err=True)


def warn_deprecated(model: str, deprecated: dict | None) -> None:
    """A deprecated model still resolves and loads (production keeps serving), with a warning."""
    if deprecated:
        reason = deprecated.get("reason") or "no reason given"
        click.echo(f"warning: model {model} is deprecated ({reason}); it still resolves, but move off it",
                   err=True)


def parse_pairs(values, what: str) -> dict:
    """K=V options (--tag, --param) into a dict; a malformed one is a clear error."""
    result = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InvalidInput(f"malformed {what} {item!r}: use KEY=VALUE")
        check_tag_key(key)
        result[key] = value
    return result


def parse_params(values) -> dict:
    """--param K=V with numbers and booleans kept as such."""
    parsed = {}
    for key, value in parse_pairs(values, "--param").items():
        parsed[key] = _scalar(value)
    return parsed


def _scalar(text: str):
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    for cast in (int, float):
        try:
            value = cast(text)
        except ValueError:
            continue
        if not math.isfinite(value):
            raise InvalidInput(f"--param value {text!r} is not a finite number; give a real number")
        return value
    return text


def parse_metrics(values) -> list[dict]:
    """--metric BENCHMARK/METRIC=VALUE, e.g. mmlu/accuracy=0.61."""
    metrics = []
    for item in values:
        name, sep, value = item.partition("=")
        benchmark, slash, metric = name.partition("/")
        try:
            number = float(value)
        except ValueError:
            number = None
        if number is not None and not math.isfinite(number):
            raise InvalidInput(f"--metric {item!r}: {value} is not a finite number; a gate cannot "
                               "compare it (use BENCHMARK/METRIC=NUMBER)")
        if not sep or not slash or not benchmark or not metric or number is None:
            raise InvalidInput(f"malformed --metric {item!r}: use BENCHMARK/METRIC=NUMBER, "
                               "e.g. mmlu/accuracy=0.61")
        metrics.append({"benchmark": benchmark, "metric": metric, "value": number})
    return metrics


def table(rows: list[list], headers: list[str]) -> str:
    cells = [headers] + [["" if c is None else str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in cells)
