"""The only module that talks to S3 (boto3): a store over a DVC remote's layout in a bucket.

Downloads are parallel ranged GETs read in small chunks and handed over as they arrive, each
with its offset (the caller writes them in place and hashes behind); uploads are parallel multipart through one transfer manager. Every botocore
failure becomes one ExternalError line saying which problem it is and what to do.
"""
import logging
import os
import threading
from collections import deque
from concurrent.futures import ThreadPoolExecutor, wait

from ..core.errors import ExternalError, NotFound
from ..core.extras import missing_extra
from .config import RemoteConfig
from .dvc import LAYOUT

log = logging.getLogger(__name__)

PART = 16 << 20  # ranged-GET and multipart part size
CHUNK = 1 << 20  # bytes read from a body at a time: stays in the CPU cache until written
WINDOW = 4  # parts of one object held at once by stream() (memory: jobs x WINDOW x PART at worst)
BODY_TRIES = 3  # attempts at a ranged body whose connection breaks mid-way

_AUTH_CODES = {"InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "InvalidToken",
               "ExpiredToken", "InvalidClientTokenId", "AuthorizationHeaderMalformed", "403"}


class _Stopped(Exception):
    """A part abandoned because another part of the same download failed."""


def _body_errors() -> tuple:
    """What a broken body raises: botocore's and urllib3's read errors, and plain socket ones."""
    from botocore.exceptions import ReadTimeoutError, ResponseStreamingError
    from urllib3.exceptions import ProtocolError
    from urllib3.exceptions import ReadTimeoutError as Urllib3Timeout

    return (ResponseStreamingError, ReadTimeoutError, ProtocolError, Urllib3Timeout, ConnectionError)


def _jobs(jobs: int | None) -> int:
    return jobs or int(os.environ.get("MODELREG_JOBS", "0")) or 8


