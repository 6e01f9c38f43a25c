"""The pages of the site: what each one shows (its context) and what it depends on (its inputs).

A page is rendered only when its key (the build id plus the blob shas, events and problems
it shows) differs from the manifest's, so the contexts are built lazily. A rebuild that reads
only some models (`only`) makes only their pages; the index, as-of page and JSON index take the
other models' rows from the last build (`kept`: name -> `rows(model)` as it was).
"""
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..core import lineage, schema
from ..core.errors import InvalidInput
from ..core.extras import missing_extra
from ..core.names import check_name
from . import charts

TEMPLATES = Path(__file__).with_name("templates")
CARD_FIELDS = tuple(schema.key_order("card"))
COMPARE_DERIVED = 200  # derived versions of other models a compare page offers
VERSION_FIELDS = ("model_type", "stage", "status", "description", "source", "training", "parameters", "tags",
                  "created_at", "created_by", "deleted")


@dataclass
class Page:
    path: str
    inputs: list[str]
    make: Callable[[], bytes]
    build_id: str

    @property
    def key(self) -> str:
        return hashlib.sha256("\n".join([self.build_id, *self.inputs]).encode()).hexdigest()

    def render(self) -> bytes:
        return self.make()


class Site:
    def __init__(self, catalog, repo_url: str | None, build_id: str, only: set | None = None,
                 kept: dict | None = None):
        self.catalog, self.repo_url, self.build_id = catalog, repo_url, build_id
        self.models, bad = _split_names(catalog.models)
        self.only = only  # the folders whose pages are made (None: every one)
        self.rows = {}  # folder name -> its rows (see `rows`), every folder the site lists
        for name, rows in (kept or {}).items():
            if only is None or name not in only:
                self.rows[name] = rows
        for name, model in catalog.models.items():
            if only is None or name in only:
                self.rows[name] = self.folder_rows(model, bad.get(name))
        self.rows = dict(sorted(self.rows.items()))
        self.bad_names = [r["bad"] for r in self.rows.values() if r["bad"] is not None]
        self.children = charts.children_index(self.models)
        self.gates = charts.gate_thresholds(catalog.settings)
        self._env = None

    def folder_rows(self, model, bad: str | None) -> dict:
        """What the index, the as-of page and the JSON index show of one model folder, and its
        counts: kept for the next build, which re-reads only the folders that changed."""
        if bad is not None:
            return {"bad": bad}
        summary = self._summary(model)
        api = ({k: summary[k] for k in ("name", "description", "model_type", "owners", "stages", "last_change")}
               | {"tags": model.get("tags") or {}, "aliases": dict(summary["aliases"]),
                  "page": f"models/{model.name}/index.html", "api": f"api/models/{model.name}.json"})
        return {"bad": None, "summary": summary, "api": api, "as_of": self._as_of_row(model),
                "versions": len(model.versions), "problems": summary["problems"]}

    @property
    def rows_digest(self) -> str:
        """What the index, the as-of page and the JSON index show (the same commit can show new
        dates: a clock note that arrived since)."""
        return hashlib.sha256(repr(list(self.rows.items())).encode()).hexdigest()

    def _listed(self) -> list[dict]:
        return [r for r in self.rows.values() if r["bad"] is None]

    @property
    def model_count(self) -> int:
        return len(self._listed())

    @property
    def version_count(self) -> int:
        return sum(r["versions"] for r in self._listed())

    @property
    def problem_count(self) -> int:
        return len(self.bad_names) + sum(r["problems"] for r in self._listed())

    # -- the page list ---------------------------------------------------------------------
    def pages(self) -> list[Page]:
        everything = [self.catalog.commit, self.catalog.ref, json.dumps(self.catalog.settings.raw, sort_keys=True, default=str),
                      self.repo_url or "", self.rows_digest]
        found = [self._page("index.html", everything, "index.html", self.index_context),
                 self._page("as-of.html", everything, "as_of.html", self.as_of_context),
                 Page("api/models.json", everything, self.api_index, self.build_id)]
        for model in self.models.values():
            if self.only is not None and model.name not in self.only:
                continue
            found.append(self._page(f"models/{model.name}/index.html", self._model_inputs(model), "model.html",
                                    lambda m=model: self.model_context(m)))
            found.append(Page(f"api/models/{model.name}.json", self._model_inputs(model),
                              lambda m=model: self.api_model(m), self.build_id))
            found.append(self._page(f"models/{model.name}/compare.html", self._compare_inputs(model),
                                    "compare.html", lambda m=model: self.compare_context(m)))
            for version in model.versions.values():
                found.append(self._page(f"models/{model.name}/{version.number}.html",
                                        self._version_inputs(model, version), "version.html",
                                        lambda m=model, v=version: self.version_context(m, v)))
        return found

    def _page(self, path, inputs, template, context) -> Page:
        root = "../" * path.count("/")
        return Page(path, inputs, lambda: self.render(template, dict(context(), root=root)), self.build_id)

    def render(self, template: str, context: dict) -> bytes:
        base = {"ref": self.catalog.ref, "commit": self.catalog.commit, "repo_url": self.repo_url}
        return self.env.get_template(template).render(**base, **context).encode()

    @property
    def env(self):
        if self._env is None:
            self._env = _environment()
        return self._env

    # -- inputs (what a page shows, as blob shas and facts) ---------------------------------
    def _model_inputs(self, model) -> list[str]:
        shas = [_sha(r) for r in (model.record, model.aliases_record)]
        for v in model.versions.values():
            shas += [_sha(v.record), _sha(v.card), *v.problems]
        nodes = charts.lineage_nodes(self.models, self.children, [(model.name, n) for n in model.versions])
        events = [json.dumps(e, sort_keys=True, default=str) for e in model.events]
        return [*shas, *model.problems, *self._node_shas(nodes), *events, self.repo_url or "",
                json.dumps(self.catalog.settings.get("gates"), sort_keys=True, default=str)]

    def _version_inputs(self, model, version) -> list[str]:
        nodes = charts.lineage_nodes(self.models, self.children, [(model.name, version.number)])
        return [_sha(model.record), _sha(model.aliases_record), _sha(version.record), _sha(version.card),
                _sha(version.pointer), *(f"{n}:{r.sha}" for n, r in sorted(version.extras.items())),
                *version.problems, *self._node_shas(nodes)]

    def _compare_nodes(self, model) -> list[tuple[str, int]]:
        """The model's versions, then other models' versions next to them on the lineage: every
        base down the parent chains, and the versions derived directly from this model's (the first
        COMPARE_DERIVED of those by name and number: a base many teams build on stays small)."""
        own = [(model.name, n) for n in sorted(model.versions)]
        others: set[tuple[str, int]] = set()
        for key in own:
            seen = {key}
            while (key := charts.parent_key(self.models, key)) and key not in seen:
                seen.add(key)
                others.add(key)
        derived = sorted({c for key in own for c in self.children.get(key, [])})
        others.update(derived[:COMPARE_DERIVED])
        known = [k for k in others if k[0] != model.name and k[1] in getattr(self.models.get(k[0]), "versions", {})]
        return own + sorted(known)

    def _compare_inputs(self, model) -> list[str]:
        nodes = self._compare_nodes(model)
        found = [f"{name}:{_sha(self.models[name].aliases_record)}" for name in sorted({n for n, _ in nodes})]
        for name, number in nodes:
            version = self.models[name].versions[number]
            found.append(f"{name}@{number}:{_sha(version.record)}:{_sha(version.card)}")
        return found

    def _node_shas(self, nodes) -> list[str]:
        found = []
        for name, number in sorted(nodes):
            model = self.models.get(name)
            version = model.versions.get(number) if model else None
            found.append(f"{name}@{number}:{_sha(version.record) if version else '-'}")
        return found

    # -- contexts --------------------------------------------------------------------------
    def index_context(self) -> dict:
        rows = [r["summary"] for r in self._listed()]
        options = {key: sorted({value for row in rows for value in row[key]}) for key in ("types", "tags", "stages",
                                                                                           "owners")}
        return {"rows": rows, "options": options, "bad_names": self.bad_names}

    def _summary(self, model) -> dict:
        """One index row; the list-valued keys are what the filters match."""
        active = [v for v in model.versions.values() if v.get("status") != "deleted" and v.record and v.record.ok]
        model_type = model.get("model_type") or ""
        return {"name": model.name, "description": model.get("description") or "", "model_type": model_type,
                "types": [model_type] if model_type else [], "owners": list(model.get("owners") or []),
                "tags": [f"{k}={v}" for k, v in sorted((model.get("tags") or {}).items())],
                "stages": sorted({v.get("stage", "none") for v in active}), "aliases": sorted(model.aliases.items()),
                "last_change": _last_change(model), "versions": len(model.versions),
                "problems": len(model.problems) + sum(len(v.problems) for v in model.versions.values())}

    def model_context(self, model) -> dict:
        versions = [model.versions[n] for n in sorted(model.versions)]
        alias_of = _alias_map(model.aliases)
        rows = [self._version_row(v, alias_of) for v in versions]
        shown = _card_version(model, versions)
        nodes = charts.lineage_nodes(self.models, self.children, [(model.name, v.number) for v in versions])
        lineage = charts.graph(self.models, nodes, {(model.name, v.number) for v in versions})
        valid = [v for v in versions if v.record and v.record.ok]
        return {"model": model, "rows": rows, "trends": [charts.trend(b, m, pts, self.gates.get((b, m), []))
                                                        for (b, m), pts in charts.metric_series(valid).items()],
                "events": [self._event(e) for e in model.events], "card_version": shown,
                "card": _card(shown.card) if shown else None, "lineage": lineage,
                "has_edges": bool(lineage["edges"]), "aliases": sorted(model.aliases.items())}

    def _version_row(self, v, alias_of) -> dict:
        ok = bool(v.record and v.record.ok)
        artifacts = v.get("artifacts") or []
        return {"number": v.number, "ok": ok, "stage": v.get("stage", "?") if ok else "?",
                "status": v.get("status", "active") if ok else "invalid", "aliases": alias_of.get(v.number, []),
                "metrics": [f"{m['benchmark']}/{m['metric']}={m['value']}" for m in v.get("metrics") or []],
                "params": [f"{k}={val}" for k, val in sorted((v.get("parameters") or {}).items())],
                "created": v.get("created_at") or "", "author": _who(v.get("created_by") or ""),
                "size": sum(a.get("size_bytes") or 0 for a in artifacts), "problems": v.problems}

    def version_context(self, model, version) -> dict:
        nodes = charts.lineage_nodes(self.models, self.children, [(model.name, version.number)])
        chain = self._chain(model.name, version.number)
        derived = sorted(self.children.get((model.name, version.number), []))
        ref = f"{model.name}@{version.number}"
        return {"model": model, "version": version, "ok": bool(version.record and version.record.ok),
                "fields": [(k, version.get(k)) for k in VERSION_FIELDS if version.get(k) not in (None, "", {}, [])],
                "metrics": version.get("metrics") or [], "artifacts": version.get("artifacts") or [],
                "aliases": _alias_map(model.aliases).get(version.number, []),
                "card": _card(version.card), "chain": chain, "derived": derived,
                "lineage": charts.graph(self.models, nodes, {(model.name, version.number)}),
                "commands": _commands(ref)}

    def compare_context(self, model) -> dict:
        """Every version the compare page offers, as data its script reads (nothing is computed
        in the browser but the differences)."""
        nodes = self._compare_nodes(model)
        alias_of = {name: _alias_map(self.models[name].aliases) for name in {n for n, _ in nodes}}
        versions = [_compare_entry(self.models[name].versions[number], alias_of[name].get(number, []))
                    for name, number in nodes]
        own = [v["id"] for v in versions if v["model"] == model.name]
        return {"model": model, "data": {"model": model.name, "versions": versions,
                                         "a": own[-2] if len(own) > 1 else (own or [None])[0],
                                         "b": own[-1] if own else None},
                "groups": _groups(versions)}

    def _chain(self, name: str, number: int) -> list[dict]:
        """This version, its parent, and so on to the base; a missing parent ends the chain (shown
        as unknown), and so does a cycle."""
        links, broken = lineage.walk(self._record_of, lineage.Link(name, number, self._record_of(name, number) or {}))
        chain = [{"model": link.model, "version": link.version, "known": True,
                  "model_type": link.record.get("model_type"),
                  "relation": (link.record.get("parent") or {}).get("relation")} for link in links]
        if broken is not None and broken.kind == "missing":
            chain.append({"model": broken.parent[0], "version": broken.parent[1], "known": False,
                          "model_type": None, "relation": None})
        return chain

    def _record_of(self, name, number) -> dict | None:
        """A version's record for the lineage walk: {} when it exists but cannot be shown."""
        model = self.models.get(name)
        version = model.versions.get(number) if model else None
        if version is None:
            return None
        return version.record.data if version.record and version.record.ok else {}

    def as_of_context(self) -> dict:
        alias = self.catalog.settings.stage_aliases.get("production", "production")
        return {"rows": [r["as_of"] for r in self._listed()], "alias": alias}

    def _as_of_row(self, model) -> dict:
        alias = self.catalog.settings.stage_aliases.get("production", "production")
        moves = [e for e in reversed(model.events)
                 if e["event"] in ("alias.set", "alias.remove") and e.get("alias") == alias]
        spans = [{"from": e["date"], "until": nxt["date"] if nxt else None, "version": e.get("to"),
                  "commit": e["commit"]} for e, nxt in zip(moves, [*moves[1:], None])]
        return {"name": model.name, "now": model.aliases.get(alias), "spans": spans}

    def _event(self, event: dict) -> dict:
        from ..store.history import describe

        return dict(event, what=describe(event), who=_who(event.get("author", "")))

    # -- the JSON mirror -------------------------------------------------------------------
    def api_index(self) -> bytes:
        models = [r["api"] for r in self._listed()]
        return _json({"ref": self.catalog.ref, "commit": self.catalog.commit, "models": models})

    def api_model(self, model) -> bytes:
        versions = []
        stages: dict[str, list[int]] = {}
        for number in sorted(model.versions):
            v = model.versions[number]
            ok = bool(v.record and v.record.ok)
            if ok and v.get("status") != "deleted":
                stages.setdefault(v.get("stage", "none"), []).append(number)
            versions.append({"version": number, "stage": v.get("stage") if ok else None,
                             "status": v.get("status", "active") if ok else "invalid",
                             "record": v.record.data if ok else None, "problems": v.problems,
                             "page": f"models/{model.name}/{number}.html"})
        # no commit here: the file is kept while the model's records stay the same (models.json has it)
        return _json({"name": model.name,
                      "model": model.record.data if model.record and model.record.ok else None,
                      "aliases": model.aliases, "stages": stages, "versions": versions, "problems": model.problems})


