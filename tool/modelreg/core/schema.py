"""The JSON Schemas in schemas/ are the single source of truth for record shapes.

jsonschema is imported only when something is validated: read paths stay fast.
"""
import json
from functools import lru_cache
from pathlib import Path

from .errors import InvalidRecord

KINDS = ("registry", "model", "version", "aliases", "card")


def schema_dir() -> Path:
    """Installed wheels carry the schemas as package data; a source checkout has them at the root."""
    package = Path(__file__).resolve().parents[1]  # tool/modelreg, or site-packages/modelreg
    packaged = package / "schemas"
    if packaged.is_dir():
        return packaged
    return package.parents[1] / "schemas"


@lru_cache(maxsize=None)
def load_schema(kind: str) -> dict:
    return json.loads((schema_dir() / f"{kind}.schema.json").read_text())


def key_order(kind: str) -> list[str]:
    return list(load_schema(kind)["properties"])


@lru_cache(maxsize=None)
def _validator(kind: str):
    import jsonschema

    schema = load_schema(kind)
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def problems(kind: str, data) -> list[tuple[str, str]]:
    """Every schema violation as (JSON pointer, message), in document order."""
    from .fastschema import surely_valid

    if surely_valid(load_schema(kind), data):
        return []  # the common case, without importing jsonschema (fastschema.py says why)
    found = []
    for err in _validator(kind).iter_errors(data):
        pointer = "".join(f"/{str(p).replace('~', '~0').replace('/', '~1')}" for p in err.absolute_path)
        found.append((pointer or "/", _message(err)))
    return sorted(found)


def _message(err) -> str:
    if err.validator == "additionalProperties":
        return err.message.replace("Additional properties are not allowed", "unknown field(s)")
    if err.validator == "enum":
        return f"{err.instance!r} is not one of {', '.join(map(str, err.validator_value))}"
    return err.message


def validate(kind: str, data, path: str) -> None:
    """Raise InvalidRecord with the first problems if `data` does not fit the schema."""
    found = problems(kind, data)
    if found:
        detail = "; ".join(f"{ptr}: {msg}" for ptr, msg in found[:3])
        more = f" (+{len(found) - 3} more)" if len(found) > 3 else ""
        raise InvalidRecord(f"{path}: {detail}{more}")
