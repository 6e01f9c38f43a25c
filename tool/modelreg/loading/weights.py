"""A version's weights, walked forward once: Resolved -> Located -> Plan -> fetch -> folder.

`locate(snap, resolved, clone)` reads, at the version's commit, its DVC pointer and the
remote that registry.yaml and .dvc/config name there (credentials only from the clone's
untracked .dvc/config.local): a `Located`, plain data. Everything after hands plain data to
`artifacts/` (plans, stores, the cache), which never sees Git or the Registry. `pull`,
`verify`, `check --remote`, `doctor`, `gc` and the loader all come through here.
"""
from contextlib import contextmanager
from pathlib import Path

from ..artifacts.cache import Cache
from ..artifacts.config import RemoteConfig, local_config_bytes, remote_config
from ..artifacts.pull import Plan, PullResult
from ..artifacts.pull import fetch as fetch_plan
from ..artifacts.pull import listing, make_plan
from ..core import layout
from ..core.errors import NotFound, RegistryError
from ..core.values import value
from ..store import reads

DVC_CONFIG = ".dvc/config"


@value
class Located:
    """A resolved version and where its weights are: the DVC pointer and the remote, both read
    at the version's commit."""
    resolved: reads.Resolved
    pointer: dict  # weights.dvc's one output: md5 of the folder listing, size, nfiles
    remote: RemoteConfig


def remote_at(snap, clone: Path) -> RemoteConfig:
    """The DVC remote registry.yaml names, as .dvc/config configures it at the snapshot's commit;
    credentials only from `clone`'s untracked .dvc/config.local."""
    return remote_config(snap.settings.remote_name, snap.read(DVC_CONFIG), local_config_bytes(clone), clone)


def locate(snap, resolved, clone: Path) -> Located:
    """Where `resolved`'s weights are (`snap` is the snapshot of `resolved.commit`)."""
    from ..artifacts.dvc import read_pointer

    path = layout.pointer_file(resolved.model, resolved.version)
    data = snap.pointer(resolved.model, resolved.version)
    if data is None:
        raise NotFound(f"{resolved.model}@{resolved.version} has no weights.dvc at {resolved.commit[:10]}: "
                       "it has no weights in the remote")
    return Located(resolved, read_pointer(data, path), remote_at(snap, clone))


@contextmanager
def lazy_store(remote: RemoteConfig, jobs: int | None = None):
    """A function opening the store for `remote` on first call (a warm fetch never calls it)."""
    from ..artifacts.remote import open_store

    held = []

    def opener():
        if not held:  # one client per operation: creating one costs ~0.1 s
            held.append(open_store(remote, jobs=jobs))
        return held[0]

    try:
        yield opener
    finally:
        for store in held:
            store.close()


def plan(located: Located, store, cache: Cache) -> Plan:
    """The Plan: the folder listing (from the cache, else the store) joined with the record."""
    r = located.resolved
    data = listing(located.pointer["md5"], cache, store)
    return make_plan(r.model, r.version, r.commit, r.record, located.pointer, located.remote, data)


def fetch(located: Located, dest=None, progress=None, jobs: int | None = None) -> PullResult:
    """The version's verified folder: what the cache lacks is fetched, every sha256 checked."""
    cache = Cache()
    with lazy_store(located.remote, jobs) as store:
        return fetch_plan(plan(located, store, cache), store, cache, dest=dest, progress=progress)


def pull(snap, resolved, clone: Path, dest=None, progress=None, jobs: int | None = None,
         verify_signature: bool = False) -> PullResult:
    """`modelreg pull`: the signature first where the stage's policy requires one (or when
    asked), before any byte is fetched (supply/signatures.py); then fetch."""
    from ..supply.signatures import verify_version

    verify_version(snap, resolved, force=verify_signature)
    result = fetch(locate(snap, resolved, clone), dest=dest, progress=progress, jobs=jobs)
    result.deprecated = resolved.deprecated  # still delivered; the caller warns (issue 20)
    return result


def verify(located: Located, deep: bool = False, inspect=None):
    """Every object in the remote with the recorded size (deep: streamed and re-hashed)."""
    from ..artifacts.verify import verify as verify_plan

    cache = Cache()
    with lazy_store(located.remote) as store:
        store().check()
        return verify_plan(plan(located, store, cache), store(), deep, inspect)


