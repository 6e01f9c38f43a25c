"""Integrity of what the remote holds: `verify REF [--deep]` and `check --remote`.

Shallow: every object of the version (and its folder listing) exists in the remote with
the recorded size. Deep: each object is streamed and its sha256 compared with the record;
nothing is written to the cache.
"""
import hashlib
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from .dvc import object_key


@dataclass
class VerifyResult:
    model: str
    version: int
    commit: str
    files: int = 0
    bytes: int = 0
    deep: bool = False
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict:
        return {"model": self.model, "version": self.version, "commit": self.commit, "files": self.files,
                "bytes": self.bytes, "deep": self.deep, "ok": self.ok, "problems": self.problems}


def verify(plan, store, deep: bool = False, inspect=None) -> VerifyResult:
    """Every object of the plan (and its folder listing) in the store with the recorded size;
    with `deep`, streamed and re-hashed. `inspect` (deep only): an object with `.wants(relpath,
    first_bytes)` and `.problems(relpath, path)`; a wanted object is spooled to a temporary file
    as it streams and judged from it (check's pickle re-scan)."""
    result = VerifyResult(plan.model, plan.version, plan.commit, len(plan.entries), plan.total, deep)
    store.check()
    sizes = store.sizes([object_key(e.md5) for e in plan.entries] + [object_key(plan.dir_md5)])
    if sizes[object_key(plan.dir_md5)] is None:
        result.problems.append(f"folder listing {plan.dir_md5}: missing from {store.where}")
    for e in plan.entries:
        got = sizes[object_key(e.md5)]
        if got is None:
            result.problems.append(f"{e.relpath}: missing from {store.where} ({object_key(e.md5)})")
        elif got != e.size:
            result.problems.append(f"{e.relpath}: {got} bytes in the remote, {e.size} recorded")
        elif deep:
            result.problems += _deep(store, e, inspect)
    return result


def _deep(store, entry, inspect) -> list[str]:
    digest = hashlib.sha256()
    with tempfile.TemporaryDirectory(prefix="modelreg-inspect-") as tmp:
        spool = {"file": None, "first": True}
        path = Path(tmp) / "object"

        def take(chunk):
            digest.update(chunk)
            if spool["first"]:
                spool["first"] = False
                if inspect is not None and inspect.wants(entry.relpath, bytes(chunk[:4])):
                    spool["file"] = open(path, "wb")
            if spool["file"] is not None:
                spool["file"].write(chunk)

        try:
            store.stream(object_key(entry.md5), 0, entry.size, take)
        finally:
            if spool["file"] is not None:
                spool["file"].close()
        if digest.hexdigest() != entry.sha256:
            return [f"{entry.relpath}: sha256 mismatch: expected {entry.sha256}, got {digest.hexdigest()}"]
        return inspect.problems(entry.relpath, path) if spool["file"] is not None else []
