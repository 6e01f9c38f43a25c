"""`modelreg import mlflow`: a team's MLflow Model Registry, moved into Git.

Reading goes through MLflow's own client (registered models, versions, their source runs'
params and metrics, aliases, legacy stages); artifacts are downloaded through MLflow and
registered through DVC like any `version create`. Each model becomes one commit: an
interrupted run leaves no half-imported version, and a second run imports only MLflow
versions not imported before, matched by MLflow's identity (the `mlflow.version` tag, the
source run and URI), never by number. Version numbers are preserved where modelreg has them
free (else the next one); a number MLflow deleted becomes a soft-deleted placeholder record,
so later numbers still line up. A version imported into a stage takes it, with its alias.

A re-import also brings in what MLflow changed since the last one: stage moves, descriptions,
tags, aliases, deletions. Digests of the fields MLflow held (the `mlflow.synced` tags) tell a
field MLflow moved from one only modelreg changed, which stays. A version imported before
must still be the same bytes in MLflow (sha256 of each file), else that model is refused.

The plan (what becomes what, what is dropped and why) is computed before anything is
written; `--dry-run` returns it after downloading and checking each new version as the real
run would (gates and approvals of the stages entered included), writing nothing. A direct
import never puts a version in a stage with approvals, nor writes to a forge-governed main: those
go through `--pr`.

An import brings nothing from the importing machine: artifacts at a local path are read only
when the MLflow store itself is local (sqlite, a file store) and the path lies inside the
artifact location of the version's experiment, with no symlink anywhere in the tree (MLflow's
copy would follow one out). URLs are recorded and reported without their credentials.
"""
import contextlib
import hashlib
import json
import math
import os
import re
import sqlite3
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from ..core import clock, layout
from ..core.errors import ExternalError, IntegrityError, InvalidInput, NotFound, PolicyViolation, RegistryError
from ..core.names import check_alias, check_name
from ..core.records import load_yaml, prune
from ..core.urls import redact_url, scrub_text
from ..writes.models import keep_codeowners

IMPORT_TAG = "mlflow.name"  # on model.yaml: which MLflow model this one was imported from
SYNC_TAG = "mlflow.synced"  # digests of the fields MLflow held at the last import (model and version)
STAGE_MAP = {"Production": "production", "Staging": "staging", "Archived": "archived"}
_TAG_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:/-]{0,127}")
_METRIC_PART = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
PAGE = 1000
# What `--type` may choose: an imported version has no parent, so not `adapter`.
MODEL_TYPES = ("base_model", "fine_tuned", "quantized", "distilled", "merged")


@dataclass
class VersionPlan:
    number: int
    action: str  # create | placeholder | skip | drop | update (MLflow changed it) | delete (MLflow did)
    stage: str | None = None
    mlflow_stage: str | None = None
    reason: str = ""
    source: str | None = None
    run_id: str | None = None
    mlflow_version: int | None = None  # MLflow's number, when it differs from modelreg's
    live: bool = False  # imported before and still in MLflow: its bytes are compared
    changes: dict = field(default_factory=dict)  # update: stage / description / tags, MLflow's now
    synced: str | None = None  # update: the digests to record

    def to_dict(self) -> dict:
        out = {k: v for k, v in self.__dict__.items() if v not in (None, "", {}) and k not in ("live", "synced")}
        if self.changes:
            out["changes"] = sorted(self.changes)
        return out


@dataclass
class ModelPlan:
    mlflow_name: str
    target: str | None
    action: str  # create | update | skip | refuse
    reason: str = ""
    versions: list[VersionPlan] = field(default_factory=list)
    aliases: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    demote: dict[int, str] = field(default_factory=dict)  # modelreg version -> stage it leaves for
    model_type: str | None = None
    unaliased: list[str] = field(default_factory=list)  # aliases removed
    model_changes: dict = field(default_factory=dict)  # description / tags of the model, MLflow's now
    resync: bool = False  # MLflow's model fields moved since the last import: their digests are written

    def to_dict(self) -> dict:
        return {"mlflow_name": self.mlflow_name, "target": self.target, "action": self.action,
                "reason": self.reason or None, "versions": [v.to_dict() for v in self.versions],
                "aliases": self.aliases, "unaliased": self.unaliased, "demote": self.demote,
                "model_changes": sorted(self.model_changes), "notes": self.notes}


@dataclass
class ImportResult:
    tracking_uri: str
    models: list[ModelPlan]
    dry_run: bool
    commits: dict[str, str] = field(default_factory=dict)  # target -> commit
    failures: list[str] = field(default_factory=list)
    hints: list[str | None] = field(default_factory=list)  # per failure: the key of the flag that fixes it
    proposals: dict[str, dict] = field(default_factory=dict)  # target -> branch / pull request (--pr)

    @property
    def ok(self) -> bool:
        return not self.failures and not any(m.action == "refuse" for m in self.models)

    def to_dict(self) -> dict:
        return {"tracking_uri": self.tracking_uri, "dry_run": self.dry_run,
                "models": [m.to_dict() for m in self.models], "commits": self.commits,
                "proposals": self.proposals, "failures": self.failures, "ok": self.ok}


# -- reaching MLflow ------------------------------------------------------------------------
def check_tracking_uri(uri: str, timeout: float = 10.0) -> None:
    """Refuse a URI that is not an MLflow before MLflow's client retries for minutes (or, for
    sqlite, creates a fresh database where the user pointed at something else)."""
    if not uri:
        raise InvalidInput("a tracking URI is required: http://HOST:PORT or sqlite:///PATH", hint="tracking_uri")
    if uri.startswith(("http://", "https://")):
        _probe_http(uri, timeout)
    elif uri.startswith("sqlite:///"):
        _probe_sqlite(uri)


def _probe_http(uri: str, timeout: float) -> None:
    request = _probe_request(uri.rstrip("/") + "/api/2.0/mlflow/registered-models/search?max_results=1")
    uri = redact_url(uri)  # what the messages below show
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:
            body = resp.read(1 << 20)
    except urllib.error.HTTPError as exc:
        raise ExternalError(f"{uri} is not an MLflow tracking server (HTTP {exc.code} from its registry API)") from exc
    except (urllib.error.URLError, OSError, ValueError) as exc:  # ValueError: http.client.InvalidURL
        reason = getattr(exc, "reason", exc)
        raise ExternalError(f"cannot reach MLflow at {uri}: {scrub_text(str(reason))}; "
                            "check the URI and that the server runs") from exc
    try:
        doc = json.loads(body)
    except ValueError:
        doc = None
    if not isinstance(doc, dict):
        raise ExternalError(f"{uri} is not an MLflow tracking server (its registry API did not answer JSON)")


