"""One read of a file giving md5 (DVC's key) and sha256 (the record's), at md5-alone speed.

hashlib releases the GIL on large buffers, so sha256, the optional copy write and the next
read run in helper threads while md5 — the slower digest — runs in the caller's thread.
"""
import hashlib
from concurrent.futures import ThreadPoolExecutor

CHUNK = 8 << 20

_POOL = ThreadPoolExecutor(3, thread_name_prefix="hash")


def md5_sha256(path, copy_to=None, progress=None) -> tuple[int, str, str]:
    """(size, md5, sha256) of `path`; with copy_to (an open binary file), its bytes are written there.

    `progress(n)` is called after each chunk of n bytes."""
    md5, sha = hashlib.md5(), hashlib.sha256()
    size = 0
    with open(path, "rb", buffering=0) as fh:
        ahead = _POOL.submit(fh.read, CHUNK)
        while chunk := ahead.result():
            ahead = _POOL.submit(fh.read, CHUNK)
            side = [_POOL.submit(sha.update, chunk)]
            if copy_to is not None:
                side.append(_POOL.submit(copy_to.write, chunk))
            md5.update(chunk)
            size += len(chunk)
            for fut in side:
                fut.result()
            if progress:
                progress(len(chunk))
    return size, md5.hexdigest(), sha.hexdigest()


def md5_only(path) -> str:
    md5 = hashlib.md5()
    with open(path, "rb", buffering=0) as fh:
        while chunk := fh.read(CHUNK):
            md5.update(chunk)
    return md5.hexdigest()
