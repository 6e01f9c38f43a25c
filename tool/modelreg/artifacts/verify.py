"""Integrity of what the remote holds: `verify REF [--deep]` and `check --remote`.

Shallow: every object of the version (and its folder listing) exists in the remote with
the recorded size. Deep: each object is streamed and its sha256 compared with the record;
nothing is written to the cache.
"""
import hashlib
from dataclasses import dataclass, field

from .. import layout
from ..errors import RegistryError
from .pull import make_plan, store_for
from .remote import object_key


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


def verify_version(registry, ref, at: str | None = None, deep: bool = False) -> VerifyResult:
    store = store_for(registry)
    try:
        resolved = registry.resolve(ref, at=at)
        result = VerifyResult(resolved.model, resolved.version, resolved.commit, deep=deep)
        store.check()
        plan, _ = make_plan(registry, ref, at, lambda: store)  # raises if the listing is bad
        result.files, result.bytes = len(plan.entries), plan.total
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
    finally:
        store.close()


def missing_in_remote(registry, model: str, version: int, commit: str) -> list[str]:
    """Problems (one line each) for a version at `commit` whose objects are not all in the remote.

    For `check --remote`. A version without weights.dvc (weights kept elsewhere) has none.
    """
    if registry.git.read(commit, layout.pointer_file(model, version)) is None:
        return []
    try:
        result = verify_version(registry, f"{model}@{version}", at=commit)
    except RegistryError as exc:
        return [str(exc)]
    return result.problems
