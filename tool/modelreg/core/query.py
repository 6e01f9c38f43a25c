"""The query language of `version list --where` and `best`: parse once, evaluate over plain dicts.

    mmlu/accuracy >= 0.6 and stage == staging
    not (params.lr > 1e-4 or tags.team == "search") and created_at >= 2026-11

A comparison is KEY OP VALUE with OP one of == != < <= > >=. A KEY is a metric
(`BENCHMARK/METRIC`, its last recorded value), a field (FIELDS), a parameter (`params.NAME`)
or a tag (`tags.NAME`: the version's tag, else the model's). A VALUE is a number, a quoted
string or a bare word. `and` binds tighter than `or`; `not` and parentheses as usual.

A row without the key matches no comparison on it (`!=` included), so `not (K == V)` is how to
ask for "K is missing or differs". Numbers compare as numbers, text as text (ISO dates sort as
text), a number against text never matches (`!=` does). No eval: a small recursive-descent
parser, pure, no git. Errors are one line naming the column and marking it with `-->`.
"""
import math
import operator
import re

from .errors import InvalidInput

FIELDS = ("stage", "status", "version", "model", "model_type", "created_at", "created_by")
OPS = {"==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le,
       ">": operator.gt, ">=": operator.ge}
KEYWORDS = ("and", "or", "not")
# the fields of a version record a query can name: what the summary keeps (store/summaries.py)
SUMMARY_FIELDS = ("version", "model_type", "stage", "status", "created_at", "created_by",
                  "parameters", "metrics", "tags")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")
_TOKEN = re.compile(r"""\s*(?:(?P<op>==|!=|<=|>=|<|>)|(?P<paren>[()])|(?P<quoted>'[^']*'|"[^"]*")"""
                    r"""|(?P<word>[^\s()<>=!'"]+)|(?P<bad>\S))""")


class QueryError(InvalidInput):
    """A query that does not parse; `column` (1-based) is where."""

    @classmethod
    def at(cls, text: str, pos: int, problem: str, what: str = "query") -> "QueryError":
        marked = f" in: {text[:pos]}-->{text[pos:]}" if text.strip() else ""
        return cls(f"invalid {what} at column {pos + 1}: {problem}{marked}", column=pos + 1)

    @property
    def column(self) -> int:
        return self.hint_args["column"]


# -- keys and values ----------------------------------------------------------------------
class Key:
    """What a comparison or a sort reads from a row: kind is metric, field, param or tag.
    (Plain classes here, not dataclasses: generating their methods costs every CLI start ~10 ms.)"""
    __slots__ = ("kind", "name", "value")

    def __init__(self, kind: str, name: str):
        self.kind, self.name = kind, name
        self.value = _getter(kind, name)  # value(row): the row's value for this key, None when it has none

    def __eq__(self, other) -> bool:
        return isinstance(other, Key) and (self.kind, self.name) == (other.kind, other.name)

    def __hash__(self) -> int:
        return hash((self.kind, self.name))

    def __repr__(self) -> str:
        return f"Key({self.kind!r}, {self.name!r})"

    def __str__(self) -> str:
        return {"param": "params.", "tag": "tags."}.get(self.kind, "") + self.name


def _getter(kind: str, name: str):
    """One closure per key: a query reads 10,000 rows, so the dispatch happens once, here."""
    if kind == "field":
        return lambda row: row.get(name)
    if kind == "metric":
        benchmark, _, metric = name.partition("/")
        return lambda row: metric_value(row, benchmark, metric)
    if kind == "param":
        return lambda row: (row.get("parameters") or {}).get(name)

    def tag(row):
        found = (row.get("tags") or {}).get(name)
        return found if found is not None else (row.get("model_tags") or {}).get(name)
    return tag


def metric_value(row: dict, benchmark: str, metric: str):
    """The last recorded value of benchmark/metric (as gates read it), or None."""
    found = None
    for m in row.get("metrics") or ():
        if isinstance(m, dict) and m.get("benchmark") == benchmark and m.get("metric") == metric:
            found = m.get("value")
    return found


def parse_key(text: str, pos: int = 0, source: str | None = None, what: str = "key") -> Key:
    """`mmlu/accuracy`, `stage`, `params.lr`, `tags.team` -> a Key (QueryError otherwise)."""
    source = text if source is None else source
    if "/" in text:
        benchmark, _, metric = text.partition("/")
        if not (_NAME.fullmatch(benchmark) and _NAME.fullmatch(metric)):
            raise QueryError.at(source, pos, f"{text!r} is not a metric name (BENCHMARK/METRIC, e.g. mmlu/accuracy)",
                                what)
        return Key("metric", text)
    for prefix, kind in (("params.", "param"), ("tags.", "tag")):
        if text.startswith(prefix):
            if not text[len(prefix):]:
                raise QueryError.at(source, pos, f"{text!r} names no {kind}: use {prefix}NAME", what)
            return Key(kind, text[len(prefix):])
    if text in FIELDS:
        return Key("field", text)
    raise QueryError.at(source, pos, f"unknown key {text!r}: use a field ({', '.join(FIELDS)}), "
                                     "BENCHMARK/METRIC, params.NAME or tags.NAME", what)


