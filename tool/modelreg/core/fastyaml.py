"""A fast, sound reader for the block YAML that modelreg writes, and PyYAML for the rest.

`parse(data)` returns the document for the plain subset our serializer emits (block mappings
and sequences, one-line plain and quoted scalars, `{}` and `[]`, comment lines), and FALLBACK
for anything else (flow collections, multi-line or escaped scalars, anchors, tags, directives,
tabs, CRs, octal or underscored numbers, odd indentation): the caller then parses with PyYAML,
which gives the exact value or the exact error. Where this module answers, its answer is the
one records.load_yaml would give through PyYAML's safe loader (tests/core/test_fastyaml.py
compares both on every record kind and on mutated records), so a record never reads two ways.

Why: PyYAML, even with its C parser, calls back into Python for every scalar; parsing the
310,000 records of a 100,000-version registry cost ~30 s of a whole `check`, and importing it
~15 ms of every fresh `resolve`.
"""
import re
from functools import lru_cache

FALLBACK = object()  # "not in the subset: ask PyYAML"


class _Out(Exception):
    """Raised inside the parser when the text leaves the subset."""


MAX_LINES = 20_000  # records are small; a huge one goes to PyYAML, which enforces the limits
MAX_DEPTH = 32

_UNSAFE_ASCII = re.compile("[^\n\x20-\x7e]")
_KEY = re.compile(r"([A-Za-z_][A-Za-z0-9_./-]*):(?: +(.*))?$")
_INT = re.compile(r"-?(?:0|[1-9][0-9]*)$")
_FLOAT = re.compile(r"-?[0-9]+\.[0-9]*(?:[eE][-+][0-9]+)?$")
_RARE = {  # compiled on first need: compiling them costs a fresh `resolve` several ms
    # PyYAML's printable set, less the line breaks (\x85, \u2028, \u2029) and the BOM
    "unsafe": "[^\n\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]",
    # YAML 1.1's implicit int and float forms (PyYAML's resolver): any other match is left to PyYAML
    "int": r"[-+]?(?:0b[0-1_]+|0[0-7_]+|(?:0|[1-9][0-9_]*)|0x[0-9a-fA-F_]+|[1-9][0-9_]*(?::[0-5]?[0-9])+)$",
    "float": r"(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?"
             r"|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
}


@lru_cache(maxsize=None)
def _rare(name: str):
    return re.compile(_RARE[name])


_WORDS = {**{w: True for w in ("yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON")},
          **{w: False for w in ("no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF")},
          **{w: None for w in ("~", "null", "Null", "NULL")}}
_NUMERIC = set("-+.0123456789")
_INDICATORS = set("!&*|>%@`{[]},#?:'\"-")


def parse(data: bytes | str):
    """The parsed document, or FALLBACK when it is outside the subset."""
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError:
            return FALLBACK
    if (_UNSAFE_ASCII if data.isascii() else _rare("unsafe")).search(data):
        return FALLBACK
    lines = []
    for raw in data.split("\n"):
        text = raw.lstrip(" ")
        if text and text[0] != "#":
            lines.append((len(raw) - len(text), text.rstrip(" ")))
    if not lines or lines[0][0] != 0 or len(lines) > MAX_LINES:
        return FALLBACK
    if lines == [(0, "{}")]:
        return {}  # an empty record (a card with nothing in it yet)
    try:
        doc, end = _Parser(lines).mapping(0, 0, 0)
    except _Out:
        return FALLBACK
    return doc if end == len(lines) else FALLBACK


class _Parser:
    def __init__(self, lines):
        self.lines = lines

    def block(self, i: int, indent: int, depth: int):
        if depth > MAX_DEPTH:
            raise _Out
        if self.lines[i][1].startswith("- "):
            return self.sequence(i, indent, depth)
        return self.mapping(i, indent, depth)

    def mapping(self, i: int, indent: int, depth: int):
        lines, result = self.lines, {}
        while i < len(lines):
            at, text = lines[i]
            if at < indent:
                break
            match = _KEY.match(text) if at == indent else None
            if match is None:
                raise _Out  # deeper (a continued scalar), or not a plain `key:` line
            key, rest = match.groups()
            if key in _WORDS or key in result:
                raise _Out  # a key that is not text, or a duplicate: PyYAML says which
            i += 1
            if rest:
                result[key] = scalar(rest)
            elif i < len(lines) and (lines[i][0] > indent or (lines[i][0] == indent and lines[i][1].startswith("- "))):
                result[key], i = self.block(i, lines[i][0], depth + 1)
            else:
                result[key] = None
        return result, i

    def sequence(self, i: int, indent: int, depth: int):
        lines, result = self.lines, []
        while i < len(lines):
            at, text = lines[i]
            if at < indent or (at == indent and not text.startswith("- ") and text != "-"):
                break
            if at > indent or text == "-":
                raise _Out
            item = text[2:].lstrip(" ")
            if item.startswith("#") or item == "-":
                raise _Out  # an item that is only a comment, or an empty nested item
            if item.startswith("- "):  # "- - x": a sequence whose items sit where this one does
                lines[i] = (at + len(text) - len(item), item)
                value, i = self.sequence(i, lines[i][0], depth + 1)
            elif _KEY.match(item):  # "- key: value": a mapping whose keys sit where this one does
                lines[i] = (at + len(text) - len(item), item)
                value, i = self.mapping(i, lines[i][0], depth + 1)
            else:
                value, i = scalar(item), i + 1
            result.append(value)
        return result, i


def scalar(text: str):
    """One-line scalar text (already stripped) -> its value, as PyYAML's safe loader resolves it."""
    first = text[0]
    if first == "'":
        inner = text[1:-1]
        if len(text) < 2 or text[-1] != "'" or "'" in inner.replace("''", ""):
            raise _Out
        return inner.replace("''", "'")
    if first == '"':
        inner = text[1:-1]
        if len(text) < 2 or text[-1] != '"' or '"' in inner or "\\" in inner:
            raise _Out
        return inner
    if text == "{}":
        return {}
    if text == "[]":
        return []
    if (first in _INDICATORS and not (first == "-" and len(text) > 1 and text[1] != " ")) \
            or " #" in text or ": " in text or text[-1] == ":":
        raise _Out
    if first in _NUMERIC:
        if _INT.match(text):
            return int(text)
        if _FLOAT.match(text):
            return float(text)
        if _rare("int").match(text) or _rare("float").match(text):
            raise _Out
        return text  # text, or a timestamp, which records keep as text
    if text in _WORDS:
        return _WORDS[text]
    if text in ("<<", "="):
        raise _Out
    return text