# -- helpers -------------------------------------------------------------------------------
def _environment():
    try:
        import jinja2
    except ImportError as exc:
        raise missing_extra("site", "the site", ["jinja2"]) from exc

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=True,
                             trim_blocks=True, lstrip_blocks=True)
    env.policies["json.dumps_kwargs"] = {"sort_keys": True, "default": str}  # a YAML date in a record
    env.filters["size"] = human_size
    env.filters["utc"] = utc_text
    env.filters["yaml"] = _yaml_text
    env.filters["label"] = lambda key: str(key).replace("_", " ").capitalize()
    return env


def _split_names(models: dict) -> tuple[dict, dict[str, str]]:
    """Names become file paths in the site: a folder with a bad name is listed as a problem."""
    good, bad = {}, {}
    for name, model in models.items():
        try:
            good[check_name(name)] = model
        except InvalidInput as exc:
            bad[name] = str(exc)
    return good, bad


def _sha(record) -> str:
    return record.sha if record is not None else "-"


def _json(data) -> bytes:
    return (json.dumps(data, indent=1, sort_keys=False, default=str) + "\n").encode()


def _alias_map(aliases: dict) -> dict[int, list[str]]:
    found: dict[int, list[str]] = {}
    for alias, number in sorted(aliases.items()):
        found.setdefault(number, []).append(alias)
    return found


