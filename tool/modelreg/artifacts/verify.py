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
    first_bytes)`, `.problems(relpath, path)` and optionally `.limit(relpath, first_bytes)` (bytes
    to keep, None: all); a wanted object is spooled to a temporary file as it streams and judged
    from it (check's pickle re-scan and template comparison)."""
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
    with tempfile.TemporaryDirectory(prefix="modelreg-inspect-") as tmp:
        spool = _Spool(entry.relpath, inspect, Path(tmp) / "object")
        try:
            store.stream(object_key(entry.md5), 0, entry.size, spool.take)
        finally:
            spool.close()
        if spool.digest.hexdigest() != entry.sha256:
            return [f"{entry.relpath}: sha256 mismatch: expected {entry.sha256}, got {spool.digest.hexdigest()}"]
        return inspect.problems(entry.relpath, spool.path) if spool.kept else []


class _Spool:
    """One object as it streams: hashed whole; kept in a file (up to the inspector's limit)
    when the inspector wants it by its name and first bytes."""

    def __init__(self, relpath: str, inspect, path: Path):
        self.relpath, self.inspect, self.path = relpath, inspect, path
        self.digest, self.file, self.left, self.first, self.kept = hashlib.sha256(), None, None, True, False

    def take(self, chunk) -> None:
        self.digest.update(chunk)
        if self.first:
            self.first = False
            head = bytes(chunk[:4])
            if self.inspect is not None and self.inspect.wants(self.relpath, head):
                self.file, self.kept = open(self.path, "wb"), True
                self.left = getattr(self.inspect, "limit", lambda *_: None)(self.relpath, head)
        if self.file is not None:
            keep = chunk if self.left is None else chunk[:max(self.left, 0)]
            self.file.write(keep)
            self.left = None if self.left is None else self.left - len(keep)

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
