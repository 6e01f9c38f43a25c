"""`modelreg import mlflow`: a team's MLflow Model Registry, moved into Git.

Reading goes through MLflow's own client (registered models, versions, their source runs'
params and metrics, aliases, legacy stages); artifacts are downloaded through MLflow and
registered through DVC like any `version create`. Each model becomes one commit: an
interrupted run leaves no half-imported version, and a second run imports only MLflow
versions not imported before, matched by MLflow's identity (the `mlflow.version` tag, the
source run and URI), never by number. Version numbers are preserved where modelreg has them
free (else the next one); a number MLflow deleted becomes a soft-deleted placeholder record,
so later numbers still line up. A version imported into a stage takes it, with its alias.

The plan (what becomes what, what is dropped and why) is computed before anything is
written; `--dry-run` returns it after downloading and checking each new version as the real
run would, writing nothing.

An import brings nothing from the importing machine: artifacts at a local path are read only
when the MLflow store itself is local (sqlite, a file store) and the path lies inside the
artifact location of the version's experiment, with no symlink anywhere in the tree (MLflow's
copy would follow one out). URLs are recorded and reported without their credentials.
"""
import contextlib
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
from ..core.errors import ExternalError, InvalidInput, NotFound, RegistryError
from ..core.names import check_alias, check_name
from ..core.records import load_yaml, prune
from ..core.urls import redact_url, scrub_text
from ..writes.models import keep_codeowners

IMPORT_TAG = "mlflow.name"  # on model.yaml: which MLflow model this one was imported from
STAGE_MAP = {"Production": "production", "Staging": "staging", "Archived": "archived"}
_TAG_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:/-]{0,127}")
_METRIC_PART = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
PAGE = 1000
# What `--type` may choose: an imported version has no parent, so not `adapter`.
MODEL_TYPES = ("base_model", "fine_tuned", "quantized", "distilled", "merged")


@dataclass
class VersionPlan:
    number: int
    action: str  # create | placeholder | skip | drop
    stage: str | None = None
    mlflow_stage: str | None = None
    reason: str = ""
    source: str | None = None
    run_id: str | None = None
    mlflow_version: int | None = None  # MLflow's number, when it differs from modelreg's

    def to_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if v not in (None, "")}


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

    def to_dict(self) -> dict:
        return {"mlflow_name": self.mlflow_name, "target": self.target, "action": self.action,
                "reason": self.reason or None, "versions": [v.to_dict() for v in self.versions],
                "aliases": self.aliases, "demote": self.demote, "notes": self.notes}


@dataclass
class ImportResult:
    tracking_uri: str
    models: list[ModelPlan]
    dry_run: bool
    commits: dict[str, str] = field(default_factory=dict)  # target -> commit
    failures: list[str] = field(default_factory=list)
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
    import json

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
    new = {m for m, mv in by_number.items() if _match(imported.get(m), mv, m) is None}
    stages = _stages(tree, by_number, plan, new, records)
    taken = set(records)
    for number in range(1, max(by_number, default=0) + 1):
        plan.versions.append(_plan_version(number, by_number.get(number), imported, taken, stages))
    plan.aliases = _aliases(tree, rm, plan, first=existing is None)
    if existing is not None and getattr(rm, "aliases", None):
        plan.notes.append("aliases other than the stages' are not re-synced into a model imported before: "
                          "modelreg's aliases.yaml is the source of truth now")
    if not any(v.action in ("create", "placeholder") for v in plan.versions):
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


def _stages(tree, by_number, plan: ModelPlan, new: set, records: dict) -> dict[int, str]:
    """MLflow stage -> modelreg stage per MLflow version; exclusive stages keep only their newest
    new holder, and a version imported into one takes it from modelreg's holder (archived)."""
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
        holders = sorted(n for n, s in mapped.items() if s == stage and n in new)
        for number in holders[:-1]:
            mapped[number] = "archived"
            plan.notes.append(f"version {number}: {stage} is exclusive in modelreg; imported as archived "
                              f"(move it with `modelreg promote`)")
        if holders:
            for held, record in sorted(records.items()):
                if record.get("stage") == stage and record.get("status") != "deleted":
                    plan.demote[held] = "archived"
                    plan.notes.append(f"version {held}: leaves {stage} for the version imported into it; "
                                      "archived")
    return mapped


