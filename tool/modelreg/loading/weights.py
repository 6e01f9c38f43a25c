"""A registry's weights, walked forward once: ref -> Resolved -> Plan -> fetch -> folder.

This module joins the Registry (records, pointers and remote config read from a commit) to
`artifacts/` (plans, stores, the cache), which never sees the Registry. `pull`, `verify`,
`doctor` and the loader all come through here.
"""
from contextlib import contextmanager

from ..core import layout
from ..artifacts.cache import Cache
from ..artifacts.pull import Plan, PullResult, fetch, listing, make_plan
from ..core.errors import RegistryError


@contextmanager
def lazy_store(remote, jobs: int | None = None):
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


def plan(reg, resolved, store, cache: Cache | None = None) -> Plan:
    """The Plan of a resolved version: pointer, remote config and records from its commit."""
    cache = cache or Cache()
    pointer = reg.pointer(resolved)
    remote = reg.remote(resolved.commit)
    data = listing(pointer["md5"], cache, store)
    return make_plan(resolved.model, resolved.version, resolved.commit, resolved.record, pointer, remote, data)


def fetch_resolved(reg, resolved, dest=None, progress=None, jobs: int | None = None) -> PullResult:
    cache = Cache()
    with lazy_store(reg.remote(resolved.commit), jobs) as store:
        return fetch(plan(reg, resolved, store, cache), store, cache, dest=dest, progress=progress)


def pull(reg, ref, at: str | None = None, dest=None, progress=None, jobs: int | None = None,
         verify_signature: bool = False) -> PullResult:
    """`modelreg pull`: resolve once, plan, fetch what the cache lacks, materialize.

    The signature (model.sig) is checked first, before any byte is fetched, when the
    version's stage policy requires one or `verify_signature` asks (supply/signatures.py)."""
    from ..supply.signatures import verify_version

    resolved = reg.resolve(ref, at=at)
    verify_version(reg, resolved, force=verify_signature)
    return fetch_resolved(reg, resolved, dest=dest, progress=progress, jobs=jobs)


def verify(reg, ref, at: str | None = None, deep: bool = False):
    from ..artifacts.verify import verify as verify_plan

    resolved = reg.resolve(ref, at=at)
    cache = Cache()
    with lazy_store(reg.remote(resolved.commit)) as store:
        store().check()
        return verify_plan(plan(reg, resolved, store, cache), store(), deep)


def missing_in_remote(reg, model: str, version: int, commit: str) -> list[str]:
    """Problems (one line each) for a version whose objects are not all in the remote.

    For `check --remote`. A version without weights.dvc (weights kept elsewhere) has none.
    """
    if reg.git.read(commit, layout.pointer_file(model, version)) is None:
        return []
    try:
        result = verify(reg, f"{model}@{version}", at=commit)
    except RegistryError as exc:
        return [str(exc)]
    return result.problems


def doctor(reg, gc: bool = False, yes: bool = False):
    """Orphaned objects in the remote (unreferenced by any branch or tag) and lineage problems."""
    from ..artifacts.doctor import DoctorResult, collect

    result = DoctorResult()
    commits = _ref_commits(reg)
    result.refs = len(commits)
    with lazy_store(reg.remote(reg.commit_of(None))) as store:
        collect(result, _pointers(reg, commits), store(), Cache(), gc, yes)
    result.problems += _lineage_problems(reg)
    return result


def _ref_commits(reg) -> set[str]:
    out = reg.git.branches.run("for-each-ref", "--format=%(objectname) %(*objectname)",
                               "refs/heads", "refs/remotes", "refs/tags")
    return {line.split()[-1] for line in out.splitlines() if line.strip()}


def _pointers(reg, commits) -> dict[str, bytes]:
    """{"path (blob sha)": bytes} of every distinct weights.dvc at the given commits."""
    blobs = {}
    for commit in commits:
        for path, blob in reg.git.ls_tree(commit, layout.ROOT):
            kind = layout.classify(path)
            if kind and kind[0] == "pointer":
                blobs.setdefault(blob, path)
    data = reg.git.read_objects(list(blobs))
    return {f"{path} (blob {blob[:10]})": d for (blob, path), d in zip(blobs.items(), data)}


def _lineage_problems(reg) -> list[str]:
    problems = []
    for model in reg.list_models():
        name = model.get("name")
        try:
            versions = reg.list_versions(name)
        except RegistryError as exc:
            problems.append(f"{name}: {exc}")
            continue
        for record in versions:
            ref = f"{name}@{record['version']}"
            if record.get("model_type") == "adapter" and not record.get("parent"):
                problems.append(f"{ref}: an adapter without a parent (its base model)")
            try:
                chain = reg.lineage(ref)
            except RegistryError as exc:
                problems.append(f"{ref}: {exc}")
                continue
            problems += [f"{ref}: its lineage passes through {r.model}@{r.version}, which is deleted"
                         for r in chain[1:] if r.status == "deleted"]
    return problems
