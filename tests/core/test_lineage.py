"""lineage.walk and strict over a dict lookup: chains, missing parents, cycles, adapters only, bad fields."""
import pytest

from modelreg.core.errors import NotFound, PolicyViolation
from modelreg.core.lineage import Link, adapters_only, parent_of, strict, walk


def rec(model_type="base_model", parent=None) -> dict:
    record = {"model_type": model_type}
    if parent is not None:
        record["parent"] = {"model": parent[0], "version": parent[1], "relation": "fine_tuned"}
    return record


class Lookup:
    """A registry as a dict {(model, version): record}, remembering what was asked."""

    def __init__(self, records: dict):
        self.records, self.asked = records, []

    def __call__(self, model, version):
        self.asked.append((model, version))
        return self.records.get((model, version))

    def link(self, model, version) -> Link:
        return Link(model, version, self.records[(model, version)])


CHAIN = {("lora", 1): rec("adapter", ("tuned", 2)), ("tuned", 2): rec("fine_tuned", ("base", 1)),
         ("base", 1): rec()}


def names(chain) -> list[str]:
    return [link.name for link in chain]


def test_full_chain_down_to_the_root():
    lookup = Lookup(CHAIN)
    chain, broken = walk(lookup, lookup.link("lora", 1))
    assert (names(chain), broken) == (["lora@1", "tuned@2", "base@1"], None)
    assert chain[1].model_type == "fine_tuned" and chain[2].model_type == "base_model"
    assert lookup.asked == [("tuned", 2), ("base", 1)]
    assert strict(lookup, lookup.link("base", 1)) == [lookup.link("base", 1)]


def test_missing_parent_is_a_break():
    lookup = Lookup({("b", 1): rec("fine_tuned", ("a", 3))})
    chain, broken = walk(lookup, lookup.link("b", 1))
    assert names(chain) == ["b@1"]
    assert (broken.kind, broken.child.name, broken.parent, broken.parent_name) == ("missing", "b@1", ("a", 3), "a@3")
    with pytest.raises(NotFound, match="b@1 names parent a@3, which is not in the registry"):
        strict(lookup, lookup.link("b", 1))


def test_cycle_is_a_break():
    lookup = Lookup({("a", 1): rec("fine_tuned", ("b", 1)), ("b", 1): rec("fine_tuned", ("a", 1))})
    chain, broken = walk(lookup, lookup.link("a", 1))
    assert names(chain) == ["a@1", "b@1"]
    assert (broken.kind, broken.child.name, broken.parent) == ("cycle", "b@1", ("a", 1))
    with pytest.raises(PolicyViolation, match="lineage cycle: a@1 -> b@1 -> a@1"):
        strict(lookup, lookup.link("a", 1))


def test_a_version_that_is_its_own_parent():
    lookup = Lookup({("a", 1): rec("fine_tuned", ("a", 1))})
    _, broken = walk(lookup, lookup.link("a", 1))
    assert (broken.kind, broken.parent) == ("cycle", ("a", 1))
    assert lookup.asked == []


def test_adapters_only_stops_at_full_weights():
    lookup = Lookup(CHAIN)
    chain, broken = walk(lookup, lookup.link("lora", 1), adapters_only)
    assert (names(chain), broken) == (["lora@1", "tuned@2"], None)
    assert walk(lookup, lookup.link("tuned", 2), adapters_only) == ([lookup.link("tuned", 2)], None)
    assert strict(lookup, lookup.link("lora", 1), adapters_only) == chain


def test_adapters_only_still_reports_a_missing_base():
    lookup = Lookup({("lora", 1): rec("adapter", ("gone", 1))})
    _, broken = walk(lookup, lookup.link("lora", 1), adapters_only)
    assert broken.kind == "missing"


@pytest.mark.parametrize("parent", [{"model": "a", "version": "x"}, {"model": 5, "version": 1},
                                    {"model": "a", "version": 0}, {"model": "a", "version": -2},
                                    {"model": "a", "version": 1.0}, {"model": None, "version": 1},
                                    {"version": 1}, {"model": "a", "version": True}])
def test_implausible_parent_fields_count_as_missing(parent):
    lookup = Lookup({("a", 1): rec(), ("b", 1): {"model_type": "fine_tuned", "parent": parent}})
    chain, broken = walk(lookup, lookup.link("b", 1))
    assert names(chain) == ["b@1"] and broken.kind == "missing"
    assert lookup.asked == [], "nothing implausible is looked up"
    with pytest.raises(NotFound):
        strict(lookup, lookup.link("b", 1))


def test_a_version_given_as_digits_is_a_number():
    assert parent_of({"parent": {"model": "a", "version": "3"}}) == ("a", 3)
    lookup = Lookup({("a", 3): rec(), ("b", 1): {"parent": {"model": "a", "version": "3"}}})
    assert names(strict(lookup, lookup.link("b", 1))) == ["b@1", "a@3"]


@pytest.mark.parametrize("record", [{}, {"parent": None}, {"parent": "a@1"}, {"parent": ["a", 1]}, [], None])
def test_no_parent_field_is_a_root(record):
    assert parent_of(record) is None


def test_links_compare_without_their_records():
    assert Link("a", 1, {"x": 1}) == Link("a", 1, {"y": 2})
    assert Link("a", 1, {}).model_type == "base_model"
