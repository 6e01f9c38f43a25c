"""core/values.py gives the read path's classes what @dataclass gave them (issue 23: without the
dataclasses import a cold resolve starts ~10 ms sooner)."""
import subprocess
import sys

import pytest

from modelreg.core.lineage import Link
from modelreg.core.refs import ModelRef, parse_ref
from modelreg.core.settings import Retention, Settings
from modelreg.core.values import FrozenInstanceError, field, value
from modelreg.store.reads import Resolved


def test_frozen_values_compare_hash_and_print_by_their_fields():
    assert parse_ref("m@3") == ModelRef("m", version=3) == ModelRef(model="m", version=3, alias=None)
    assert ModelRef("m", alias="production") != ModelRef("m", version=3) and ModelRef("m") != ("m", None, None)
    assert len({ModelRef("m", 3), ModelRef("m", 3), ModelRef("m", 4)}) == 2
    assert repr(ModelRef("m", 3)) == "ModelRef(model='m', version=3, alias=None)" and str(ModelRef("m", 3)) == "m@3"
    with pytest.raises(FrozenInstanceError):
        ModelRef("m").model = "n"
    with pytest.raises(AttributeError):
        del ModelRef("m").alias
    with pytest.raises(TypeError):
        ModelRef()
    with pytest.raises(TypeError):
        ModelRef("m", 1, "a", "extra")
    with pytest.raises(TypeError):
        ModelRef("m", model="n")


def test_fields_left_out_of_comparison_and_repr():
    a = Link("m", 1, {"x": 1})
    assert a == Link("m", 1, {"x": 2}) and hash(a) == hash(Link("m", 1, {})) and repr(a) == "Link(model='m', version=1)"
    r = Resolved("m", 1, "production", "active", ("production",), "c" * 40, "m@production", {"a": 1})
    assert r.deprecated is None and r == Resolved("m", 1, "production", "active", ("production",), "c" * 40,
                                                  "m@production", {})


def test_a_mutable_value_has_its_own_default_and_is_not_hashable():
    one, two = Settings(), Settings()
    assert one == two and one.raw is not two.raw and one.main_branch == "main"
    one.raw = {}
    assert one != two
    with pytest.raises(TypeError):
        hash(one)
    assert Retention() == Retention(0, None, None) and Retention(keep_last=2).keep_last == 2


def test_a_field_without_a_default_may_not_follow_one_with_a_default():
    with pytest.raises(TypeError):
        @value
        class Bad:
            a: int = 1
            b: int

    @value
    class Good:
        a: int
        b: list = field(default_factory=list)
    assert Good(1).b == [] and Good(1).b is not Good(1).b


def test_a_resolve_imports_no_dataclasses():
    code = "import sys, modelreg.registry, modelreg.cli.fastpath\nprint('dataclasses' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "False"