class S3Store:
    def __init__(self, config: RemoteConfig, jobs: int | None = None):
        self.config = config
        self.bucket = config.bucket
        self.prefix = config.prefix
        self.jobs = _jobs(jobs)
        self.where = f"s3://{self.bucket}/{self.prefix}".rstrip("/") + (
            f" at {config.endpoint_url}" if config.endpoint_url else "")
        self.client = _client(config, self.jobs)
        self._body_errors = _body_errors()
        self._pool = None
        self._pool_lock = threading.Lock()
        self._checked = False

    # -- errors ----------------------------------------------------------------------
    def error(self, exc: Exception, doing: str) -> ExternalError:
        return ExternalError(f"S3 {doing} on {self.where}: {_explain(exc, self.config)}")

    def check(self) -> None:
        """One HEAD on the bucket, so a bad key, bucket or endpoint fails before any work."""
        if self._checked:
            return
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except Exception as exc:
            if _code(exc) in ("404", "NoSuchBucket", "NotFound"):
                raise ExternalError(f"S3 bucket {self.bucket!r} does not exist on "
                                    f"{self.config.endpoint_url or 'AWS'}: create it or fix the remote",
                                    hint="remote_set_s3") from exc
            raise self.error(exc, "access check") from exc
        self._checked = True

    # -- keys ------------------------------------------------------------------------
    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def _pool_get(self) -> ThreadPoolExecutor:
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.jobs, thread_name_prefix="s3-part")
            return self._pool

    # -- reads -----------------------------------------------------------------------
    def size(self, key: str) -> int | None:
        self.check()
        try:
            return self.client.head_object(Bucket=self.bucket, Key=self._key(key))["ContentLength"]
        except Exception as exc:
            if _code(exc) in ("404", "NoSuchKey", "NotFound"):
                return None
            raise self.error(exc, f"HEAD {key}") from exc

    def sizes(self, keys: list[str]) -> dict[str, int | None]:
        self.check()
        return dict(zip(keys, self._pool_get().map(self.size, keys)))

    def read(self, key: str) -> bytes:
        self.check()
        try:
            return self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"].read()
        except Exception as exc:
            if _code(exc) in ("404", "NoSuchKey"):
                raise NotFound(f"{key} is missing from {self.where}; push the version again") from exc
            raise self.error(exc, f"GET {key}") from exc

    def _open_range(self, key: str, start: int, end: int):
        """The body of bytes [start, end) of an object, as a stream."""
        try:
            resp = self.client.get_object(Bucket=self.bucket, Key=self._key(key), Range=f"bytes={start}-{end - 1}")
            return resp["Body"]
        except Exception as exc:
            if _code(exc) in ("404", "NoSuchKey"):
                raise NotFound(f"{key} is missing from {self.where}; push the version again") from exc
            raise self.error(exc, f"GET {key}") from exc

    def _range(self, key: str, start: int, end: int) -> bytes:
        return b"".join(self._chunks(key, start, end))

    def _chunks(self, key: str, start: int, end: int, stop=None):
        """Bytes [start, end) in CHUNK pieces. A connection lost mid-body is picked up again
        where it broke (botocore retries failed requests, not broken bodies)."""
        offset, tries = start, 0
        while offset < end:
            body = self._open_range(key, offset, end)
            try:
                while offset < end:
                    if stop is not None and stop.is_set():
                        raise _Stopped()
                    chunk = body.read(min(CHUNK, end - offset))
                    if not chunk:
                        raise ExternalError(f"S3 sent {offset - start} of {end - start} bytes of {key} "
                                            f"range {start}-{end}; the object changed or is truncated: "
                                            "push the version again")
                    offset += len(chunk)
                    yield chunk
            except self._body_errors as exc:
                tries += 1
                if tries >= BODY_TRIES:
                    raise self.error(exc, f"GET {key}") from exc
                log.info("S3 GET %s broke at byte %d (%s); resuming", key, offset, exc)
            finally:
                body.close()

    def stream(self, key: str, start: int, size: int, write) -> None:
        """Bytes [start, size) of an object to write(chunk), in order, fetched as parallel ranges
        (each held whole until its turn: for hashing without a file, as verify --deep does)."""
        self.check()
        pool = self._pool_get()
        bounds = deque((o, min(o + PART, size)) for o in range(start, size, PART))
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

    def download(self, key: str, start: int, size: int, write_at) -> None:
        """Bytes [start, size) of an object handed to write_at(offset, chunk) as they arrive.

        All parts are fetched in parallel (the pool bounds how many at once) and each is read
        in CHUNK pieces, so nothing bigger than a chunk is held and the caller can write it
        while it is still in the CPU's cache. Chunks of different parts come in any order.
        Returns only once no part is running, so write_at is never called after it returns.
        """
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
        """(bytes, ETag), or (None, etag) when S3 answers 304 to If-None-Match: one small request
        and no body when nothing changed. No bucket check first: that would double each poll."""
        args = {"Bucket": self.bucket, "Key": self._key(key)}
        if etag:
            args["IfNoneMatch"] = etag
        try:
            resp = self.client.get_object(**args)
            return resp["Body"].read(), resp.get("ETag")
        except Exception as exc:
            code = _code(exc)
            if code in ("304", "NotModified"):
                return None, etag
            if code in ("404", "NoSuchKey"):
                raise NotFound(f"{key} is not on {self.where}") from exc
            raise self.error(exc, f"GET {key}") from exc

    def put(self, key: str, data: bytes) -> str | None:
        """Write one small object whole; its ETag."""
        try:
            resp = self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data,
                                          ContentType="application/json")
            return resp.get("ETag")
        except Exception as exc:
            raise self.error(exc, f"PUT {key}") from exc

    def list_objects(self, prefix: str = LAYOUT):
        self.check()
        paginator = self.client.get_paginator("list_objects_v2")
        strip = len(self.prefix) + 1 if self.prefix else 0
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self._key(prefix) + "/"):
                for obj in page.get("Contents", []):
                    yield obj["Key"][strip:], obj["Size"]
        except Exception as exc:
            raise self.error(exc, "list") from exc

    # -- writes ----------------------------------------------------------------------
    def upload(self, pairs, on_done=None) -> None:
        """Upload (key, path) pairs: parallel multipart, one transfer manager for all of them."""
        try:
            from boto3.s3.transfer import TransferConfig, create_transfer_manager
        except ImportError as exc:
            raise missing_extra("s3", f"uploading to {self.where}", ["boto3"]) from exc

        self.check()
        config = TransferConfig(multipart_threshold=PART, multipart_chunksize=PART,
                                max_concurrency=self.jobs, use_threads=True)
        manager = create_transfer_manager(self.client, config)
        futures = []
        try:
            futures += [(key, manager.upload(str(path), self.bucket, self._key(key))) for key, path in pairs]
            for key, fut in futures:
                try:
                    fut.result()
                except Exception as exc:
                    raise self.error(exc, f"upload of {key}") from exc
                if on_done:
                    on_done(key)
        except BaseException:
            # Cancelling aborts unfinished multipart uploads. Not manager.shutdown(cancel=True):
            # s3transfer 0.19 passes its arguments shifted there and fails with a TypeError.
            for _, fut in futures:
                fut.cancel()
            manager.shutdown()
            raise
        manager.shutdown()

    def delete(self, keys: list[str]) -> None:
        self.check()
        for i in range(0, len(keys), 1000):
            batch = [{"Key": self._key(k)} for k in keys[i:i + 1000]]
            try:
                resp = self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True})
            except Exception as exc:
                raise self.error(exc, "delete") from exc
            if resp.get("Errors"):
                err = resp["Errors"][0]
                raise ExternalError(f"S3 could not delete {err.get('Key')} on {self.where}: "
                                    f"{err.get('Code')} {err.get('Message')}")

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None


