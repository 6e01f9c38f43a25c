"""The DVC remote as modelreg sees it: its config (read without DVC) and a store over its layout.

A store exposes the few operations pull, push, verify and doctor need on the DVC 3 layout
`<remote>/files/md5/<2>/<30>[.dir]`: size of an object, read a small one, stream a big one
in order from an offset, upload, list and delete. S3 lives in s3.py (the only boto3 user);
a local-folder remote (the embedded default) is served here.
"""
import configparser
import os
import re
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

from ..errors import ExternalError, InvalidInput, NotFound

LAYOUT = "files/md5"
_MD5 = re.compile(r"[0-9a-f]{32}")
_CREDENTIAL_KEYS = ("access_key_id", "secret_access_key", "session_token")


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


def _section(parser: configparser.ConfigParser, name: str) -> dict:
    for section in (f"'remote \"{name}\"'", f"remote \"{name}\""):
        if parser.has_section(section):
            return dict(parser.items(section))
    return {}


def _parse(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(path)
    except configparser.Error as exc:
        raise InvalidInput(f"{path}: unreadable DVC config ({exc}); fix it by hand") from None
    return parser


def default_remote_name(root: Path) -> str | None:
    for name in ("config.local", "config"):
        parser = _parse(root / ".dvc" / name)
        if parser.has_option("core", "remote"):
            return parser.get("core", "remote")
    return None


def remote_config(root: Path, name: str) -> RemoteConfig:
    """The remote `name` from .dvc/config, with credentials only from .dvc/config.local.

    Credentials in the tracked config are ignored on purpose: `check` flags them, and using
    them would make leaking a key the easy path.
    """
    tracked = _section(_parse(root / ".dvc" / "config"), name)
    local = _section(_parse(root / ".dvc" / "config.local"), name)
    merged = {**{k: v for k, v in tracked.items() if k not in _CREDENTIAL_KEYS}, **local}
    url = merged.get("url")
    if not url:
        raise NotFound(f"no DVC remote named {name!r} in {root}/.dvc/config; "
                       "set one with 'modelreg remote set URL'")
    if "://" not in url and not os.path.isabs(url):
        url = str((root / ".dvc" / url).resolve())
    return RemoteConfig(name=name, url=url, endpoint_url=merged.get("endpointurl"),
                        region=merged.get("region"), profile=merged.get("profile"),
                        access_key_id=local.get("access_key_id"),
                        secret_access_key=local.get("secret_access_key"),
                        session_token=local.get("session_token"))


def object_key(md5: str) -> str:
    """`files/md5/ab/cdef…` for a file md5, or a folder's `…​.dir` md5."""
    base = md5[:-4] if md5.endswith(".dir") else md5
    if not _MD5.fullmatch(base):
        raise InvalidInput(f"not a DVC md5: {md5!r}")
    return f"{LAYOUT}/{md5[:2]}/{md5[2:]}"


def md5_of_key(key: str) -> str | None:
    """The md5 (with .dir) a layout key names, or None for anything else."""
    parts = key.split("/")
    if len(parts) != 4 or "/".join(parts[:2]) != LAYOUT:
        return None
    md5 = parts[2] + parts[3]
    return md5 if _MD5.fullmatch(md5[:-4] if md5.endswith(".dir") else md5) else None


def open_store(config: RemoteConfig, jobs: int | None = None):
    if config.is_s3:
        from .s3 import S3Store

        return S3Store(config, jobs=jobs)
    if "://" in config.url:
        raise InvalidInput(f"remote {config.name}: {config.url} is not supported; use s3:// or a local folder")
    return LocalStore(Path(config.url))


class LocalStore:
    """A DVC remote that is a folder (the embedded default)."""

    chunk = 8 << 20

    def __init__(self, root: Path):
        self.root = root
        self.where = str(root)

    def check(self) -> None:
        """Like DVC, create a missing remote folder; fail clearly if that is impossible."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ExternalError(f"could not push to the DVC remote folder {self.root}: {exc.strerror}; "
                                "fix the remote with 'modelreg remote set URL'") from None

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
        except FileNotFoundError:
            raise self._missing(key) from None

    def stream(self, key: str, start: int, size: int, write) -> None:
        """Call write(chunk) with bytes [start, size) of the object, in order."""
        try:
            with open(self.root / key, "rb") as fh:
                fh.seek(start)
                while chunk := fh.read(self.chunk):
                    write(chunk)
        except FileNotFoundError:
            raise self._missing(key) from None

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


def show_remote(registry) -> dict:
    """The remote `version create` and `pull` use, without secrets."""
    config = remote_config(registry.root, registry.settings.remote_name)
    info = {"name": config.name, "url": config.url, "endpoint_url": config.endpoint_url,
            "type": "s3" if config.is_s3 else "local"}
    if config.is_s3:
        info["credentials"] = config.credential_source()
    return info


def set_remote(registry, url: str, endpoint_url: str | None = None) -> dict:
    """Change the DVC remote's URL (and endpoint) in .dvc/config and commit that one file."""
    from . import dvc

    if endpoint_url and not url.startswith("s3://"):
        raise InvalidInput("--endpoint-url applies to an s3:// remote only")
    if url.startswith("s3://"):
        if not url[len("s3://"):].split("/", 1)[0]:
            raise InvalidInput(f"{url}: no bucket; use s3://BUCKET/PREFIX")
    elif "://" in url:
        raise InvalidInput(f"{url}: unsupported remote; use s3://BUCKET/PREFIX or a local folder")
    else:
        url = str(Path(url).expanduser().resolve())
    path = ".dvc/config"
    if registry.git.dirty_paths([path]):
        raise InvalidInput(f"uncommitted changes in {path}; commit or discard them first")
    dvc.set_remote(registry.root, registry.settings.remote_name, url, endpoint_url)
    registry.git.commit_paths([path], f"modelreg: set remote {registry.settings.remote_name} to {url}"
                              "\n\nModelreg-Action: remote.set")
    return show_remote(registry)
