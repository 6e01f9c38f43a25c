"""Shared fixtures: an isolated HOME and git identity, fresh registries, weights folders.

Feature-specific fixtures live in tests/plugins/ and are registered here.
"""
import os
import socket
import subprocess
from pathlib import Path

import pytest

pytest_plugins = ["tests.plugins.github_fake", "tests.plugins.tiny_models", "tests.plugins.s3server",
                  "tests.plugins.azurite", "tests.plugins.gcs_emulator", "tests.plugins.mlflow_env",
                  "tests.plugins.skips"]


GITCONFIG = "[user]\n\tname = Test User\n\temail = test@example.com\n[init]\n\tdefaultBranch = main\n"
SESSION_ENV = {
    "GIT_AUTHOR_NAME": "Test User", "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "Test User", "GIT_COMMITTER_EMAIL": "test@example.com",
    "GIT_CONFIG_NOSYSTEM": "1", "DVC_NO_ANALYTICS": "1", "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
}


@pytest.fixture(autouse=True, scope="session")
def session_env(tmp_path_factory):
    """Session fixtures (servers, tiny models) run before per-test isolation: give them a
    git identity and a HOME of their own too, so a machine without global git config works."""
    saved = dict(os.environ)
    home = tmp_path_factory.mktemp("session-home")
    os.environ.update(SESSION_ENV, HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"),
                      XDG_CACHE_HOME=str(home / ".cache"), XDG_DATA_HOME=str(home / ".local/share"),
                      MODELREG_CACHE=str(home / "modelreg-cache"))
    (home / ".gitconfig").write_text(GITCONFIG)
    yield
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture(autouse=True)
def isolated_env(tmp_path_factory, monkeypatch):
    """Each test gets its own HOME, XDG dirs and git identity; DVC and HF stay offline."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    for var, sub in [("XDG_CONFIG_HOME", ".config"), ("XDG_CACHE_HOME", ".cache"),
                     ("XDG_DATA_HOME", ".local/share")]:
        monkeypatch.setenv(var, str(home / sub))
    monkeypatch.setenv("MODELREG_CACHE", str(home / "modelreg-cache"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_AUTHOR_NAME", "Test User")
    monkeypatch.setenv("GIT_AUTHOR_EMAIL", "test@example.com")
    monkeypatch.setenv("GIT_COMMITTER_NAME", "Test User")
    monkeypatch.setenv("GIT_COMMITTER_EMAIL", "test@example.com")
    monkeypatch.setenv("DVC_NO_ANALYTICS", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no test asks an instance for keys (issue 23)
    (home / ".gitconfig").write_text(GITCONFIG)
    for var in ("GITHUB_TOKEN", "GITHUB_API_URL", "GITHUB_REPOSITORY", "AWS_ACCESS_KEY_ID",
                "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE", "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD"):
        monkeypatch.delenv(var, raising=False)
    yield home


@pytest.fixture(autouse=True, scope="session")
def loopback_only():
    """Fail any test that tries to connect anywhere but this machine."""
    real_connect = socket.socket.connect

    def guarded(sock, address):
        host = address[0] if isinstance(address, tuple) else address
        if isinstance(host, str) and sock.family in (socket.AF_INET, socket.AF_INET6):
            if not (host.startswith("127.") or host in ("::1", "localhost")):
                raise AssertionError(f"test tried to reach {address}: only loopback is allowed")
        return real_connect(sock, address)

    socket.socket.connect = guarded
    yield
    socket.socket.connect = real_connect


def git(cwd, *args) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def registry_dir(tmp_path) -> Path:
    """A fresh registry made by `init`, with a local DVC remote under tmp."""
    from modelreg.registry import init_registry

    path = tmp_path / "reg"
    init_registry(path, remote=str(tmp_path / "remote"))
    return path


@pytest.fixture
def registry(registry_dir):
    from modelreg import Registry

    reg = Registry(registry_dir)
    yield reg
    reg.close()


def write_weights(folder: Path, seed: int = 0, size: int = 4096) -> Path:
    """A small but real-looking model folder: safetensors-named weights, config, tokenizer."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model.safetensors").write_bytes(bytes((i * 7 + seed) % 251 for i in range(size)))
    (folder / "config.json").write_text(f'{{"model_type": "llama", "seed": {seed}}}\n')
    (folder / "tokenizer.json").write_text('{"version": "1.0"}\n')
    return folder


@pytest.fixture
def weights(tmp_path) -> Path:
    return write_weights(tmp_path / "weights-src")


class CliResult:
    def __init__(self, exit_code: int, stdout: str, stderr: str):
        self.exit_code, self.stdout, self.stderr = exit_code, stdout, stderr

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


@pytest.fixture
def run_cli(capsys):
    """Run `modelreg ARGS...` through the real entry point (`main`: the real exit codes and
    error lines), in this process; returns exit_code, stdout and stderr."""
    from modelreg.cli import main

    def run(*args) -> CliResult:
        capsys.readouterr()
        code = main([str(a) for a in args])
        out = capsys.readouterr()
        return CliResult(code, out.out, out.err)
    return run