def _probe_request(url: str) -> urllib.request.Request:
    """`url` as a request: userinfo (as MLflow's client accepts it) becomes a Basic header."""
    import base64
    from urllib.parse import unquote, urlsplit

    parts = urlsplit(url)
    headers = {}
    if parts.username is not None:
        pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
        headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
        url = parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()
    return urllib.request.Request(url, headers=headers)


def _probe_sqlite(uri: str) -> None:
    path = uri[len("sqlite:///"):]  # sqlite:////abs/path or sqlite:///relative/path
    if not os.path.isfile(path):
        raise NotFound(f"no MLflow database at {path} ({uri}); check the path")
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            tables = {r[0] for r in con.execute("select name from sqlite_master where type='table'")}
        finally:
            con.close()
    except sqlite3.Error as exc:
        raise ExternalError(f"{path} is not an MLflow database: {exc}") from exc
    if not {"registered_models", "model_versions"} <= tables:
        raise ExternalError(f"{path} is not an MLflow database (no model registry tables)")


def open_client(tracking_uri: str, registry_uri: str | None = None):
    check_tracking_uri(tracking_uri)
    if registry_uri and registry_uri != tracking_uri:
        check_tracking_uri(registry_uri)
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=tracking_uri, registry_uri=registry_uri or tracking_uri)


def _mlflow_call(what: str, fn, *args, **kwargs):
    from mlflow.exceptions import MlflowException

    try:
        return fn(*args, **kwargs)
    except MlflowException as exc:
        raise ExternalError(f"MLflow failed to {what}: {_first_line(exc)}") from exc


def _first_line(exc) -> str:
    text = scrub_text(str(getattr(exc, "message", None) or exc).strip())
    return text.splitlines()[0] if text else type(exc).__name__


def _all(search, *args):
    items, token = [], None
    while True:
        page = search(*args, max_results=PAGE, page_token=token)
        items.extend(page)
        token = page.token
        if not token:
            return items


# -- planning ----------------------------------------------------------------------------------
def plan_import(tree, client, names=(), into: str | None = None,
                model_type: str | None = None) -> list[ModelPlan]:
    """What each MLflow model becomes; reads MLflow and the registry's working tree, writes nothing."""
    if into and len(names) != 1:
        raise InvalidInput("a rename (into) applies to one model: name exactly one MLflow model with it",
                           hint="into")
    if names:
        models = [_mlflow_call(f"read registered model {n!r}", client.get_registered_model, n) for n in names]
    else:
        models = _mlflow_call("list registered models", _all, client.search_registered_models, None)
    if model_type is not None and model_type not in MODEL_TYPES:
        raise InvalidInput(f"invalid model type {model_type!r} for an import: use one of {', '.join(MODEL_TYPES)}")
    return [_plan_model(tree, client, rm, into, model_type) for rm in sorted(models, key=lambda m: m.name)]


def _plan_model(tree, client, rm, into, model_type=None) -> ModelPlan:
    target = into or rm.name
    try:
        check_name(target)
    except InvalidInput as exc:
        return ModelPlan(rm.name, None, "refuse", f"{exc}; rerun with --model {rm.name!r} --into NAME")
    existing = _existing(tree, target)
    if existing is not None and (existing.get("tags") or {}).get(IMPORT_TAG) != rm.name:
        return ModelPlan(rm.name, target, "refuse",
                         f"modelreg already has a model {target!r} that was not imported from MLflow model "
                         f"{rm.name!r}; rerun with --model {rm.name!r} --into ANOTHER_NAME")
    if existing is not None and model_type and existing.get("model_type") != model_type:
        return ModelPlan(rm.name, target, "refuse",
                         f"{target!r} was imported as {existing.get('model_type')}, not {model_type}; "
                         "rerun without --type (or with its type)")
    records = {n: tree.version(target, n) for n in tree.version_numbers(target)} if existing is not None else {}
    plan = ModelPlan(rm.name, target, "update" if existing is not None else "create", model_type=model_type)
    mvs = _mlflow_call(f"list versions of {rm.name!r}", _all, client.search_model_versions,
                       f"name = '{_quote(rm.name)}'")
    by_number = {int(mv.version): mv for mv in mvs}
    imported = _imported(records, rm.name)
    matched = {m: _match(imported.get(m), mv, m) for m, mv in by_number.items()}
    new = {m for m, n in matched.items() if n is None}
    moved = {m for m, n in matched.items() if n is not None and _mlflow_moved(records[n], by_number[m])}
    stages = _stages(tree, by_number, plan, new | moved, records, {matched[m] for m in moved})
    taken = set(records)
    last = max([*by_number, *imported], default=0)  # MLflow's newest versions may be deleted since
    for number in range(1, last + 1):
        plan.versions.append(_plan_version(tree, plan, number, by_number.get(number), imported, taken, stages,
                                           number in moved))
    if existing is not None:
        _sync_model(plan, rm, existing)
    plan.aliases, plan.unaliased = _aliases(tree, rm, plan, None if existing is None else tree.aliases(target))
    changed = [v for v in plan.versions if v.action in ("create", "placeholder", "update", "delete")]
    if not (changed or plan.demote or plan.aliases or plan.unaliased or plan.model_changes or plan.resync):
        plan.action = "skip"
        plan.reason = "nothing new" if existing is not None else "no versions in MLflow"
    return plan


def _imported(records: dict, mlflow_name: str) -> dict[int, tuple[int, dict]]:
    """MLflow version number -> (modelreg number, record) for each version an import wrote: by its
    `mlflow.version` tag (a placeholder by its `mlflow:models:/NAME/N` source), never by number."""
    found = {}
    for number, record in records.items():
        tag = (record.get("tags") or {}).get("mlflow.version")
        uri = (record.get("source") or {}).get("uri") or ""
        prefix = f"mlflow:models:/{mlflow_name}/"
        if tag is not None and str(tag).isdigit():
            found[int(tag)] = (number, record)
        elif uri.startswith(prefix) and uri[len(prefix):].isdigit():
            found[int(uri[len(prefix):])] = (number, record)
    return found