class RemoteCheck:
    """`check --remote`'s service: problems (one line each) of a version whose objects are not
    all in the remote, or (deep) are not the bytes its record claims. A version without
    weights.dvc (weights kept elsewhere) has none."""

    def __init__(self, snap, clone: Path, inspect=None):
        # inspect(record) -> what judges a new version's bytes as they stream (artifacts.verify)
        self.snap, self.clone, self.inspect = snap, clone, inspect

    def __call__(self, model: str, number: int, deep: bool) -> list[str]:
        if self.snap.pointer(model, number) is None:
            return []
        try:
            located = locate(self.snap, reads.pinned(self.snap, model, number), self.clone)
            inspect = self.inspect(located.resolved.record) if deep and self.inspect else None
            result = verify(located, deep=deep, inspect=inspect)
        except RegistryError as exc:
            return [str(exc)]
        return result.problems


def doctor(git, clone: Path, main: str, gc: bool = False, yes: bool = False):
    """Orphaned objects in the remote (unreferenced by any branch or tag) and lineage problems
    on `main` (a commit)."""
    from ..artifacts.doctor import DoctorResult, collect
    from ..store.snapshot import Snapshot

    result = DoctorResult()
    commits = git.ref_tips()
    result.refs = len(commits)
    snap = Snapshot.at(git, main)
    with lazy_store(remote_at(snap, clone)) as store:
        collect(result, _pointers(git, commits), store(), Cache(), gc, yes)
    result.problems += lineage_problems(snap)
    return result


def gc(git, clone: Path, main: str, apply: bool = False, orphans: bool = False, locks=(),
       now: int | None = None, worktree: Path | None = None, progress=None):
    """`modelreg gc`: purge from the remote the weights registry.yaml's retention lets go and
    nothing keeps (loading/keeps.py); a dry run unless `apply`. With `orphans`, also objects no
    weights.dvc at any tip names (doctor's orphans). Records are never touched."""
    from ..artifacts.retention import GcPlan, make_plan
    from ..artifacts.retention import apply as delete
    from ..store.snapshot import Snapshot
    from .keeps import GcResult, walk

    keeps = walk(git, main, now=now, worktree=worktree, lock_paths=locks)
    if not keeps.released and not orphans:
        return GcResult(keeps, GcPlan())  # nothing to free: the remote is not asked
    with lazy_store(remote_at(Snapshot.at(git, main), clone)) as store:
        plan = make_plan(keeps.kept, [(_purge(keeps, key), ptrs) for key, ptrs in keeps.released.items()],
                         store(), Cache(), orphans)
        plan.blocked |= keeps.blocked
        result = GcResult(keeps, plan, applied=apply and not plan.blocked)
        if result.applied:
            result.deleted, result.freed = delete(plan, store(), progress)
    return result


def _purge(keeps, key):
    from ..artifacts.retention import Purge
    from ..core.clock import iso

    verdict = keeps.verdicts[key]
    return Purge(verdict.model, verdict.version, verdict.state,
                 iso(verdict.since) if verdict.since is not None else None)


def _pointers(git, commits) -> dict[str, bytes]:
    """{"path (blob sha)": bytes} of every distinct weights.dvc at the given commits."""
    from ..store.snapshot import Snapshot, read_blobs

    blobs = {}
    for commit in commits:
        snap = Snapshot(git, commit)  # not memoised: one look at each tip
        for path in snap.paths():
            kind = layout.classify(path)
            if kind and kind[0] == "pointer":
                blobs.setdefault(snap.sha(path), path)
    data = read_blobs(git, list(blobs))
    return {f"{path} (blob {blob[:10]})": d for (blob, path), d in zip(blobs.items(), data)}


def lineage_problems(snap) -> list[str]:
    """Adapters without a parent, broken lineages, and lineages through deleted versions."""
    problems = []
    for model in reads.models(snap):
        name = model.get("name")
        try:
            versions = reads.versions(snap, name)
        except RegistryError as exc:
            problems.append(f"{name}: {exc}")
            continue
        for record in versions:
            here = reads.pinned(snap, name, record["version"])
            if record.get("model_type") == "adapter" and not record.get("parent"):
                problems.append(f"{here.name}: an adapter without a parent (its base model)")
            try:
                chain = reads.lineage(snap, here)
            except RegistryError as exc:
                problems.append(f"{here.name}: {exc}")
                continue
            problems += [f"{here.name}: its lineage passes through {r.name}, which is deleted"
                         for r in chain[1:] if r.status == "deleted"]
    return problems
