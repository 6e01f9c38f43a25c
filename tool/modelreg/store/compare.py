"""`modelreg diff A B`: what differs between two versions, as one JSON-ready dict.

Takes two Resolved values and the snapshots they were read at (cards are read through the
snapshot); the versions may belong to different models. Metrics are listed whole (old, new,
delta), everything else only where it differs: parameters, files (by path, then sha256 and
size), the parent, card fields, the chat template, stage, status, tags and description.
"""
from ..core.query import finite_number, metric_value
from . import reads

FIELDS = ("model_type", "stage", "status", "description")


def diff(old_snap, old, new_snap, new) -> dict:
    """The differences from `old` to `new` (each a store.reads.Resolved)."""
    a, b = old.record, new.record
    found = {
        "old": _side(old), "new": _side(new),
        "fields": _changed({k: a.get(k) for k in FIELDS}, {k: b.get(k) for k in FIELDS}),
        "metrics": metrics(a, b),
        "parameters": _changed(a.get("parameters") or {}, b.get("parameters") or {}),
        "tags": _changed(a.get("tags") or {}, b.get("tags") or {}),
        "files": files(a.get("artifacts") or [], b.get("artifacts") or []),
        "parent": _pair(_parent(a), _parent(b)),
        "card": _changed(reads.card(old_snap, old.model, old.version),
                         reads.card(new_snap, new.model, new.version)),
        "chat_template": _pair(a.get("chat_template"), b.get("chat_template")),
    }
    found["same"] = not any(found[k] for k in ("fields", "parameters", "tags", "card", "parent", "chat_template")) \
        and not any(m["old"] != m["new"] for m in found["metrics"]) \
        and not any(found["files"][k] for k in ("added", "removed", "changed"))
    return found


def _side(resolved) -> dict:
    return {"ref": resolved.name, "model": resolved.model, "version": resolved.version,
            "commit": resolved.commit, "aliases": list(resolved.aliases)}


def _changed(old: dict, new: dict) -> dict:
    """key -> {old, new} for every key whose value differs (None where one side lacks it)."""
    keys = list(old) + [k for k in new if k not in old]
    return {k: {"old": old.get(k), "new": new.get(k)} for k in keys if old.get(k) != new.get(k)}


def _pair(old, new) -> dict | None:
    return None if old == new else {"old": old, "new": new}


def _parent(record: dict) -> dict | None:
    parent = record.get("parent")
    if not isinstance(parent, dict):
        return None
    return {"ref": f"{parent.get('model')}@{parent.get('version')}", "relation": parent.get("relation")}


def metrics(old: dict, new: dict) -> list[dict]:
    """Every BENCHMARK/METRIC either side records (its last value), with new - old."""
    names = []
    for record in (old, new):
        for m in record.get("metrics") or []:
            if isinstance(m, dict) and (m.get("benchmark"), m.get("metric")) not in names:
                names.append((m.get("benchmark"), m.get("metric")))
    rows = []
    for benchmark, metric in names:
        a, b = metric_value(old, benchmark, metric), metric_value(new, benchmark, metric)
        delta = round(b - a, 12) if finite_number(a) and finite_number(b) else None  # no 0.05000000000000004
        rows.append({"name": f"{benchmark}/{metric}", "old": a, "new": b, "delta": delta})
    return rows


def files(old: list[dict], new: list[dict]) -> dict:
    """Artifacts added, removed and changed (sha256 or size), by path; `unchanged` counts the rest."""
    a = {f.get("path"): f for f in old if isinstance(f, dict)}
    b = {f.get("path"): f for f in new if isinstance(f, dict)}
    changed = [{"path": p, "old": _file(a[p]), "new": _file(b[p])} for p in b
               if p in a and _file(a[p]) != _file(b[p])]
    return {"added": [{"path": p, **_file(b[p])} for p in b if p not in a],
            "removed": [{"path": p, **_file(a[p])} for p in a if p not in b],
            "changed": changed,
            "unchanged": sum(1 for p in b if p in a and _file(a[p]) == _file(b[p]))}


def _file(entry: dict) -> dict:
    return {"sha256": entry.get("sha256"), "size_bytes": entry.get("size_bytes")}
