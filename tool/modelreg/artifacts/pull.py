"""Plans and fetches: a version's weights from the DVC remote, verified, cached and materialized.

A `Plan` is plain data: the version's files (path, md5 for the remote, sha256 and size from
the record) joined from its pointer, the remote's folder listing and version.yaml, plus the
remote config read from the same commit. `fetch(plan, store, cache)` downloads what the
cache lacks (parallel ranged GETs written at their offsets and hashed in order behind them:
download.py), renames only a matching object into the content-addressed cache, and returns
the verified folder. Nothing
here knows about Git or the Registry; DVC itself is never imported.

A folder given as `dest` ends up holding exactly the version's files; the cache notes which
files it put there (`Cache.pull_note`, keyed by the folder's real path). A later pull into it
removes the noted files the new version lacks; a folder holding anything else (a file no
note lists, a symlink) is refused before anything is fetched or written, so a pull never
deletes what it did not write.
"""
import json
import os
import re
import shutil
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ..core.errors import IntegrityError, InvalidInput, InvalidRecord
from ..core.values import value
from .cache import Cache
from .config import RemoteConfig
from .download import fetch_object
from .dvc import object_key, parse_listing, safe_relpath

_SHA256 = re.compile(r"[0-9a-f]{64}")
_LEFTOVER = re.compile(r"\..+\.[0-9a-f]{32}\.tmp")  # materialize's temp files
FILE_JOBS = 4  # objects fetched at once; each also fetches its parts in parallel


@value
class Entry:
    relpath: str
    md5: str
    sha256: str
    size: int


@value
class Plan:
    """What to fetch for one version at one commit, and from where."""
    model: str
    version: int
    commit: str
    dir_md5: str
    entries: tuple[Entry, ...]
    remote: RemoteConfig

    @property
    def name(self) -> str:
        return f"{self.model}@{self.version}"

    @property
    def total(self) -> int:
        return sum(e.size for e in self.entries)

    @property
    def sha256s(self) -> dict[str, str]:
        return {e.relpath: e.sha256 for e in self.entries}


def listing(dir_md5: str, cache: Cache, store) -> bytes:
    """The folder listing: from the cache, else from the store (then cached, md5-checked)."""
    data = cache.listing(dir_md5)
    if data is None:
        data = _store(store).read(object_key(dir_md5))
        cache.put_listing(dir_md5, data)
    return data


def make_plan(model: str, version: int, commit: str, record: dict, pointer: dict,
              remote: RemoteConfig, listing_data: bytes) -> Plan:
    """Join the listing (md5 per path) with the record (sha256 and size per path)."""
    what = f"{model}@{version}"
    dir_md5 = pointer["md5"]
    artifacts = {}
    for art in record.get("artifacts") or []:
        rel = safe_relpath(art.get("path"), f"{what} version.yaml")
        if not _SHA256.fullmatch(str(art.get("sha256", ""))):
            raise InvalidRecord(f"{what} version.yaml: artifact {rel} has no valid sha256")
        artifacts[rel] = art
    pairs = parse_listing(listing_data, dir_md5)
    listed = {rel for rel, _ in pairs}
    if listed != set(artifacts):
        extra = sorted(listed - set(artifacts)) + sorted(set(artifacts) - listed)
        raise IntegrityError(f"{what}: the DVC listing and version.yaml disagree on {extra[0]} "
                             f"({len(extra)} path(s)); the weights were changed outside modelreg")
    entries = tuple(Entry(rel, md5, artifacts[rel]["sha256"], int(artifacts[rel]["size_bytes"]))
                    for rel, md5 in pairs)
    return Plan(model, version, commit, dir_md5, entries, remote)


@value(frozen=False)
class PullResult:
    path: Path
    model: str
    version: int
    commit: str
    files: int
    bytes: int
    fetched_files: int
    fetched_bytes: int
    deprecated: dict | None = None  # the model's deprecation, set by the caller that resolved it

    def to_dict(self) -> dict:
        return {"path": str(self.path), "model": self.model, "version": self.version,
                "commit": self.commit, "files": self.files, "bytes": self.bytes,
                "fetched_files": self.fetched_files, "fetched_bytes": self.fetched_bytes,
                "deprecated": self.deprecated}


def fetch(plan: Plan, store, cache: Cache, dest=None, progress=None) -> PullResult:
    """Fetch what the cache lacks, verify it, and materialize the version's folder.

    `store`: a store, or a function returning one, called only if something must be
    downloaded (a warm fetch opens no connection). `progress`: see progress.py.
    """
    wanted = {e.relpath for e in plan.entries}
    owned = claim(Path(dest), wanted, cache) if dest else None  # refuses before any byte is fetched
    missing = [e for e in _unique(plan.entries) if cache.lookup(e.sha256, e.size) is None]
    fetched = sum(e.size for e in missing)
    if missing:
        _fetch_all(_store(store), cache, missing, progress)
    target = Path(dest) if dest else cache.tree_path(plan.dir_md5)
    if owned is None:
        materialize(cache, plan.entries, target)
        _prune(target, wanted)  # the cache's own folder holds the version's files and nothing else
    else:
        _replace_owned(cache, plan, target, owned, wanted)
    return PullResult(target, plan.model, plan.version, plan.commit, len(plan.entries), plan.total,
                      len(missing), fetched)


def _store(store):
    return store() if callable(store) else store


def _unique(entries):
    seen = set()
    for e in entries:
        if e.sha256 not in seen:
            seen.add(e.sha256)
            yield e


