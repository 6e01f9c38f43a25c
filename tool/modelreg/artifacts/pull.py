"""`modelreg pull`: a version's weights from the DVC remote, verified, cached and materialized.

The plan comes from Git alone (the version's weights.dvc and version.yaml at a commit) and
the remote's folder listing; DVC itself is never imported. Objects stream from the remote
with parallel ranged GETs, sha256 is computed on the way, and only a matching object is
renamed into the content-addressed cache. A warm pull reads no network and hashes nothing.
"""
import hashlib
import json
import logging
import os
import posixpath
import re
import shutil
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from .. import layout
from ..errors import IntegrityError, InvalidRecord, NotFound
from .cache import Cache
from .remote import object_key, open_store, remote_config

log = logging.getLogger(__name__)

_DIR_MD5 = re.compile(r"[0-9a-f]{32}\.dir")
_MD5 = re.compile(r"[0-9a-f]{32}")
_SHA256 = re.compile(r"[0-9a-f]{64}")
FILE_JOBS = 4  # objects fetched at once; each also fetches its parts in parallel


@dataclass(frozen=True)
class Entry:
    relpath: str
    md5: str
    sha256: str
    size: int


@dataclass
class Plan:
    model: str
    version: int
    commit: str
    dir_md5: str
    entries: list[Entry]

    @property
    def total(self) -> int:
        return sum(e.size for e in self.entries)


def safe_relpath(rel, what: str) -> str:
    """A relative POSIX path that stays inside its folder, or InvalidRecord."""
    if not isinstance(rel, str) or not rel or "\\" in rel or "\0" in rel or rel.startswith("/") \
            or re.match(r"[A-Za-z]:", rel) or any(p in ("", ".", "..") for p in rel.split("/")):
        raise InvalidRecord(f"{what}: unsafe path {rel!r} (absolute, '..' or empty parts); "
                            "refusing it; fix the record or re-push the version")
    return rel


def read_pointer(registry, model: str, version: int, commit: str) -> dict:
    """The version's weights.dvc at `commit`, checked to point inside the version folder."""
    from .dvc import read_pointer as parse

    path = layout.pointer_file(model, version)
    data = registry.git.read(commit, path)
    if data is None:
        raise NotFound(f"{model}@{version} has no weights.dvc at {commit[:10]}: it has no weights in the remote")
    out = parse(data, path)
    target = out.get("path")
    if not isinstance(target, str) or posixpath.isabs(target) or \
            posixpath.normpath(target).split("/")[0] in ("..", ".", ""):
        raise InvalidRecord(f"{path}: output path {target!r} escapes the version folder; refusing it")
    safe_relpath(target, path)
    if not isinstance(out.get("md5"), str) or not _DIR_MD5.fullmatch(out["md5"]):
        raise InvalidRecord(f"{path}: md5 {out.get('md5')!r} is not a DVC folder hash (<md5>.dir)")
    return out


def parse_listing(data: bytes, dir_md5: str) -> list[tuple[str, str]]:
    """(relpath, md5) pairs of a DVC .dir listing, every path checked."""
    try:
        items = json.loads(data)
    except ValueError:
        raise IntegrityError(f"folder listing {dir_md5} is not JSON; push the version again") from None
    if not isinstance(items, list):
        raise IntegrityError(f"folder listing {dir_md5} is not a list; push the version again")
    pairs, seen = [], set()
    for item in items:
        if not isinstance(item, dict) or not _MD5.fullmatch(str(item.get("md5", ""))):
            raise IntegrityError(f"folder listing {dir_md5} has a malformed entry {item!r}")
        rel = safe_relpath(item.get("relpath"), f"folder listing {dir_md5}")
        if rel in seen:
            raise IntegrityError(f"folder listing {dir_md5} lists {rel} twice")
        seen.add(rel)
        pairs.append((rel, item["md5"]))
    return pairs


def make_plan(registry, ref, at: str | None = None, store_factory=None) -> tuple[Plan, object]:
    """Resolve `ref` and join the listing (md5 per path) with the record (sha256 per path)."""
    resolved = registry.resolve(ref, at=at)
    pointer = read_pointer(registry, resolved.model, resolved.version, resolved.commit)
    cache = Cache()
    dir_md5 = pointer["md5"]
    store = None
    listing = cache.listing(dir_md5)
    if listing is None:
        store = (store_factory or (lambda: store_for(registry)))()
        listing = store.read(object_key(dir_md5))
        cache.put_listing(dir_md5, listing)
    entries = _join(parse_listing(listing, dir_md5), resolved)
    return Plan(resolved.model, resolved.version, resolved.commit, dir_md5, entries), store


def _join(pairs, resolved) -> list[Entry]:
    what = f"{resolved.model}@{resolved.version}"
    artifacts = {}
    for art in resolved.record.get("artifacts") or []:
        rel = safe_relpath(art.get("path"), f"{what} version.yaml")
        if not _SHA256.fullmatch(str(art.get("sha256", ""))):
            raise InvalidRecord(f"{what} version.yaml: artifact {rel} has no valid sha256")
        artifacts[rel] = art
    listed = {rel for rel, _ in pairs}
    if listed != set(artifacts):
        extra = sorted(listed - set(artifacts)) + sorted(set(artifacts) - listed)
        raise IntegrityError(f"{what}: the DVC listing and version.yaml disagree on {extra[0]} "
                             f"({len(extra)} path(s)); the weights were changed outside modelreg")
    return [Entry(rel, md5, artifacts[rel]["sha256"], int(artifacts[rel]["size_bytes"])) for rel, md5 in pairs]


