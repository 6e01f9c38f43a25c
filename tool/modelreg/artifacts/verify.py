"""Integrity of what the remote holds: `verify REF [--deep]` and `check --remote`.

Shallow: every object of the version (and its folder listing) exists in the remote with
the recorded size. Deep: each object is streamed and its sha256 compared with the record;
nothing is written to the cache.
"""
import hashlib
from dataclasses import dataclass, field

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


def verify(plan, store, deep: bool = False) -> VerifyResult:
    """Every object of the plan (and its folder listing) in the store with the recorded size;
    with `deep`, streamed and re-hashed."""
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
            digest = hashlib.sha256()
            store.stream(object_key(e.md5), 0, e.size, digest.update)
            if digest.hexdigest() != e.sha256:
                result.problems.append(f"{e.relpath}: sha256 mismatch: expected {e.sha256}, "
                                       f"got {digest.hexdigest()}")
    return result