def _plan_version(number: int, mv, imported: dict, taken: set, stages: dict) -> VersionPlan:
    """What MLflow's version `number` becomes: skipped when imported before (matched by its MLflow
    identity), else a new modelreg version, under MLflow's number when modelreg has it free."""
    matched = _match(imported.get(number), mv, number)
    if matched is not None:
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


def _mlflow_number(vp: VersionPlan) -> int:
    return vp.mlflow_version or vp.number


def _what(vp: VersionPlan) -> str:
    m = _mlflow_number(vp)
    return f"version {vp.number}" + (f" (MLflow version {m})" if m != vp.number else "")


def _aliases(tree, rm, plan: ModelPlan, first: bool) -> dict[str, int]:
    """The aliases to write: MLflow's own (first import only) and the stages' aliases, which move
    onto the newest version imported into their stage."""
    settings = tree.settings
    created = {_mlflow_number(v): v.number for v in plan.versions if v.action == "create"}
    aliases = {}
    for alias, version in sorted((getattr(rm, "aliases", None) or {}).items() if first else ()):
        number = int(version)
        try:
            check_alias(alias)
        except InvalidInput as exc:
            plan.notes.append(f"alias {alias!r} dropped: {exc}")
            continue
        if alias in settings.protected_aliases:
            plan.notes.append(f"alias {alias!r} dropped: it follows the {alias} stage in modelreg")
        elif number not in created:
            plan.notes.append(f"alias {alias!r} dropped: version {number} is not imported")
        else:
            aliases[alias] = created[number]
    for stage, alias in settings.stage_aliases.items():
        holders = [v.number for v in plan.versions if v.action == "create" and v.stage == stage]
        if holders:
            aliases[alias] = holders[-1]
    return dict(sorted(aliases.items()))


# -- writing -----------------------------------------------------------------------------------
def import_mlflow(tree, tracking_uri: str, registry_uri: str | None = None, names=(),
                  into: str | None = None, dry_run: bool = False, progress=None,
                  pr: bool = False, quiet: bool = False, model_type: str | None = None) -> ImportResult:
    """Plan, then write one commit per model, on the current branch or (pr) on a branch of its
    own with a pull request. Failures are collected per model. A dry run downloads and checks
    every version as the real run does (formats policy, sources, links) and writes nothing.
    `quiet` turns MLflow's own progress bars off."""
    client = open_client(tracking_uri, registry_uri)
    plans = plan_import(tree, client, tuple(names), into, model_type)
    result = ImportResult(redact_url(tracking_uri), plans, dry_run)
    with _bars(not quiet):
        for plan in plans:
            if plan.action in ("create", "update"):
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
    if dry_run:
        try:
            _check_model(tree, client, tracking_uri, plan, progress)
        except RegistryError as exc:
            result.failures.append(scrub_text(f"{plan.mlflow_name}: {exc}; the real run would write "
                                              "nothing for it"))
        return
    def write():
        return _write_model(tree, client, tracking_uri, plan, progress)
    try:
        if pr:
            proposal = _propose(tree, plan, write)
            result.commits[plan.target] = proposal.result
            result.proposals[plan.target] = {k: v for k, v in proposal.to_dict().items() if k != "body"}
        else:
            result.commits[plan.target] = write()
    except RegistryError as exc:
        result.failures.append(scrub_text(f"{plan.mlflow_name}: {exc}; nothing was written for it"))


def _check_model(tree, client, tracking_uri: str, plan: ModelPlan, progress) -> None:
    """What `_write_model` checks before it writes, without writing: the records against their
    schemas, each new version's download (sources, links, emptiness) and the formats policy."""
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
            if vp.action != "create":
                continue
            if progress:
                progress(f"{plan.mlflow_name} version {_mlflow_number(vp)} (dry run)")
            record = _version_record(tree, client, tracking_uri, plan, vp, model_type)
            schema.validate("version", prune(record), path)
            schema.validate("card", prune({"description": record.get("description")}),
                            layout.card_file(plan.target, vp.number))
            folder = _download(client, tracking_uri, plan, vp, Path(tmp) / str(vp.number))
            admit(tree.settings, scan_folder(folder))