def _match(found, mv, mlflow_number: int) -> int | None:
    """The modelreg number of the version imported from MLflow's `mlflow_number`, when it is that
    same MLflow version (its run and source, or a deleted one's placeholder); else None."""
    if found is None:
        return None
    number, record = found
    if mv is None:
        return number
    source = record.get("source") or {}
    if source.get("run_id") == (mv.run_id or None) and source.get("uri") == redact_url(mv.source):
        return number
    return None


def _existing(tree, name: str) -> dict | None:
    try:
        return tree.model(name)
    except NotFound:
        return None


def _quote(name: str) -> str:
    return name.replace("\\", "\\\\").replace("'", "\\'")


# -- what MLflow changed since the last import ---------------------------------------------------
# An import records, per version and per model, a digest of the fields MLflow holds (the
# `mlflow.synced` tag; a version's stage in `mlflow.stage`). A re-import brings in a field only
# when MLflow's value moved since: what was edited in modelreg and not in MLflow stays.
def _digest(value) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:12]


def _digests(**fields) -> str:
    return ";".join(f"{k}={_digest(v)}" for k, v in sorted(fields.items()))


def _recorded(tags: dict) -> dict:
    """The digests of the last import (empty for an import made before they were recorded)."""
    return dict(part.partition("=")[::2] for part in str(tags.get(SYNC_TAG) or "").split(";") if "=" in part)


def _moved_since(recorded: dict, field_name: str, mlflow_value, ours) -> bool:
    """MLflow's value differs from ours and moved since the last import (no digest: MLflow's wins)."""
    if mlflow_value == ours:
        return False
    return recorded.get(field_name) != _digest(mlflow_value)


def _mlflow_stage(tags: dict) -> str:
    return str(tags.get("mlflow.stage") or "None")


def _mlflow_moved(record: dict, mv) -> bool:
    """MLflow moved the version since it was imported (its stage then is the `mlflow.stage` tag)."""
    return record.get("status") != "deleted" and (mv.current_stage or "None") != _mlflow_stage(record.get("tags") or {})


def _version_digests(mv) -> str:
    tags, _ = _clean_tags(mv.tags or {})
    return _digests(description=mv.description or None, tags=tags)


def _model_tags(rm) -> tuple[dict, list[str]]:
    """MLflow's model tags as modelreg keeps them (the `modelreg.model_type` hint is not a tag)."""
    tags, dropped = _clean_tags(getattr(rm, "tags", None) or {})
    tags.pop("modelreg.model_type", None)
    return tags, dropped


def _model_digests(rm) -> str:
    tags, _ = _model_tags(rm)
    aliases = {a: int(v) for a, v in (getattr(rm, "aliases", None) or {}).items()}
    return _digests(aliases=aliases, description=rm.description or None, tags=tags)


def _own_tags(tags: dict) -> dict:
    """A record's tags without the import's bookkeeping (`mlflow.*`)."""
    return {k: v for k, v in (tags or {}).items() if not str(k).startswith("mlflow.")}


def _sync_version(tree, plan: ModelPlan, number: int, mv, record: dict, stages: dict, moved: bool) -> VersionPlan:
    """An MLflow version imported before: what MLflow changed since (stage, description, tags)."""
    tags = record.get("tags") or {}
    recorded = _recorded(tags)
    changes, what = {}, []
    if moved and stages[int(mv.version)] != record.get("stage"):
        changes["stage"] = stages[int(mv.version)]
        what.append(f"stage {_mlflow_stage(tags)} -> {mv.current_stage}")
    card = tree.record(layout.card_file(plan.target, number)) or {}
    ours = card.get("description") or record.get("description")
    if _moved_since(recorded, "description", mv.description or None, ours or None):
        changes["description"] = mv.description or None
        what.append("description")
    theirs, dropped = _clean_tags(mv.tags or {})
    if _moved_since(recorded, "tags", theirs, _own_tags(tags)):
        changes["tags"] = theirs
        what.append("tags")
        gone = sorted(set(_own_tags(tags)) - set(theirs))
        if gone:
            plan.notes.append(f"version {number}: tag(s) {', '.join(gone)} removed: MLflow's tags replace them")
    # MLflow moved a field to the value modelreg has: nothing to change, but the digests are
    # recorded anew, or modelreg's next edit of that field would read as MLflow's move
    stale = moved or tags.get(SYNC_TAG) != _version_digests(mv)
    if not changes and not stale:
        return VersionPlan(number, "skip", reason="already imported", live=True, run_id=mv.run_id or None,
                           mlflow_version=int(mv.version) if int(mv.version) != number else None)
    if "tags" in changes:
        plan.notes += [f"version {number}: tag {k!r} dropped: not a valid tag key" for k in dropped]
    reason = "MLflow changed " + ", ".join(what) if what else "MLflow's changes are here already: recorded"
    return VersionPlan(number, "update", stage=changes.get("stage", record.get("stage")),
                       mlflow_stage=mv.current_stage, reason=reason,
                       mlflow_version=int(mv.version) if int(mv.version) != number else None, live=True,
                       run_id=mv.run_id or None, changes=changes, synced=_version_digests(mv))


def _sync_model(plan: ModelPlan, rm, existing: dict) -> None:
    """The registered model's description and tags, where MLflow changed them since the last import."""
    tags = existing.get("tags") or {}
    recorded = _recorded(tags)
    if _moved_since(recorded, "description", rm.description or None, existing.get("description") or None):
        plan.model_changes["description"] = rm.description or None
    theirs, dropped = _model_tags(rm)
    if _moved_since(recorded, "tags", theirs, _own_tags(tags)):
        plan.model_changes["tags"] = theirs
        gone = sorted(set(_own_tags(tags)) - set(theirs))
        if gone:
            plan.notes.append(f"model tag(s) {', '.join(gone)} removed: MLflow's tags replace them")
    if plan.model_changes:
        plan.notes.append("model: MLflow changed its " + " and ".join(sorted(plan.model_changes)))
        plan.notes += [f"model tag {k!r} dropped: not a valid tag key" for k in dropped]
    plan.resync = tags.get(SYNC_TAG) != _model_digests(rm)  # the digests, recorded anew