def _last_change(model) -> str:
    if model.events:
        return model.events[0]["date"]
    return model.get("created_at") or ""


def _who(author: str) -> str:
    return author.split(" <")[0]


def _card_version(model, versions):
    """The card a model page shows: production's, else the newest version's that has one."""
    with_card = [v for v in versions if v.card is not None]
    production = [v for v in with_card if v.get("stage") == "production"]
    return (production or with_card or [None])[-1]


def _card(record) -> dict | None:
    if record is None:
        return None
    if not record.ok:
        return {"ok": False, "problems": record.problems, "text": record.text}
    filled = [(k, record.data[k]) for k in CARD_FIELDS if record.data.get(k) not in (None, "", [], {})]
    return {"ok": True, "fields": filled}


def _compare_entry(version, aliases: list[str]) -> dict:
    """What the compare page shows of one version: plain data, read by its script."""
    ok = bool(version.record and version.record.ok)
    parent = charts.parent_of(version)
    card = _card(version.card)
    metrics = {f"{m['benchmark']}/{m['metric']}": m["value"] for m in version.get("metrics") or []
               if isinstance(m.get("value"), (int, float)) and not isinstance(m.get("value"), bool)}
    return {"id": f"{version.model}@{version.number}", "model": version.model, "version": version.number,
            "ok": ok, "stage": version.get("stage") if ok else None,
            "status": version.get("status", "active") if ok else "invalid",
            "deleted": version.get("deleted"), "created_at": version.get("created_at"), "aliases": aliases,
            "parent": (f"{parent[0]}@{parent[1]} ({(version.get('parent') or {}).get('relation')})"
                       if parent else None),
            "chat_template": (version.get("chat_template") or {}).get("sha256"),
            "metrics": metrics, "parameters": {k: _plain(v) for k, v in (version.get("parameters") or {}).items()},
            "files": {a["path"]: {"sha256": a.get("sha256"), "size": a.get("size_bytes")}
                      for a in version.get("artifacts") or [] if isinstance(a, dict) and a.get("path")},
            "card": {k: _plain(v) for k, v in card["fields"]} if card and card.get("ok") else {}}