def _propose(tree, plan: ModelPlan, write):
    """The import commit on a branch from main, pushed, with a pull request when a forge is set."""
    from ..promotion.promote import propose

    title = f"Import {plan.target} from MLflow model {plan.mlflow_name}"
    note = "\n".join([f"Imported by `modelreg import mlflow` from MLflow model `{plan.mlflow_name}`."]
                     + [f"- {n}" for n in plan.notes])
    return propose(tree, plan.target, "version", title, write, note=note)


def _write_model(tree, client, tracking_uri: str, plan: ModelPlan, progress) -> str:
    change = tree.begin_write([layout.model_dir(plan.target)])
    with change, tempfile.TemporaryDirectory(prefix="modelreg-mlflow-import-") as tmp:
        if plan.action == "create":
            rm = _mlflow_call(f"read {plan.mlflow_name!r}", client.get_registered_model, plan.mlflow_name)
            change.put(layout.model_file(plan.target), "model", _model_record(tree, plan, rm))
            change.put(layout.aliases_file(plan.target), "aliases", {"aliases": plan.aliases})
            keep_codeowners(tree, change, {plan.target: []})  # as `model register` does
        elif plan.aliases:  # the stages' aliases follow the versions imported into their stages
            aliases = dict(tree.aliases(plan.target), **plan.aliases)
            change.put(layout.aliases_file(plan.target), "aliases", {"aliases": dict(sorted(aliases.items()))})
        for number, stage in sorted(plan.demote.items()):
            change.put(layout.version_file(plan.target, number), "version",
                       dict(tree.version(plan.target, number), stage=stage))
        model_type = _model_type(tree, change, plan.target)
        created = []
        for vp in plan.versions:
            if vp.action == "placeholder":
                change.put(layout.version_file(plan.target, vp.number), "version",
                           _placeholder(tree, plan, vp, model_type))
                created.append(vp.number)
            elif vp.action == "create":
                if progress:
                    progress(f"{plan.mlflow_name} version {_mlflow_number(vp)}")
                record = _version_record(tree, client, tracking_uri, plan, vp, model_type)
                folder = _download(client, tracking_uri, plan, vp, Path(tmp) / str(vp.number))
                _add_weights(tree, change, plan.target, vp.number, folder, record)
                change.put(layout.version_file(plan.target, vp.number), "version", prune(record))
                change.put(layout.card_file(plan.target, vp.number), "card",
                           prune({"description": record.get("description")}))
                created.append(vp.number)
        return change.commit(
            f"import {plan.target} from MLflow model {plan.mlflow_name} ({len(created)} version(s))",
            {"Action": "mlflow.import", "Model": plan.target, "Mlflow-Model": plan.mlflow_name,
             "Versions": ",".join(map(str, created))})


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
    tags, dropped = _clean_tags(getattr(rm, "tags", None) or {})
    plan.notes += [f"model tag {k!r} dropped: not a valid tag key" for k in dropped]
    tags[IMPORT_TAG] = plan.mlflow_name
    model_type = tags.pop("modelreg.model_type", None)
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


def _download(client, tracking_uri: str, plan, vp: VersionPlan, dest: Path) -> Path:
    """The version's files through MLflow's own artifact client; a missing or empty set is an error.

    `runs:/` and `models:/` locations are resolved here first, so what is checked (a local path
    inside its experiment's artifact location, no symlinks: `_check_local`) is what is copied."""
    import mlflow.artifacts

    what = _what(vp)
    uri = _mlflow_call(f"resolve the artifacts of {what}", client.get_model_version_download_uri,
                       plan.mlflow_name, str(_mlflow_number(vp)))
    uri, experiment = _located(client, uri, what, lambda: _experiment_of(client, plan, vp))
    shown = redact_url(uri)
    local = _local_path(uri)
    if local is not None:
        _check_local(client, tracking_uri, local, experiment, what)
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
