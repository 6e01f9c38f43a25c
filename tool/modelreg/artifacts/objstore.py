"""The only module that talks to obstore (Rust's `object_store`): the weights data path on S3,
Google Cloud Storage and Azure Blob Storage, over a DVC remote's layout.

Same operations as the folder store (local.py). Downloads are ranged GETs, one per PART, all
parts of an object in flight at once (the pool bounds them), each read in ~CHUNK pieces and
handed over with its offset as it arrives (the caller writes it in place and hashes behind,
download.py); a body that breaks mid-way is asked again from the byte where it broke. Uploads
are obstore's multipart puts, PART-sized parts, several objects at once. Every obstore failure
becomes one ExternalError line saying which problem it is and what to do.

Why obstore: importing it and building a store takes ~20 ms where botocore takes ~0.2 s
(importing it and parsing S3's service model), which was most of a cold CLI pull's start-up.

boto3 (artifacts/s3.py) stays only where obstore cannot serve: AWS credentials that live in the
shared files (~/.aws/credentials or ~/.aws/config: a named `profile`, AWS_PROFILE, SSO).
object_store reads the AWS environment variables, web identity tokens and the container and
instance metadata services, not those files; for them botocore's chain supplies the keys
(s3.aws_profile_credentials), at botocore's start-up cost.
"""
import logging
import os
import threading
from collections import deque
from concurrent.futures import ThreadPoolExecutor, wait
from datetime import timedelta

from ..core.errors import ExternalError, IntegrityError, NotFound
from ..core.extras import missing_extra
from .config import RemoteConfig
from .dvc import LAYOUT

log = logging.getLogger(__name__)

PART = 16 << 20  # ranged-GET and multipart part size
CHUNK = 256 << 10  # smallest piece handed over: stays in the CPU cache until written (1 MiB: ~8% slower)
WINDOW = 4  # parts of one object held at once by stream()
BODY_TRIES = 3  # attempts at a ranged body whose connection breaks mid-way
PROBE = f"{LAYOUT}/.modelreg-probe"  # a key that never exists: GETting it tells bucket from key
# Objects up to this size go up in one request (Azure's Put Blob, which takes up to 5000 MiB),
# larger ones as PART-sized blocks (Put Block + Put Block List). 64 MiB is the Azure SDK's own
# max_single_put_size, so dvc-azure (adlfs) does the same; one request instead of N+1. On
# Azurite the gain is large: it checks each staged block with a CRC64 computed in JavaScript
# (~2.2 s of its CPU per 100 MB) where a Put Blob costs it ~0.8 s (an MD5). S3 and GCS keep
# multipart above PART. A single put is held whole in memory while it is sent (obstore's way).
SINGLE_PUT = {"azure": 64 << 20}

NAMES = {"s3": "S3", "gs": "GCS", "azure": "Azure"}


class _Stopped(Exception):
    """A part abandoned because another part of the same download failed."""


def _jobs(jobs: int | None) -> int:
    return jobs or int(os.environ.get("MODELREG_JOBS", "0")) or 8


