import pytest

from modelreg.core.errors import InvalidInput, InvalidRecord
from modelreg.core.names import check_alias, check_name
from modelreg.core.records import dump_yaml, load_yaml
from modelreg.core.refs import parse_ref, parse_version


@pytest.mark.parametrize("text, problem", [
    ("a: 1\na: 2\n", "duplicate key 'a'"),
    ("a: !!python/object/apply:os.system ['touch /tmp/x']\n", "tag"),
    ("a: !custom 1\n", "tag"),
    ("a: !!binary aGVsbG8=\n", "tag"),
    ("a: &x [1, 2]\nb: *x\n", "anchors and aliases"),
    ("<<: {a: 1}\n", "merge keys"),
    ("a: [1, 2\n", "not valid YAML"),
])
def test_unsafe_or_broken_yaml_is_refused(text, problem):
    with pytest.raises(InvalidRecord, match=problem):
        load_yaml(text, "x.yaml")


def test_alias_bomb_is_refused_before_expansion():
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n" for i in range(9))
    with pytest.raises(InvalidRecord, match="anchors and aliases"):
        load_yaml(bomb, "bomb.yaml")


def test_oversized_record_is_refused():
    with pytest.raises(InvalidRecord, match="larger than"):
        load_yaml("a: " + "x" * (1 << 20) + "\n", "big.yaml")


def test_timestamps_stay_text_and_roundtrip_in_schema_order():
    doc = load_yaml("created_at: 2026-01-01T00:00:00Z\nversion: 3\nstage: none\n")
    assert doc == {"created_at": "2026-01-01T00:00:00Z", "version": 3, "stage": "none"}
    out = dump_yaml(doc, "../schemas/version.schema.json", ["version", "stage", "created_at"])
    assert out.decode().splitlines() == [
        "# yaml-language-server: $schema=../schemas/version.schema.json",
        "version: 3", "stage: none", "created_at: '2026-01-01T00:00:00Z'"]
    assert load_yaml(out) == doc


@pytest.mark.parametrize("bad", ["../x", "a/b", "-rf", "Foo", "x_v2", "bert-new", "m_old",
                                 "llama_legacy", "a" * 65, "", "1abc", "a b", "a.b"])
def test_bad_names_are_refused(bad):
    with pytest.raises(InvalidInput):
        check_name(bad)


@pytest.mark.parametrize("good", ["llama-ft", "a", "bert_base", "m" * 64, "gpt2", "v2model"])
def test_good_names_pass(good):
    assert check_name(good) == good


def test_aliases_cannot_be_version_like():
    for bad in ("latest", "3", "v3"):
        with pytest.raises(InvalidInput):
            check_alias(bad)
    assert check_alias("champion") == "champion"


def test_parse_ref_forms():
    assert parse_ref("llama").alias == "production"
    assert parse_ref("llama@3").version == 3
    assert parse_ref("llama@v3").version == 3
    assert parse_ref("llama@latest").alias == "latest"
    assert parse_ref("llama@canary").alias == "canary"
    for bad in ("llama@", "llama@0", "../x@1", "llama@Bad", ""):
        with pytest.raises(InvalidInput):
            parse_ref(bad)
    assert parse_version("v12") == 12
    with pytest.raises(InvalidInput):
        parse_version("twelve")
