"""The DVC remote as modelreg sees it: its config (read without DVC) and a store over its layout.

A store exposes the few operations pull, push, verify and doctor need on the DVC 3 layout
`<remote>/files/md5/<2>/<30>[.dir]`: size of an object, read a small one, stream a big one
in order, download one in chunks handed over with their offsets, upload, list and delete.
S3 lives in s3.py (the only boto3 user); a local-folder remote (the embedded default) is
served here.
"""
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

from ..core.errors import ExternalError, InvalidInput, NotFound
from .dvc import LAYOUT, md5_of_key, object_key, remote_section  # noqa: F401  (the store's layout)


@dataclass(frozen=True)
class RemoteConfig:
    name: str
    url: str
    endpoint_url: str | None = None
    region: str | None = None
    profile: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = None
    session_token: str | None = None

    @property
    def is_s3(self) -> bool:
        return self.url.startswith("s3://")

    @property
    def bucket(self) -> str:
        return self.url[len("s3://"):].split("/", 1)[0]

    @property
    def prefix(self) -> str:
        rest = self.url[len("s3://"):].split("/", 1)
        return rest[1].strip("/") if len(rest) > 1 else ""

    def credential_source(self) -> str:
        """Where credentials come from, for `remote show` (never the secrets themselves)."""
        if self.access_key_id:
            return ".dvc/config.local"
        if self.profile:
            return f"AWS profile {self.profile}"
        if os.environ.get("AWS_ACCESS_KEY_ID"):
            return "environment (AWS_ACCESS_KEY_ID)"
        if os.environ.get("AWS_PROFILE"):
            return f"AWS profile {os.environ['AWS_PROFILE']}"
        return "AWS default chain (~/.aws/credentials, instance role)"


def remote_config(name: str, tracked: bytes | None, local: bytes | None, base: Path) -> RemoteConfig:
    """Remote `name` from a .dvc/config's bytes, with credentials only from config.local's.

    Credentials in the tracked config are ignored on purpose: `check` flags them, and using
    them would make leaking a key the easy path. A relative folder remote is taken relative
    to `base`/.dvc, as DVC does.
    """
    merged = {**remote_section(tracked, name, ".dvc/config", credentials=False),
              **remote_section(local, name, ".dvc/config.local", credentials=True)}
    url = merged.get("url")
    if not url:
        raise NotFound(f"no DVC remote named {name!r} in .dvc/config; set one with 'modelreg remote set URL'")
    if "://" not in url and not os.path.isabs(url):
        url = str((base / ".dvc" / url).resolve())
    return RemoteConfig(name=name, url=url, endpoint_url=merged.get("endpointurl"),
                        region=merged.get("region"), profile=merged.get("profile"),
                        access_key_id=merged.get("access_key_id"),
                        secret_access_key=merged.get("secret_access_key"),
                        session_token=merged.get("session_token"))


def local_config_bytes(root: Path) -> bytes | None:
    """.dvc/config.local of a working tree (credentials live there, never in Git)."""
    try:
        return (root / ".dvc" / "config.local").read_bytes()
    except FileNotFoundError:
        return None


def worktree_config(root: Path, name: str) -> RemoteConfig:
    """The remote as the working tree has it: what `version create` pushes to."""
    try:
        tracked = (root / ".dvc" / "config").read_bytes()
    except FileNotFoundError:
        tracked = None
    return remote_config(name, tracked, local_config_bytes(root), root)


def open_store(config: RemoteConfig, jobs: int | None = None):
    if config.is_s3:
        from .s3 import S3Store

        return S3Store(config, jobs=jobs)
    if "://" in config.url:
        raise InvalidInput(f"remote {config.name}: {config.url} is not supported; use s3:// or a local folder")
    return LocalStore(Path(config.url))


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
                                "fix the remote with 'modelreg remote set URL'") from exc

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
                            "remote: 'modelreg remote set s3://BUCKET/PREFIX', then push from there")
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


def show_remote(config: RemoteConfig) -> dict:
    """What `remote show` prints about a remote, without secrets."""
    info = {"name": config.name, "url": config.url, "endpoint_url": config.endpoint_url,
            "type": "s3" if config.is_s3 else "local"}
    if config.is_s3:
        info["credentials"] = config.credential_source()
    return info


def checked_url(url: str, endpoint_url: str | None = None) -> str:
    """A remote URL `remote set` accepts: s3://BUCKET/PREFIX, or a folder made absolute."""
    if endpoint_url and not url.startswith("s3://"):
        raise InvalidInput("--endpoint-url applies to an s3:// remote only")
    if url.startswith("s3://"):
        if not url[len("s3://"):].split("/", 1)[0]:
            raise InvalidInput(f"{url}: no bucket; use s3://BUCKET/PREFIX")
        return url
    if "://" in url:
        raise InvalidInput(f"{url}: unsupported remote; use s3://BUCKET/PREFIX or a local folder")
    return str(Path(url).expanduser().resolve())