class Literal:
    __slots__ = ("text", "number")

    def __init__(self, text: str, number: float | None):
        self.text, self.number = text, number  # number: set for an unquoted number

    def __str__(self) -> str:
        return self.text if self.number is not None or _bare(self.text) else repr(self.text)


def _bare(text: str) -> bool:
    return bool(text) and text.lower() not in KEYWORDS and re.fullmatch(r"[^\s()<>=!'\"]+", text) is not None


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def finite_number(value) -> bool:
    return _is_number(value) and math.isfinite(value)


# -- the tree ------------------------------------------------------------------------------
class Compare:
    __slots__ = ("key", "op", "literal", "_test")

    def __init__(self, key: Key, op: str, literal: Literal):
        self.key, self.op, self.literal, self._test = key, op, literal, OPS[op]

    def __str__(self) -> str:
        return f"{self.key} {self.op} {self.literal}"

    def matches(self, row: dict) -> bool:
        actual = self.key.value(row)
        if actual is None:
            return False  # a row without the key matches no comparison on it
        kind, lit = type(actual), self.literal
        if kind is float or kind is int:
            if lit.number is None:
                return self.op == "!="
            return self._test(actual, lit.number)  # NaN: only != holds
        if kind is bool:
            if lit.text.lower() not in ("true", "false"):
                return self.op == "!="
            return self.op in ("==", "!=") and self._test(actual, lit.text.lower() == "true")
        return self._test(str(actual), lit.text)

    def comparisons(self):
        yield self


class Not:
    __slots__ = ("part",)

    def __init__(self, part):
        self.part = part

    def __str__(self) -> str:
        return f"not {_wrap(self.part)}"

    def matches(self, row: dict) -> bool:
        return not self.part.matches(row)

    def comparisons(self):
        yield from self.part.comparisons()


class Group:
    __slots__ = ("op", "parts", "_order")

    def __init__(self, op: str, parts: tuple):
        self.op, self.parts = op, parts  # op: "and" | "or"
        # tested cheapest first: the parts are pure, so the order changes no answer, only how soon
        # `stage == staging` ends the test of 95% of 100,000 rows (issue 23)
        self._order = tuple(sorted(parts, key=_cost))

    def __str__(self) -> str:
        return f" {self.op} ".join(_wrap(p) for p in self.parts)

    def matches(self, row: dict) -> bool:
        wanted = self.op == "or"  # the answer that ends the loop early
        for part in self._order:
            if part.matches(row) == wanted:
                return wanted
        return not wanted

    def comparisons(self):
        for part in self.parts:
            yield from part.comparisons()


_KEY_COST = {"field": 0, "param": 1, "tag": 1, "metric": 2}


def _cost(node) -> int:
    """How much a part costs to test, roughly: a field is one lookup, a metric a walk of a list."""
    return max(_KEY_COST.get(c.key.kind, 2) for c in node.comparisons())


def _wrap(node) -> str:
    return f"({node})" if isinstance(node, Group) else str(node)


class Query:
    """A parsed query: `matches(row)`, the keys it reads, and its text."""

    def __init__(self, root, text: str):
        self.root, self.text = root, text

    def __str__(self) -> str:
        return str(self.root)

    def matches(self, row: dict) -> bool:
        return self.root.matches(row)

    def comparisons(self) -> list[Compare]:
        return list(self.root.comparisons())

    def keys(self) -> set[Key]:
        return {c.key for c in self.comparisons()}

    def values_of(self, key: Key) -> set[str]:
        """The literals compared with `key` (the caller checks them against, e.g., the stages)."""
        return {c.literal.text for c in self.comparisons() if c.key == key}


