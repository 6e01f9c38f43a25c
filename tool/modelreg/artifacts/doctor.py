"""`modelreg doctor`: orphaned objects in the remote and lineage problems.

An object is referenced when a weights.dvc at the tip of any branch, remote-tracking branch
or tag names its folder listing, or the listing names it. Everything else under the DVC
layout is an orphan (e.g. uploads of a `version create` that failed before its commit).
Garbage collection deletes orphans only when asked explicitly (`--gc --yes`): a branch this
clone has not fetched may still reference them.
"""
from dataclasses import dataclass, field

from ..core.errors import RegistryError
from .cache import Cache
from .dvc import md5_of_key, object_key, parse_listing, read_pointer
from .pull import listing


@dataclass
class DoctorResult:
    refs: int = 0
    referenced: int = 0
    orphans: list[tuple[str, int]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    deleted: int = 0
    unreadable: bool = False  # a pointer could not be read: never collect then

    @property
    def orphan_bytes(self) -> int:
        return sum(size for _, size in self.orphans)

    def to_dict(self) -> dict:
        return {"refs": self.refs, "referenced_objects": self.referenced,
                "orphans": [{"key": k, "size": s} for k, s in self.orphans],
                "orphan_bytes": self.orphan_bytes, "problems": self.problems, "deleted": self.deleted}


def referenced_keys(pointers: dict[str, bytes], store, cache: Cache, result: DoctorResult) -> set[str]:
    """Layout keys of every listing the pointers name and of every file those listings name.

    `pointers`: {where (for messages): bytes of a weights.dvc}."""
    keys = set()
    for where, data in pointers.items():
        try:
            dir_md5 = read_pointer(data, where)["md5"]
            keys.add(object_key(dir_md5))
            keys.update(object_key(md5) for _, md5 in parse_listing(listing(dir_md5, cache, store), dir_md5))
        except RegistryError as exc:
            result.problems.append(f"{where}: {exc}")
            result.unreadable = True
    result.referenced = len(keys)
    return keys


def collect(result: DoctorResult, pointers: dict[str, bytes], store, cache: Cache, gc: bool, yes: bool) -> None:
    """Find (and with gc and yes, delete) the objects in the store no pointer references."""
    store.check()
    keys = referenced_keys(pointers, store, cache, result)
    result.orphans = sorted((k, s) for k, s in store.list_objects() if md5_of_key(k) and k not in keys)
    if gc and yes and result.orphans and not result.unreadable:
        store.delete([k for k, _ in result.orphans])
        result.deleted = len(result.orphans)
