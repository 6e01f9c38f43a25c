"""core/query (issue 20): the `--where` language parses without eval, evaluates over plain dicts,
sorts with missing keys last, and says where a query goes wrong."""
import pytest

from modelreg.core import query
from modelreg.core.errors import InvalidInput
from modelreg.core.query import Key, QueryError, parse, parse_key, parse_sort, run, sort_rows, summary


def row(model="m", version=1, stage="none", status="active", metrics=None, params=None, tags=None, **more):
    return {"model": model, "version": version, "stage": stage, "status": status, "model_type": "fine_tuned",
            "created_at": f"2026-11-{version:02d}T10:00:00Z", "created_by": "Ada <ada@example.com>",
            "metrics": [{"benchmark": b, "metric": m, "value": v} for (b, m), v in (metrics or {}).items()],
            "parameters": params or {}, "tags": tags or {}, **more}


ROWS = [
    row(version=1, stage="archived", metrics={("mmlu", "accuracy"): 0.55}, params={"lr": 1e-4, "opt": "adam"}),
    row(version=2, stage="staging", metrics={("mmlu", "accuracy"): 0.61, ("hella", "acc"): 0.7},
        params={"lr": 2e-5, "opt": "adam", "lora": True}, tags={"team": "search"}),
    row(version=3, stage="staging", metrics={("mmlu", "accuracy"): 0.66}, params={"lr": 2e-5}),
    row(version=4, stage="production", params={"lr": "warmup"}, model_tags={"team": "support"}),
]


def versions(text: str, rows=ROWS) -> list[int]:
    return [r["version"] for r in run(rows, parse(text))]


@pytest.mark.parametrize("text, expected", [
    ("mmlu/accuracy >= 0.6 and stage == staging", [2, 3]),
    ("mmlu/accuracy>=0.6 and stage==staging", [2, 3]),
    ("mmlu/accuracy > 0.6 or stage == production", [2, 3, 4]),
    ("stage == staging and mmlu/accuracy < 0.65 or version == 1", [1, 2]),  # and binds tighter
    ("stage == staging and (mmlu/accuracy < 0.65 or version == 1)", [2]),
    ("not stage == staging", [1, 4]),
    ("not (stage == staging or stage == archived)", [4]),
    ("version >= 2 and version != 3", [2, 4]),
    ("params.lr == 2e-5", [2, 3]),
    ("params.lr < 1e-3", [1, 2, 3]),  # the text 'warmup' never orders against a number
    ("params.lr != 1e-4", [2, 3, 4]),  # ... but differs from one
    ("params.opt == adam", [1, 2]),
    ("params.opt == 'adam'", [1, 2]),
    ('params.opt == "adam"', [1, 2]),
    ("params.lora == true", [2]),
    ("params.lora != false", [2]),
    ("tags.team == search", [2]),
    ("tags.team == support", [4]),  # the model's tag where the version has none
    ("model == m and model_type == fine_tuned", [1, 2, 3, 4]),
    ("created_at >= 2026-11-03", [3, 4]),  # ISO dates order as text
    ("created_by == 'Ada <ada@example.com>'", [1, 2, 3, 4]),
    ("stage == staging AND version == 3", [3]),
])
def test_queries_select(text, expected):
    assert versions(text) == expected


def test_a_version_without_the_key_matches_no_comparison_on_it():
    assert versions("mmlu/accuracy != 0.5") == [1, 2, 3]  # version 4 has no mmlu: != too
    assert versions("hella/acc < 1") == [2]
    assert versions("params.opt != adam") == []  # 3 and 4 have no opt
    assert versions("not params.opt == adam") == [3, 4]  # how to ask "missing or different"


def test_the_last_recorded_value_of_a_metric_counts():
    twice = [row(metrics={}, version=1) | {"metrics": [{"benchmark": "a", "metric": "b", "value": 0.1},
                                                       {"benchmark": "a", "metric": "b", "value": 0.9}]}]
    assert versions("a/b > 0.5", twice) == [1]


def test_nan_matches_only_inequality():
    rows = [row(metrics={("a", "b"): float("nan")})]
    assert versions("a/b >= 0", rows) == [] and versions("a/b < 0", rows) == []
    assert versions("a/b != 0", rows) == [1]