# -- the parser ------------------------------------------------------------------------------
def _tokens(text: str) -> list[tuple[str, str, int]]:
    found, pos = [], 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:  # trailing whitespace only
            break
        kind = match.lastgroup
        start = match.start(kind)
        if kind == "bad":
            char = match.group(kind)
            if char in "'\"":
                raise QueryError.at(text, start, f"a quoted string without its closing {char}")
            hint = "; comparisons are == != < <= > >=" if char in "=!" else ""
            raise QueryError.at(text, start, f"unexpected {char!r}{hint}")
        found.append((kind, match.group(kind), start))
        pos = match.end()
    return found


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.tokens = _tokens(text)
        self.i = 0

    def peek(self):
        return self.tokens[self.i] if self.i < len(self.tokens) else ("end", "", len(self.text.rstrip()))

    def take(self):
        token = self.peek()
        self.i += 1
        return token

    def fail(self, token, problem: str):
        found = "the query ends" if token[0] == "end" else f"found {token[1]!r}"
        raise QueryError.at(self.text, token[2], f"{problem}, {found}")

    def keyword(self, token, word: str) -> bool:
        return token[0] == "word" and token[1].lower() == word

    def expr(self):
        parts = [self.conjunction()]
        while self.keyword(self.peek(), "or"):
            self.take()
            parts.append(self.conjunction())
        return parts[0] if len(parts) == 1 else Group("or", tuple(parts))

    def conjunction(self):
        parts = [self.negation()]
        while self.keyword(self.peek(), "and"):
            self.take()
            parts.append(self.negation())
        return parts[0] if len(parts) == 1 else Group("and", tuple(parts))

    def negation(self):
        if self.keyword(self.peek(), "not"):
            self.take()
            return Not(self.negation())
        return self.primary()

    def primary(self):
        token = self.take()
        if token[1] == "(" and token[0] == "paren":
            inner = self.expr()
            if self.peek()[1] != ")":
                self.fail(self.peek(), f"expected ')' to close the '(' at column {token[2] + 1}")
            self.take()
            return inner
        if token[0] != "word" or token[1].lower() in KEYWORDS:
            self.fail(token, "expected a key (BENCHMARK/METRIC, a field, params.NAME or tags.NAME) or '('")
        key = parse_key(token[1], token[2], self.text, "query")
        op = self.take()
        if op[0] != "op":
            self.fail(op, f"expected a comparison (== != < <= > >=) after {token[1]!r}")
        return Compare(key, op[1], self.value(op))

    def value(self, op):
        token = self.take()
        if token[0] == "quoted":
            return Literal(token[1][1:-1], None)
        if token[0] != "word" or token[1].lower() in KEYWORDS:
            self.fail(token, f"expected a value after {op[1]!r} (a number, a word or a quoted string)")
        text = token[1]
        number = float(text) if _NUMBER.fullmatch(text) else None
        return Literal(text, number if number is None or math.isfinite(number) else None)


def parse(text: str) -> Query:
    """Parse a query (QueryError, one line with the column, when it does not parse)."""
    parser = _Parser(text)
    if parser.peek()[0] == "end":
        raise QueryError.at(text, 0, "the query is empty; e.g. 'mmlu/accuracy >= 0.6 and stage == staging'")
    root = parser.expr()
    if parser.peek()[0] != "end":
        parser.fail(parser.peek(), "expected 'and', 'or' or the end of the query")
    return Query(root, text)


# -- sorting ---------------------------------------------------------------------------------
class SortKey:
    __slots__ = ("key", "descending")

    def __init__(self, key: Key, descending: bool):
        self.key, self.descending = key, descending

    def __str__(self) -> str:
        return ("-" if self.descending else "") + str(self.key)


def parse_sort(text: str) -> SortKey:
    """`-mmlu/accuracy` (descending), `created_at`, `params.lr` -> a SortKey."""
    descending = text.startswith("-")
    name = text[1:] if descending else text
    if not name:
        raise QueryError.at(text, len(text), "name a key, e.g. -mmlu/accuracy", "sort key")
    return SortKey(parse_key(name, int(descending), text, "sort key"), descending)


def sort_rows(rows: list[dict], by: SortKey) -> list[dict]:
    """`rows` ordered by `by`, stable among equals: numbers first, then text, then the rows
    without the key (or with NaN), whichever the direction."""
    numbers, texts, missing = [], [], []
    for row in rows:
        value = by.key.value(row)
        if value is None or (_is_number(value) and not math.isfinite(value)):
            missing.append(row)
        elif _is_number(value) or isinstance(value, bool):
            numbers.append((value, row))
        else:
            texts.append((str(value), row))
    numbers.sort(key=lambda pair: pair[0], reverse=by.descending)
    texts.sort(key=lambda pair: pair[0], reverse=by.descending)
    return [row for _, row in numbers] + [row for _, row in texts] + missing


def run(rows, where: Query | None = None, sort: SortKey | None = None, limit: int | None = None) -> list[dict]:
    """Filter, sort and cut `rows` (plain dicts) as `version list --where --sort --limit` does."""
    found = [r for r in rows if where is None or where.matches(r)]
    if sort is not None:
        found = sort_rows(found, sort)
    return found if limit is None else found[:limit]


def summary(record: dict) -> dict:
    """The fields of a version record a query can name (metrics without their config)."""
    kept = {k: record[k] for k in SUMMARY_FIELDS if k in record}
    if isinstance(kept.get("metrics"), list):
        kept["metrics"] = [{k: m.get(k) for k in ("benchmark", "metric", "value")}
                           for m in kept["metrics"] if isinstance(m, dict)]
    return kept
