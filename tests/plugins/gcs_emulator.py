"""A Google Cloud Storage endpoint for the suite: gcp-storage-emulator (PyPI) on loopback, with
the XML API calls it lacks added here.

Why this emulator: fake-gcs-server needs a newer Go than Debian gives this machine (1.19), and
neither emulator implements GCS's XML API in full. gcp-storage-emulator serves the JSON API (what
gcsfs, so dvc-gs, uses) and XML GET and PUT; obstore (Rust object_store) also sends XML HEAD,
DELETE and multipart uploads. Those are added below, as GCS documents them
(cloud.google.com/storage/docs/xml-api, multipart uploads): initiate answers an UploadId, each
part an ETag, complete joins the parts. The server runs in a child process (`python -m
tests.plugins.gcs_emulator PORT DIR`) in its own process group, so a test can stop it mid-pull.

Credentials: none (an emulator); clients find it through STORAGE_EMULATOR_HOST, as Google's
libraries and gcsfs do, and modelreg through the remote's `endpointurl` or that variable.
"""
import hashlib
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from .ports import claim_block

ROOT = Path(__file__).resolve().parents[2]


def emulator_available() -> bool:
    from importlib.util import find_spec

    return find_spec("gcp_storage_emulator") is not None


@dataclass
class GCSEmulator:
    binary: str  # the Python that runs it
    data: Path
    port: int = 0
    proc: subprocess.Popen | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> None:
        self.data.mkdir(parents=True, exist_ok=True)
        self.port = self.port or claim_block(1)
        log = open(self.data / "gcs.log", "ab")
        self.proc = subprocess.Popen([self.binary, "-m", "tests.plugins.gcs_emulator", str(self.port), str(self.data)],
                                     stdout=log, stderr=subprocess.STDOUT, start_new_session=True, cwd=ROOT)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the GCS emulator exited with {self.proc.returncode}; see {self.data}/gcs.log")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"the GCS emulator did not listen within {timeout}s")

    def stop(self) -> None:
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)  # it writes each object before answering
        except ProcessLookupError:
            pass
        self.proc.wait()
        self.proc = None

    # -- raw access through the JSON API (what the tests use to plant and read objects) ----
    def _call(self, method: str, path: str, data: bytes | None = None, headers=None) -> bytes:
        import urllib.request

        req = urllib.request.Request(self.endpoint + path, data=data, method=method, headers=headers or {})
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.read()

    def make_bucket(self, name: str | None = None) -> str:
        import json

        name = name or f"b-{uuid.uuid4().hex[:12]}"
        self._call("POST", "/storage/v1/b?project=test", json.dumps({"name": name}).encode(),
                   {"Content-Type": "application/json"})
        return name

    def put(self, bucket: str, key: str, data: bytes) -> None:
        from urllib.parse import quote

        self._call("POST", f"/upload/storage/v1/b/{bucket}/o?uploadType=media&name={quote(key, safe='')}", data,
                   {"Content-Type": "application/octet-stream"})

    def get(self, bucket: str, key: str) -> bytes:
        from urllib.parse import quote

        return self._call("GET", f"/download/storage/v1/b/{bucket}/o/{quote(key, safe='')}?alt=media")

    def keys(self, bucket: str) -> dict[str, int]:
        import json

        listing = json.loads(self._call("GET", f"/storage/v1/b/{bucket}/o"))
        return {o["name"]: int(o["size"]) for o in listing.get("items", [])}


@pytest.fixture(scope="session")
def gcs_server(tmp_path_factory):
    if not emulator_available():
        pytest.skip("gcp-storage-emulator not installed: 'pip install -e .[test]' (make test does)")
    server = GCSEmulator(sys.executable, tmp_path_factory.mktemp("gcs"))
    server.start()
    yield server
    server.stop()