class ObjStore:
    """A DVC remote on S3, GCS or Azure Blob Storage, as a store."""

    def __init__(self, config: RemoteConfig, jobs: int | None = None):
        try:
            import obstore
            from obstore import exceptions
        except ImportError as exc:
            raise missing_extra(config.kind, f"the remote {config.url}", ["obstore"]) from exc
        self._obs, self._exc = obstore, exceptions
        self.config = config
        self.kind = config.kind
        self.bucket, self.prefix = config.bucket, config.prefix
        self.jobs = _jobs(jobs)
        self.where = f"{config.url}".rstrip("/") + (f" at {config.endpoint_url}" if config.endpoint_url else "")
        self.store = _build(config, self.jobs)
        self._pool = None
        self._pool_lock = threading.Lock()
        self._checked = False

    # -- errors ----------------------------------------------------------------------
    def error(self, exc: Exception, doing: str) -> ExternalError:
        return ExternalError(f"{NAMES[self.kind]} {doing} on {self.where}: {_explain(exc, self.config)}")

    def check(self) -> None:
        """One GET of a key that is never there, so a bad key, bucket or endpoint fails before
        any work (the answer's error code tells a missing bucket from a missing key)."""
        if self._checked:
            return
        try:
            self._obs.get(self.store, PROBE).bytes()
        except FileNotFoundError as exc:
            if _bucket_missing(str(exc)):
                raise self._no_bucket() from exc
        except Exception as exc:
            if _bucket_missing(str(exc)):
                raise self._no_bucket() from exc
            raise self.error(exc, "access check") from exc
        self._checked = True

    def _no_bucket(self) -> ExternalError:
        what = {"s3": "S3 bucket", "gs": "GCS bucket", "azure": "Azure container"}[self.kind]
        return ExternalError(f"{what} {self.bucket!r} does not exist on "
                             f"{self.config.endpoint_url or NAMES[self.kind]}: create it or fix the remote",
                             hint="remote_set_s3")

    def _pool_get(self) -> ThreadPoolExecutor:
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.jobs, thread_name_prefix="obj-part")
            return self._pool

    # -- reads -----------------------------------------------------------------------
    def size(self, key: str) -> int | None:
        self.check()
        try:
            return self._obs.head(self.store, key)["size"]
        except FileNotFoundError:
            return None
        except Exception as exc:
            raise self.error(exc, f"HEAD {key}") from exc

    def sizes(self, keys: list[str]) -> dict[str, int | None]:
        self.check()
        return dict(zip(keys, self._pool_get().map(self.size, keys)))

    def read(self, key: str) -> bytes:
        self.check()
        try:
            return bytes(self._obs.get(self.store, key).bytes())
        except FileNotFoundError as exc:
            raise NotFound(f"{key} is missing from {self.where}; push the version again") from exc
        except Exception as exc:
            raise self.error(exc, f"GET {key}") from exc

    def _open_range(self, key: str, start: int, end: int):
        """Bytes [start, end) of an object as an iterator of chunks of about CHUNK bytes."""
        try:
            return iter(self._obs.get(self.store, key, options={"range": (start, end)}).stream(CHUNK))
        except self._exc.GenericError as exc:
            if any(m in str(exc) for m in (" 416 ", "Range Not Satisfiable", "but object was only")):
                raise self._short(key, start, 0, end - start) from exc
            raise self.error(exc, f"GET {key}") from exc
        except FileNotFoundError as exc:
            raise NotFound(f"{key} is missing from {self.where}; push the version again") from exc
        except Exception as exc:
            raise self.error(exc, f"GET {key}") from exc

    def _chunks(self, key: str, start: int, end: int, stop=None):
        """Bytes [start, end) in pieces. A connection lost mid-body is picked up again where it
        broke (obstore retries requests that fail, not bodies that break)."""
        offset, tries = start, 0
        while offset < end:
            body = self._open_range(key, offset, end)
            try:
                for chunk in body:
                    if stop is not None and stop.is_set():
                        raise _Stopped()
                    chunk = memoryview(chunk)[:end - offset]
                    offset += len(chunk)
                    yield chunk
            except self._exc.BaseError as exc:
                tries += 1
                if tries >= BODY_TRIES:
                    raise self.error(exc, f"GET {key}") from exc
                log.info("%s GET %s broke at byte %d (%s); resuming", NAMES[self.kind], key, offset,
                         _first_line(exc))
                continue
            if offset < end:
                raise self._short(key, start, offset - start, end - start)

    def _short(self, key: str, start: int, got: int, wanted: int) -> IntegrityError:
        return IntegrityError(f"{key} on {self.where} is shorter than recorded ({NAMES[self.kind]} sent {got} of "
                              f"{wanted} bytes from byte {start}); nothing was cached: push the version again")

    def stream(self, key: str, start: int, size: int, write) -> None:
        """Bytes [start, size) of an object to write(chunk), in order, fetched as parallel ranges
        (each held whole until its turn: for hashing without a file, as verify --deep does)."""
        self.check()
        pool = self._pool_get()
        bounds = deque((lo, min(lo + PART, size)) for lo in range(start, size, PART))
        pending = deque()
        try:
            while bounds or pending:
                while bounds and len(pending) < WINDOW:
                    lo, hi = bounds.popleft()
                    pending.append(pool.submit(self._range, key, lo, hi))
                write(pending.popleft().result())
        finally:
            for fut in pending:
                fut.cancel()

    def _range(self, key: str, start: int, end: int) -> bytes:
        return b"".join(self._chunks(key, start, end))

    def download(self, key: str, start: int, size: int, write_at) -> None:
        """Bytes [start, size) of an object handed to write_at(offset, chunk) as they arrive.

        All parts are asked for at once (the pool bounds how many run) and each is read in
        ~CHUNK pieces, so nothing bigger than a chunk is held. Chunks of different parts come
        in any order. Returns only once no part is running: write_at is never called after."""
        self.check()
        pool = self._pool_get()
        stop = threading.Event()

        def part(lo: int, hi: int) -> None:
            offset = lo
            for chunk in self._chunks(key, lo, hi, stop):
                write_at(offset, chunk)
                offset += len(chunk)

        futures = [pool.submit(part, lo, min(lo + PART, size)) for lo in range(start, size, PART)]
        try:
            for fut in futures:
                fut.result()
        except BaseException:
            stop.set()
            for fut in futures:
                fut.cancel()
            wait(futures)
            raise

    # -- one small object with a validator (the fleet's feed and deployment records) ---
    def get_if_changed(self, key: str, etag: str | None = None) -> tuple[bytes | None, str | None]:
        """(bytes, ETag), or (None, etag) when the store answers 304 to If-None-Match: one
        small request and no body when nothing changed. No bucket check first."""
        try:
            result = self._obs.get(self.store, key, options={"if_none_match": etag} if etag else None)
            return bytes(result.bytes()), result.meta.get("e_tag")
        except self._exc.NotModifiedError:
            return None, etag
        except FileNotFoundError as exc:
            raise NotFound(f"{key} is not on {self.where}") from exc
        except Exception as exc:
            raise self.error(exc, f"GET {key}") from exc

    def put(self, key: str, data: bytes) -> str | None:
        """Write one small object whole; its ETag."""
        try:
            return self._obs.put(self.store, key, data, use_multipart=False).get("e_tag")
        except Exception as exc:
            raise self.error(exc, f"PUT {key}") from exc

    def list_objects(self, prefix: str = LAYOUT):
        self.check()
        try:
            for batch in self._obs.list(self.store, prefix=prefix + "/"):
                for meta in batch:
                    yield meta["path"], meta["size"]
        except Exception as exc:
            raise self.error(exc, "list") from exc

    # -- writes ----------------------------------------------------------------------
    def upload(self, pairs, on_done=None) -> None:
        """Upload (key, path) pairs: multipart above PART (on Azure above SINGLE_PUT), several
        objects at once. On a failure the objects not yet started are not started; the error
        names the key."""
        self.check()
        pairs = list(pairs)
        if not pairs:
            return
        workers = min(self.jobs, len(pairs))
        per_object = max(2, self.jobs // workers)
        failed = threading.Event()

        def one(key: str, path) -> str:
            if failed.is_set():
                raise _Stopped()
            try:
                if os.path.getsize(path) <= SINGLE_PUT.get(self.kind, 0):
                    self._obs.put(self.store, key, path, use_multipart=False)
                else:
                    self._obs.put(self.store, key, path, chunk_size=PART, max_concurrency=per_object)
            except Exception as exc:
                failed.set()
                raise self.error(exc, f"upload of {key}") from exc
            return key

        pool = ThreadPoolExecutor(workers, thread_name_prefix="obj-put")
        futures, first = [], None
        try:
            futures.extend(pool.submit(one, key, path) for key, path in pairs)  # ^C may come while submitting
            for fut in futures:
                try:
                    key = fut.result()
                except _Stopped:
                    continue
                except Exception as exc:
                    failed.set()
                    first = first or exc
                    continue
                if on_done and first is None:
                    on_done(key)
        except BaseException:  # ^C while waiting: nothing more starts, and the puts in flight are not waited for
            failed.set()
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown()
        if first is not None:
            raise first

    def delete(self, keys: list[str]) -> None:
        self.check()
        for i in range(0, len(keys), 1000):
            try:
                self._obs.delete(self.store, keys[i:i + 1000])
            except FileNotFoundError:
                pass
            except Exception as exc:
                raise self.error(exc, "delete") from exc

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None


# -- building a store for each cloud, with that cloud's usual credentials ---------------
_RETRY = {"max_retries": 3, "retry_timeout": timedelta(seconds=60),
          "backoff": {"init_backoff": timedelta(milliseconds=100), "max_backoff": timedelta(seconds=5), "base": 2}}


def _client_options(config: RemoteConfig, jobs: int, endpoint: str | None) -> dict:
    options = {"connect_timeout": "5s", "read_timeout": "60s", "timeout": "600s",
               "pool_max_idle_per_host": str(max(16, jobs * 2))}
    if endpoint and endpoint.startswith("http://"):
        options["allow_http"] = True
    return options


def _build(config: RemoteConfig, jobs: int):
    from obstore import store as stores

    try:
        if config.kind == "s3":
            return _s3(stores, config, jobs)
        if config.kind == "gs":
            return _gcs(stores, config, jobs)
        return _azure(stores, config, jobs)
    except ExternalError:
        raise
    except Exception as exc:
        raise ExternalError(f"cannot set up a {NAMES[config.kind]} client for {config.url}: "
                            f"{_explain(exc, config)}") from exc


def _s3(stores, config: RemoteConfig, jobs: int):
    kwargs = {}
    if config.access_key_id:
        kwargs = {"access_key_id": config.access_key_id, "secret_access_key": config.secret_access_key}
        if config.session_token:
            kwargs["session_token"] = config.session_token
    provider = profile_region = None
    if not kwargs and _aws_files_needed(config):
        from .s3 import aws_profile_credentials

        provider, profile_region = aws_profile_credentials(config)
    elif not kwargs and not _aws_env_credentials() and os.environ.get("AWS_EC2_METADATA_DISABLED", "").lower() == "true":
        raise ExternalError(f"S3 on {config.url}: {_no_credentials(config)}")  # nothing left to ask
    if config.endpoint_url:
        kwargs.update(endpoint=config.endpoint_url, virtual_hosted_style_request=False)
    region = (config.region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
              or profile_region or "us-east-1")
    return stores.S3Store(config.bucket, prefix=config.prefix or None, region=region,
                          client_options=_client_options(config, jobs, config.endpoint_url),
                          retry_config=_RETRY, credential_provider=provider, **kwargs)


def _aws_env_credentials() -> bool:
    """Keys object_store finds itself: the environment, a web identity token, a container's."""
    return any(os.environ.get(v) for v in ("AWS_ACCESS_KEY_ID", "AWS_WEB_IDENTITY_TOKEN_FILE",
                                            "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                                            "AWS_CONTAINER_CREDENTIALS_FULL_URI"))


def _aws_files_needed(config: RemoteConfig) -> bool:
    """True when the keys can only come from ~/.aws (object_store does not read those files)."""
    if config.profile or os.environ.get("AWS_PROFILE"):
        return True
    if _aws_env_credentials():
        return False
    home = os.path.expanduser("~/.aws")
    files = (os.environ.get("AWS_SHARED_CREDENTIALS_FILE") or os.path.join(home, "credentials"),
             os.environ.get("AWS_CONFIG_FILE") or os.path.join(home, "config"))
    return any(os.path.exists(f) for f in files)


def _gcs(stores, config: RemoteConfig, jobs: int):
    """GOOGLE_APPLICATION_CREDENTIALS (or `credentialpath`) as object_store reads it; an
    emulator from `endpointurl` or STORAGE_EMULATOR_HOST (as gcsfs and Google's clients do),
    which takes no signature when no credentials are given."""
    kwargs = {}
    endpoint = config.endpoint_url or os.environ.get("STORAGE_EMULATOR_HOST")
    if endpoint and "://" not in endpoint:
        endpoint = f"http://{endpoint}"
    if config.credentialpath:
        kwargs["application_credentials"] = config.credentialpath
    elif not endpoint and not _google_credentials() and os.environ.get("NO_GCE_CHECK", "").lower() == "true":
        raise ExternalError(f"GCS on {config.url}: {_no_credentials(config)}")  # nothing left to ask
    provider = None
    if endpoint:
        kwargs["base_url"] = endpoint.rstrip("/")
        if not kwargs.get("application_credentials") and not os.environ.get("GOOGLE_APPLICATION_CREDENTIALS"):
            provider = _emulator_token  # else object_store asks the metadata server for a token
    return stores.GCSStore(config.bucket, prefix=config.prefix or None, credential_provider=provider,
                           client_options=_client_options(config, jobs, endpoint), retry_config=_RETRY, **kwargs)


def _google_credentials() -> bool:
    """Keys object_store finds itself: the environment, or gcloud's application default credentials.
    Without them it asks the GCE metadata server, unless NO_GCE_CHECK (google-auth's switch) says
    this is no Google Cloud machine."""
    if any(os.environ.get(v) for v in ("GOOGLE_APPLICATION_CREDENTIALS", "GOOGLE_SERVICE_ACCOUNT",
                                        "GOOGLE_SERVICE_ACCOUNT_PATH", "GOOGLE_SERVICE_ACCOUNT_KEY")):
        return True
    return os.path.exists(os.path.expanduser("~/.config/gcloud/application_default_credentials.json"))


def _emulator_token() -> dict:
    """An emulator takes any bearer token (none is signed: no key exists)."""
    return {"token": "emulator", "expires_at": None}


def _azure(stores, config: RemoteConfig, jobs: int):
    """A connection string (config.local `connection_string` or AZURE_STORAGE_CONNECTION_STRING),
    else an account name with a key or SAS token (config.local, or AZURE_STORAGE_ACCOUNT_NAME /
    AZURE_STORAGE_ACCOUNT_KEY, which object_store reads itself), else Azure's identity chain."""
    kwargs = {}
    conn = config.connection_string or os.environ.get("AZURE_STORAGE_CONNECTION_STRING")
    if conn:
        kwargs = connection_string_config(conn)
    if config.account_name:
        kwargs["account_name"] = config.account_name
    if config.account_key:
        kwargs["account_key"] = config.account_key
    if config.sas_token:
        kwargs["sas_key"] = config.sas_token.lstrip("?")
    endpoint = kwargs.get("endpoint")
    return stores.AzureStore(config.bucket, prefix=config.prefix or None,
                             client_options=_client_options(config, jobs, endpoint), retry_config=_RETRY, **kwargs)


def connection_string_config(conn: str) -> dict:
    """An Azure Storage connection string as object_store's Azure settings."""
    parts = dict(p.split("=", 1) for p in conn.strip().split(";") if "=" in p)
    if parts.get("UseDevelopmentStorage") == "true":
        return {"use_emulator": True}
    out = {}
    if "AccountName" in parts:
        out["account_name"] = parts["AccountName"]
    if "AccountKey" in parts:
        out["account_key"] = parts["AccountKey"]
    if "SharedAccessSignature" in parts:
        out["sas_key"] = parts["SharedAccessSignature"]
    if "BlobEndpoint" in parts:
        out["endpoint"] = parts["BlobEndpoint"].rstrip("/")
    elif "AccountName" in parts and parts.get("EndpointSuffix"):
        out["endpoint"] = (f"{parts.get('DefaultEndpointsProtocol', 'https')}://{parts['AccountName']}"
                           f".blob.{parts['EndpointSuffix']}")
    return out


# -- errors in the library's words ------------------------------------------------------
_MISSING_BUCKET = ("NoSuchBucket", "ContainerNotFound", "The specified bucket does not exist",
                   "bucket does not exist", "Bucket not found", "The specified container does not exist")


def _bucket_missing(message: str) -> bool:
    return any(m.lower() in message.lower() for m in _MISSING_BUCKET)


def _first_line(exc: Exception) -> str:
    return str(exc).split("\n", 1)[0][:300]


def _explain(exc: Exception, config: RemoteConfig) -> str:
    """One clause naming the problem and the fix."""
    from obstore import exceptions as ox

    text = str(exc)
    if "token request" in text or "169.254.169.254" in text:  # the metadata service, the chain's last resort
        return _no_credentials(config)
    if isinstance(exc, (ox.PermissionDeniedError, ox.UnauthenticatedError)) or " 403 " in text or " 401 " in text:
        return f"credentials rejected (from {config.credential_source()}); {_credential_fix(config)}"
    if _bucket_missing(text):
        return f"{'container' if config.kind == 'azure' else 'bucket'} {config.bucket!r} does not exist; " \
               "create it or fix the remote URL"
    lowered = text.lower()
    if config.kind == "s3" and ("permanentredirect" in lowered or " 301 " in text):
        return (f"bucket {config.bucket!r} is in another region than {config.region or 'the one assumed'}: set "
                f"AWS_REGION or 'dvc remote modify {config.name} region REGION'")
    if any(m in lowered for m in ("error sending request", "connection refused", "tcp connect", "dns error",
                                  "connection reset", "timed out", "operation timed out")):
        return (f"cannot reach the endpoint {config.endpoint_url or NAMES[config.kind]} ({_first_line(exc)}); "
                "start the server or fix it with 'modelreg remote set URL --endpoint-url URL'")
    if "credential" in lowered or "missing" in lowered and "key" in lowered:
        return f"no usable credentials ({_first_line(exc)}); {_credential_fix(config)}"
    return f"{type(exc).__name__}: {_first_line(exc)}"


def _no_credentials(config: RemoteConfig) -> str:
    if config.kind == "s3":
        return ("no AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, an AWS profile, or "
                f"'dvc remote modify --local {config.name} access_key_id ...' (and secret_access_key)")
    if config.kind == "gs":
        return ("no Google credentials found: set GOOGLE_APPLICATION_CREDENTIALS to a service account's JSON file, "
                f"or 'dvc remote modify --local {config.name} credentialpath FILE'")
    return ("no Azure credentials found: set AZURE_STORAGE_CONNECTION_STRING (or AZURE_STORAGE_ACCOUNT_NAME and "
            f"AZURE_STORAGE_ACCOUNT_KEY), or 'dvc remote modify --local {config.name} connection_string ...'")


def _credential_fix(config: RemoteConfig) -> str:
    if config.kind == "s3":
        return ("check the access key and secret (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or .dvc/config.local) "
                "and the bucket policy")
    if config.kind == "gs":
        return "check GOOGLE_APPLICATION_CREDENTIALS (or `credentialpath` in .dvc/config.local) and the bucket's IAM"
    return ("check AZURE_STORAGE_CONNECTION_STRING (or AZURE_STORAGE_ACCOUNT_NAME and AZURE_STORAGE_ACCOUNT_KEY, "
            "or connection_string / account_key in .dvc/config.local)")
