"""The data model's reads over one Snapshot: models, versions, aliases, resolve, lineage.

Pure functions of a snapshot (no git of their own): the Registry picks the commit and asks
here, and so does every module below it that was handed a snapshot. A malformed record is
an InvalidRecord naming its file; a missing one is NotFound.
"""

from ..core import layout
from ..core import lineage as walks
from ..core.errors import InvalidInput, InvalidRecord, NotFound
from ..core.names import check_name
from ..core.refs import ModelRef
from ..core.values import field, value


@value
class Resolved:
    """What a reference resolved to, and where it was read."""
    model: str
    version: int
    stage: str
    status: str
    aliases: tuple[str, ...]
    commit: str
    ref: str
    record: dict = field(compare=False, repr=False)
    # the model's `deprecated` mapping ({value, reason}) when the model is deprecated at this
    # commit: it still resolves (production keeps serving); callers warn (issue 20)
    deprecated: dict | None = field(default=None, compare=False)

    @property
    def name(self) -> str:
        return f"{self.model}@{self.version}"

    @property
    def model_type(self) -> str:
        return self.record.get("model_type", "base_model")

    def to_dict(self) -> dict:
        return {"model": self.model, "version": self.version, "stage": self.stage,
                "status": self.status, "aliases": list(self.aliases), "commit": self.commit,
                "ref": self.ref, "model_type": self.record.get("model_type"),
                "artifacts": self.record.get("artifacts", []), "parent": self.record.get("parent"),
                "deprecated": self.deprecated}


def _mapping(snap, path: str, missing: NotFound | None):
    doc = snap.record(path)  # InvalidRecord for a file that does not parse
    if doc is None:
        if missing is not None:
            raise missing
        return None
    if not isinstance(doc, dict):
        raise InvalidRecord(f"{path}: expected a mapping; fix the file by hand")
    return doc


def model(snap, name: str) -> dict:
    return _mapping(snap, layout.model_file(name), NotFound(f"no model named {name!r}", hint="models"))


def version(snap, name: str, number: int) -> dict:
    doc = _mapping(snap, layout.version_file(name, number), None)
    if doc is None:
        model(snap, name)
        raise NotFound(f"{name} has no version {number}", hint="versions", model=name)
    return doc


def aliases(snap, name: str) -> dict[str, int]:
    doc = _mapping(snap, layout.aliases_file(name), None)
    if doc is None:
        model(snap, name)
        return {}
    return dict(doc.get("aliases") or {})


def card(snap, name: str, number: int) -> dict:
    """card.yaml of a version ({} when it has none)."""
    return _mapping(snap, layout.card_file(name, number), None) or {}


def versions(snap, name: str, stage: str | None = None, include_deleted: bool = False) -> list[dict]:
    """The version records of a model, oldest first (one batch)."""
    model(snap, name)
    snap.prefetch(layout.version_file(name, n) for n in snap.versions(name))
    found = [version(snap, name, n) for n in snap.versions(name)]
    return [v for v in found
            if (include_deleted or v.get("status") != "deleted") and (stage is None or v.get("stage") == stage)]


def models(snap, filter_tags: dict | None = None, active: bool = False) -> list[dict]:
    """The model records, by name, with every tag in `filter_tags` (`active`: not deprecated)."""
    paths = [p for p in (f"{layout.ROOT}/{m}/model.yaml" for m in snap.models()) if snap.has(p)]
    snap.prefetch(paths)
    found = sorted((_mapping(snap, p, None) for p in paths), key=lambda m: m.get("name", ""))
    wanted = filter_tags or {}
    return [m for m in found if all((m.get("tags") or {}).get(k) == v for k, v in wanted.items())
            and not (active and deprecation(m))]


def resolve(snap, target: ModelRef) -> Resolved:
    """NAME@ALIAS / NAME@N / NAME@latest at the snapshot's commit."""
    name = target.model
    snap.prefetch([layout.model_file(name), layout.aliases_file(name)])  # one batch for both
    held = aliases(snap, name)
    if target.version is not None:
        number = target.version
    elif target.alias == "latest":
        number = latest_active(snap, name)
    elif target.alias in held:
        number = held[target.alias]
    else:
        known = ", ".join(sorted(held)) or "none"
        raise NotFound(f"{name} has no alias {target.alias!r} at {snap.commit[:10]} (aliases: {known})")
    record = version(snap, name, number)
    if record.get("status") == "deleted" and target.version is None:
        raise NotFound(f"{target} points at version {number}, which is deleted")
    pointing = tuple(sorted(a for a, v in held.items() if v == number))
    return Resolved(name, number, record.get("stage", "none"), record.get("status", "active"),
                    pointing, snap.commit, str(target), record, deprecation(snap.model(name)))


def deprecation(record: dict | None) -> dict | None:
    """A model record's `deprecated` mapping when it says the model is deprecated, else None."""
    marked = (record or {}).get("deprecated")
    return dict(marked) if isinstance(marked, dict) and marked.get("value") is True else None