# -- the server process: gcp-storage-emulator plus the XML API calls obstore makes ------------
def _xml_api(server_module, objects):
    """Routes and a HEAD handler added to the emulator (module objects passed in)."""
    from http import HTTPStatus

    uploads: dict[str, dict[int, bytes]] = {}

    def etag(data: bytes) -> str:
        return '"' + hashlib.md5(data).hexdigest() + '"'

    def store(request, storage, data: bytes) -> str:
        bucket, name = request.params["bucket_name"], request.params["object_id"]
        obj = objects._make_object_resource(request.base_url, bucket, name, "application/octet-stream",
                                            str(len(data)))
        obj = objects._checksums(data, obj)
        storage.create_file(bucket, name, data, obj)
        return _etag(obj)

    def query(request) -> dict:
        from urllib.parse import parse_qs, urlparse

        return parse_qs(urlparse(request.full_url).query, keep_blank_values=True)

    def missing(request, response, storage) -> bool:
        """GCS's XML errors: NoSuchBucket or NoSuchKey (the emulator answers 404 with no body)."""
        bucket, name = request.params["bucket_name"], request.params["object_id"]
        code = None
        if bucket not in storage.buckets:
            code = "NoSuchBucket"
        elif request.method in ("GET", "HEAD", "DELETE") and "uploadId" not in query(request):
            try:
                storage.get_file_obj(bucket, name)
            except objects.NotFound:
                code = "NoSuchKey"
        if code:
            response.status = HTTPStatus.NOT_FOUND
            response["Content-Type"] = "application/xml"
            response.write(f"<Error><Code>{code}</Code><Message>{code}</Message></Error>")
        return code is not None

    def get(request, response, storage, *args, **kwargs):
        if missing(request, response, storage):
            return
        obj = storage.get_file_obj(request.params["bucket_name"], request.params["object_id"])
        if request.get_header("If-None-Match", None) == _etag(obj):
            response.status = HTTPStatus.NOT_MODIFIED
            response["ETag"] = _etag(obj)
            return
        objects.download(request, response, storage)
        _object_headers(request, response, storage)

    def put(request, response, storage, *args, **kwargs):
        if missing(request, response, storage):
            return
        try:
            if "uploadId" in query(request):  # one part of a multipart upload
                part = int(query(request)["partNumber"][0])
                uploads[query(request)["uploadId"][0]][part] = request.data
                response["ETag"] = etag(request.data)
                return
            response["ETag"] = store(request, storage, request.data)
        except (KeyError, objects.NotFound):
            response.status = HTTPStatus.NOT_FOUND

    def post(request, response, storage, *args, **kwargs):
        bucket, name = request.params["bucket_name"], request.params["object_id"]
        if missing(request, response, storage):
            return
        if "uploads" in query(request):
            upload = uuid.uuid4().hex
            uploads[upload] = {}
            response["Content-Type"] = "application/xml"
            response.write(f"<InitiateMultipartUploadResult><Bucket>{bucket}</Bucket><Key>{name}</Key>"
                           f"<UploadId>{upload}</UploadId></InitiateMultipartUploadResult>")
        elif "uploadId" in query(request):
            parts = uploads.pop(query(request)["uploadId"][0], None)
            if parts is None:
                response.status = HTTPStatus.NOT_FOUND
                return
            tag = store(request, storage, b"".join(parts[n] for n in sorted(parts)))
            response["Content-Type"] = "application/xml"
            response["ETag"] = tag
            response.write(f"<CompleteMultipartUploadResult><Bucket>{bucket}</Bucket><Key>{name}</Key>"
                           f"<ETag>{tag}</ETag></CompleteMultipartUploadResult>")
        else:
            response.status = HTTPStatus.BAD_REQUEST

    def delete(request, response, storage, *args, **kwargs):
        if "uploadId" in query(request):
            uploads.pop(query(request)["uploadId"][0], None)
            response.status = HTTPStatus.NO_CONTENT
            return
        if missing(request, response, storage):
            return
        try:
            storage.delete_file(request.params["bucket_name"], request.params["object_id"])
            response.status = HTTPStatus.NO_CONTENT
        except objects.NotFound:
            response.status = HTTPStatus.NOT_FOUND

    def list_objects(request, response, storage, *args, **kwargs):
        """ListObjectsV2 of the XML API (obstore lists this way): one page, no delimiter needed."""
        from xml.sax.saxutils import escape

        bucket = request.params["bucket_name"]
        prefix = request.query.get("prefix", [""])[0]
        try:
            names, _ = storage.get_file_list(bucket, prefix=prefix)
        except objects.NotFound:
            response.status = HTTPStatus.NOT_FOUND
            response.write("<Error><Code>NoSuchBucket</Code><Message>The specified bucket does not exist."
                           "</Message></Error>")
            return
        items = "".join(f"<Contents><Key>{escape(o['name'])}</Key><Size>{o['size']}</Size>"
                        f"<LastModified>{o['updated']}</LastModified><ETag>\"{o.get('etag')}\"</ETag></Contents>"
                        for o in names)
        response["Content-Type"] = "application/xml"
        response.write(f"<ListBucketResult><Name>{bucket}</Name><Prefix>{escape(prefix)}</Prefix>"
                       f"<KeyCount>{len(names)}</KeyCount><IsTruncated>false</IsTruncated>{items}</ListBucketResult>")

    route = r"^/(?P<bucket_name>[-.\w]+)/(?P<object_id>.*[^/]+)$"
    methods = {"GET": get, "PUT": put, "POST": post, "DELETE": delete, "HEAD": get}
    handlers = [(regex, methods if regex == route else h) for regex, h in server_module.HANDLERS]
    handlers.append((r"^/(?P<bucket_name>[-.\w]+)$", {"GET": list_objects}))
    server_module.HANDLERS = tuple(handlers)


