"""core/fastyaml.py answers only where its answer is PyYAML's (issue 23: parsing at 100,000 versions).

Every test compares the fast reader with the reference (records.parse_with_pyyaml): on the
records modelreg writes, on tricky scalars, on hand-written documents, and on thousands of
mutated records. The fast reader may give up (FALLBACK) anywhere; it may never differ."""
import copy
import random
import sys
from pathlib import Path

import pytest

from modelreg.core import fastyaml, layout
from modelreg.core.errors import InvalidRecord
from modelreg.core.records import dump_yaml, load_yaml, parse_with_pyyaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

import gen_registry  # noqa: E402


def reference(data):
    try:
        return parse_with_pyyaml(data, "x.yaml")
    except InvalidRecord:
        return InvalidRecord


def agrees(data) -> bool:
    """The fast reader gave up, or gave exactly the reference's value (types included)."""
    fast = fastyaml.parse(data)
    if fast is fastyaml.FALLBACK:
        return True
    return repr(fast) == repr(reference(data))


def written_records() -> list[bytes]:
    files = list(gen_registry.model_files(7, 3).values())
    files += [p.read_bytes() for p in (ROOT / "registry").rglob("*") if p.suffix in (".yaml", ".dvc")]
    files.append((ROOT / "registry.yaml").read_bytes())
    return files


def test_the_records_modelreg_writes_take_the_fast_path_and_read_the_same():
    records = written_records()
    assert len(records) > 20
    for data in records:
        fast = fastyaml.parse(data)
        assert fast is not fastyaml.FALLBACK, data
        assert repr(fast) == repr(reference(data))


SCALARS = ["yes", "No", "on", "OFF", "true", "False", "y", "n", "~", "null", "NULL", "", " ", "  lead", "trail  ",
           "0", "-0", "007", "08", "0x1F", "0b101", "0o17", "1_000", "1:30", "1:30.5", "12:30:00", "1e5", "1.0e+5",
           "1.0E-5", "1.", ".5", "-.5", "+5", "+1.5", ".inf", "-.inf", ".NaN", "nan", "2026-01-01",
           "2026-01-01T00:00:00Z", "2026-1-1 1:00:00", "=", "<<", "-", "- a", "-a", "--", "---", "...", "?", "? a",
           ":", ":a", "a:", "a: b", "a:b", "a #b", "a#b", "#a", "@a", "`a", "%a", "!a", "&a", "*a", "|", ">", "{}",
           "[]", "{a: 1}", "[1]", "a, b", "a [b]", "'", "''", "\"", "it's", "say \"hi\"", "back\\slash", "tab\tin",
           "cr\rin", "nl\nin", "caf\u00e9", "nbsp\u00a0", "\u2028", "\u0085", "\ufeff", "emoji \U0001f600",
           "http://x.example/a?b=c#d", "@acme/team", "Bench Bot <bench@example.com>", "C:\\path"]
VALUES = SCALARS + [0, 1, -5, 10**30, 0.5, -0.0, 1e-05, 1e300, float("inf"), True, False, None, [], {},
                    ["a", 1, None], {"k": "v"}, {"nested": {"list": [{"a": 1, "b": [2, 3]}]}}]


@pytest.mark.parametrize("value", VALUES, ids=repr)
def test_every_value_the_serializer_writes_reads_back_as_pyyaml_reads_it(value):
    twice = [value, copy.deepcopy(value)]  # the same object twice would be written as an anchor
    for doc in ({"key": value}, {"key": twice}, {"list": [{"key": value, "other": 1}]}):
        data = dump_yaml(doc, "../schemas/x.schema.json")
        assert agrees(data), data
        assert repr(load_yaml(data)) == repr(reference(data))


@pytest.mark.parametrize("text", [f"key: {s}\n" for s in SCALARS] + [f"- {s}\n" for s in SCALARS] + [
    "a: 1\na: 2\n", "a:\n  b: 1\n c: 2\n", "a:\n  b: 1\n    c: 2\n", "a: 1\n  b: 2\n", "a: x\n  y\n",
    "a:\n- 1\n- 2\nb: 3\n", "a:\n  - 1\n  - 2\n", "- a\n- b\n", "a:\n-\n", "a:\n- - 1\n", "a:\n- b: 1\n  c: 2\n- d\n",
    "a:\n- b: 1\n   c: 2\n", "a:\n- b: 1\n c: 2\n", "a:\n-   b: 1\n    c: 2\n", "a:\n- b:\n  - 1\n", "a:\n- b:\n    c: 1\n",
    "a: 1 # c\n", "a: 1\n# c\n  # c\nb: 2\n", "\n\na: 1\n\n", "  a: 1\n", "a: 1\r\nb: 2\r\n", "a:\t1\n", "\ta: 1\n",
    "---\na: 1\n", "a: 1\n...\n", "%YAML 1.1\n---\na: 1\n", "a: 1\n---\nb: 2\n", "? a\n: 1\n", "a : 1\n",
    "'a': 1\n", "\"a\": 1\n", "1: a\n", "on: 1\n", "null: 1\n", "a.b/c-d_e: 1\n", "a: 'x'' y'\n", "a: 'x' y\n",
    "a: \"x\"\n", "a: \"x\\ny\"\n", "a: |\n  x\n", "a: >\n  x\n", "a: &x 1\nb: *x\n", "a: !!str 1\n", "{}\n", "[]\n",
    "a: {}\nb: []\n", "a: {b: 1}\n", "a: [1, 2]\n", "", "# only a comment\n", "a:\n", "a:\nb:\n", "a:\n  \n  b: 1\n",
    "a: b: c\n", "a: - b\n", "a: -1\n", "a: x:\n", "a:\n  b: 1\n  b: 2\n", "a: 1\nb:\n  - c: 1\n    c: 2\n",
    "\ufeffa: 1\n", "a: 1\x00\n", "a: \x85\n", "a: 1\u2028b: 2\n",
])
def test_hand_written_documents_read_as_pyyaml_reads_them(text):
    assert agrees(text)
    assert agrees(text.encode())


def test_mutated_records_read_as_pyyaml_reads_them_or_fall_back():
    """Random edits (YAML's special characters, spaces, deleted and repeated lines) to real records."""
    rng = random.Random(23)
    specials = list(" -:#'\"&*!|>%@`{}[],?~.0123456789\tabynTF") + ["\n", "  ", ": ", " #", "- ", "''", "\u00e9"]
    records = [r.decode() for r in written_records()]
    checked = fast = 0
    for _ in range(6000):
        text = rng.choice(records)
        for _ in range(rng.randint(1, 3)):
            pos = rng.randrange(len(text) + 1)
            edit = rng.random()
            if edit < 0.5:
                text = text[:pos] + rng.choice(specials) + text[pos:]
            elif edit < 0.8:
                text = text[:pos] + text[pos + rng.randint(1, 3):]
            else:
                lines = text.split("\n")
                i = rng.randrange(len(lines))
                lines.insert(i, lines[rng.randrange(len(lines))])
                text = "\n".join(lines)
        assert agrees(text), text
        checked += 1
        fast += fastyaml.parse(text) is not fastyaml.FALLBACK
    assert checked == 6000 and fast > 1000  # most edits stay in the subset: the comparison means something


def test_a_record_outside_the_subset_still_reads_through_pyyaml():
    assert load_yaml("a: {b: [1, 2]}\nc: |\n  text\n") == {"a": {"b": [1, 2]}, "c": "text\n"}
    with pytest.raises(InvalidRecord, match="duplicate key 'a'"):
        load_yaml("a: 1\na: 2\n", "x.yaml")
    assert layout.ROOT == "registry"
