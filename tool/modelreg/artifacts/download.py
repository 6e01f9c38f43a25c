"""One object from the store into the cache: written where its bytes belong as they arrive,
hashed in order behind the writes, renamed into the cache only when the hash matches.

Why this shape: the store fetches parts of a big object in parallel and hands over small
chunks in whatever order they come (see ObjStore.download). Each chunk is written at its
offset at once, while it is still in the CPU's cache, and no part is ever held whole in
memory. A follower thread reads back, from the page cache, the prefix that is complete
and hashes it, so the sha256 is ready a moment after the last byte lands.

Resume: after a failure the partial file is cut back to its complete prefix, which the
next pull hashes and continues from. After a hard kill there may be holes; the prefix
before the first hole is trusted, and if the end result still does not match, the object
is fetched once more from the start before anything is reported.
"""
import hashlib
import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor

from ..core.errors import IntegrityError
from .cache import Cache
from .dvc import object_key

log = logging.getLogger(__name__)

CHUNK = 1 << 20  # bytes hashed per read-back; resume points are rounded down to it

# Followers wait on a condition while their object downloads: one thread per object in flight.
_FOLLOWERS = ThreadPoolExecutor(8, thread_name_prefix="pull-hash")


class _Follower:
    """The sha256 of a file whose chunks land at any offset: hashes the complete prefix as it grows."""

    def __init__(self, fd: int, size: int):
        self.fd, self.size = fd, size
        self.digest = hashlib.sha256()
        self.cond = threading.Condition()
        self.ends: dict[int, int] = {}  # start -> end of chunks written beyond the prefix
        self.water = 0  # bytes [0, water) are all written
        self.hashed = 0
        self.closed = False

    def written(self, offset: int, n: int) -> None:
        with self.cond:
            self.ends[offset] = offset + n
            while self.water in self.ends:
                self.water = self.ends.pop(self.water)
            self.cond.notify()

    def close(self) -> None:
        """No more writes are coming (the download ended, well or not)."""
        with self.cond:
            self.closed = True
            self.cond.notify()

    def run(self) -> None:
        buf = memoryview(bytearray(CHUNK))
        while True:
            with self.cond:
                while self.water <= self.hashed and not self.closed:
                    self.cond.wait()
                upto = self.water
            if upto <= self.hashed:
                return
            while self.hashed < upto:
                n = os.preadv(self.fd, [buf[:min(CHUNK, upto - self.hashed)]], self.hashed)
                if n <= 0:
                    return
                self.digest.update(buf[:n])
                self.hashed += n


def fetch_object(store, cache: Cache, entry, progress=lambda n: None):
    """Stream one object into the cache, resuming a partial download; verify before the rename."""
    with cache.partial(entry.sha256) as (fh, path):
        hit = cache.lookup(entry.sha256, entry.size)
        if hit:  # another process finished it while we waited for the lock
            return hit
        fd = fh.fileno()
        have = _resume_point(fd, entry.size)
        got, size = _download(store, fd, entry, have, progress)
        if (got, size) != (entry.sha256, entry.size) and have:
            log.warning("%s: the resumed download did not verify; fetching it again from the start",
                        entry.relpath)
            os.ftruncate(fd, 0)
            got, size = _download(store, fd, entry, 0, progress)
        if (got, size) != (entry.sha256, entry.size):
            path.unlink(missing_ok=True)
            raise IntegrityError(
                f"{entry.relpath}: sha256 mismatch: expected {entry.sha256}, got {got} ({size} bytes, "
                f"remote object {object_key(entry.md5)}); nothing was cached: repair the object "
                "(push the version again) and retry")
        return cache.insert(entry.sha256, path)


def _download(store, fd: int, entry, have: int, progress) -> tuple[str, int]:
    """Bytes [have, size) from the store into fd; returns (sha256 of the file, its size)."""
    follower = _Follower(fd, entry.size)
    follower.written(0, have)
    hashing = _FOLLOWERS.submit(follower.run)
    progress(have)

    def write_at(offset: int, chunk) -> None:
        view = memoryview(chunk)
        while view:  # pwrite may write less than asked
            n = os.pwrite(fd, view, offset)
            view, offset = view[n:], offset + n
        follower.written(offset - len(chunk), len(chunk))
        progress(len(chunk))

    try:
        if have < entry.size:
            store.download(object_key(entry.md5), have, entry.size, write_at)
    except BaseException:
        follower.close()
        hashing.result()
        os.ftruncate(fd, follower.water)  # keep only the complete prefix, for the next resume
        raise
    follower.close()
    hashing.result()
    size = os.fstat(fd).st_size
    if follower.water != size:  # a hole: the store sent less than the object's size
        return "", follower.water
    return follower.digest.hexdigest(), size


def _resume_point(fd: int, size: int) -> int:
    """How many leading bytes of a partial download to keep.

    A clean failure leaves exactly the complete prefix. A hard kill can leave holes where
    parts were still coming: keep what precedes the first hole, rounded down to a chunk.
    Whatever is kept is hashed again and the result verified, so a wrong guess costs a
    re-download, never a bad object."""
    have = os.fstat(fd).st_size
    if have > size:
        have = 0
    elif have:
        try:
            hole = os.lseek(fd, 0, os.SEEK_HOLE)
        except OSError:  # a filesystem without hole reporting: trust nothing
            hole = 0
        if hole < have:
            have = hole - hole % CHUNK
    if have != os.fstat(fd).st_size:
        os.ftruncate(fd, have)
    if have:
        log.info("resuming at %d of %d bytes", have, size)
    return have
