"""Helpers shared by the command modules: opening the registry, options, output."""
import math
import sys

import click

from ..core.errors import InvalidInput
from ..core.names import check_tag_key
from ..registry import Registry
from .fastpath import deleted_warning, deprecated_warning, json_text, progress_bars  # noqa: F401 - re-exported

json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")


def open_registry(ctx) -> Registry:
    return Registry(ctx.obj["dir"])


def emit_json(data) -> None:
    click.echo(json_text(data))


def written(reg, result: dict) -> dict:
    """A write's JSON: what it did and the commit it made (HEAD of the working tree's branch)."""
    return {**result, "commit": reg.git.rev_parse("HEAD")}


def warn_deleted(resolved) -> None:
    """A deleted version still resolves by number (history stays readable), with a warning."""
    message = deleted_warning(resolved)
    if message:
        click.echo(message, err=True)


def warn_deprecated(model: str, deprecated: dict | None) -> None:
    """A deprecated model still resolves and loads (production keeps serving), with a warning."""
    message = deprecated_warning(model, deprecated)
    if message:
        click.echo(message, err=True)


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