def _stages(tree, by_number, plan: ModelPlan, entering: set, records: dict, leaving: set) -> dict[int, str]:
    """MLflow stage -> modelreg stage per MLflow version; of the versions entering an exclusive
    stage (new, or moved in MLflow since the last import) only the newest keeps it, and it takes
    the stage from modelreg's holder (archived) unless MLflow moved that one too (`leaving`)."""
    settings = tree.settings
    mapped = {}
    for number, mv in by_number.items():
        stage = STAGE_MAP.get(mv.current_stage, settings.initial_stage)
        if stage not in settings.stages:
            plan.notes.append(f"version {number}: stage {mv.current_stage} has no twin in tree.yaml; "
                              f"imported as {settings.initial_stage}")
            stage = settings.initial_stage
        mapped[number] = stage
    for stage in settings.exclusive_stages:
        holders = sorted(n for n, s in mapped.items() if s == stage and n in entering)
        for number in holders[:-1]:
            mapped[number] = "archived"
            plan.notes.append(f"version {number}: {stage} is exclusive in modelreg; archived "
                              f"(move it with `modelreg promote`)")
        if holders:
            for held, record in sorted(records.items()):
                if record.get("stage") == stage and record.get("status") != "deleted" and held not in leaving:
                    plan.demote[held] = "archived"
                    plan.notes.append(f"version {held}: leaves {stage} for the version imported into it; "
                                      "archived")
    return mapped


def _plan_version(tree, plan, number: int, mv, imported: dict, taken: set, stages: dict,
                  moved: bool = False) -> VersionPlan:
    """What MLflow's version `number` becomes: synced when imported before (matched by its MLflow
    identity), soft-deleted when MLflow deleted it since, else a new modelreg version, under
    MLflow's number when modelreg has it free."""
    matched = _match(imported.get(number), mv, number)
    if matched is not None:
        record = imported[number][1]
        if mv is not None and record.get("status") == "deleted":
            return VersionPlan(matched, "skip", reason="deleted in modelreg",
                               mlflow_version=number if matched != number else None)
        if mv is not None:
            return _sync_version(tree, plan, matched, mv, record, stages, moved)
        if record.get("status") != "deleted":
            return _deletion(tree, plan, matched, number, record)
        return VersionPlan(matched, "skip", reason="already imported",
                           mlflow_version=number if matched != number else None)
    ours = number if number not in taken else max(taken) + 1
    if mv is None:
        if number in taken:
            return VersionPlan(number, "drop", reason="deleted in MLflow; modelreg has its own version of that number")
        taken.add(number)
        return VersionPlan(number, "placeholder", stage="archived",
                           reason="deleted in MLflow: kept as a soft-deleted record so numbers line up")
    if str(mv.status) != "READY":
        return VersionPlan(number, "drop", mlflow_stage=mv.current_stage,
                           reason=f"MLflow status {mv.status}: only READY versions are imported")
    taken.add(ours)
    return VersionPlan(ours, "create", stage=stages[number], mlflow_stage=mv.current_stage,
                       source=redact_url(mv.source), run_id=mv.run_id, mlflow_version=number)


def _deletion(tree, plan, number: int, mlflow_number: int, record: dict) -> VersionPlan:
    """An imported version MLflow deleted since: soft-deleted here too, unless something builds on it."""
    from ..store.reads import dependents

    children = dependents(tree.snapshot(), plan.target, number)
    if children:
        names = ", ".join(f"{m}@{n}" for m, n, _ in children)
        plan.notes.append(f"version {number}: deleted in MLflow, kept: {names} builds on it")
        return VersionPlan(number, "skip", reason="deleted in MLflow; kept for its dependents",
                           mlflow_version=mlflow_number)
    stage = "archived" if record.get("stage") in tree.settings.exclusive_stages else record.get("stage")
    return VersionPlan(number, "delete", stage=stage, reason="deleted in MLflow since the import",
                       mlflow_version=mlflow_number if mlflow_number != number else None)


def _mlflow_number(vp: VersionPlan) -> int:
    return vp.mlflow_version or vp.number


def _what(vp: VersionPlan) -> str:
    m = _mlflow_number(vp)
    return f"version {vp.number}" + (f" (MLflow version {m})" if m != vp.number else "")


def _aliases(tree, rm, plan: ModelPlan, current: dict | None) -> tuple[dict[str, int], list[str]]:
    """(aliases to set, aliases to remove). MLflow's own aliases come in on the first import and
    whenever MLflow moved them since the last one (they replace modelreg's unprotected aliases);
    the stages' aliases follow the versions entering and leaving their stages."""
    settings = tree.settings
    first = current is None
    current = dict(current or {})
    live = {_mlflow_number(v): v.number for v in plan.versions if v.action in ("create", "update", "skip")
            and (v.action == "create" or v.live)}
    wanted = dict(current)
    theirs = {a: int(v) for a, v in (getattr(rm, "aliases", None) or {}).items()}
    recorded = {} if first else _recorded((_existing(tree, plan.target) or {}).get("tags") or {})
    if first or recorded.get("aliases") != _digest(theirs):
        wanted = {a: v for a, v in current.items() if a in settings.protected_aliases}
        for alias, number in sorted(theirs.items()):
            try:
                check_alias(alias)
            except InvalidInput as exc:
                plan.notes.append(f"alias {alias!r} dropped: {exc}")
                continue
            if alias in settings.protected_aliases:
                plan.notes.append(f"alias {alias!r} dropped: it follows the {alias} stage in modelreg")
            elif number not in live:
                plan.notes.append(f"alias {alias!r} dropped: version {number} is not imported")
            else:
                wanted[alias] = live[number]
    gone = {v.number for v in plan.versions if v.action == "delete"}
    leaving = {v.number for v in plan.versions if v.action == "update" and "stage" in v.changes} | set(plan.demote)
    for stage, alias in settings.stage_aliases.items():
        holders = [v.number for v in plan.versions if v.action in ("create", "update") and v.stage == stage
                   and (v.action == "create" or "stage" in v.changes)]
        if holders:
            wanted[alias] = holders[-1]
        elif wanted.get(alias) in leaving:
            del wanted[alias]
    wanted = {a: v for a, v in wanted.items() if v not in gone}
    changed = {a: v for a, v in sorted(wanted.items()) if current.get(a) != v}
    return changed, sorted(a for a in current if a not in wanted)


