"""Deployment records: what each serving host loaded, on the weights remote, and who lags.

A host writes `modelreg/deployments/<environment>/<host>.json` after each load or swap: the
ref it serves, the model, version, commit, every file's sha256, when, and whether the feed or
Git told it. One record per host and environment holds every ref the host serves (a write
reads the record, replaces its ref's entry, writes it back). `drift` compares the records
with the aliases in force (the feed's, else main's): a host serving NAME@ALIAS lags when its
version is not the one the alias names.
"""
import json
import re
from concurrent.futures import ThreadPoolExecutor

from ..core.errors import InvalidInput, NotFound, RegistryError
from ..core.refs import parse_ref
from .feed import now_text

PREFIX = "modelreg/deployments"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")


def check_name(value: str, what: str) -> str:
    if not isinstance(value, str) or not _NAME.fullmatch(value) or ".." in value:
        raise InvalidInput(f"{what} {value!r}: use letters, digits, '.', '_', ':' and '-' (at most 128)")
    return value


def key_of(environment: str, host: str) -> str:
    return f"{PREFIX}/{check_name(environment, 'environment')}/{check_name(host, 'host')}.json"


def entry(ref: str, resolved: dict, via: str, at: str | None = None) -> dict:
    """One served ref, from a LoadedModel's `resolved` mapping."""
    return {"ref": ref, "model": resolved["model"], "version": resolved["version"],
            "commit": resolved["commit"], "sha256": dict(resolved.get("sha256") or {}),
            "loaded_at": at or now_text(), "via": via}


def report(store, environment: str, host: str, served: dict) -> dict:
    """Write (merge) `served` (an `entry`) into the host's record; the record written."""
    key = key_of(environment, host)
    try:
        data, _ = store.get_if_changed(key)
        record = json.loads(data)
    except (NotFound, ValueError):
        record = {}
    refs = {e["ref"]: e for e in record.get("serving") or [] if isinstance(e, dict) and "ref" in e}
    refs[served["ref"]] = served
    record = {"host": host, "environment": environment, "updated": served["loaded_at"],
              "serving": [refs[r] for r in sorted(refs)]}
    store.put(key, (json.dumps(record, indent=1, sort_keys=True) + "\n").encode())
    return record


def records(store, environment: str | None = None, jobs: int = 16) -> list[dict]:
    """Every host's record (of one environment, or all), read in parallel; unreadable ones skipped."""
    prefix = f"{PREFIX}/{check_name(environment, 'environment')}" if environment else PREFIX
    keys = sorted(k for k, _ in store.list_objects(prefix) if k.endswith(".json"))

    def one(key):
        try:
            doc = json.loads(store.get_if_changed(key)[0])
            return doc if isinstance(doc, dict) and isinstance(doc.get("serving"), list) else None
        except (NotFound, ValueError):
            return None

    with ThreadPoolExecutor(max(1, min(jobs, len(keys)))) as pool:
        return [doc for doc in pool.map(one, keys) if doc is not None]


def drift(found: list[dict], aliases: dict[str, dict[str, int]]) -> list[dict]:
    """One row per host and served ref: `current`, `lags` (the alias names another version),
    `pinned` (served by number) or `unknown` (the alias is not in force)."""
    rows = []
    for record in found:
        for served in record["serving"]:
            ref = _ref(served.get("ref"))
            expected = (aliases.get(ref.model) or {}).get(ref.alias) if ref and ref.alias else None
            if ref is not None and ref.version is not None:
                state = "pinned"
            elif expected is None:
                state = "unknown"
            else:
                state = "current" if served.get("version") == expected else "lags"
            rows.append({"environment": record.get("environment"), "host": record.get("host"),
                         **{k: served.get(k) for k in ("ref", "model", "version", "commit", "loaded_at", "via")},
                         "expected": expected, "state": state})
    return sorted(rows, key=lambda r: (str(r["environment"]), str(r["host"]), str(r["ref"])))


def _ref(text):
    try:
        return parse_ref(str(text))
    except RegistryError:
        return None