def pinned(snap, name: str, number: int) -> Resolved:
    """The version `name`@`number` as a Resolved (no text to parse)."""
    return resolve(snap, ModelRef(name, version=number))


def latest_active(snap, name: str) -> int:
    for number in reversed(snap.versions(name)):
        if version(snap, name, number).get("status") != "deleted":
            return number
    model(snap, name)
    raise NotFound(f"{name} has no active version")


def lineage(snap, start: Resolved) -> list[Resolved]:
    """`start`, then its parent, and so on down to the base model (NotFound for a missing
    parent, PolicyViolation for a cycle)."""
    chain = walks.strict(lookup(snap), walks.Link(start.model, start.version, start.record))
    return [start] + [pinned(snap, link.model, link.version) for link in chain[1:]]


def dependents(snap, name: str, number: int) -> list[tuple[str, int, str]]:
    """(model, version, stage) of every adapter not deleted whose parent is `name`@`number`, in
    any model: what stops loading if that version goes (a fine-tuned child's weights stand alone;
    one batch over every version record)."""
    wanted = [(m, n) for m in snap.models() if _is_name(m) for n in snap.versions(m)]
    snap.prefetch(layout.version_file(m, n) for m, n in wanted)
    found = []
    for m, n in wanted:
        try:
            record = snap.version(m, n)
        except Exception:  # an unreadable record: the record rules report it
            continue
        if isinstance(record, dict) and record.get("status") != "deleted" \
                and walks.Link(m, n, record).model_type == "adapter" and walks.parent_of(record) == (name, number):
            found.append((m, n, record.get("stage", "none")))
    return found


def lookup(snap):
    """A lineage lookup over `snap` that reports a malformed parent (InvalidRecord) rather than
    calling it missing: for strict callers."""
    return lambda name, number: _mapping(snap, layout.version_file(name, number), None) if _is_name(name) else None


def _is_name(name) -> bool:
    try:
        layout.model_dir(name)
    except Exception:  # a folder that is not a valid name: check's layout rule reports it
        return False
    return True


# -- queries (issue 20): `version list --where/--sort/--limit`, `best` --------------------------
# (core/query and store/summaries are imported where used: `resolve` never pays for them)
def find_versions(snap, settings, name: str | None, where=None, sort: str | None = None, limit: int | None = None,
                  stage: str | None = None, include_deleted: bool = False, full: bool = True, git_dir=None) -> list[dict]:
    """The versions of model `name` (None: every model) matching `where` (query text or a parsed
    core.query.Query) and `stage`, sorted by `sort` ('-KEY': descending), at most `limit`: whole
    records with `model` and `aliases`, or (`full=False`) the query rows. Deleted versions count
    with `include_deleted` or when the query names `status`. `git_dir`: where the cache lives."""
    from ..core import query as queries

    where, names = parse_query(where, settings), _scope(snap, settings, name, stage)
    deleted = include_deleted or (where is not None and queries.Key("field", "status") in where.keys())
    rows = query_rows(snap, names, where, queries.parse_sort(sort) if sort else None, limit, stage, deleted,
                      _cache(git_dir))
    return full_records(snap, rows) if full else rows


def best_version(snap, settings, metric: str, name: str | None = None, lowest: bool = False, where=None,
                 stage: str | None = None, git_dir=None) -> dict:
    """The version of model `name` (None: every model) with the highest (`lowest`) value of `metric`
    (BENCHMARK/METRIC) among those matching `where` and `stage`; NotFound when none has one."""
    from ..core import query as queries

    key = queries.parse_key(metric)
    if key.kind != "metric":
        raise InvalidInput(f"{metric!r} is not a metric: give BENCHMARK/METRIC, e.g. mmlu/accuracy")
    where, names = parse_query(where, settings), _scope(snap, settings, name, stage)
    found = best(snap, names, key, lowest, where, stage, _cache(git_dir))
    if found is None:
        raise NotFound(f"no version {f'of {name}' if name else 'of any model'} has a value for {metric}"
                       + (f" and matches {where}" if where is not None else "") + (f" in stage {stage}" if stage else ""))
    return {"ref": f"{found['model']}@{found['version']}", "model": found["model"], "version": found["version"],
            "metric": metric, "value": found["value"], "stage": found.get("stage"), "status": found.get("status"),
            "commit": snap.commit}


def parse_query(where, settings):
    """Query text -> a core.query.Query, its stage names checked against `settings`."""
    from ..core import query as queries

    if where is None or isinstance(where, queries.Query):
        return where
    parsed = queries.parse(where)
    for stage in parsed.values_of(queries.Key("field", "stage")):
        settings.check_stage(stage)
    return parsed


def _scope(snap, settings, name: str | None, stage: str | None) -> list[str] | None:
    """The models a query reads (None: every model; NotFound for an unknown one); `stage` checked."""
    if stage is not None:
        settings.check_stage(stage)
    if name is not None:
        model(snap, check_name(name))
        return [name]
    return None


def _cache(git_dir):
    from . import summaries

    return summaries.cache_dir(git_dir) if git_dir is not None else None