# -- writing -----------------------------------------------------------------------------------
def import_mlflow(tree, tracking_uri: str, registry_uri: str | None = None, names=(),
                  into: str | None = None, dry_run: bool = False, progress=None,
                  pr: bool = False, quiet: bool = False, model_type: str | None = None) -> ImportResult:
    """Plan, then write one commit per model, on the current branch or (pr) on a branch of its
    own with a pull request. Failures are collected per model. A dry run downloads and checks
    every version as the real run does (formats policy, sources, links, the bytes of versions
    imported before, gates and approvals) and writes nothing. `quiet` turns MLflow's own
    progress bars off."""
    client = open_client(tracking_uri, registry_uri)
    plans = plan_import(tree, client, tuple(names), into, model_type)
    result = ImportResult(redact_url(tracking_uri), plans, dry_run)
    with _bars(not quiet):
        for plan in plans:
            if plan.action in ("create", "update") or any(v.live for v in plan.versions):
                _import_one(tree, client, tracking_uri, plan, progress, pr, dry_run, result)
    return result


@contextlib.contextmanager
def _bars(shown: bool):
    """MLflow's artifact progress bars on or off while it downloads (it reads the variable then)."""
    key = "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"
    saved = os.environ.get(key)
    if not shown:
        os.environ[key] = "false"
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = saved


def _import_one(tree, client, tracking_uri, plan, progress, pr, dry_run, result) -> None:
    """Check (the bytes of versions imported before, and, unless the change goes to review, the
    approvals and gates of the stages it enters), then write; a refusal writes nothing."""
    def write():
        return _write_model(tree, client, tracking_uri, plan, progress, gated=not pr)
    try:
        _unchanged_bytes(tree, client, tracking_uri, plan)
        if not pr and plan.action != "skip":
            _unreviewed(tree, plan)
        if dry_run:
            if plan.action != "skip":
                _check_model(tree, client, tracking_uri, plan, progress, gated=not pr)
        elif plan.action == "skip":
            pass
        elif pr:
            proposal = _propose(tree, plan, write)
            result.commits[plan.target] = proposal.result
            result.proposals[plan.target] = {k: v for k, v in proposal.to_dict().items() if k != "body"}
        else:
            result.commits[plan.target] = write()
    except RegistryError as exc:
        tail = "the real run would write nothing for it" if dry_run else "nothing was written for it"
        result.failures.append(scrub_text(f"{plan.mlflow_name}: {exc}; {tail}"))
        result.hints.append(getattr(exc, "hint", None))


def _entering(tree, plan: ModelPlan) -> list[tuple[int, str]]:
    """(modelreg version, stage) for each version the import puts into a stage past the initial one."""
    found = [(v.number, v.stage) for v in plan.versions
             if (v.action == "create" or "stage" in v.changes) and v.stage != tree.settings.initial_stage]
    return found + sorted(plan.demote.items())


def _unreviewed(tree, plan: ModelPlan) -> None:
    """A stage whose approvals registry.yaml names is entered through review only: a direct import
    into it would skip them."""
    if (tree.settings.get("forge") or {}).get("type", "none") != "none":
        raise PolicyViolation(f"main is governed by a forge (registry.yaml forge:): every change to "
                              f"{plan.target} is a pull request; import it through one", hint="import_pr")
    approvals = tree.settings.get("approvals") or {}
    for number, stage in _entering(tree, plan):
        if approvals.get(stage):
            raise PolicyViolation(f"{plan.target}@{number} would enter {stage}, which needs approvals "
                                  "(registry.yaml); import it through a pull request", hint="import_pr")


def _gates_pass(tree, plan: ModelPlan, number: int, stage: str, record: dict, card: dict) -> None:
    """A stage's gates, checked before a direct import writes, as `stage set` checks them."""
    from ..rules.gates import check_gates

    failed = [g for g in check_gates(tree.settings, stage, plan.target, number, record, card) if not g.ok]
    if failed:
        raise PolicyViolation(f"{plan.target}@{number} cannot enter {stage}: its gates fail: "
                              + "; ".join(f"{g.condition} ({g.detail})" for g in failed))


def _unchanged_bytes(tree, client, tracking_uri: str, plan: ModelPlan) -> None:
    """Each version imported before is the same bytes in MLflow still (sha256 of every file): a
    source folder overwritten in MLflow is refused by name, never kept or aliased silently."""
    from ..artifacts.cache import sha256_file
    from ..artifacts.files import scan_folder

    with tempfile.TemporaryDirectory(prefix="modelreg-mlflow-verify-") as tmp:
        for vp in plan.versions:
            record = tree.version(plan.target, vp.number) if vp.live else {}
            ours = {a["path"]: a for a in record.get("artifacts") or []}
            if not ours:
                continue
            folder = _download(client, tracking_uri, plan, vp, Path(tmp) / str(vp.number), in_place=True)
            theirs = dict(scan_folder(folder))
            differ = sorted(p for p in set(ours) | set(theirs) if p not in ours or p not in theirs
                            or ours[p].get("size_bytes") != theirs[p].stat().st_size
                            or ours[p].get("sha256") != sha256_file(theirs[p]))
            if differ:
                more = f" and {len(differ) - 1} more" if len(differ) > 1 else ""
                raise IntegrityError(f"MLflow version {_mlflow_number(vp)} changed since it was imported as "
                                     f"{plan.target}@{vp.number}: its files differ ({differ[0]}{more}); modelreg "
                                     "keeps the bytes it imported: restore them in MLflow, or register the new "
                                     "files there as a new version")