def _etag(obj: dict) -> str:
    return '"' + str(obj.get("etag") or obj.get("md5Hash")) + '"'


def _object_headers(request, response, storage):
    """What GCS's XML API sends with an object: ETag, Last-Modified, x-goog-generation."""
    from email.utils import formatdate

    try:
        obj = storage.get_file_obj(request.params["bucket_name"], request.params["object_id"])
    except Exception:
        return
    response["ETag"] = _etag(obj)
    response["Last-Modified"] = formatdate(usegmt=True)
    response["x-goog-generation"] = str(obj.get("generation", "1"))


def _serve(port: int, data: Path) -> None:
    import logging

    from gcp_storage_emulator import server as server_module
    from gcp_storage_emulator.handlers import objects

    logging.basicConfig(level=logging.WARNING)
    _xml_api(server_module, objects)

    def do_head(self):
        # HEAD is GET without the body (http.server writes none when told the method is HEAD)
        self._head = True
        server_module.Router(self).handle("HEAD")

    server_module.RequestHandler.do_HEAD = do_head
    real_handle = server_module.Router.handle

    def handle(self, method):
        # obstore percent-encodes every byte outside [A-Za-z0-9] of the XML API's paths
        from urllib.parse import unquote

        path, _, query = self._request_handler.path.partition("?")
        if not path.startswith(("/storage/", "/upload/", "/download/", "/batch/")):
            self._request_handler.path = unquote(path) + ("?" + query if query else "")
        real_handle(self, method)

    server_module.Router.handle = handle
    _no_body_for_head(server_module)
    from http import server as http_server

    http_server.HTTPServer = http_server.ThreadingHTTPServer  # parallel ranged GETs, as GCS serves them
    server_module.create_server("127.0.0.1", port, in_memory=False, data_dir=str(data)).run()


def _no_body_for_head(server_module):
    real_close = server_module.Response.close

    def close(self):
        if getattr(self._handler, "_head", False):
            content = self._content.encode() if isinstance(self._content, str) else self._content
            self._handler.send_response(self.status.value if hasattr(self.status, "value") else int(self.status))
            for k, v in self._headers.items():
                self._handler.send_header(k, v)
            self._handler.send_header("Content-Length", str(len(content)))
            self._handler.end_headers()
            return
        real_close(self)

    server_module.Response.close = close


if __name__ == "__main__":
    _serve(int(sys.argv[1]), Path(sys.argv[2]))