def store_for(registry, jobs: int | None = None):
    name = registry.settings.remote_name
    return open_store(remote_config(registry.root, name), jobs=jobs)


@dataclass
class PullResult:
    path: Path
    model: str
    version: int
    commit: str
    files: int
    bytes: int
    fetched_files: int
    fetched_bytes: int

    def to_dict(self) -> dict:
        return {"path": str(self.path), "model": self.model, "version": self.version,
                "commit": self.commit, "files": self.files, "bytes": self.bytes,
                "fetched_files": self.fetched_files, "fetched_bytes": self.fetched_bytes}


def pull(registry, ref, at: str | None = None, dest=None, quiet: bool = True,
         jobs: int | None = None, verify_signature: bool = False) -> PullResult:
    """Fetch what the cache lacks, verify it, and materialize the version's folder.

    The signature (model.sig) is checked first, before any byte is fetched, when the
    version's stage policy requires one or `verify_signature` asks (supply/signatures.py).
    """
    from ..supply.signatures import verify_version

    verify_version(registry, registry.resolve(ref, at=at), force=verify_signature)
    holder = {}

    def factory():
        if "store" not in holder:  # one client per pull: creating one costs ~0.1 s
            holder["store"] = store_for(registry, jobs)
        return holder["store"]

    try:
        plan, _ = make_plan(registry, ref, at, factory)
        cache = Cache()
        missing = [e for e in _unique(plan.entries) if cache.lookup(e.sha256, e.size) is None]
        fetched = sum(e.size for e in missing)
        if missing:
            _fetch_all(factory(), cache, missing, quiet)
        target = Path(dest) if dest else cache.tree_path(plan.dir_md5)
        materialize(cache, plan.entries, target)
    finally:
        if "store" in holder:
            holder["store"].close()
    return PullResult(target, plan.model, plan.version, plan.commit, len(plan.entries), plan.total,
                      len(missing), fetched)


def pull_version(registry, ref, at: str | None = None, dest=None, quiet: bool = True,
                 verify_signature: bool = False) -> Path:
    """The folder holding the version's verified weights (for the loader)."""
    return pull(registry, ref, at=at, dest=dest, quiet=quiet, verify_signature=verify_signature).path


def _unique(entries):
    seen = set()
    for e in entries:
        if e.sha256 not in seen:
            seen.add(e.sha256)
            yield e


def _fetch_all(store, cache: Cache, entries: list[Entry], quiet: bool) -> None:
    from .progress import bar as progress_bar

    store.check()
    bar = progress_bar("pull", sum(e.size for e in entries), quiet)
    stop = threading.Event()

    def progress(n):
        if stop.is_set():  # ^C in the main thread: workers stop at their next chunk
            raise KeyboardInterrupt
        bar.update(n)

    try:
        with ThreadPoolExecutor(min(FILE_JOBS, len(entries))) as pool:
            futures = [pool.submit(fetch_object, store, cache, e, progress) for e in entries]
            try:
                errors = [f.exception() for f in futures]
            except BaseException:
                stop.set()
                raise
        first = next((e for e in errors if e is not None), None)
        if first is not None:
            raise first
    finally:
        bar.close()


def fetch_object(store, cache: Cache, entry: Entry, progress=lambda n: None) -> Path:
    """Stream one object into the cache, resuming a partial download; verify before the rename."""
    with cache.partial(entry.sha256) as (fh, path):
        hit = cache.lookup(entry.sha256, entry.size)
        if hit:  # another process finished it while we waited for the lock
            return hit
        digest = hashlib.sha256()
        have = _resume(fh, path, entry, digest)
        progress(have)

        def write(chunk):
            digest.update(chunk)
            fh.write(chunk)
            progress(len(chunk))

        if have < entry.size:
            store.stream(object_key(entry.md5), have, entry.size, write)
        fh.flush()
        got, size = digest.hexdigest(), os.fstat(fh.fileno()).st_size
        if got != entry.sha256 or size != entry.size:
            path.unlink(missing_ok=True)
            raise IntegrityError(
                f"{entry.relpath}: sha256 mismatch: expected {entry.sha256}, got {got} ({size} bytes, "
                f"remote object {object_key(entry.md5)}); nothing was cached: repair the object "
                "(push the version again) and retry")
        return cache.insert(entry.sha256, path)


def _resume(fh, path: Path, entry: Entry, digest) -> int:
    """Hash the bytes a previous, interrupted pull left; return how many there are."""
    have = fh.seek(0, os.SEEK_END)
    if have > entry.size:
        fh.truncate(0)
        return 0
    if have:
        with open(path, "rb") as old:
            while chunk := old.read(8 << 20):
                digest.update(chunk)
        log.info("resuming %s at %d of %d bytes", entry.relpath, have, entry.size)
    return have


def materialize(cache: Cache, entries: list[Entry], dest: Path) -> None:
    """Put each file at dest/relpath: a hard link to the cache object, or a copy across devices."""
    dest.mkdir(parents=True, exist_ok=True)
    for e in entries:
        src = cache.object_path(e.sha256)
        target = dest / e.relpath
        if _current(src, target):
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
        try:
            try:
                os.link(src, tmp)
            except OSError:  # another filesystem, or links not allowed
                shutil.copy2(src, tmp)
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)


def _current(src: Path, target: Path) -> bool:
    try:
        a, b = src.stat(), target.lstat()
    except FileNotFoundError:
        return False
    if target.is_symlink():
        return False
    if (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino):
        return True
    return a.st_size == b.st_size and a.st_mtime_ns == b.st_mtime_ns  # a copy made by copy2
