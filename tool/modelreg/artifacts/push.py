"""`version create`'s weights path: one read per file, DVC's layout written directly, parallel upload.

Each source file is read once: md5 (DVC's key) and sha256 (the record's) are computed while
the bytes are written into DVC's cache (.dvc/cache/files/md5/..); the workspace folder gets
hard links to those objects, so the only extra copy on disk is DVC's cache. The `.dir`
listing and the weights.dvc pointer are written the way DVC writes them, so a plain
`git clone` + `dvc pull` restores the folder. Objects the remote lacks are uploaded in
parallel; the folder listing goes last, so a listing in the remote implies its files are
there. The caller commits only after this returns.
"""
import os
import shutil
import uuid
from pathlib import Path

from .config import RemoteConfig
from .dvc import listing_bytes, object_key, pointer_text
from .files import classify
from .hashing import md5_sha256
from .progress import start
from .remote import open_store


def dvc_cache_dir(root: Path) -> Path:
    return root / ".dvc" / "cache"


def add_and_push(root: Path, rel: str, files, remote: RemoteConfig, jobs: int | None = None,
                 progress=None) -> list[dict]:
    """Track `files` [(relpath, source path)] as the DVC folder `rel`; returns the artifact list."""
    cache = dvc_cache_dir(root)
    target = root / rel
    artifacts, listing, objects = [], [], {}
    with start(progress, "hash", sum(Path(src).stat().st_size for _, src in files)) as hashing:
        for relfile, src in files:
            size, md5, sha256 = ingest(cache, Path(src), hashing.update)
            link_or_copy(cache / object_key(md5), target / relfile)
            kind, fmt = classify(relfile)
            artifacts.append({"path": relfile, "artifact_type": kind, "format": fmt,
                              "size_bytes": size, "sha256": sha256})
            listing.append((relfile, md5))
            objects[object_key(md5)] = size
    dir_bytes, dir_md5 = listing_bytes(listing)
    _write_atomic(cache / object_key(dir_md5), dir_bytes, readonly=True)
    upload_missing(root, remote, objects, object_key(dir_md5), jobs, progress)
    pointer = pointer_text(dir_md5, sum(objects.values()), len(listing), posixname(rel))
    _write_atomic(root / (rel + ".dvc"), pointer.encode())
    return artifacts


def posixname(rel: str) -> str:
    return rel.rsplit("/", 1)[-1]


def ingest(cache: Path, src: Path, progress=None) -> tuple[int, str, str]:
    """Copy `src` into DVC's cache while hashing it; the object appears only by rename."""
    tmpdir = cache / "tmp-modelreg"
    tmpdir.mkdir(parents=True, exist_ok=True)
    tmp = tmpdir / uuid.uuid4().hex
    try:
        with open(tmp, "wb") as out:
            size, md5, sha256 = md5_sha256(src, copy_to=out, progress=progress)
        obj = cache / object_key(md5)
        if obj.exists() and obj.stat().st_size == size:
            return size, md5, sha256  # already cached (e.g. a re-run after an interruption)
        obj.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(tmp, 0o444)
        os.replace(tmp, obj)
        return size, md5, sha256
    finally:
        tmp.unlink(missing_ok=True)


def link_or_copy(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.unlink(missing_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


def _write_atomic(path: Path, data: bytes, readonly: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        tmp.write_bytes(data)
        if readonly:
            os.chmod(tmp, 0o444)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def upload_missing(root: Path, remote: RemoteConfig, objects: dict[str, int], dir_key: str,
                   jobs: int | None = None, progress=None) -> list[str]:
    """Upload the objects the remote lacks (or holds with a wrong size), the listing last."""
    store = open_store(remote, jobs=jobs)
    cache = dvc_cache_dir(root)
    try:
        store.check()
        sizes = store.sizes(list(objects) + [dir_key])
        todo = [k for k, size in objects.items() if sizes[k] != size]
        with start(progress, "upload", sum(objects[k] for k in todo)) as uploading:
            store.upload([(k, cache / k) for k in todo], on_done=lambda k: uploading.update(objects[k]))
        if todo or sizes[dir_key] is None:
            store.upload([(dir_key, cache / dir_key)])
            todo.append(dir_key)
        return todo
    finally:
        store.close()

