"""Reading and writing YAML records: a safe loader and one stable key order.

The loader refuses what a registry record never needs and an attacker might use:
custom tags, anchors/aliases (so no alias bombs), duplicate keys, huge documents.
Timestamps stay strings, so records round-trip unchanged through JSON.
"""
import math
from functools import lru_cache

from . import fastyaml
from .errors import InvalidRecord

MAX_RECORD_BYTES = 1 << 20
MAX_NODES = 100_000
MAX_DEPTH = 64  # records are a few levels deep; a deep one would exhaust Python's stack (issue 8 hole 10)

_TAG = "tag:yaml.org,2002:"
_STR, _SEQ, _MAP, _MERGE = _TAG + "str", _TAG + "seq", _TAG + "map", _TAG + "merge"


@lru_cache(maxsize=None)
def _pyyaml():
    """PyYAML, imported on first need: records in the common subset never need it (fastyaml.py)."""
    import yaml

    scalars = {
        _TAG + "str": None,
        _TAG + "timestamp": None,  # kept as text
        _TAG + "int": yaml.constructor.SafeConstructor.construct_yaml_int,
        _TAG + "float": yaml.constructor.SafeConstructor.construct_yaml_float,
        _TAG + "bool": yaml.constructor.SafeConstructor.construct_yaml_bool,
        _TAG + "null": yaml.constructor.SafeConstructor.construct_yaml_null,
    }
    return (yaml, getattr(yaml, "CSafeLoader", yaml.SafeLoader), getattr(yaml, "CSafeDumper", yaml.SafeDumper),
            scalars, yaml.constructor.SafeConstructor())


def load_yaml(data: bytes | str, path: str = "<record>"):
    """Parse one YAML document safely; any problem is an InvalidRecord naming `path`."""
    if len(data) > MAX_RECORD_BYTES:
        raise InvalidRecord(f"{path}: larger than {MAX_RECORD_BYTES} bytes; records must stay small")
    fast = fastyaml.parse(data)
    if fast is not fastyaml.FALLBACK:
        return fast
    return parse_with_pyyaml(data, path)


def parse_with_pyyaml(data: bytes | str, path: str = "<record>"):
    """The reference reader: PyYAML's safe loader under the record rules (load_yaml asks it for
    everything outside fastyaml's subset; tests compare the two)."""
    yaml, loader = _pyyaml()[:2]
    try:
        node = yaml.compose(data, Loader=loader)
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
        yaml, _, _, self.scalars, self.constructor = _pyyaml()
        self.scalar_node, self.mapping_node = yaml.ScalarNode, yaml.MappingNode

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
        if kind is self.scalar_node:
            tag = node.tag
            if tag == _STR:
                return node.value
            if tag not in self.scalars:
                self.fail(node, f"YAML tag {tag!r} is not allowed in records")
            construct = self.scalars[tag]
            return node.value if construct is None else construct(self.constructor, node)
        if depth > MAX_DEPTH:
            self.fail(node, f"nested deeper than {MAX_DEPTH} levels; records must stay flat")
        if len(seen) > MAX_NODES:
            self.fail(node, f"more than {MAX_NODES} YAML nodes; records must stay small")
        if kind is self.mapping_node:
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
    yaml, _, dumper = _pyyaml()[:3]
    text = yaml.dump(data, Dumper=dumper, sort_keys=False, default_flow_style=False,
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
