"""A DVC remote that is a folder on this machine (the embedded default), as a store.

Same operations as the S3 store (s3.py) over the DVC 3 layout `files/md5/<2>/<30>[.dir]`.
"""
import os
import shutil
import uuid
from pathlib import Path

from ..core.errors import ExternalError, NotFound
from .dvc import LAYOUT


class LocalStore:
    """A DVC remote that is a folder (the embedded default)."""

    chunk = 1 << 20  # small enough to stay in the CPU cache between read, write and hash

    def __init__(self, root: Path):
        self.root = root
        self.where = str(root)

    def check(self) -> None:
        """Like DVC, create a missing remote folder; fail clearly if that is impossible."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ExternalError(f"could not push to the DVC remote folder {self.root}: {exc.strerror}; "
                                "fix the remote", hint="remote_set") from exc

    def size(self, key: str) -> int | None:
        try:
            return (self.root / key).stat().st_size
        except FileNotFoundError:
            return None

    def sizes(self, keys: list[str]) -> dict[str, int | None]:
        return {k: self.size(k) for k in keys}

    def read(self, key: str) -> bytes:
        try:
            return (self.root / key).read_bytes()
        except FileNotFoundError as exc:
            raise self._missing(key) from exc

    def stream(self, key: str, start: int, size: int, write) -> None:
        """Call write(chunk) with bytes [start, size) of the object, in order."""
        self.download(key, start, size, lambda _offset, chunk: write(chunk))

    def download(self, key: str, start: int, size: int, write_at) -> None:
        """Call write_at(offset, chunk) with bytes [start, ...) of the object, in order. Reads
        to the end of the file: a longer object than recorded shows up as a size mismatch."""
        try:
            with open(self.root / key, "rb") as fh:
                fh.seek(start)
                offset = start
                while chunk := fh.read(self.chunk):
                    write_at(offset, chunk)
                    offset += len(chunk)
        except FileNotFoundError as exc:
            raise self._missing(key) from exc

    def _missing(self, key: str) -> NotFound:
        if not self.root.is_dir():
            # The embedded default is a folder on the machine that pushed; a teammate's
            # clone has the path in .dvc/config but not the folder.
            return NotFound(f"the DVC remote {self.root} is a local folder that does not exist on "
                            "this machine: it is on the machine that pushed the weights. Use a shared "
                            "remote (S3), then push from there", hint="remote_set_s3")
        return NotFound(f"{key} is missing from the remote {self.root}; push it again")

    def upload(self, pairs: list[tuple[str, Path]], on_done=None) -> None:
        for key, path in pairs:
            dst = self.root / key
            dst.parent.mkdir(parents=True, exist_ok=True)
            tmp = dst.with_name(f"{dst.name}.{uuid.uuid4().hex}.tmp")
            try:
                shutil.copyfile(path, tmp)
                os.replace(tmp, dst)
            finally:
                tmp.unlink(missing_ok=True)
            if on_done:
                on_done(key)

    # -- one small object with a validator (the fleet's feed and deployment records) ---
    def get_if_changed(self, key: str, etag: str | None = None) -> tuple[bytes | None, str]:
        """(bytes, tag), or (None, etag) when the object is unchanged since `etag`: one stat. The
        tag is inode, mtime and size: a writer replaces the file (put), so any change moves it."""
        path = self.root / key
        try:
            tag = _tag(path.stat())
            if tag == etag:
                return None, tag
            with open(path, "rb") as fh:
                data = fh.read()
                return data, _tag(os.fstat(fh.fileno()))
        except FileNotFoundError as exc:
            raise NotFound(f"{key} is not on the remote {self.root}") from exc

    def put(self, key: str, data: bytes) -> str:
        """Write one small object whole (readers see the old bytes or the new, never a part)."""
        dst = self.root / key
        try:
            dst.parent.mkdir(parents=True, exist_ok=True)
            tmp = dst.with_name(f"{dst.name}.{uuid.uuid4().hex}.tmp")
            tmp.write_bytes(data)
            os.replace(tmp, dst)
            return _tag(dst.stat())
        except OSError as exc:
            raise ExternalError(f"could not write {key} to the remote folder {self.root}: {exc.strerror}") from exc

    def list_objects(self, prefix: str = LAYOUT):
        base = self.root / prefix
        for dirpath, _, names in os.walk(base):
            for name in names:
                full = Path(dirpath, name)
                yield full.relative_to(self.root).as_posix(), full.stat().st_size

    def delete(self, keys: list[str]) -> None:
        for key in keys:
            (self.root / key).unlink(missing_ok=True)

    def close(self) -> None:
        pass


def _tag(st) -> str:
    return f"{st.st_ino:x}-{st.st_mtime_ns:x}-{st.st_size:x}"