def _check_model(tree, client, tracking_uri: str, plan: ModelPlan, progress, gated: bool = True) -> None:
    """What `_write_model` checks before it writes, without writing: the records against their
    schemas, each new version's download (sources, links, emptiness), the formats policy and
    (`gated`) the gates of the stages the versions enter."""
    from ..artifacts.files import scan_folder
    from ..core import schema
    from ..supply.formats import admit

    if plan.action == "create":
        rm = _mlflow_call(f"read {plan.mlflow_name!r}", client.get_registered_model, plan.mlflow_name)
        record = _model_record(tree, plan, rm)
        schema.validate("model", record, layout.model_file(plan.target))
        model_type = record["model_type"]
    else:
        model_type = tree.model(plan.target)["model_type"]
    with tempfile.TemporaryDirectory(prefix="modelreg-mlflow-dry-run-") as tmp:
        for vp in plan.versions:
            path = layout.version_file(plan.target, vp.number)
            if vp.action == "placeholder":
                schema.validate("version", _placeholder(tree, plan, vp, model_type), path)
            elif vp.action in ("update", "delete"):
                record, card = _synced(tree, plan, vp)
                schema.validate("version", record, path)
                schema.validate("card", card, layout.card_file(plan.target, vp.number))
                if gated and "stage" in vp.changes:
                    _gates_pass(tree, plan, vp.number, vp.stage, record, card)
            if vp.action != "create":
                continue
            if progress:
                progress(f"{plan.mlflow_name} version {_mlflow_number(vp)} (dry run)")
            record = _version_record(tree, client, tracking_uri, plan, vp, model_type)
            card = prune({"description": record.get("description")})
            schema.validate("version", prune(record), path)
            schema.validate("card", card, layout.card_file(plan.target, vp.number))
            if gated:
                _gates_pass(tree, plan, vp.number, vp.stage, record, card)
            folder = _download(client, tracking_uri, plan, vp, Path(tmp) / str(vp.number))
            admit(tree.settings, scan_folder(folder))


def _propose(tree, plan: ModelPlan, write):
    """The import commit on a branch from main, pushed, with a pull request when a forge is set."""
    from ..promotion.promote import propose

    title = f"Import {plan.target} from MLflow model {plan.mlflow_name}"
    note = "\n".join([f"Imported by `modelreg import mlflow` from MLflow model `{plan.mlflow_name}`."]
                     + [f"- {n}" for n in plan.notes])
    return propose(tree, plan.target, "version", title, write, note=note)


def _write_model(tree, client, tracking_uri: str, plan: ModelPlan, progress, gated: bool = True) -> str:
    change = tree.begin_write([layout.model_dir(plan.target)])
    with change, tempfile.TemporaryDirectory(prefix="modelreg-mlflow-import-") as tmp:
        rm = _mlflow_call(f"read {plan.mlflow_name!r}", client.get_registered_model, plan.mlflow_name)
        if plan.action == "create":
            change.put(layout.model_file(plan.target), "model", _model_record(tree, plan, rm))
            change.put(layout.aliases_file(plan.target), "aliases", {"aliases": plan.aliases})
            keep_codeowners(tree, change, {plan.target: []})  # as `model register` does
        else:
            _write_model_sync(tree, change, plan, rm)
        for number, stage in sorted(plan.demote.items()):
            change.put(layout.version_file(plan.target, number), "version",
                       dict(tree.version(plan.target, number), stage=stage))
        model_type = _model_type(tree, change, plan.target)
        created, synced = [], []
        for vp in plan.versions:
            if vp.action == "placeholder":
                change.put(layout.version_file(plan.target, vp.number), "version",
                           _placeholder(tree, plan, vp, model_type))
                created.append(vp.number)
            elif vp.action in ("update", "delete"):
                record, card = _synced(tree, plan, vp)
                if gated and "stage" in vp.changes:
                    _gates_pass(tree, plan, vp.number, vp.stage, record, card)
                change.put(layout.version_file(plan.target, vp.number), "version", record)
                if "description" in vp.changes:
                    change.put(layout.card_file(plan.target, vp.number), "card", card)
                synced.append(vp)
            elif vp.action == "create":
                if progress:
                    progress(f"{plan.mlflow_name} version {_mlflow_number(vp)}")
                record = _version_record(tree, client, tracking_uri, plan, vp, model_type)
                card = prune({"description": record.get("description")})
                if gated:
                    _gates_pass(tree, plan, vp.number, vp.stage, record, card)
                folder = _download(client, tracking_uri, plan, vp, Path(tmp) / str(vp.number))
                _add_weights(tree, change, plan.target, vp.number, folder, record)
                change.put(layout.version_file(plan.target, vp.number), "version", prune(record))
                change.put(layout.card_file(plan.target, vp.number), "card", card)
                created.append(vp.number)
        trailers = {"Action": "mlflow.import", "Model": plan.target, "Mlflow-Model": plan.mlflow_name,
                    "Versions": ",".join(map(str, created))}
        counts = [f"{sum(v.action == a for v in synced)} {word}" for a, word in
                  (("update", "updated"), ("delete", "deleted")) if any(v.action == a for v in synced)]
        if synced:
            trailers["Synced"] = ",".join(str(v.number) for v in synced)
        return change.commit(f"import {plan.target} from MLflow model {plan.mlflow_name} ({len(created)} "
                             f"version(s){''.join('; ' + c for c in counts)})", trailers)


def _write_model_sync(tree, change, plan: ModelPlan, rm) -> None:
    """A model imported before: its description, tags and digests, and its aliases, as planned."""
    model = tree.model(plan.target)
    tags = dict(model.get("tags") or {})
    if "tags" in plan.model_changes:
        tags = {k: v for k, v in tags.items() if str(k).startswith("mlflow.")} | plan.model_changes["tags"]
    tags[SYNC_TAG] = _model_digests(rm)
    updated = dict(model, tags=dict(sorted(tags.items())))
    if "description" in plan.model_changes:
        updated["description"] = plan.model_changes["description"]
    updated = prune(updated)
    if updated != model:
        change.put(layout.model_file(plan.target), "model", updated)
    if plan.aliases or plan.unaliased:
        aliases = {a: v for a, v in tree.aliases(plan.target).items() if a not in plan.unaliased} | plan.aliases
        change.put(layout.aliases_file(plan.target), "aliases", {"aliases": dict(sorted(aliases.items()))})


