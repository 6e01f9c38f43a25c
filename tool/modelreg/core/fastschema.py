"""A fast, sound pre-check for the JSON Schema subset our schemas use.

`surely_valid(schema, instance)` is True only when the instance is valid under draft 2020-12
for certain; on anything it does not know (a keyword outside the subset, a format it cannot
check, a comparison it cannot make exactly as jsonschema does) or on any violation it says
False, and the caller asks jsonschema for the exact messages. A registry whose records are
valid (the common case) is thus checked without importing jsonschema at all: the import
alone costs as much as validating thousands of records, and a whole-registry check validates
tens of thousands of them. Schemas are compiled once into nested closures.
"""
import math
import re

_ANNOTATIONS = {"$schema", "$id", "$defs", "$comment", "title", "description", "examples", "default",
                "deprecated", "readOnly", "writeOnly"}
_TYPES = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "integer": lambda v: (isinstance(v, int) and not isinstance(v, bool))
    or (isinstance(v, float) and v.is_integer()),
}
_compiled: dict[int, tuple[object, object]] = {}


def _never(_instance) -> bool:
    return False


def _always(_instance) -> bool:
    return True


def _datetime_checker():
    try:
        from rfc3339_validator import validate_rfc3339  # what jsonschema's date-time check uses
    except ImportError:
        return None
    return lambda text: validate_rfc3339(text.upper())


_DATETIME = _datetime_checker()


def surely_valid(schema, instance) -> bool:
    entry = _compiled.get(id(schema))
    if entry is None or entry[0] is not schema:
        entry = _compiled[id(schema)] = (schema, compile_schema(schema, schema))
    return entry[1](instance)


def compile_schema(schema, root):
    """A function instance -> bool (True: surely valid)."""
    if schema is True:
        return _always
    if not isinstance(schema, dict):
        return _never
    checks = []
    for key, value in schema.items():
        if key in _ANNOTATIONS:
            continue
        make = _KEYWORDS.get(key)
        check = make(value, schema, root) if make else None
        if check is None:
            return _never  # a keyword or form this checker does not know: jsonschema decides
        checks.append(check)
    if len(checks) == 1:
        return checks[0]

    def every(instance) -> bool:  # a plain loop: this runs for every node of every record
        for check in checks:
            if not check(instance):
                return False
        return True
    return every


def _type(value, schema, root):
    names = value if isinstance(value, list) else [value]
    if not all(n in _TYPES for n in names):
        return None
    tests = [_TYPES[n] for n in names]
    return lambda v: any(t(v) for t in tests)


def _properties(value, schema, root):
    subs = {k: compile_schema(sub, root) for k, sub in value.items()}

    def properties(v) -> bool:
        if not isinstance(v, dict):
            return True
        for key, item in v.items():  # records hold fewer keys than their schema names
            check = subs.get(key)
            if check is not None and not check(item):
                return False
        return True
    return properties


def _additional(value, schema, root):
    if "patternProperties" in schema:
        return None
    known = set(schema.get("properties") or {})
    if value is False:
        return lambda v: not isinstance(v, dict) or all(k in known for k in v)
    sub = compile_schema(value, root)
    return lambda v: not isinstance(v, dict) or all(sub(x) for k, x in v.items() if k not in known)


def _required(value, schema, root):
    return lambda v: not isinstance(v, dict) or all(k in v for k in value)


def _items(value, schema, root):
    if "prefixItems" in schema or not isinstance(value, (dict, bool)):
        return None
    sub = compile_schema(value, root)
    return lambda v: not isinstance(v, list) or all(sub(x) for x in v)


def _property_names(value, schema, root):
    sub = compile_schema(value, root)
    return lambda v: not isinstance(v, dict) or all(sub(k) for k in v)


def _pattern(value, schema, root):
    search = re.compile(value).search
    return lambda v: not isinstance(v, str) or search(v) is not None


def _max_length(value, schema, root):
    return lambda v: not isinstance(v, str) or len(v) <= value


def _min_items(value, schema, root):
    return lambda v: not isinstance(v, list) or len(v) >= value


def _minimum(value, schema, root):
    number = _TYPES["number"]
    # NaN: jsonschema calls it valid; leave that verdict (and its speed) to jsonschema
    return lambda v: not number(v) or (not (isinstance(v, float) and math.isnan(v)) and v >= value)


def _unique(value, schema, root):
    if not value:
        return _always
    # only text items: jsonschema's equality has bool/int subtleties, so it decides the rest
    return lambda v: not isinstance(v, list) or (all(isinstance(i, str) for i in v) and len(set(v)) == len(v))


def _scalar_equal(a, b) -> bool | None:
    scalar = (str, int, float, type(None))
    if not isinstance(a, scalar) or not isinstance(b, scalar):
        return None
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    return a == b


def _enum(value, schema, root):
    if not isinstance(value, list):
        return None
    return lambda v: any(_scalar_equal(v, option) for option in value)


def _const(value, schema, root):
    return lambda v: bool(_scalar_equal(v, value))


def _not(value, schema, root):
    # this checker can be sure an instance is INvalid only for these two simple forms
    if isinstance(value, dict) and set(value) == {"type"}:
        inner = _type(value["type"], value, root)
        return None if inner is None else (lambda v: not inner(v))
    if isinstance(value, dict) and set(value) == {"enum"} and isinstance(value["enum"], list):
        options = value["enum"]
        return lambda v: all(_scalar_equal(v, option) is False for option in options)
    return None


def _format(value, schema, root):
    if value != "date-time":
        return None
    if _DATETIME is None:
        return _always  # jsonschema cannot check it either without rfc3339_validator
    return lambda v: not isinstance(v, str) or bool(_DATETIME(v))


def _ref(value, schema, root):
    if not isinstance(value, str) or not value.startswith("#/$defs/"):
        return None
    target = (root.get("$defs") or {}).get(value[len("#/$defs/"):])
    if target is None or target is schema:
        return None
    return compile_schema(target, root)  # our $defs are not recursive; a cycle would recurse here


_KEYWORDS = {
    "type": _type, "properties": _properties, "additionalProperties": _additional,
    "required": _required, "items": _items, "propertyNames": _property_names, "pattern": _pattern,
    "maxLength": _max_length, "minItems": _min_items, "minimum": _minimum, "uniqueItems": _unique,
    "enum": _enum, "const": _const, "not": _not, "format": _format, "$ref": _ref,
}