def _fetch_all(store, cache: Cache, entries: list[Entry], progress) -> None:
    from .progress import start

    store.check()
    stop = threading.Event()
    counting = threading.Lock()  # chunks land from every part's thread; a bar need not be thread-safe
    with start(progress, "pull", sum(e.size for e in entries)) as bar:
        def on_bytes(n):
            if stop.is_set():  # ^C in the main thread: workers stop at their next chunk
                raise KeyboardInterrupt
            with counting:
                bar.update(n)

        pool = ThreadPoolExecutor(min(FILE_JOBS, len(entries)))
        futures = [pool.submit(fetch_object, store, cache, e, on_bytes) for e in entries]
        try:
            errors = [f.exception() for f in futures]
        except BaseException:  # ^C: the workers stop at their next chunk; a part stuck in a read is not waited for
            stop.set()
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown()
    first = next((e for e in errors if e is not None), None)
    if first is not None:
        raise first


def materialize(cache: Cache, entries, dest: Path) -> None:
    """Put each file at dest/relpath: a hard link to the cache object, or a copy across devices.

    A file is left alone only when it IS the cache object (same inode): anything else at
    that path, even with the right size and mtime, is replaced.
    """
    dest.mkdir(parents=True, exist_ok=True)
    linked = []
    for e in entries:
        src = cache.object_path(e.sha256)
        target = dest / e.relpath
        if _same_file(src, target):
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{os.urandom(16).hex()}.tmp")
        try:
            try:
                os.link(src, tmp)
                linked.append(e)
            except OSError:  # another filesystem, or links not allowed
                shutil.copy2(src, tmp)
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)
    for e in linked:  # a new link changes the object's ctime: note the new stamp
        cache.restamp(e.sha256, e.size)


def _prune(folder: Path, keep: set[str]) -> None:
    """Remove whatever is in `folder` that is not one of `keep` (e.g. a file someone dropped
    next to the weights, which transformers would otherwise find)."""
    for path in sorted(folder.rglob("*"), reverse=True):
        rel = path.relative_to(folder).as_posix()
        if path.is_dir() and not path.is_symlink():
            if not any(k.startswith(rel + "/") for k in keep):
                shutil.rmtree(path, ignore_errors=True)
        elif rel not in keep:
            path.unlink(missing_ok=True)


def claim(dest: Path, wanted: set[str], cache: Cache) -> set[str]:
    """The files in `dest` a pull may replace or remove: those the cache noted (a previous pull
    wrote them) and those of the version. Anything else there, or any symlink, is refused."""
    if dest.exists() and not dest.is_dir():
        raise InvalidInput(f"destination {dest} is a file; give a folder")
    listed = _noted_files(cache.pull_note(dest))
    for rel, kind in _entries(dest):
        if kind == "file" and _LEFTOVER.fullmatch(rel.rsplit("/", 1)[-1]):
            listed.add(rel)  # a temp file of an interrupted pull: ours, removed
        elif kind != "file":
            raise InvalidInput(f"destination {dest} holds {'a symlink' if kind == 'symlink' else 'a special file'}, "
                               f"{rel}, which modelreg did not put there; "
                               "give an empty folder (or one an earlier pull filled)")
        elif rel not in listed and rel not in wanted:
            raise InvalidInput(f"destination {dest} holds {rel}, which no earlier pull put there; "
                               "give an empty folder (or one an earlier pull filled) so nothing of yours is removed")
    return listed


def _noted_files(note: Path) -> set[str]:
    try:
        files = json.loads(note.read_text())["files"]
        return {safe_relpath(f, str(note)) for f in files} if isinstance(files, list) else set()
    except (FileNotFoundError, ValueError, KeyError, TypeError, InvalidRecord):
        return set()  # no note (or an unreadable one): nothing there counts as ours


def _entries(dest: Path):
    """(relpath, "file" | "symlink" | "other") of everything but folders under `dest`; symlinked
    folders are not entered."""
    if not dest.is_dir():
        return
    for dirpath, dirnames, filenames in os.walk(dest):
        for name in dirnames + filenames:
            path = Path(dirpath, name)
            rel = path.relative_to(dest).as_posix()
            if path.is_symlink():
                yield rel, "symlink"
            elif name in filenames:
                yield rel, "file" if path.is_file() else "other"


def _replace_owned(cache: Cache, plan: Plan, dest: Path, owned: set[str], wanted: set[str]) -> None:
    """Marker first (old and new files: a crash leaves a folder the next pull can still claim),
    then the stale files out, the version in, and the marker naming exactly the version."""
    dest.mkdir(parents=True, exist_ok=True)
    note = cache.pull_note(dest)
    _write_note(note, dest, plan, owned | wanted)
    for rel in sorted(owned - wanted):
        path = dest / rel
        if path.is_file() and not path.is_symlink():
            path.unlink()
        _remove_empty_parents(dest, path.parent)
    materialize(cache, plan.entries, dest)
    _write_note(note, dest, plan, wanted)


def _remove_empty_parents(dest: Path, folder: Path) -> None:
    while folder != dest and folder.is_relative_to(dest):
        try:
            folder.rmdir()
        except OSError:  # not empty (or not ours to judge): stop
            return
        folder = folder.parent


def _write_note(note: Path, dest: Path, plan: Plan, files: set[str]) -> None:
    doc = {"folder": str(dest.resolve()), "model": plan.model, "version": plan.version,
           "commit": plan.commit, "files": sorted(files)}
    note.parent.mkdir(parents=True, exist_ok=True)
    tmp = note.with_name(f"{note.name}.{os.urandom(16).hex()}.tmp")
    try:
        tmp.write_text(json.dumps(doc, indent=1) + "\n")
        os.replace(tmp, note)
    finally:
        tmp.unlink(missing_ok=True)


def _same_file(src: Path, target: Path) -> bool:
    try:
        a, b = src.stat(), target.lstat()
    except FileNotFoundError:
        return False
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)
