"""A real Azure Blob Storage endpoint for the suite: Azurite (npm, `azurite-blob`) on loopback.

Started once per session on a port from ports.py, in its own process group, with its
workspace in a temporary folder, no telemetry, `--skipApiVersionCheck` (the SDKs DVC uses may be
newer than the emulator) and `--loose`; stopped with SIGTERM at the end. Tests get a fresh
container through `azure_container` and the emulator's well-known account as the usual Azure
environment (AZURE_STORAGE_CONNECTION_STRING) through `azure_env`.
"""
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from .ports import claim_block

ACCOUNT = "devstoreaccount1"  # Azurite's well-known development account and key
KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


def azurite_binary() -> str | None:
    beside = Path(__file__).resolve().parents[2] / "node_modules" / ".bin" / "azurite-blob"
    return str(beside) if beside.exists() else shutil.which("azurite-blob")


@dataclass
class Azurite:
    binary: str
    data: Path
    port: int = 0
    proc: subprocess.Popen | None = None
    # on disk (--location), not --inMemoryPersistence: a restarted server must find the blobs
    flags: tuple = ("--skipApiVersionCheck", "--loose", "--silent", "--disableTelemetry")

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}/{ACCOUNT}"

    @property
    def connection_string(self) -> str:
        return (f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={KEY};"
                f"BlobEndpoint={self.endpoint};")

    def start(self, timeout: float = 30.0) -> None:
        self.data.mkdir(parents=True, exist_ok=True)
        self.port = self.port or claim_block(1)  # a restart comes back on the same port
        args = [self.binary, "--blobHost", "127.0.0.1", "--blobPort", str(self.port), "--location", str(self.data),
                *self.flags]
        log = open(self.data / "azurite.log", "ab")
        self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                     cwd=self.data)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"azurite-blob exited with {self.proc.returncode}; see {self.data}/azurite.log")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"Azurite did not listen within {timeout}s; see {self.data}/azurite.log")

    def service(self):
        from azure.storage.blob import BlobServiceClient

        return BlobServiceClient.from_connection_string(self.connection_string)

    def make_container(self, name: str | None = None) -> str:
        name = name or f"c-{uuid.uuid4().hex[:12]}"
        self.service().create_container(name)
        return name

    def put(self, container: str, key: str, data: bytes) -> None:
        self.service().get_blob_client(container, key).upload_blob(data, overwrite=True)

    def get(self, container: str, key: str) -> bytes:
        return self.service().get_blob_client(container, key).download_blob().readall()

    def keys(self, container: str) -> dict[str, int]:
        return {b.name: b.size for b in self.service().get_container_client(container).list_blobs()}

    def block_sizes(self, container: str, key: str) -> list[int]:
        """The sizes of a blob's committed blocks: none for one written by a single Put Blob."""
        committed, _ = self.service().get_blob_client(container, key).get_block_list("committed")
        return [b.size for b in committed]

    def delete(self, container: str, key: str) -> None:
        self.service().get_blob_client(container, key).delete_blob()

    def stop(self) -> None:
        """SIGTERM, so Azurite saves its metadata (a restart must find the blobs), then SIGKILL."""
        if self.proc is None:
            return
        for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, None)):
            try:
                os.killpg(self.proc.pid, sig)
                self.proc.wait(wait)
                break
            except ProcessLookupError:
                break
            except subprocess.TimeoutExpired:
                continue
        self.proc.wait()
        self.proc = None


@pytest.fixture(scope="session")
def azurite(tmp_path_factory):
    binary = azurite_binary()
    if binary is None:
        pytest.skip("Azurite not found: 'npm install' (make test does) brings node_modules/.bin/azurite-blob")
    server = Azurite(binary, tmp_path_factory.mktemp("azurite"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def azure_env(azurite, monkeypatch):
    """The emulator's account as Azure's usual connection-string variable."""
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", azurite.connection_string)
    return azurite


@pytest.fixture
def azure_container(azure_env) -> str:
    return azure_env.make_container()
