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
    for path in (ROOT / "registry").rglob("*.yaml"):
        first = path.read_text().splitlines()[0]
        assert first.startswith("# yaml-language-server: $schema=") and first.endswith(".schema.json")
        target = (path.parent / first.split("=", 1)[1]).resolve()
        assert target.exists(), path
        json.loads(target.read_text())
