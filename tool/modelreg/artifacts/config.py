"""The DVC remote's configuration, read without DVC: which remote, where, with which credentials.

`remote_config` reads a remote section from a `.dvc/config` (at a commit: the registry's
truth) and credentials only from the clone's untracked `.dvc/config.local`. `worktree_config`
is the same for the working tree (what `version create` pushes to).
"""
import os
from pathlib import Path

from ..core.errors import InvalidInput, NotFound
from ..core.values import value
from .dvc import remote_section


@value
class RemoteConfig:
    name: str
    url: str
    endpoint_url: str | None = None
    region: str | None = None
    profile: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = None
    session_token: str | None = None
    # Google Cloud Storage: a service account's JSON file (DVC's `credentialpath`)
    credentialpath: str | None = None
    # Azure Blob Storage (DVC's names): a connection string, or an account with a key or SAS token
    connection_string: str | None = None
    account_name: str | None = None
    account_key: str | None = None
    sas_token: str | None = None

    @property
    def kind(self) -> str:
        """s3, gs, azure (an object store, opened by objstore.py) or local (a folder)."""
        return cloud_kind(self.url) or "local"

    @property
    def is_s3(self) -> bool:
        return self.kind == "s3"

    @property
    def is_cloud(self) -> bool:
        return self.kind != "local"

    @property
    def bucket(self) -> str:
        """The S3 or GCS bucket, or the Azure container."""
        return self.url.split("://", 1)[1].split("/", 1)[0]

    @property
    def prefix(self) -> str:
        rest = self.url.split("://", 1)[1].split("/", 1)
        return rest[1].strip("/") if len(rest) > 1 else ""

    def credential_source(self) -> str:
        """Where credentials come from, for `remote show` (never the secrets themselves)."""
        if self.kind == "gs":
            return _gcs_credential_source(self)
        if self.kind == "azure":
            return _azure_credential_source(self)
        if self.access_key_id:
            return ".dvc/config.local"
        if self.profile:
            return f"AWS profile {self.profile}"
        if os.environ.get("AWS_ACCESS_KEY_ID"):
            return "environment (AWS_ACCESS_KEY_ID)"
        if os.environ.get("AWS_PROFILE"):
            return f"AWS profile {os.environ['AWS_PROFILE']}"
        return "AWS default chain (~/.aws/credentials, instance role)"


# DVC's schemes for each object store (az:// is adlfs's short form of azure://)
SCHEMES = {"s3": "s3", "gs": "gs", "gcs": "gs", "azure": "azure", "az": "azure"}


def cloud_kind(url: str) -> str | None:
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    return SCHEMES.get(scheme)


def _gcs_credential_source(config: RemoteConfig) -> str:
    if config.credentialpath:
        return ".dvc/config.local (credentialpath)"
    if os.environ.get("GOOGLE_APPLICATION_CREDENTIALS"):
        return "environment (GOOGLE_APPLICATION_CREDENTIALS)"
    if config.endpoint_url or os.environ.get("STORAGE_EMULATOR_HOST"):
        return "none (an emulator endpoint, unsigned requests)"
    return "Google default chain (gcloud application-default credentials, metadata server)"


def _azure_credential_source(config: RemoteConfig) -> str:
    if config.connection_string or config.account_key or config.sas_token:
        return ".dvc/config.local"
    if os.environ.get("AZURE_STORAGE_CONNECTION_STRING"):
        return "environment (AZURE_STORAGE_CONNECTION_STRING)"
    if os.environ.get("AZURE_STORAGE_ACCOUNT_KEY"):
        return "environment (AZURE_STORAGE_ACCOUNT_NAME, AZURE_STORAGE_ACCOUNT_KEY)"
    return "Azure default chain (AZURE_CLIENT_ID/SECRET, managed identity, az login)"


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
                        session_token=merged.get("session_token"),
                        credentialpath=merged.get("credentialpath"),
                        connection_string=merged.get("connection_string"),
                        account_name=merged.get("account_name"), account_key=merged.get("account_key"),
                        sas_token=merged.get("sas_token"))


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
            "type": config.kind}
    if config.is_cloud:
        info["credentials"] = config.credential_source()
    return info


def checked_url(url: str, endpoint_url: str | None = None) -> str:
    """A remote URL `remote set` accepts: s3://, gs:// or azure:// (az://) BUCKET/PREFIX, or a folder
    made absolute; az:// is written as DVC's azure://. Neither it
    nor the endpoint may carry a credential: .dvc/config is tracked, so it would be committed."""
    from ..core.urls import redact_url

    for given in (url, endpoint_url):
        if given and redact_url(given) != given:
            raise InvalidInput(f"{redact_url(given)}: the URL carries a credential, which would be committed in "
                               ".dvc/config; give it through the environment or .dvc/config.local instead")
    kind = cloud_kind(url)
    if endpoint_url and kind not in ("s3", "gs"):
        raise InvalidInput("an endpoint URL applies to an s3:// or gs:// remote only", hint="endpoint")
    if kind:
        scheme, rest = url.split("://", 1)
        if not rest.split("/", 1)[0]:
            raise InvalidInput(f"{url}: no {'container' if kind == 'azure' else 'bucket'}; use {kind}://BUCKET/PREFIX")
        return f"{kind}://{rest}"
    if "://" in url:
        raise InvalidInput(f"{url}: unsupported remote; use s3://, gs:// or azure:// BUCKET/PREFIX, or a local folder")
    return str(Path(url).expanduser().resolve())
