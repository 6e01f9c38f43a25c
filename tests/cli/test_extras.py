"""A missing optional package is exit 1 naming its extra, for every command that needs one
(issue 18: `modelreg sign` without the supply extra exited 3 and called itself a bug).

Each case runs the real console entry point in a subprocess with the packages blocked on
sys.meta_path (tests/writes/test_scaffold.py's `blocked`); the extra named comes from the
package metadata (core/extras.py), not from a table in the CLI.
"""
import sqlite3

import pytest

from modelreg.core.extras import install_command
from tests.writes.test_scaffold import blocked


@pytest.fixture
def one_version(registry, weights):
    registry.register_model("m", "base_model")
    registry.create_version("m", weights)
    return registry


def _mlflow_db(tmp_path):
    path = tmp_path / "mlflow.db"
    con = sqlite3.connect(path)
    con.executescript("create table registered_models (name text); create table model_versions (name text);")
    con.close()
    return f"sqlite:///{path}"


CASES = {
    "sign": ("model_signing", "supply", lambda reg, tmp: ["sign", "m@1", "--key", tmp / "key.pem"]),
    "bom": ("cyclonedx", "supply", lambda reg, tmp: ["bom", "m@1", "-o", tmp / "bom.json"]),
    "site build": ("jinja2", "site", lambda reg, tmp: ["site", "build", "-o", tmp / "site"]),
    "load": ("torch,transformers", "hf", lambda reg, tmp: ["load", "m@1", "--device", "cpu"]),
    "import mlflow": ("mlflow", "mlflow", lambda reg, tmp: ["import", "mlflow", "--tracking-uri", _mlflow_db(tmp)]),
}


@pytest.mark.parametrize("command", sorted(CASES))
def test_a_missing_extra_is_exit_1_naming_it(command, one_version, tmp_path):
    modules, extra, args = CASES[command]
    ran = blocked(modules, "-C", one_version.root, *args(one_version, tmp_path))
    assert ran.returncode == 1, ran.stderr
    assert install_command(extra) in ran.stderr  # this installation's own way (PEP 610)
    assert "bug" not in ran.stderr and "Traceback" not in ran.stderr
    assert len(ran.stderr.strip().splitlines()) == 1  # one line
    assert not (tmp_path / "bom.json").exists() and not (tmp_path / "site").exists()  # nothing written
