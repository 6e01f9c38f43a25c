"""Gate conditions (issue 8): parsing, and numbers that never pass."""
import math

import pytest

from modelreg.rules.gates import parse_condition, passes


@pytest.mark.parametrize("text,parsed", [
    ("mmlu/accuracy >= 0.6", ("mmlu", "accuracy", ">=", 0.6)),
    ("  a.b/c-d<1e-3 ", ("a.b", "c-d", "<", 0.001)),
    ("x/y == -2", ("x", "y", "==", -2.0)),
])
def test_condition_parsing(text, parsed):
    assert parse_condition(text) == parsed


@pytest.mark.parametrize("text", ["mmlu >= 0.6", "a/b => 1", "a/b >= nan", "a/b >= 1.2.3", "", None, 5])
def test_bad_conditions_are_value_errors(text):
    with pytest.raises(ValueError):
        parse_condition(text)


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, None, "0.9", True])
def test_non_numbers_never_pass_a_gate(value):
    """issue 8 hole 10: NaN >= 0.6 is False but NaN <= 0.6 too; inf passes >=: none may pass."""
    assert not passes(value, ">=", 0.6) and not passes(value, "<=", 0.6)


def test_finite_numbers_compare():
    assert passes(0.7, ">=", 0.6) and not passes(0.5, ">=", 0.6) and passes(1, "==", 1.0)
