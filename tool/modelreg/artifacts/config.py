"""The DVC remote's configuration, read without DVC: which remote, where, with which credentials.

`remote_config` reads a remote section from a `.dvc/config` (at a commit: the registry's
truth) and credentials only from the clone's untracked `.dvc/config.local`. `worktree_config`
is the same for the working tree (what `version create` pushes to).
"""
import os
from dataclasses import dataclass
from pathlib import Path

from ..core.errors import InvalidInput, NotFound
from .dvc import remote_section


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
        raise NotFound(f"no DVC remote named {name!r} in .dvc/config; set one first", hint="remote_set")
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


def show_remote(config: RemoteConfig) -> dict:
    """What `remote show` prints about a remote, without secrets."""
    info = {"name": config.name, "url": config.url, "endpoint_url": config.endpoint_url,
            "type": "s3" if config.is_s3 else "local"}
    if config.is_s3:
        info["credentials"] = config.credential_source()
    return info


def checked_url(url: str, endpoint_url: str | None = None) -> str:
    """A remote URL `remote set` accepts: s3://BUCKET/PREFIX, or a folder made absolute. Neither it
    nor the endpoint may carry a credential: .dvc/config is tracked, so it would be committed."""
    from ..core.urls import redact_url

    for given in (url, endpoint_url):
        if given and redact_url(given) != given:
            raise InvalidInput(f"{redact_url(given)}: the URL carries a credential, which would be committed in "
                               ".dvc/config; give it through the environment or .dvc/config.local instead")
    if endpoint_url and not url.startswith("s3://"):
        raise InvalidInput("an endpoint URL applies to an s3:// remote only", hint="endpoint")
    if url.startswith("s3://"):
        if not url[len("s3://"):].split("/", 1)[0]:
            raise InvalidInput(f"{url}: no bucket; use s3://BUCKET/PREFIX")
        return url
    if "://" in url:
        raise InvalidInput(f"{url}: unsupported remote; use s3://BUCKET/PREFIX or a local folder")
    return str(Path(url).expanduser().resolve())
