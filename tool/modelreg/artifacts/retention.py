"""`modelreg gc`'s set logic: which objects in the remote the purgeable versions free.

Given the pointers (weights.dvc bytes) that something still keeps and, per purgeable version,
the pointers that nothing keeps any more (loading/keeps.py walks Git for both), an object may
go only when a released pointer's listing names it and no kept pointer's listing does:

    candidates = objects(released) - objects(kept)        (an md5 shared with a kept version stays)
    orphans    = objects in the store that no pointer at all names (doctor's orphans; opt-in)

Nothing here knows Git or the Registry. A kept pointer whose listing cannot be read (malformed,
the store unreachable) blocks every deletion: its objects are unknown, so any candidate might be
one of them. A kept listing that is missing from the remote and the cache does not block: that
version can no longer be pulled from this remote, and a `dvc push` that restores the listing
restores its objects with it.
"""
from dataclasses import dataclass, field

from ..core.errors import NotFound, RegistryError
from .cache import Cache
from .dvc import md5_of_key, object_key, parse_listing, read_pointer
from .progress import start
from .pull import listing

BATCH = 1000  # keys per delete call (S3's DeleteObjects limit)


@dataclass
class Purge:
    """What one purgeable version frees: its objects no kept pointer names, present in the store."""
    model: str
    version: int
    state: str  # deleted or archived (on main)
    since: str | None  # when main made it so (ISO 8601, the registry's clock)
    objects: int = 0
    bytes: int = 0
    shared: int = 0  # objects of its listing that a kept version also names: they stay

    @property
    def name(self) -> str:
        return f"{self.model}@{self.version}"

    def to_dict(self) -> dict:
        return {"model": self.model, "version": self.version, "state": self.state, "since": self.since,
                "objects": self.objects, "bytes": self.bytes, "shared_objects": self.shared}


@dataclass
class GcPlan:
    """The objects to delete (layout keys with sizes; folder listings last) and why."""
    purges: list[Purge] = field(default_factory=list)
    deletions: list[tuple[str, int]] = field(default_factory=list)
    orphans: list[tuple[str, int]] = field(default_factory=list)  # named by no pointer at all
    orphans_included: bool = False
    spent: list[str] = field(default_factory=list)  # purgeable versions with nothing of their own left
    referenced: int = 0  # objects the kept pointers name
    shared: int = 0
    shared_bytes: int = 0
    problems: list[str] = field(default_factory=list)
    blocked: bool = False  # a kept pointer could not be read: delete nothing

    @property
    def bytes(self) -> int:
        return sum(size for _, size in self.deletions)

    @property
    def orphan_bytes(self) -> int:
        return sum(size for _, size in self.orphans)


def pointer_keys(data: bytes, where: str, cache: Cache, store) -> set[str]:
    """Layout keys of a pointer's folder listing and of every file it names."""
    dir_md5 = read_pointer(data, where)["md5"]
    pairs = parse_listing(listing(dir_md5, cache, store), dir_md5)
    return {object_key(dir_md5)} | {object_key(md5) for _, md5 in pairs}


def _kept_keys(kept: dict[str, bytes], store, cache: Cache, plan: GcPlan) -> set[str]:
    keys = set()
    for where, data in kept.items():
        try:
            keys |= pointer_keys(data, where, cache, store)
        except NotFound as exc:
            plan.problems.append(f"{where}: kept, but its weights are already gone from the remote ({exc})")
        except RegistryError as exc:
            plan.problems.append(f"{where}: {exc}; nothing is deleted while a kept pointer cannot be read")
            plan.blocked = True
    plan.referenced = len(keys)
    return keys


def _released_keys(pointers: dict[str, bytes], store, cache: Cache, plan: GcPlan) -> set[str]:
    keys = set()
    for where, data in pointers.items():
        try:
            keys |= pointer_keys(data, where, cache, store)
        except NotFound:
            pass  # purged before: its listing went last, so its objects went before it
        except RegistryError as exc:  # its objects stay (orphans once nothing names them)
            plan.problems.append(f"{where}: {exc}")
    return keys


def make_plan(kept: dict[str, bytes], released: list[tuple[Purge, dict[str, bytes]]], store, cache: Cache,
              orphans: bool = False) -> GcPlan:
    """`kept`: {where: pointer bytes} of everything something keeps; `released`: each purgeable
    version with the pointers nothing keeps. Lists the store once, for the sizes."""
    plan = GcPlan(orphans_included=orphans)
    store.check()
    kept_keys = _kept_keys(kept, store, cache, plan)
    present = {k: s for k, s in store.list_objects() if md5_of_key(k)}
    chosen, named, shared_all = {}, set(kept_keys), set()
    for purge, pointers in released:
        keys = _released_keys(pointers, store, cache, plan)
        named |= keys
        shared = {k for k in keys & kept_keys if k in present}
        mine = {k: present[k] for k in keys - kept_keys if k in present}
        purge.objects, purge.bytes, purge.shared = len(mine), sum(mine.values()), len(shared)
        chosen.update(mine)
        shared_all |= shared
        if mine:
            plan.purges.append(purge)
        else:  # nothing of its own left: purged before, or all of it shared
            plan.spent.append(purge.name)
    plan.shared, plan.shared_bytes = len(shared_all), sum(present[k] for k in shared_all)
    plan.orphans = sorted((k, s) for k, s in present.items() if k not in named)
    if orphans:
        chosen.update(plan.orphans)
    # files first, folder listings last: an interrupted run leaves listings that name what is left
    plan.deletions = sorted(chosen.items(), key=lambda item: (item[0].endswith(".dir"), item[0]))
    return plan


def apply(plan: GcPlan, store, progress=None) -> tuple[int, int]:
    """Delete the plan's objects (never when blocked); (objects, bytes) deleted."""
    if plan.blocked:
        return 0, 0
    done = freed = 0
    with start(progress, "delete", plan.bytes) as bar:
        for i in range(0, len(plan.deletions), BATCH):
            batch = plan.deletions[i:i + BATCH]
            store.delete([k for k, _ in batch])
            size = sum(s for _, s in batch)
            done, freed = done + len(batch), freed + size
            bar.update(size)
    return done, freed
