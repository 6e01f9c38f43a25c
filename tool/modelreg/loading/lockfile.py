"""models.lock: exactly which commit, versions and file hashes a deploy loads.

`modelreg lock REF... -o models.lock` writes it; `load(REF, lock=PATH)` loads what it pins
and refuses when the registry no longer agrees (the commit is gone, or a pinned version was
deleted or its files changed on main). Alias moves after locking are expected and fine:
that is what a lock is for.
"""
import json
from pathlib import Path

from ..core.errors import IntegrityError, InvalidInput, NotFound
from ..core.records import dump_yaml, load_yaml
from ..core.refs import ModelRef, parse_ref
from ..store import reads

LOCK_VERSION = 1


def plan_entry(steps) -> dict:
    """A lock entry from the loader's plan: the target, then each base it stands on."""
    head, *bases = steps
    return {"model": head.model, "version": head.version, "model_type": head.record.get("model_type"),
            "sha256": file_hashes(head.record),
            "lineage": [{"model": b.model, "version": b.version, "sha256": file_hashes(b.record)} for b in bases]}


def make_lock(entries: dict, where: str, commit: str) -> dict:
    """`where`: the registry as recorded (a URL without credentials, or a folder)."""
    return {"lock_version": LOCK_VERSION, "registry": where, "commit": commit, "models": entries}


def write_lock(doc: dict, path: str | Path) -> None:
    path = Path(path)
    if path.suffix == ".json":
        path.write_text(json.dumps(doc, indent=2) + "\n")
    else:
        path.write_bytes(dump_yaml(doc))


def read_lock(path: str | Path) -> dict:
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise NotFound(f"lock file {path} does not exist; write it first", hint="lock_write", path=path) from exc
    doc = json.loads(data) if path.suffix == ".json" else load_yaml(data, str(path))
    if not isinstance(doc, dict) or doc.get("lock_version") != LOCK_VERSION or not isinstance(doc.get("models"), dict):
        raise InvalidInput(f"{path} is not a lock file of this modelreg (lock_version {LOCK_VERSION}); write it again",
                           hint="lock")
    return doc


def entry_for(doc: dict, ref: str, path) -> dict:
    """The pinned entry for REF: by the exact text locked, else by model name."""
    models = doc["models"]
    if ref in models:
        return models[ref]
    name = parse_ref(ref).model
    hits = [e for e in models.values() if e.get("model") == name]
    if len(hits) != 1:
        raise NotFound(f"{path} pins no entry for {ref} (it has: {', '.join(models) or 'none'}); "
                       "lock it first", hint="lock")
    return hits[0]


def pinned_refs(entry: dict) -> list[tuple[ModelRef, dict]]:
    """(model@version, sha256 map) for the entry and every base under it."""
    items = [(ModelRef(entry["model"], version=int(entry["version"])), entry.get("sha256") or {})]
    items += [(ModelRef(b["model"], version=int(b["version"])), b.get("sha256") or {})
              for b in entry.get("lineage") or []]
    return items


def check_against(locked, main, entry: dict, path) -> None:
    """Raise IntegrityError unless the locked commit and main (snapshots) both agree with the lock."""
    for ref, hashes in pinned_refs(entry):
        if file_hashes(reads.resolve(locked, ref).record) != hashes:
            raise IntegrityError(f"{path}: {ref} at {locked.commit[:10]} has other files than the lock pins; "
                                 "the lock was edited or written for another registry")
        try:
            now = reads.resolve(main, ref)
        except NotFound as exc:
            raise IntegrityError(f"{path} no longer matches the registry: {ref} is gone from main; "
                                 "lock again to pin what main has now", hint="lock") from exc
        if now.status == "deleted":
            reason = (now.record.get("deleted") or {}).get("reason", "no reason given")
            raise IntegrityError(f"{path} no longer matches the registry: {ref} was deleted on main "
                                 f"({reason}); lock again", hint="lock")
        if file_hashes(now.record) != hashes:
            raise IntegrityError(f"{path} no longer matches the registry: the files of {ref} changed on main; "
                                 "lock again", hint="lock")


def file_hashes(record: dict) -> dict[str, str]:
    """{path: sha256} of a version's artifacts: what a lock pins and a loaded model reports."""
    return {a["path"]: a["sha256"] for a in record.get("artifacts") or []}