def model_names(snap) -> list[str]:
    """Every model folder with a model.yaml (no record parsed: the index answers)."""
    return [m for m in snap.models() if _is_name(m) and snap.has(layout.model_file(m))]


def query_rows(snap, names: list[str] | None, where=None, sort=None, limit: int | None = None,
               stage: str | None = None, include_deleted: bool = False, cache=None) -> list[dict]:
    """The versions of `names` (None: every model) as query rows (core/query.summary plus
    `model`), filtered by `where` (a core.query.Query), `stage` and status, sorted by `sort`,
    cut to `limit`. Deleted versions count only with `include_deleted`. Rows come from
    store/summaries.py (`cache`: its folder), so a warm query parses no record."""
    picked = _matching(snap, names, where, sort, limit, stage, include_deleted, cache)
    return [_plain(r) for r in picked]


def _plain(row: dict) -> dict:
    """A row of its own for the caller (the cached table's rows are shared), without model_tags."""
    return {k: v for k, v in row.items() if k != "model_tags"}


def _matching(snap, names, where, sort, limit, stage, include_deleted, cache) -> list[dict]:
    """query_rows' rows before they are copied: shared with the cache, never to be changed."""
    from ..core import query as queries

    if names is None:
        table = _table(snap, cache)
        found, tags = table["rows"], table["models"]
    else:
        found = _rows(snap, names, cache)
        tags = _model_tags(snap, names, cache) if where is not None and _reads_tags(where) else {}
    rows = [r for r in found if (include_deleted or r.get("status") != "deleted")
            and (stage is None or r.get("stage") == stage)]
    if where is not None and _reads_tags(where):
        rows = [{**r, "model_tags": (tags.get(r["model"]) or {}).get("tags")} for r in rows]
    return queries.run(rows, where, sort, limit)


def _reads_tags(where) -> bool:
    return any(k.kind == "tag" for k in where.keys())


PARSE_BELOW = 200  # records


def _rows(snap, names: list[str], cache) -> list[dict]:
    """One row per version of `names`, oldest first (InvalidRecord for a malformed record)."""
    from . import summaries

    wanted = [(m, n, layout.version_file(m, n)) for m in names for n in snap.versions(m)]
    # a few records parse faster than the cache file (every blob of the registry) loads
    found = summaries.rows(snap, [p for _, _, p in wanted], "version", cache if len(wanted) > PARSE_BELOW else None)
    for m, n, path in wanted:
        if found[path] is None:
            version(snap, m, n)  # raises InvalidRecord, naming the file
            raise InvalidRecord(f"{path}: expected a mapping; fix the file by hand")
    return [{"model": m, **found[path]} for m, _, path in wanted]


def _model_tags(snap, names: list[str], cache) -> dict[str, dict]:
    from . import summaries

    found = summaries.rows(snap, [layout.model_file(m) for m in names], "model",
                           cache if len(names) > PARSE_BELOW else None)
    return {m: found[layout.model_file(m)] or {"tags": {}} for m in names}


def _table(snap, cache) -> dict:
    """{"models": name -> {"tags"}, "rows": every version's row}: the whole registry at the
    snapshot's commit, saved per commit (a warm query across every model lists no tree)."""
    from . import summaries

    cache = cache if snap.git is not None else None
    table = summaries.load_table(cache, snap.commit)
    if not (isinstance(table, dict) and isinstance(table.get("models"), dict) and isinstance(table.get("rows"), list)):
        names = model_names(snap)
        table = {"models": _model_tags(snap, names, cache), "rows": _rows(snap, names, cache)}
        summaries.save_table(cache, snap.commit, table)
    return table


def full_records(snap, rows: list[dict]) -> list[dict]:
    """Each row's whole version record, with `model` and the aliases pointing at it (one batch)."""
    models = list(dict.fromkeys(r["model"] for r in rows))
    snap.prefetch([layout.version_file(r["model"], r["version"]) for r in rows]
                  + [layout.aliases_file(m) for m in models])
    held = {m: aliases(snap, m) for m in models}
    return [{"model": r["model"], **version(snap, r["model"], r["version"]),
             "aliases": sorted(a for a, n in held[r["model"]].items() if n == r["version"])} for r in rows]


def best(snap, names: list[str] | None, metric, lowest: bool = False, where=None, stage: str | None = None,
         cache=None) -> dict | None:
    """The query row with the highest (`lowest`: lowest) finite value of `metric` (a core.query
    Key) among the versions of `names` (None: every model) matching `where` and `stage`, with that `value`; None
    when no version has one. Ties go to the first model by name, then the oldest version."""
    from ..core import query as queries

    # one pass, not a sort of every row (100,000 at issue 23's scale): the first row in model and
    # version order holding the highest (lowest) finite value is the one a stable sort puts first
    found, best_value = None, None
    for row in _matching(snap, names, where, None, None, stage, False, cache):
        value = metric.value(row)
        if queries.finite_number(value) and (found is None or (value < best_value if lowest else value > best_value)):
            found, best_value = row, value
    return None if found is None else {**_plain(found), "value": best_value}
