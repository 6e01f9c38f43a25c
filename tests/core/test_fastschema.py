"""fastschema is a sound pre-check: whenever it says "surely valid", jsonschema agrees (issue 8 speed)."""
import copy
import itertools
import math

import jsonschema
import pytest

from modelreg.core import schema
from modelreg.core.fastschema import surely_valid

VERSION = {"version": 3, "model_type": "fine_tuned", "stage": "staging", "status": "active",
           "artifacts": [{"path": "model.safetensors", "artifact_type": "weights", "format": "safetensors",
                          "size_bytes": 10, "sha256": "a" * 64}],
           "metrics": [{"benchmark": "mmlu", "metric": "accuracy", "value": 0.5}],
           "parameters": {"lr": 1e-5}, "created_at": "2026-11-01T12:00:00Z", "created_by": "A <a@b.c>"}
MODEL = {"name": "llama-ft", "model_type": "fine_tuned", "owners": ["@org/team"], "tags": {"team": "x"},
         "created_at": "2026-11-01T12:00:00Z"}
ALIASES = {"aliases": {"production": 1, "canary": 2}}
REGISTRY = {"version": 1, "stages": ["none", "production"], "transitions": {"none": ["production"]},
            "forge": {"type": "github"}, "approvals": {"production": {"groups": [["@org/qa"]]}}}
ODD = [None, True, False, 0, 1, -1, 1.0, 2.5, math.nan, math.inf, "", "x", "latest", "Bad Name", "@org/qa",
       "2026-13-01T00:00:00Z", "a" * 300, [], [1], ["a", "a"], ["a", "b"], {}, {"x": 1}]


def mutations(doc):
    """The document with each value (at any depth) replaced by each odd value, and each key dropped."""
    yield doc
    if isinstance(doc, dict):
        for key in doc:
            dropped = {k: v for k, v in doc.items() if k != key}
            yield dropped
            for inner in itertools.islice(mutations(doc[key]), 15):
                yield {**doc, key: inner}
            for odd in ODD:
                yield {**doc, key: odd}
        yield {**doc, "unknown_field": 1}
    elif isinstance(doc, list):
        for i, item in enumerate(doc):
            for inner in itertools.islice(mutations(item), 15):
                yield doc[:i] + [inner] + doc[i + 1:]
        for odd in ODD:
            yield doc + [odd]


@pytest.mark.parametrize("kind,doc", [("version", VERSION), ("model", MODEL), ("aliases", ALIASES),
                                      ("registry", REGISTRY), ("card", {"license": "mit", "description": "d"})])
def test_surely_valid_never_passes_what_jsonschema_refuses(kind, doc):
    """issue 8 (speed): the fast path may only skip jsonschema for documents jsonschema accepts."""
    full = schema.load_schema(kind)
    cls = jsonschema.validators.validator_for(full)
    validator = cls(full, format_checker=cls.FORMAT_CHECKER)
    fast_ok = 0
    for candidate in mutations(copy.deepcopy(doc)):
        if surely_valid(full, candidate):
            fast_ok += 1
            assert not list(validator.iter_errors(candidate)), candidate
    assert fast_ok >= 2  # it does say yes to valid documents: otherwise it would be no speed-up
    assert surely_valid(full, doc)


def test_problems_still_come_from_jsonschema():
    assert schema.problems("aliases", {"aliases": {"latest": 1}})
    assert schema.problems("version", dict(VERSION, stage=5))
