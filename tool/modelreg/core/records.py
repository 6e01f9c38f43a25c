"""Reading and writing YAML records: a safe loader and one stable key order.

The loader refuses what a registry record never needs and an attacker might use:
custom tags, anchors/aliases (so no alias bombs), duplicate keys, huge documents.
Timestamps stay strings, so records round-trip unchanged through JSON.
"""
import math

import yaml

from .errors import InvalidRecord

MAX_RECORD_BYTES = 1 << 20
MAX_NODES = 100_000
MAX_DEPTH = 64  # records are a few levels deep; a deep one would exhaust Python's stack (issue 8 hole 10)

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
_TAG = "tag:yaml.org,2002:"
_SCALARS = {
    _TAG + "str": None,
    _TAG + "timestamp": None,  # kept as text
    _TAG + "int": yaml.constructor.SafeConstructor.construct_yaml_int,
    _TAG + "float": yaml.constructor.SafeConstructor.construct_yaml_float,
    _TAG + "bool": yaml.constructor.SafeConstructor.construct_yaml_bool,
    _TAG + "null": yaml.constructor.SafeConstructor.construct_yaml_null,
}
_constructor = yaml.constructor.SafeConstructor()
_STR, _SEQ, _MAP, _MERGE = _TAG + "str", _TAG + "seq", _TAG + "map", _TAG + "merge"


def load_yaml(data: bytes | str, path: str = "<record>"):
    """Parse one YAML document safely; any problem is an InvalidRecord naming `path`."""
    if len(data) > MAX_RECORD_BYTES:
        raise InvalidRecord(f"{path}: larger than {MAX_RECORD_BYTES} bytes; records must stay small")
    try:
        node = yaml.compose(data, Loader=_Loader)
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" (line {where.line + 1})" if where else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise InvalidRecord(f"{path}: not valid YAML{line}: {problem}; fix the file by hand") from None
    if node is None:
        return None
    return _Builder(path).build(node)


class _Builder:
    """Turns a composed node graph into plain Python values, enforcing the rules."""

    def __init__(self, path: str):
        self.path = path
        self.seen: set[int] = set()

    def fail(self, node, problem: str):
        line = node.start_mark.line + 1 if node.start_mark else "?"
        raise InvalidRecord(f"{self.path}: line {line}: {problem}")

    def build(self, node, depth: int = 0):
        # the hot path of every read: scalars first, checks that only collections need below
        seen = self.seen
        if id(node) in seen:
            self.fail(node, "YAML anchors and aliases are not allowed in records")
        seen.add(id(node))
        kind = type(node)
        if kind is yaml.ScalarNode:
            tag = node.tag
            if tag == _STR:
                return node.value
            if tag not in _SCALARS:
                self.fail(node, f"YAML tag {tag!r} is not allowed in records")
            construct = _SCALARS[tag]
            return node.value if construct is None else construct(_constructor, node)
        if depth > MAX_DEPTH:
            self.fail(node, f"nested deeper than {MAX_DEPTH} levels; records must stay flat")
        if len(seen) > MAX_NODES:
            self.fail(node, f"more than {MAX_NODES} YAML nodes; records must stay small")
        if kind is yaml.MappingNode:
            return self._mapping(node, depth)
        if node.tag != _SEQ:
            self.fail(node, f"YAML tag {node.tag!r} is not allowed in records")
        return [self.build(item, depth + 1) for item in node.value]

    def _mapping(self, node, depth: int):
        if node.tag != _MAP:
            self.fail(node, f"YAML tag {node.tag!r} is not allowed in records")
        result = {}
        build = self.build
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                self.fail(key_node, "YAML merge keys ('<<') are not allowed in records")
            key = build(key_node, depth + 1)
            if not isinstance(key, (str, int)):
                self.fail(key_node, "mapping keys must be text")
            if key in result:
                self.fail(key_node, f"duplicate key {key!r}")
            result[key] = build(value_node, depth + 1)
        return result


def dump_yaml(data: dict, schema_ref: str | None = None, key_order: list[str] | None = None) -> bytes:
    """Serialize in one stable order (the schema's property order first) for small PR diffs."""
    if key_order:
        rank = {k: i for i, k in enumerate(key_order)}
        data = dict(sorted(data.items(), key=lambda kv: (rank.get(kv[0], len(rank)), kv[0])))
    text = yaml.dump(data, Dumper=_Dumper, sort_keys=False, default_flow_style=False,
                     allow_unicode=True, width=100)
    header = f"# yaml-language-server: $schema={schema_ref}\n" if schema_ref else ""
    return (header + text).encode()


def non_finite(data, where: str = ""):
    """(JSON pointer, value) of every NaN or infinity: they pass no gate and are not JSON."""
    if isinstance(data, float) and not math.isfinite(data):
        yield where or "/", data
    elif isinstance(data, dict):
        for key, value in data.items():
            yield from non_finite(value, f"{where}/{key}")
    elif isinstance(data, list):
        for i, value in enumerate(data):
            yield from non_finite(value, f"{where}/{i}")


def prune(doc: dict) -> dict:
    """Drop empty fields so records stay short and diffs small."""
    return {k: v for k, v in doc.items() if v not in (None, "", [], {})}
