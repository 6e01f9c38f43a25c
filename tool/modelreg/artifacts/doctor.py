"""`modelreg doctor`: orphaned objects in the remote and lineage problems.

An object is referenced when a weights.dvc at the tip of any branch, remote-tracking branch
or tag names its folder listing, or the listing names it. Everything else under the DVC
layout is an orphan (e.g. uploads of a `version create` that failed before its commit).
Garbage collection deletes orphans only when asked explicitly (`--gc --yes`): a branch this
clone has not fetched may still reference them.
"""
from dataclasses import dataclass, field

from .. import layout
from ..errors import RegistryError
from .cache import Cache
from .dvc import read_pointer
from .pull import parse_listing, store_for
from .remote import md5_of_key, object_key


@dataclass
class DoctorResult:
    refs: int = 0
    referenced: int = 0
    orphans: list[tuple[str, int]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    deleted: int = 0

    @property
    def orphan_bytes(self) -> int:
        return sum(size for _, size in self.orphans)

    def to_dict(self) -> dict:
        return {"refs": self.refs, "referenced_objects": self.referenced,
                "orphans": [{"key": k, "size": s} for k, s in self.orphans],
                "orphan_bytes": self.orphan_bytes, "problems": self.problems, "deleted": self.deleted}


def ref_commits(registry) -> set[str]:
    out = registry.git.branches.run("for-each-ref", "--format=%(objectname) %(*objectname)",
                                    "refs/heads", "refs/remotes", "refs/tags")
    return {line.split()[-1] for line in out.splitlines() if line.strip()}


def _pointer_blobs(registry, commits) -> dict[str, str]:
    """blob sha -> path of every weights.dvc at the given commits."""
    blobs = {}
    for commit in commits:
        for path, blob in registry.git.ls_tree(commit, layout.ROOT):
            if layout.classify(path) and layout.classify(path)[0] == "pointer":
                blobs.setdefault(blob, path)
    return blobs


def referenced_keys(registry, store, result: DoctorResult) -> set[str]:
    commits = ref_commits(registry)
    result.refs = len(commits)
    blobs = _pointer_blobs(registry, commits)
    keys, cache = set(), Cache()
    for (blob, path), data in zip(blobs.items(), registry.git.read_objects(list(blobs))):
        try:
            dir_md5 = read_pointer(data, path)["md5"]
            keys.add(object_key(dir_md5))
            listing = cache.listing(dir_md5)
            if listing is None:
                listing = store.read(object_key(dir_md5))
                cache.put_listing(dir_md5, listing)
            keys.update(object_key(md5) for _, md5 in parse_listing(listing, dir_md5))
        except RegistryError as exc:
            result.problems.append(f"{path} (blob {blob[:10]}): {exc}")
    result.referenced = len(keys)
    return keys


def lineage_problems(registry) -> list[str]:
    problems = []
    for model in registry.list_models():
        name = model.get("name")
        try:
            versions = registry.list_versions(name)
        except RegistryError as exc:
            problems.append(f"{name}: {exc}")
            continue
        for record in versions:
            ref = f"{name}@{record['version']}"
            if record.get("model_type") == "adapter" and not record.get("parent"):
                problems.append(f"{ref}: an adapter without a parent (its base model)")
            try:
                chain = registry.lineage(ref)
            except RegistryError as exc:
                problems.append(f"{ref}: {exc}")
                continue
            problems += [f"{ref}: its lineage passes through {r.model}@{r.version}, which is deleted"
                         for r in chain[1:] if r.status == "deleted"]
    return problems


def run_doctor(registry, gc: bool = False, yes: bool = False) -> DoctorResult:
    result = DoctorResult()
    store = store_for(registry)
    try:
        store.check()
        keys = referenced_keys(registry, store, result)
        result.orphans = sorted((k, s) for k, s in store.list_objects() if md5_of_key(k) and k not in keys)
        result.problems += lineage_problems(registry)
        if gc and yes and result.orphans and not _unsafe(result):
            store.delete([k for k, _ in result.orphans])
            result.deleted = len(result.orphans)
    finally:
        store.close()
    return result


def _unsafe(result: DoctorResult) -> bool:
    """Never collect when a pointer could not be read: its objects would look orphaned."""
    return any("blob " in p for p in result.problems)