@pytest.mark.parametrize("text, column, words", [
    ("mmlu/accuracy >= and stage == staging", 18, "expected a value after '>='"),
    ("mmlu/accuracy >=", 17, "the query ends"),
    ("stage = staging", 7, "comparisons are =="),
    ("stag == staging", 1, "unknown key 'stag'"),
    ("(stage == staging", 18, "expected ')'"),
    ("stage == staging)", 17, "expected 'and', 'or' or the end"),
    ("stage == staging version == 2", 18, "found 'version'"),
    ("stage == 'staging", 10, "without its closing '"),
    ("mmlu/ >= 1", 1, "not a metric name"),
    ("params. == 1", 1, "names no param"),
    ("and stage == x", 1, "expected a key"),
    ("", 1, "the query is empty"),
    ("   ", 1, "the query is empty"),
    ("stage staging", 7, "expected a comparison"),
    ("__import__('os') == 1", 1, "unknown key '__import__'"),
])
def test_parse_errors_name_the_column_on_one_line(text, column, words):
    with pytest.raises(QueryError) as caught:
        parse(text)
    message = str(caught.value)
    assert caught.value.column == column and f"at column {column}:" in message and words in message
    assert "\n" not in message and isinstance(caught.value, InvalidInput)
    if text.strip():
        assert f"in: {text[:column - 1]}-->{text[column - 1:]}" in message


def test_parsed_queries_print_back_and_list_their_keys():
    parsed = parse("not (params.lr > 1e-4 or tags.team == 'a b') and created_at >= 2026-11")
    assert str(parsed) == "not (params.lr > 1e-4 or tags.team == 'a b') and created_at >= 2026-11"
    assert parsed.keys() == {Key("param", "lr"), Key("tag", "team"), Key("field", "created_at")}
    assert parse("stage == a or stage != 'b'").values_of(Key("field", "stage")) == {"a", "b"}


def test_keys_and_sort_keys():
    assert parse_key("mmlu/acc.norm") == Key("metric", "mmlu/acc.norm")
    assert parse_key("params.lr") == Key("param", "lr") and parse_key("tags.team") == Key("tag", "team")
    assert str(parse_sort("-mmlu/accuracy")) == "-mmlu/accuracy" and parse_sort("-mmlu/accuracy").descending
    assert not parse_sort("version").descending
    with pytest.raises(QueryError, match="unknown key 'bogus'"):
        parse_sort("-bogus")
    with pytest.raises(QueryError, match="name a key"):
        parse_sort("-")


def test_sort_puts_missing_keys_last_both_ways_and_is_stable():
    desc = [r["version"] for r in sort_rows(ROWS, parse_sort("-mmlu/accuracy"))]
    asc = [r["version"] for r in sort_rows(ROWS, parse_sort("mmlu/accuracy"))]
    assert desc == [3, 2, 1, 4] and asc == [1, 2, 3, 4]
    ties = [r["version"] for r in sort_rows(ROWS, parse_sort("-params.lr"))]
    assert ties == [1, 2, 3, 4]  # numbers in order, equal ones as they came, then text
    assert [r["version"] for r in sort_rows(ROWS, parse_sort("params.lr"))] == [2, 3, 1, 4]
    nan = [row(version=1, metrics={("a", "b"): float("nan")}), row(version=2, metrics={("a", "b"): 0.1})]
    assert [r["version"] for r in sort_rows(nan, parse_sort("-a/b"))] == [2, 1]


def test_run_filters_sorts_and_cuts():
    found = run(ROWS, parse("stage != archived"), parse_sort("-mmlu/accuracy"), limit=2)
    assert [r["version"] for r in found] == [3, 2]
    assert [r["version"] for r in run(ROWS, limit=1)] == [1]


def test_summary_keeps_what_a_query_names():
    record = {**row(metrics={("a", "b"): 1}), "artifacts": [{"path": "x"}], "description": "long"}
    record["metrics"][0]["config"] = {"shots": 5}
    kept = summary(record)
    assert set(kept) == set(query.SUMMARY_FIELDS)
    assert kept["metrics"] == [{"benchmark": "a", "metric": "b", "value": 1}] and "artifacts" not in kept


def test_sort_and_metric_key_errors_say_what_was_wrong():
    with pytest.raises(QueryError, match=r"^invalid sort key at column 2: unknown key 'bogus'"):
        parse_sort("-bogus")
    with pytest.raises(QueryError, match=r"^invalid key at column 1: 'mmlu/' is not a metric name"):
        parse_key("mmlu/")
    with pytest.raises(QueryError, match=r"^invalid query at column 1: unknown key 'x'"):
        parse("x")