def _plain(value) -> str:
    """A parameter or card field as the text the page shows (and compares)."""
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float, bool)) or value is None:
        return json.dumps(value)
    return _yaml_text(value)


def _groups(versions: list[dict]) -> list[tuple[str, list[dict]]]:
    found: dict[str, list[dict]] = {}
    for v in versions:
        found.setdefault(v["model"], []).append(v)
    return list(found.items())


def _commands(ref: str) -> list[tuple[str, str]]:
    return [("Load it (Python)", f'modelreg.load("{ref}")'),
            ("Load it (CLI)", f"modelreg load {ref}"),
            ("Fetch the files", f"modelreg pull {ref} -o ./{ref.replace('@', '-v')}"),
            ("Pin it in a lock file", f"modelreg lock {ref} -o models.lock")]


def human_size(num) -> str:
    if not isinstance(num, (int, float)) or num <= 0:
        return "-"
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if num < 1000 or unit == "TB":
            return f"{num:.0f} {unit}" if unit == "B" else f"{num:.1f} {unit}"
        num /= 1000
    return f"{num}"


def utc_text(stamp, seconds: bool = True) -> str:
    """An ISO 8601 time (git dates carry the author's offset) as UTC text; other text as is."""
    from datetime import datetime, timezone

    try:
        when = datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))
    except ValueError:
        return str(stamp or "")
    if when.tzinfo is not None:
        when = when.astimezone(timezone.utc)
    return when.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def _yaml_text(value) -> str:
    import yaml

    return yaml.safe_dump(value, sort_keys=False, allow_unicode=True, default_flow_style=False).strip()