def _synced(tree, plan: ModelPlan, vp: VersionPlan) -> tuple[dict, dict]:
    """(version record, card) of a version MLflow changed (update) or deleted (delete) since."""
    record = dict(tree.version(plan.target, vp.number))
    card = dict(tree.record(layout.card_file(plan.target, vp.number)) or {})
    if vp.action == "delete":
        record.update(stage=vp.stage, status="deleted",
                      deleted={"reason": f"deleted in MLflow (model {plan.mlflow_name} version "
                                         f"{_mlflow_number(vp)}) since the import",
                               "at": clock.now(), "by": tree.identity()})
        return record, card
    tags = dict(record.get("tags") or {})
    if "tags" in vp.changes:
        tags = {k: v for k, v in tags.items() if str(k).startswith("mlflow.")} | vp.changes["tags"]
    tags.pop("mlflow.stage", None)
    if vp.mlflow_stage and vp.mlflow_stage != "None":
        tags["mlflow.stage"] = vp.mlflow_stage
    tags[SYNC_TAG] = vp.synced
    record.update(stage=vp.stage, tags=dict(sorted(tags.items())))
    if "description" in vp.changes:
        card = prune(dict(card, description=vp.changes["description"]))
    return record, card


def _add_weights(tree, change, model: str, number: int, folder: Path, record: dict) -> None:
    """What `version create` does with a folder: the format policy first, then DVC and the remote."""
    from ..artifacts.files import scan_folder
    from ..supply.formats import admit
    from ..writes.versions import add_weights

    files = scan_folder(folder)
    admitted = admit(tree.settings, files)  # refuses (naming the file) before anything is written
    add_weights(tree, change, model, number, files, record, admitted)


def _model_type(tree, change, target: str) -> str:
    pending = change.pending.get(layout.model_file(target))
    if pending is not None:
        return load_yaml(pending, layout.model_file(target))["model_type"]
    return tree.model(target)["model_type"]


def _model_record(tree, plan: ModelPlan, rm) -> dict:
    tags, dropped = _model_tags(rm)
    plan.notes += [f"model tag {k!r} dropped: not a valid tag key" for k in dropped]
    tags[IMPORT_TAG] = plan.mlflow_name
    tags[SYNC_TAG] = _model_digests(rm)
    model_type = (getattr(rm, "tags", None) or {}).get("modelreg.model_type")
    model_type = plan.model_type or model_type or "base_model"
    # MLflow records no creator of a registered model: none is invented
    return prune({"name": plan.target, "description": rm.description, "model_type": model_type,
                   "tags": tags, "created_at": _iso(rm.creation_timestamp) or clock.now()})


def _clean_tags(tags: dict) -> tuple[dict, list[str]]:
    kept, dropped = {}, []
    for key, value in sorted(tags.items()):
        if _TAG_KEY.fullmatch(str(key)) and not str(key).startswith("mlflow."):
            kept[str(key)] = str(value)[:1024]
        elif not str(key).startswith("mlflow."):  # MLflow's own bookkeeping tags stay behind
            dropped.append(str(key))
    return kept, dropped


def _iso(millis) -> str | None:
    """MLflow's epoch milliseconds as an RFC 3339 date-time, the milliseconds kept."""
    if not millis:
        return None
    seconds, ms = divmod(int(millis), 1000)
    stamp = datetime.fromtimestamp(seconds, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{stamp}.{ms:03d}Z" if ms else f"{stamp}Z"


def _placeholder(tree, plan: ModelPlan, vp: VersionPlan, model_type: str) -> dict:
    return {"version": vp.number, "model_type": model_type, "stage": "archived", "status": "deleted",
            "deleted": {"reason": f"deleted in MLflow (model {plan.mlflow_name}) before the import",
                        "at": clock.now(), "by": tree.identity()},
            "source": {"uri": f"mlflow:models:/{plan.mlflow_name}/{vp.number}"},
            "created_at": clock.now()}


def _version_record(tree, client, tracking_uri, plan, vp: VersionPlan, model_type: str) -> dict:
    mv = _mlflow_call(f"read version {_mlflow_number(vp)} of {plan.mlflow_name!r}", client.get_model_version,
                      plan.mlflow_name, str(_mlflow_number(vp)))
    params, metrics, experiment = {}, [], None
    if mv.run_id:
        run = _run(client, mv.run_id, plan, vp)
        if run is not None:
            experiment = run.info.experiment_id
            params = dict(run.data.params)
            metrics = _metrics(run.data.metrics, plan, vp)
    tags, dropped = _clean_tags(mv.tags or {})
    plan.notes += [f"version {vp.number}: tag {k!r} dropped: not a valid tag key" for k in dropped]
    tags["mlflow.version"] = str(_mlflow_number(vp))
    if mv.current_stage and mv.current_stage != "None":
        tags["mlflow.stage"] = mv.current_stage
    tags[SYNC_TAG] = _version_digests(mv)
    return {"version": vp.number, "model_type": model_type, "stage": vp.stage, "status": "active",
            "source": {k: v for k, v in {"experiment_id": experiment, "run_id": mv.run_id,
                                        "uri": redact_url(mv.source)}.items() if v},
            "parameters": params or None, "metrics": metrics or None, "tags": tags,
            "description": mv.description or None,
            "created_at": _iso(mv.creation_timestamp) or clock.now(),
            "created_by": mv.user_id or None}  # none invented when MLflow recorded none


def _run(client, run_id: str, plan, vp):
    from mlflow.exceptions import MlflowException

    try:
        return client.get_run(run_id)
    except MlflowException as exc:
        plan.notes.append(f"version {vp.number}: source run {run_id} unreadable ({_first_line(exc)}); "
                          "params and metrics not imported")
        return None


def _metrics(values: dict, plan, vp) -> list[dict]:
    """Run metrics `eval/accuracy` -> benchmark eval, metric accuracy; a bare key goes under `run`."""
    found = []
    for key, value in sorted(values.items()):
        benchmark, _, metric = key.rpartition("/")
        benchmark = benchmark.replace("/", ".") or "run"
        if not math.isfinite(float(value)):
            plan.notes.append(f"version {vp.number}: metric {key!r} dropped: {value} is not a finite number")
        elif _METRIC_PART.fullmatch(benchmark) and _METRIC_PART.fullmatch(metric):
            found.append({"benchmark": benchmark, "metric": metric, "value": float(value)})
        else:
            plan.notes.append(f"version {vp.number}: metric {key!r} dropped: not a valid metric name")
    return found


def _download(client, tracking_uri: str, plan, vp: VersionPlan, dest: Path, in_place: bool = False) -> Path:
    """The version's files through MLflow's own artifact client; a missing or empty set is an error.

    `runs:/` and `models:/` locations are resolved here first, so what is checked (a local path
    inside its experiment's artifact location, no symlinks: `_check_local`) is what is copied.
    `in_place`: a local folder that passed those checks is returned as it is, not copied (to be
    read only: the bytes of a version imported before are compared)."""
    import mlflow.artifacts

    what = _what(vp)
    uri = _mlflow_call(f"resolve the artifacts of {what}", client.get_model_version_download_uri,
                       plan.mlflow_name, str(_mlflow_number(vp)))
    uri, experiment = _located(client, uri, what, lambda: _experiment_of(client, plan, vp))
    shown = redact_url(uri)
    local = _local_path(uri)
    if local is not None:
        _check_local(client, tracking_uri, local, experiment, what)
        if in_place and local.is_dir() and any(p.is_file() for p in local.rglob("*")):
            return local
    dest.mkdir(parents=True)
    try:
        path = Path(mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=str(dest),
                                                        tracking_uri=tracking_uri))
    except Exception as exc:  # MLflow raises OSError, MlflowException or HTTP errors here
        raise ExternalError(f"{what}: its artifacts at {shown} could not be downloaded "
                            f"({_first_line(exc)}); were they deleted?") from exc
    if not path.is_dir() or not any(p.is_file() for p in path.rglob("*")):
        raise NotFound(f"{what} has no artifacts at {shown}")
    _refuse_links(path, what, "its downloaded artifacts")
    return path


