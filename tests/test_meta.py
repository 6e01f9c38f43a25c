"""Meta-tests: the schemas are valid, their examples fit, and this repo's own registry checks."""
import json
from pathlib import Path

import jsonschema
import pytest

from modelreg import Registry
from modelreg.core.schema import KINDS, load_schema, problems, schema_dir

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("kind", KINDS)
def test_schema_is_valid_draft_2020_12_with_id_and_examples(kind):
    schema = load_schema(kind)
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$id"].endswith(f"/{kind}.schema.json")
    assert schema["title"] and schema["description"] and schema["examples"]
    assert schema["additionalProperties"] is False
    for example in schema["examples"]:
        assert problems(kind, example) == []


def test_schemas_have_one_copy_in_the_repo():
    assert schema_dir() == ROOT / "schemas"
    assert not list((ROOT / "tool").rglob("*.schema.json"))


def test_this_repos_registry_validates():
    reg = Registry(ROOT)
    result = reg.check()
    assert result.ok, [str(p) for p in result.problems]
    assert len(result.models) >= 3
    reg.close()


def test_every_record_names_its_schema_for_editors():
    records = sorted((ROOT / "registry").rglob("*.yaml"))
    assert len(records) >= 10, records  # three models, their versions and cards
    for path in records:
        first = path.read_text().splitlines()[0]
        assert first.startswith("# yaml-language-server: $schema=") and first.endswith(".schema.json")
        target = (path.parent / first.split("=", 1)[1]).resolve()
        assert target.exists(), path
        json.loads(target.read_text())


SKIPPING = '''
import pytest

def test_without_a_gpu():
    pytest.skip("needs a CUDA GPU")

def test_{name}():
    {body}
'''


@pytest.mark.parametrize("body, strict, code", [
    ("pytest.skip('selenium is not installed')", "1", 1),  # CI: an unexpected skip fails the run
    ("pytest.skip('selenium is not installed')", "", 0),  # locally: a skip with its reason
    ("assert True", "1", 0),  # CI: the one expected skip (no GPU) passes
])
def test_ci_fails_on_a_skip_it_does_not_expect(tmp_path, body, strict, code):
    import os
    import subprocess
    import sys

    (tmp_path / "test_x.py").write_text(SKIPPING.format(name="other", body=body))
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MODELREG_STRICT_SKIPS": strict}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "tests.plugins.skips", "-p", "no:cacheprovider",
                           str(tmp_path)], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert proc.returncode == code, proc.stdout + proc.stderr
    assert ("unexpected skip" in proc.stdout) == (code == 1)
