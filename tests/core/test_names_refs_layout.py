"""Edge cases of names, aliases, tag keys, refs, versions and the layout (test_records.py has the common forms)."""
import pytest

from modelreg.core import layout
from modelreg.core.errors import InvalidInput
from modelreg.core.names import check_alias, check_name, check_tag_key
from modelreg.core.refs import ModelRef, parse_ref, parse_version


# -- names ---------------------------------------------------------------------------
@pytest.mark.parametrize("bad", ["abc\n", "\nabc", "é", "ａbc", "gpt-v2", "x_tmp", "x-backup", "x_latest",
                                 "x_final", "x_copy", "x-v10", None, 5, ["a"]])
def test_more_bad_names(bad):
    with pytest.raises(InvalidInput):
        check_name(bad)


@pytest.mark.parametrize("good", ["model_v", "v2", "tmp", "newmodel", "model-newer", "x_v2x", "a-b_c9"])
def test_names_that_only_look_version_like(good):
    assert check_name(good) == good


def test_the_message_names_what_was_checked():
    with pytest.raises(InvalidInput, match="invalid alias 'Bad'"):
        check_alias("Bad")
    with pytest.raises(InvalidInput, match="invalid model name 'x_v2'.*version-like suffix"):
        check_name("x_v2")


@pytest.mark.parametrize("bad", ["v03", "0", "12345", "latest", None, "", "3a"])
def test_reserved_or_bad_aliases(bad):
    with pytest.raises(InvalidInput):
        check_alias(bad)


@pytest.mark.parametrize("good", ["v", "latest2", "production", "v2beta"])
def test_aliases_close_to_reserved_words(good):
    assert check_alias(good) == good


@pytest.mark.parametrize("key, ok", [("team", True), ("a.b:c/d-e_f", True), ("9lives", True), ("k" * 128, True),
                                     ("k" * 129, False), ("", False), (None, False), ("-x", False),
                                     ("a b", False), ("a\n", False), ("é", False)])
def test_tag_keys(key, ok):
    if ok:
        assert check_tag_key(key) == key
    else:
        with pytest.raises(InvalidInput):
            check_tag_key(key)


# -- references ----------------------------------------------------------------------
def test_equal_references_parse_equal():
    assert parse_ref("m@v3") == parse_ref("m@3") == parse_ref("m@003") == ModelRef("m", version=3)
    assert parse_ref("m") == ModelRef("m", alias="production")
    assert str(parse_ref("m@v3")) == "m@3" and str(parse_ref("m")) == "m@production"
    assert parse_ref("m@v") == ModelRef("m", alias="v"), "'v' alone is an alias name, not a version"


@pytest.mark.parametrize("bad", ["m@v0", "m@00", "m@-1", "m@+3", "m@3@4", "m@ 3", "m@3 ", "m@LATEST", "M@1",
                                 "m@٣", "m@²", "@1", "m@v3.0", None])
def test_bad_references(bad):
    with pytest.raises(InvalidInput):
        parse_ref(bad)


def test_version_zero_says_versions_start_at_one():
    with pytest.raises(InvalidInput, match="versions start at 1"):
        parse_ref("m@v0")


@pytest.mark.parametrize("text, number", [(3, 3), ("3", 3), ("v3", 3), ("007", 7), ("v10", 10)])
def test_parse_version(text, number):
    assert parse_version(text) == number


@pytest.mark.parametrize("bad", [0, "0", "v0", -1, "-1", "vv3", "", "v", "3.0", 3.0, "٣", True, None, "V3"])
def test_bad_versions(bad):
    with pytest.raises(InvalidInput):
        parse_version(bad)


# -- layout --------------------------------------------------------------------------
BUILT = [(layout.model_file, ("m",), "model", None), (layout.aliases_file, ("m",), "aliases", None),
         (layout.version_file, ("m", 2), "version", 2), (layout.card_file, ("m", 2), "card", 2),
         (layout.pointer_file, ("m", 2), "pointer", 2), (layout.signature_file, ("m", 2), "signature", 2),
         (layout.template_file, ("m", 2), "template", 2)]


@pytest.mark.parametrize("build, args, kind, number", BUILT)
def test_every_built_path_classifies_back(build, args, kind, number):
    path = build(*args)
    assert layout.classify(path) == (kind, "m", number)
    assert layout.model_of(path) == "m"


@pytest.mark.parametrize("path", ["registry/m/versions/0/version.yaml", "registry/m/versions/01/version.yaml",
                                  "registry/m/versions/x/version.yaml", "registry/m/versions/1/weights/a.bin",
                                  "registry/m/versions/1/version.yaml.tmp", "registry/m/versions/1/notes.md",
                                  "registry/m/notes.md", "registry/model.yaml", "other/m/model.yaml",
                                  "registry/m/sub/model.yaml", "registry.yaml", "registry/m/versions/1"])
def test_unknown_paths_classify_as_none(path):
    assert layout.classify(path) is None


def test_classify_takes_folder_names_as_they_are():
    assert layout.classify("registry/Bad Name/model.yaml") == ("model", "Bad Name", None)


@pytest.mark.parametrize("path, model", [("registry/m/model.yaml", "m"), ("registry/m/versions/1/weights/x", "m"),
                                         ("registry/m", None), ("registry/", None), ("registry.yaml", None),
                                         ("schemas/version.schema.json", None), ("docs/registry/m/x", None)])
def test_model_of(path, model):
    assert layout.model_of(path) == model


def test_paths_are_built_from_checked_names_and_numbers():
    with pytest.raises(InvalidInput):
        layout.model_file("../etc")
    for bad in (0, -1, "1", 1.0, None, True):
        with pytest.raises(ValueError):
            layout.version_dir("m", bad)
    assert layout.weights_dir("m", 3) == "registry/m/versions/3/weights"


def test_schema_ref_climbs_to_the_root():
    assert layout.schema_ref(layout.model_file("m"), "model") == "../../schemas/model.schema.json"
    assert layout.schema_ref(layout.version_file("m", 1), "version") == "../../../../schemas/version.schema.json"
    assert layout.schema_ref("registry.yaml", "registry") == "schemas/registry.schema.json"