def _located(client, uri: str, what: str, experiment) -> tuple[str, str | None]:
    """(the store location MLflow would download from, the experiment id it belongs to).

    `runs:/RUN/PATH` -> the run's artifact location + PATH; `models:/m-ID` (an MLflow 3 logged
    model) -> its artifact location. Another registered model's URI is refused: one version, one
    source."""
    from mlflow.exceptions import MlflowException

    scheme = uri.partition(":")[0].lower() if ":" in uri else ""
    try:
        if scheme == "runs":
            run_id, _, sub = uri[len("runs:"):].lstrip("/").partition("/")
            run = client.get_run(run_id)
            base = run.info.artifact_uri.rstrip("/")
            return (f"{base}/{sub}" if sub else base), run.info.experiment_id
        if scheme == "models":
            model_id, _, sub = uri[len("models:"):].lstrip("/").partition("/")
            if not model_id.startswith("m-") or sub:
                raise InvalidInput(f"{what}: its source {redact_url(uri)} is another registered model, "
                                   "not artifacts; register the artifacts' own location in MLflow")
            logged = client.get_logged_model(model_id)
            return logged.artifact_location, logged.experiment_id
        return uri, (experiment() if _local_path(uri) is not None else None)
    except MlflowException as exc:
        raise ExternalError(f"{what}: MLflow failed to resolve {redact_url(uri)}: {_first_line(exc)}") from exc


def _experiment_of(client, plan, vp: VersionPlan) -> str | None:
    """The experiment of the version's run, else of its logged model (None without either)."""
    if vp.run_id:
        return client.get_run(vp.run_id).info.experiment_id
    mv = client.get_model_version(plan.mlflow_name, str(_mlflow_number(vp)))
    model_id = getattr(mv, "model_id", None)
    return client.get_logged_model(model_id).experiment_id if model_id else None


def _local_path(uri: str) -> Path | None:
    """The path a `file:` URI or a bare path names (None for any other scheme)."""
    from urllib.parse import unquote, urlsplit

    parts = urlsplit(uri)
    if parts.scheme.lower() == "file":
        return Path(unquote(parts.path))
    if not parts.scheme or len(parts.scheme) == 1:  # a bare path
        return Path(uri)
    return None


def _is_local_store(tracking_uri: str) -> bool:
    """sqlite, a file store or a bare folder; not a server, a database server or Databricks."""
    from urllib.parse import urlsplit

    scheme = urlsplit(tracking_uri).scheme.lower()
    return scheme in ("file", "sqlite") or (not scheme and not tracking_uri.startswith("databricks"))


def _check_local(client, tracking_uri: str, path: Path, experiment: str | None, what: str) -> None:
    """A local source is read only from a local MLflow store, inside its experiment's artifact
    location, and with no symlink in it: nothing else on this machine enters the registry."""
    if not _is_local_store(tracking_uri):
        raise InvalidInput(f"{what}: its artifacts are at the local path {path}, but MLflow at "
                           f"{redact_url(tracking_uri)} is not on this machine; a path would read this "
                           "machine's files: serve the artifacts through MLflow (mlflow-artifacts:) or a store")
    root = _artifact_root(client, experiment)
    real = Path(os.path.realpath(path))
    if root is None or not real.is_relative_to(root):
        raise InvalidInput(f"{what}: its source {path} is outside the artifact location of its MLflow "
                           "experiment; only artifacts MLflow stored are imported")
    _refuse_links(path, what, f"its artifacts at {path}")


def _artifact_root(client, experiment: str | None) -> Path | None:
    if experiment is None:
        return None
    from mlflow.exceptions import MlflowException

    try:
        location = client.get_experiment(experiment).artifact_location
    except MlflowException:
        return None
    local = _local_path(location or "")
    return Path(os.path.realpath(local)) if local is not None else None


def _refuse_links(path: Path, what: str, where: str) -> None:
    """A symlink anywhere in the tree (MLflow's copy follows it, whatever it points at) is refused."""
    if path.is_symlink():
        raise InvalidInput(f"{what}: {where} is a symlink; only regular files are imported")
    for dirpath, dirnames, filenames in os.walk(path):
        for name in dirnames + filenames:
            if os.path.islink(os.path.join(dirpath, name)):
                rel = Path(dirpath, name).relative_to(path).as_posix()
                raise InvalidInput(f"{what}: {where} holds a symlink, {rel}; only regular files are "
                                   "imported (a link could bring in any file of this machine)")
