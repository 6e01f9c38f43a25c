"""MLflow finds modelreg's plugins by entry point; make the declared ones visible to tests.

`make install` installs the project with its entry points. The shared development venv may
hold an older editable install, so when MLflow cannot see our entry points yet this writes
the ones pyproject.toml declares into a throwaway *.dist-info on sys.path (subprocesses get
it through the PYTHONPATH the fixture returns) and asks MLflow's registries to load entry points again: the real
discovery path, fed from the real declaration.
"""
import contextlib
import importlib
import importlib.metadata
import os
import shutil
import socket
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GROUPS = ("mlflow.model_registry_store", "mlflow.artifact_repository")


def declared() -> dict[str, dict[str, str]]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return {g: project["entry-points"][g] for g in GROUPS}


def _visible(wanted) -> bool:
    for group, points in wanted.items():
        found = {ep.name: ep.value for ep in importlib.metadata.entry_points(group=group)}
        if any(found.get(name) != value for name, value in points.items()):
            return False
    return True


@pytest.fixture(scope="session")
def mlflow_template_db(tmp_path_factory) -> Path:
    """An empty, migrated MLflow sqlite database: creating one costs ~10 s, copying it nothing."""
    pytest.importorskip("mlflow", reason="the mlflow extra is not installed (make install adds it)")
    from mlflow import MlflowClient

    path = tmp_path_factory.mktemp("mlflow-template") / "mlflow.db"
    MlflowClient(tracking_uri=f"sqlite:///{path}", registry_uri=f"sqlite:///{path}").search_experiments()
    return path


def fresh_db(template: Path, dest: Path) -> str:
    """A copy of the template database at `dest`, as a tracking URI."""
    shutil.copyfile(template, dest)
    return f"sqlite:///{dest}"


@contextlib.contextmanager
def mlflow_server(root: Path, *args: str, env: dict | None = None):
    """`mlflow server ARGS` on a claimed loopback port, run from `root` (its log there); yields
    its URL once it accepts connections, and stops it afterwards."""
    from .ports import claim_block

    port = claim_block(1)  # outside the ephemeral range: no client socket takes it before mlflow binds
    log = open(root / "server.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
                             "--workers", "1", *args], stdout=log, stderr=subprocess.STDOUT, cwd=root,
                            env=env)
    try:
        deadline = time.time() + 120
        while time.time() < deadline and proc.poll() is None:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.5)
        if proc.poll() is not None:
            pytest.fail("mlflow server did not start: " + (root / "server.log").read_text()[-2000:])
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope="session")
def mlflow_plugins(tmp_path_factory, mlflow_template_db):
    """MLflow with the `modelreg` registry store and artifact repository registered."""
    # MLflow 3 defaults to ./mlflow.db for tracking: keep it out of the checkout.
    tracking = tmp_path_factory.mktemp("mlflow-tracking") / "mlflow.db"
    fresh_db(mlflow_template_db, tracking)
    saved_uri = os.environ.get("MLFLOW_TRACKING_URI")
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{tracking}"
    wanted = declared()
    added = None
    if not _visible(wanted):
        added = tmp_path_factory.mktemp("entry-points")
        info = added / "modelreg_entry_points-0.0.0.dist-info"
        info.mkdir()
        (info / "METADATA").write_text("Metadata-Version: 2.1\nName: modelreg-entry-points\nVersion: 0.0.0\n")
        lines = []
        for group, points in wanted.items():
            lines += [f"[{group}]"] + [f"{k} = {v}" for k, v in points.items()] + [""]
        (info / "entry_points.txt").write_text("\n".join(lines))
        sys.path.insert(0, str(added))
        importlib.invalidate_caches()
    from mlflow.store.artifact.artifact_repository_registry import _artifact_repository_registry
    from mlflow.tracking._model_registry.utils import _get_store_registry

    _get_store_registry().register_entrypoints()
    _artifact_repository_registry.register_entrypoints()
    # For subprocesses: the same entry points, and this checkout's modelreg.
    parts = [str(added)] if added else []
    yield {"pythonpath": os.pathsep.join(parts + [str(ROOT / "tool"), os.environ.get("PYTHONPATH", "")]),
           "tracking_uri": os.environ["MLFLOW_TRACKING_URI"]}
    if saved_uri is None:
        os.environ.pop("MLFLOW_TRACKING_URI", None)
    else:
        os.environ["MLFLOW_TRACKING_URI"] = saved_uri
    if added is not None:
        sys.path.remove(str(added))