def _client(config: RemoteConfig, jobs: int):
    """A botocore S3 client (boto3 itself is not needed: importing it costs ~0.1 s more)."""
    try:
        import botocore.session
        from botocore.config import Config
    except ImportError as exc:
        raise missing_extra("s3", f"the remote {config.url} (on S3)", ["boto3"]) from exc

    kwargs = {}
    if config.access_key_id:
        kwargs = {"aws_access_key_id": config.access_key_id,
                  "aws_secret_access_key": config.secret_access_key,
                  "aws_session_token": config.session_token}
    botoconf = Config(max_pool_connections=max(16, jobs * 2), connect_timeout=5, read_timeout=60,
                      retries={"max_attempts": 3, "mode": "standard"},
                      s3={"addressing_style": "path"} if config.endpoint_url else None)
    try:
        session = _session(botocore.session, config.profile)
        return session.create_client("s3", endpoint_url=config.endpoint_url,
                                     region_name=config.region or session.get_config_variable("region") or "us-east-1",
                                     config=botoconf, **kwargs)
    except Exception as exc:
        raise ExternalError(f"cannot set up an S3 client for {config.url}: {_explain(exc, config)}") from exc


_LOADER = []  # botocore's data loader, shared by every session in the process
_LOADER_LOCK = threading.Lock()


def _session(sessions, profile: str | None):
    """A new botocore session (credentials are looked up afresh) that shares the data loader:
    parsing S3's service model costs ~80 ms the first time and ~0 once the loader holds it."""
    session = sessions.Session(profile=profile)
    with _LOADER_LOCK:
        if not _LOADER:
            _LOADER.append(session.get_component("data_loader"))
    session.register_component("data_loader", _LOADER[0])
    return session


def _code(exc: Exception) -> str:
    response = getattr(exc, "response", None) or {}
    return str((response.get("Error") or {}).get("Code", ""))


def _explain(exc: Exception, config: RemoteConfig) -> str:
    """One clause naming the problem and the fix."""
    from botocore import exceptions as bx

    code = _code(exc)
    if isinstance(exc, bx.NoCredentialsError):
        return ("no AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, an AWS profile, or "
                f"'dvc remote modify --local {config.name} access_key_id ...' (and secret_access_key)")
    if isinstance(exc, bx.ProfileNotFound):
        return f"AWS profile not found ({exc}); fix the profile name or ~/.aws/config"
    if code in _AUTH_CODES:
        return (f"credentials rejected ({code}, from {config.credential_source()}); check the access key and "
                "secret (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or .dvc/config.local) and the bucket policy")
    if code in ("NoSuchBucket",):
        return f"bucket {config.bucket!r} does not exist; create it or fix the remote URL"
    if isinstance(exc, (bx.EndpointConnectionError, bx.ConnectTimeoutError, bx.ConnectionClosedError,
                        bx.ReadTimeoutError)):
        return (f"cannot reach the endpoint {config.endpoint_url or 'AWS S3'} ({type(exc).__name__}); "
                "start the server or fix it with 'modelreg remote set URL --endpoint-url URL'")
    if isinstance(exc, bx.ClientError):
        return f"{code or 'error'}: {exc}"
    return f"{type(exc).__name__}: {exc}"
