"""Gates: what a version must show to enter a stage (registry.yaml `gates`, the base's)."""
import math
import operator
import re
from dataclasses import dataclass

from ..core import layout, schema

OPS = {">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt, "==": operator.eq}
_CONDITION = re.compile(r"\s*([A-Za-z0-9_.-]+)/([A-Za-z0-9_.-]+)\s*(>=|<=|>|<|==)\s*(-?[0-9.]+(?:e-?[0-9]+)?)\s*")


@dataclass
class Gate:
    model: str
    version: int
    stage: str
    condition: str
    ok: bool
    detail: str
    file: str
    pointer: str


def parse_condition(text: str):
    """'bench/metric OP number' -> (bench, metric, op, float); ValueError when malformed."""
    match = _CONDITION.fullmatch(text) if isinstance(text, str) else None
    if not match:
        raise ValueError(f"bad gate condition {text!r}: use 'BENCHMARK/METRIC >= NUMBER'")
    benchmark, metric, op, value = match.groups()
    try:
        threshold = float(value)
    except ValueError:
        raise ValueError(f"bad gate condition {text!r}: {value!r} is not a number") from None
    return benchmark, metric, op, threshold


def metric_value(record: dict, benchmark: str, metric: str) -> float | None:
    """The last recorded value of benchmark/metric on a version."""
    values = [m.get("value") for m in record.get("metrics") or []
              if isinstance(m, dict) and m.get("benchmark") == benchmark and m.get("metric") == metric]
    return values[-1] if values else None


def filled(card: dict, name: str) -> bool:
    return card.get(name) not in (None, "", [], {})


def passes(value, op: str, threshold: float) -> bool:
    """A gate passes only on a finite number: NaN and infinities never pass (issue 8 hole 10)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return False
    return OPS[op](value, threshold)


def check_gates(settings, stage: str, model: str, number: int, record: dict, card: dict) -> list[Gate]:
    gate = (settings.get("gates") or {}).get(stage) or {}
    results = []
    vpath, cpath = layout.version_file(model, number), layout.card_file(model, number)
    for condition in gate.get("metrics") or []:
        try:
            benchmark, metric, op, threshold = parse_condition(condition)
        except ValueError as exc:
            results.append(Gate(model, number, stage, str(condition), False, str(exc), layout.REGISTRY_FILE,
                                f"/gates/{stage}/metrics"))
            continue
        value = metric_value(record, benchmark, metric)
        if value is None:
            ok, detail = False, f"no {benchmark}/{metric} recorded"
        else:
            ok = passes(value, op, threshold)
            detail = f"{benchmark}/{metric} = {value:g}" if isinstance(value, (int, float)) else \
                f"{benchmark}/{metric} = {value!r} (not a number)"
        results.append(Gate(model, number, stage, condition, ok, detail, vpath, "/metrics"))
    for name in gate.get("card_fields") or []:
        ok = filled(card, name)
        results.append(Gate(model, number, stage, f"card.{name}", ok, "filled" if ok else "empty",
                            cpath, f"/{name}"))
    return results


def gates_for(head, moves, settings) -> list[Gate]:
    """Every gate of every stage a move enters, read from the head snapshot."""
    from ..store.change import entered

    results = []
    for move in entered(moves):
        record = head.version(move.model, move.version) or {}
        results += check_gates(settings, move.after, move.model, move.version, record,
                               head.card(move.model, move.version) or {})
    return results


def card_completeness(card: dict) -> tuple[int, int, list[str]]:
    names = list(schema.load_schema("card").get("properties", {}))
    missing = [n for n in names if not filled(card, n)]
    return len(names) - len(missing), len(names), missing
