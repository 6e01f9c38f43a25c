"""The local content-addressed cache of pulled weights ($MODELREG_CACHE or XDG cache/modelreg).

    objects/sha256/<2>/<62>   file bytes, read-only, named by their sha256
    meta/sha256/<2>/<62>      "size mtime_ns inode ctime_ns" noted when the object was put in
    dirs/<md5>.dir            verified DVC folder listings
    pulls/<sha256 of path>    the files a pull put in a folder it was given (artifacts/pull.py)
    partial/<sha256>          downloads in progress (kept for resume, locked while written)
    trees/<md5>               materialized version folders (hard links into objects/)

Objects only appear by atomic rename after their hash checked out. A later lookup trusts an
object whose size, mtime, inode and ctime still match what was noted; anything else is
re-hashed, and an object whose bytes changed (someone edited it, or a hard-linked copy of
it) is dropped. ctime cannot be set from user space, so an edit that restores the mtime
(`touch -d`, `os.utime`) still changes the stamp; only root changing the clock or the
disk behind the kernel's back gets past it.
"""
import fcntl
import hashlib
import logging
import os
from contextlib import contextmanager
from pathlib import Path

from ..core.errors import IntegrityError

log = logging.getLogger(__name__)

CHUNK = 8 << 20


def cache_root() -> Path:
    explicit = os.environ.get("MODELREG_CACHE")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "modelreg"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


class Cache:
    def __init__(self, root: Path | None = None):
        self.root = Path(root) if root else cache_root()

    def object_path(self, sha256: str) -> Path:
        return self.root / "objects" / "sha256" / sha256[:2] / sha256[2:]

    def _meta_path(self, sha256: str) -> Path:
        return self.root / "meta" / "sha256" / sha256[:2] / sha256[2:]

    def partial_path(self, sha256: str) -> Path:
        return self.root / "partial" / sha256

    def tree_path(self, dir_md5: str) -> Path:
        return self.root / "trees" / dir_md5.removesuffix(".dir")

    def pull_note(self, folder: Path) -> Path:
        """Where the files a pull put in `folder` are noted (keyed by its real path)."""
        key = hashlib.sha256(os.path.realpath(folder).encode()).hexdigest()
        return self.root / "pulls" / f"{key}.json"

    # -- objects -----------------------------------------------------------------------
    def lookup(self, sha256: str, size: int) -> Path | None:
        """The cached object if its bytes are still the ones put in, else None (dropping a bad one)."""
        path = self.object_path(sha256)
        try:
            st = path.stat()
        except FileNotFoundError:
            return None
        if self._stamp(st) == self._read_meta(sha256) and st.st_size == size:
            return path
        if st.st_size == size and sha256_file(path) == sha256:
            self._write_meta(sha256, path)  # e.g. a crash between rename and meta write
            return path
        log.warning("cache object %s was modified after it was stored; dropping it", path)
        self.discard(sha256)
        return None

    def discard(self, sha256: str) -> None:
        self.object_path(sha256).unlink(missing_ok=True)
        self._meta_path(sha256).unlink(missing_ok=True)

    def insert(self, sha256: str, tmp: Path) -> Path:
        """Move a verified temp file in: read-only, atomic rename, then its stamp."""
        path = self.object_path(sha256)
        path.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(tmp, 0o444)
        os.replace(tmp, path)
        self._write_meta(sha256, path)
        return path

    @staticmethod
    def _stamp(st) -> str:
        return f"{st.st_size} {st.st_mtime_ns} {st.st_ino} {st.st_ctime_ns}"

    def restamp(self, sha256: str, size: int) -> None:
        """Note a new stamp after modelreg itself changed the ctime (a hard link to the object),
        provided nothing else about the file changed since its stamp was noted."""
        path = self.object_path(sha256)
        try:
            st = path.stat()
        except FileNotFoundError:
            return
        noted = (self._read_meta(sha256) or "").split()
        if st.st_size == size and noted[:3] == self._stamp(st).split()[:3]:
            self._write_meta(sha256, path)

    def _read_meta(self, sha256: str) -> str | None:
        try:
            return self._meta_path(sha256).read_text().strip()
        except FileNotFoundError:
            return None

    def _write_meta(self, sha256: str, path: Path) -> None:
        meta = self._meta_path(sha256)
        meta.parent.mkdir(parents=True, exist_ok=True)
        tmp = meta.with_name(f"{meta.name}.{os.urandom(16).hex()}.tmp")
        tmp.write_text(self._stamp(path.stat()))
        os.replace(tmp, meta)

    @contextmanager
    def partial(self, sha256: str):
        """The locked partial download of an object: (file opened r+b, its path).

        Not opened for appending: chunks are written at their offsets (O_APPEND would make
        Linux ignore the offset of every pwrite).

        The lock makes a second process wait; when it gets the lock it re-checks that the path
        still names its file (the first may have renamed it into objects/ meanwhile).
        """
        path = self.partial_path(sha256)
        path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            fh = os.fdopen(os.open(path, os.O_RDWR | os.O_CREAT, 0o644), "r+b")
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                same = os.stat(path).st_ino == os.fstat(fh.fileno()).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            fh.close()
        try:
            yield fh, path
        finally:
            fh.close()

    # -- folder listings -------------------------------------------------------------
    def listing(self, dir_md5: str) -> bytes | None:
        path = self.root / "dirs" / dir_md5
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        if hashlib.md5(data).hexdigest() != dir_md5.removesuffix(".dir"):
            path.unlink(missing_ok=True)
            return None
        return data

    def put_listing(self, dir_md5: str, data: bytes) -> None:
        if hashlib.md5(data).hexdigest() != dir_md5.removesuffix(".dir"):
            raise IntegrityError(f"the remote's folder listing {dir_md5} does not match its md5; "
                                 "push the version again")
        path = self.root / "dirs" / dir_md5
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.urandom(16).hex()}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)
