"""MLflow clients on top of a modelreg registry: a Model Registry Store plugin.

Registered for the `modelreg` scheme (entry-point groups `mlflow.model_registry_store` and
`mlflow.artifact_repository`), so unchanged MLflow code reads a Git registry:

    MlflowClient(registry_uri="modelreg:///srv/registry").get_model_version_by_alias("llama-ft", "production")
    mlflow.set_registry_uri("modelreg:///srv/registry")
    mlflow.artifacts.download_artifacts("models:/llama-ft@production")

A registry URI is `modelreg:` followed by a folder (`modelreg:///srv/registry`) or a Git URL
(`modelreg://https://github.com/acme/registry.git`, read as a cached blobless clone). Every
call reads one commit of the main branch. A version's download URI is
`modelreg:<registry>#<name>@<version>`; its artifact repository pulls the files through
modelreg's cache, sha256-verified. Writes to a local clone on main are the modelreg operation
itself (same checks and formats policy, one commit), pushed to origin with `sync`'s renumbering
when others pushed first; a write that needs review (a stage with approvals, a forge-governed
main) and any write to a URL registry raise an error naming the modelreg command or pull
request instead. This module is imported only by MLflow itself.
"""
import functools
import os
import tempfile
from datetime import datetime
from pathlib import Path

from mlflow.entities import FileInfo, Metric
from mlflow.entities.model_registry import (ModelVersion, ModelVersionTag, RegisteredModel,
                                            RegisteredModelAlias, RegisteredModelTag)
from mlflow.entities.model_registry.model_version_stages import ALL_STAGES, get_canonical_stage
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import (INTERNAL_ERROR, INVALID_PARAMETER_VALUE, PERMISSION_DENIED,
                                          RESOURCE_DOES_NOT_EXIST)
from mlflow.store.artifact.artifact_repo import ArtifactRepository
from mlflow.store.entities.paged_list import PagedList
from mlflow.store.model_registry.abstract_store import AbstractStore
from mlflow.utils.search_utils import SearchModelUtils, SearchModelVersionUtils

from ..core import layout
from ..core.errors import InvalidInput, NotFound, PolicyViolation, RegistryError
from ..core.names import check_alias, check_name
from ..core.refs import ModelRef, parse_version
from ..core.urls import redact_url

SCHEME = "modelreg"
MAX_RESULTS = 100_000
# modelreg stage -> MLflow's legacy stage; development has no MLflow twin and reads as None.
STAGES = {"production": "Production", "staging": "Staging", "archived": "Archived"}


def registry_location(uri: str) -> str:
    """`modelreg:///srv/reg` -> /srv/reg; `modelreg://https://host/r.git` -> the URL."""
    if not isinstance(uri, str) or not uri.startswith(SCHEME + ":"):
        raise InvalidInput(f"{uri!r} is not a modelreg URI: use modelreg:///path/to/registry "
                           "or modelreg://https://host/org/registry.git")
    rest = uri[len(SCHEME) + 1:].split("#", 1)[0]
    if rest.startswith("//") and not rest.startswith("///"):
        rest = rest[2:]  # modelreg://https://... or modelreg://relative (treated as given)
    elif rest.startswith("///"):
        rest = rest[2:]
    if not rest:
        raise InvalidInput(f"{uri!r} names no registry: use modelreg:///path/to/registry")
    return rest


def _mlflow_errors(method):
    """modelreg's errors as MlflowException with the matching code, cause kept."""
    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        try:
            return method(*args, **kwargs)
        except NotFound as exc:
            raise MlflowException(str(exc), error_code=RESOURCE_DOES_NOT_EXIST) from exc
        except InvalidInput as exc:
            raise MlflowException(str(exc), error_code=INVALID_PARAMETER_VALUE) from exc
        except PolicyViolation as exc:
            raise MlflowException(str(exc), error_code=PERMISSION_DENIED) from exc
        except RegistryError as exc:
            raise MlflowException(str(exc), error_code=INTERNAL_ERROR) from exc
    return wrapper


def _open(location: str):
    from ..loading import sources

    try:
        registry = sources.open_registry(location)
    except RegistryError as exc:
        raise MlflowException(f"modelreg registry URI {location!r}: {exc}",
                              error_code=RESOURCE_DOES_NOT_EXIST) from exc
    if not _has_settings(registry):
        raise MlflowException(f"modelreg registry URI {location!r}: a Git repository without "
                              f"{layout.REGISTRY_FILE}, so not a modelreg registry; run 'modelreg init' there",
                              error_code=RESOURCE_DOES_NOT_EXIST)
    return registry


def _has_settings(registry) -> bool:
    """registry.yaml on the main branch (a cached clone has no working tree to look in)."""
    try:
        return registry.at().has(layout.REGISTRY_FILE)
    except RegistryError:
        return False


def _millis(stamp) -> int | None:
    if not stamp:
        return None
    try:
        return int(datetime.fromisoformat(str(stamp).replace("Z", "+00:00")).timestamp() * 1000)
    except ValueError:
        return None


def _read_only(what: str, instead: str):
    def method(self, *args, **kwargs):
        raise MlflowException(f"this modelreg registry is read-only through MLflow: {what} with {instead}",
                              error_code=INVALID_PARAMETER_VALUE)
    method.__name__ = what.replace(" ", "_")
    return method


class ModelregStore(AbstractStore):
    """Answers MLflow's registry reads from one commit of the registry's main branch."""

    def __init__(self, store_uri=None, tracking_uri=None):
        super().__init__(store_uri, tracking_uri)
        self.store_uri = store_uri
        self.tracking_uri = tracking_uri  # where `runs:/` sources of new versions are downloaded from
        try:
            self.location = registry_location(store_uri)
        except InvalidInput as exc:
            raise MlflowException(str(exc), error_code=INVALID_PARAMETER_VALUE) from exc
        self.registry = _open(self.location)

    # -- entities --------------------------------------------------------------------
    def _commit(self) -> str:
        from ..loading import sources

        if sources.url_of(self.registry):
            sources.open_registry(sources.url_of(self.registry))  # refresh on the TTL
        return self.registry.commit_of()

    def _version_entity(self, name: str, record: dict, aliases: dict, commit: str) -> ModelVersion:
        number = int(record["version"])
        source = record.get("source") or {}
        created = _millis(record.get("created_at"))
        metrics = [Metric(f"{m['benchmark']}/{m['metric']}", float(m["value"]),
                          _millis(m.get("evaluated_at")) or created or 0, 0)
                   for m in record.get("metrics") or []]
        stage = STAGES.get(record.get("stage"), "None")
        tags = dict(record.get("tags") or {})
        if "mlflow.stage" in tags:  # recorded by `import mlflow` at import time: answer what is true now
            tags["mlflow.stage"] = stage
        return ModelVersion(
            name=name, version=str(number), creation_timestamp=created, last_updated_timestamp=created,
            description=self._description(name, number, record, commit), user_id=record.get("created_by"),
            current_stage=stage,
            source=redact_url(source.get("uri")) or self.download_uri(name, number), run_id=source.get("run_id"),
            tags=[ModelVersionTag(k, str(v)) for k, v in tags.items()],
            aliases=sorted(a for a, v in aliases.items() if v == number), metrics=metrics or None)

    def _description(self, name: str, number: int, record: dict, commit: str) -> str | None:
        """The card's description (what `update_model_version` edits), else the record's own."""
        snap = self.registry.snapshot(commit)
        if snap.has(layout.card_file(name, number)):
            from ..store.reads import card

            found = card(snap, name, number).get("description")
            if isinstance(found, str) and found:
                return found
        return record.get("description")

    def _versions(self, name: str, commit: str) -> list[ModelVersion]:
        aliases = self.registry.aliases(name, at=commit)
        return [self._version_entity(name, rec, aliases, commit)
                for rec in self.registry.list_versions(name, at=commit)]

    def _model_entity(self, record: dict, commit: str) -> RegisteredModel:
        name = record["name"]
        versions = self._versions(name, commit)
        created = _millis(record.get("created_at"))
        updated = max([created or 0] + [v.creation_timestamp or 0 for v in versions]) or None
        aliases = self.registry.aliases(name, at=commit)
        return RegisteredModel(
            name=name, creation_timestamp=created, last_updated_timestamp=updated,
            description=record.get("description"), latest_versions=_latest_per_stage(versions, ALL_STAGES),
            tags=[RegisteredModelTag(k, str(v)) for k, v in (record.get("tags") or {}).items()],
            aliases=[RegisteredModelAlias(a, str(v)) for a, v in sorted(aliases.items())])

    def download_uri(self, name: str, version) -> str:
        return f"{SCHEME}://{self.location}#{name}@{int(version)}"

    # -- reads -----------------------------------------------------------------------
    @_mlflow_errors
    def search_registered_models(self, filter_string=None, max_results=None, order_by=None, page_token=None):
        commit = self._commit()
        models = [self._model_entity(m, commit) for m in self.registry.list_models(at=commit)]
        found = SearchModelUtils.sort(SearchModelUtils.filter(models, filter_string), order_by)
        return _page(SearchModelUtils, found, page_token, max_results)

    @_mlflow_errors
    def get_registered_model(self, name):
        commit = self._commit()
        return self._model_entity(self.registry.get_model(name, at=commit), commit)

    @_mlflow_errors
    def get_latest_versions(self, name, stages=None):
        wanted = [get_canonical_stage(s) for s in stages] if stages else ALL_STAGES
        return _latest_per_stage(self._versions(name, self._commit()), wanted)

    @_mlflow_errors
    def get_model_version(self, name, version):
        commit = self._commit()
        resolved = self.registry.resolve(ModelRef(check_name(name), version=parse_version(version)), at=commit)
        if resolved.status == "deleted":
            raise NotFound(f"{name} version {version} is deleted")
        return self._version_entity(name, resolved.record, self.registry.aliases(name, at=commit), commit)

    @_mlflow_errors
    def get_model_version_by_alias(self, name, alias):
        commit = self._commit()
        resolved = self.registry.resolve(ModelRef(check_name(name), alias=check_alias(alias)), at=commit)
        return self._version_entity(name, resolved.record, self.registry.aliases(name, at=commit), commit)

    @_mlflow_errors
    def get_model_version_download_uri(self, name, version):
        self.get_model_version(name, version)
        return self.download_uri(name, version)

    @_mlflow_errors
    def search_model_versions(self, filter_string=None, max_results=None, order_by=None, page_token=None):
        commit = self._commit()
        versions = [v for m in self.registry.list_models(at=commit) for v in self._versions(m["name"], commit)]
        for mv in versions:  # MLflow's filters and orders compare version numbers as numbers
            mv._version = int(mv.version)
        found = SearchModelVersionUtils.sort(SearchModelVersionUtils.filter(versions, filter_string), order_by)
        for mv in versions:
            mv._version = str(mv.version)
        return _page(SearchModelVersionUtils, found, page_token, max_results)

    # -- writes: the modelreg operation itself, one commit, pushed (issue 21) ----------------
    def _writable(self):
        """The registry, if MLflow may write to it directly: a local clone on its main branch whose
        policy needs no review for the change. Everything else names the modelreg way."""
        from ..loading import sources

        reg = self.registry
        if sources.url_of(reg) or not reg.checkout:
            raise PolicyViolation(f"{sources.where(reg)} is read through a cached clone: MLflow writes need a "
                                  "local clone (modelreg:///path/to/clone), whose commits are pushed")
        if reg.git.current_branch() != reg.main_branch:
            raise PolicyViolation(f"the clone at {reg.root} is not on {reg.main_branch}: check it out first")
        self._shared_policy(reg)
        if (reg.settings.get("forge") or {}).get("type", "none") != "none":
            raise MlflowException(f"main is governed by a forge: every change is a pull request; {_WAYS['forge']}",
                                  error_code=PERMISSION_DENIED)
        return reg

    @staticmethod
    def _shared_policy(reg) -> None:
        """The writes below judge by the working tree's registry.yaml; a training host must not
        loosen its own gate. So that file must be, byte for byte, what the shared main has
        (origin/main; without a remote, the committed main)."""
        tracking = reg.git.tracking(reg.main_branch)
        commit = tracking[0][1] if tracking else reg.git.rev_parse(reg.main_branch)
        shared = reg.git.read(commit, layout.REGISTRY_FILE)
        here = reg.root / layout.REGISTRY_FILE
        if shared is None or not here.is_file() or here.read_bytes() != shared:
            where = tracking[0][0] if tracking else reg.main_branch
            raise PolicyViolation(f"{layout.REGISTRY_FILE} in {reg.root} differs from {where}'s: writes through "
                                  "MLflow follow the shared policy; change it through a reviewed pull request")

    def _published(self, reg) -> dict:
        """Push what was just committed; {"model@N": new number} for versions sync renumbered."""
        from ..promotion.sync import publish

        return publish(reg.worktree)["renumbered"]

    @_mlflow_errors
    def create_registered_model(self, name, tags=None, description=None, deployment_job_id=None):
        reg = self._writable()
        pairs = {t.key: t.value for t in tags or []}
        model_type = pairs.pop("modelreg.model_type", None) or "base_model"  # as `import mlflow` reads it
        reg.register_model(check_name(name), model_type, description, tags=pairs)
        self._published(reg)
        return self.get_registered_model(name)

    @_mlflow_errors
    def update_registered_model(self, name, description, deployment_job_id=None):
        reg = self._writable()
        reg.update_model(check_name(name), description=description or "")
        self._published(reg)
        return self.get_registered_model(name)

    @_mlflow_errors
    def set_registered_model_tag(self, name, tag):
        reg = self._writable()
        reg.update_model(check_name(name), tags={tag.key: str(tag.value)})
        self._published(reg)

    @_mlflow_errors
    def delete_registered_model_tag(self, name, key):
        reg = self._writable()
        reg.update_model(check_name(name), untag=[key])
        self._published(reg)

    @_mlflow_errors
    def create_model_version(self, name, source, run_id=None, tags=None, run_link=None, description=None,
                             local_model_path=None, model_id=None):
        reg = self._writable()
        with tempfile.TemporaryDirectory(prefix="modelreg-mlflow-") as tmp:
            folder = local_model_path or _fetch_source(source, self.tracking_uri, tmp)
            record = reg.create_version(check_name(name), folder, run_id=run_id, description=description,
                                        tags={t.key: str(t.value) for t in tags or []},
                                        source_uri=None if _is_local(source) else redact_url(source))
        renumbered = self._published(reg)  # another writer took the number: sync moved ours
        return self.get_model_version(name, renumbered.get(f"{name}@{record['version']}", record["version"]))

    @_mlflow_errors
    def transition_model_version_stage(self, name, version, stage, archive_existing_versions=False):
        reg = self._writable()
        target = _modelreg_stage(stage, reg.settings.initial_stage)
        if (reg.settings.get("approvals") or {}).get(target):
            raise MlflowException(f"{target} needs approvals: open the pull request with "
                                  + _WAYS["promote"].format(name=name, version=version, stage=target),
                                  error_code=PERMISSION_DENIED)
        reg.transition_stage(check_name(name), parse_version(version), target,
                             archive_existing=True if archive_existing_versions else None)
        self._published(reg)
        return self.get_model_version(name, version)

    @_mlflow_errors
    def delete_model_version(self, name, version):
        reg = self._writable()
        reg.delete_version(check_name(name), parse_version(version), "deleted through the MLflow client")
        self._published(reg)

    @_mlflow_errors
    def set_model_version_tag(self, name, version, tag):
        reg = self._writable()
        reg.tag_version(check_name(name), parse_version(version), tags={tag.key: str(tag.value)})
        self._published(reg)

    @_mlflow_errors
    def delete_model_version_tag(self, name, version, key):
        reg = self._writable()
        reg.tag_version(check_name(name), parse_version(version), untag=[key])
        self._published(reg)

    @_mlflow_errors
    def set_registered_model_alias(self, name, alias, version):
        reg = self._writable()
        reg.set_alias(check_name(name), check_alias(alias), parse_version(version))
        self._published(reg)

    @_mlflow_errors
    def delete_registered_model_alias(self, name, alias):
        reg = self._writable()
        reg.remove_alias(check_name(name), check_alias(alias))
        self._published(reg)

    def list_webhooks_by_event(self, event, max_results=None, page_token=None):
        """`mlflow server` asks after every write; a Git registry has none (events: issue 22)."""
        return PagedList([], None)

    @_mlflow_errors
    def update_model_version(self, name, version, description):
        """The description lives in the card (a merged version.yaml is immutable)."""
        from ..writes.cards import current, update

        reg = self._writable()
        number = parse_version(version)
        ref = f"{check_name(name)}@{number}"
        if (current(reg.worktree, name, number).get("description") or "") != (description or ""):
            update(reg.worktree, ref, {"description": description} if description else None,
                   unset=() if description else ["description"])
        self._published(reg)
        return self.get_model_version(name, number)
    rename_registered_model = _read_only("rename a model", "a pull request (names are paths; "
                                         "register the new name and deprecate the old one)")
    delete_registered_model = _read_only("delete a model", "`modelreg model deprecate NAME --reason ...`, "
                                         "or `modelreg version delete NAME@N --reason ...` per version (deletes are soft)")
    copy_model_version = _read_only("copy a version", "`modelreg version create NAME WEIGHTS_DIR --parent REF`")


# What an MLflow user runs instead, where a write needs review (MLflow shows no CLI hints).
_WAYS = {"forge": "use `modelreg promote` or `modelreg version create --pr`",
         "promote": "`modelreg promote {name} {version} --to {stage}`"}


def _is_local(source: str) -> bool:
    return "://" not in str(source) or str(source).startswith("file://")


def _fetch_source(source: str, tracking_uri, tmp: str) -> str:
    """A version's files as a local folder: the folder itself, or what MLflow's artifact
    repositories download for `runs:/`, `models:/`, `s3://`, ... (through the tracking server)."""
    if "://" not in str(source) and ":/" not in str(source):
        return str(source)
    import mlflow.artifacts

    return mlflow.artifacts.download_artifacts(artifact_uri=str(source), dst_path=tmp, tracking_uri=tracking_uri)


def _modelreg_stage(stage: str, initial: str) -> str:
    canonical = get_canonical_stage(stage)
    if canonical == "None":
        return initial
    return {v: k for k, v in STAGES.items()}[canonical]


def _latest_per_stage(versions: list[ModelVersion], stages) -> list[ModelVersion]:
    latest = {}
    for mv in versions:
        stage = mv.current_stage
        if stage in stages and (stage not in latest or int(mv.version) > int(latest[stage].version)):
            latest[stage] = mv
    return [latest[s] for s in stages if s in latest]


def _page(utils, items: list, page_token, max_results) -> PagedList:
    found, token = utils.paginate(items, page_token, max_results or MAX_RESULTS)
    return PagedList(found, token)


class ModelregArtifactRepository(ArtifactRepository):
    """`modelreg:<registry>#<name>@<version>`: a version's files, pulled and sha256-verified."""

    def __init__(self, artifact_uri, tracking_uri=None, registry_uri=None):
        super().__init__(artifact_uri, tracking_uri, registry_uri)
        if "#" not in artifact_uri:
            raise MlflowException(f"{artifact_uri!r} names no version: expected modelreg:<registry>#NAME@N",
                                  error_code=INVALID_PARAMETER_VALUE)
        self.ref = artifact_uri.rsplit("#", 1)[1]
        self.location = registry_location(artifact_uri)

    @_mlflow_errors
    def list_artifacts(self, path=None):
        registry = _open(self.location)
        record = registry.resolve(self.ref).record
        prefix = (path or "").strip("/")
        entries, dirs = [], set()
        for art in record.get("artifacts") or []:
            rel = art["path"]
            if prefix and not rel.startswith(prefix + "/"):
                continue
            rest = rel[len(prefix) + 1:] if prefix else rel
            head = rest.split("/", 1)[0]
            full = f"{prefix}/{head}" if prefix else head
            if "/" in rest:
                dirs.add(full)
            else:
                entries.append(FileInfo(full, False, int(art["size_bytes"])))
        return sorted(entries + [FileInfo(d, True, None) for d in dirs], key=lambda f: f.path)

    @_mlflow_errors
    def download_artifacts(self, artifact_path, dst_path=None):
        if dst_path:  # MLflow's contract: the files go in beside whatever dst_path holds
            registry = _open(self.location)
            resolved = registry.resolve(self.ref)
            folder = _place(registry.pull(self.ref).path, Path(dst_path), resolved.record.get("artifacts") or [])
        else:
            folder = _open(self.location).pull(self.ref, dest=Path(tempfile.mkdtemp(prefix="modelreg-mlflow-"))).path
        target = folder / (artifact_path or "").strip("/") if artifact_path else folder
        if not target.exists():
            raise NotFound(f"{self.ref} has no artifact {artifact_path!r}")
        return os.path.abspath(target)

    def _download_file(self, remote_file_path, local_path):
        raise MlflowException("download_artifacts fetches the whole version; single files are not served",
                              error_code=INVALID_PARAMETER_VALUE)

    log_artifact = _read_only("log an artifact", "`modelreg version create NAME WEIGHTS_DIR`")
    log_artifacts = _read_only("log artifacts", "`modelreg version create NAME WEIGHTS_DIR`")
    delete_artifacts = _read_only("delete artifacts", "`modelreg version delete NAME@N --reason ...`")


def _place(verified: Path, dest: Path, artifacts: list[dict]) -> Path:
    """The verified folder's files linked (or copied) into `dest`, each replacing what had its name."""
    import shutil

    from ..artifacts.cache import Cache

    cache = Cache()
    for art in artifacts:
        src, target = verified / art["path"], dest / art["path"]
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.modelreg.tmp")
        try:
            try:
                os.link(src, tmp)
                linked = True
            except OSError:
                shutil.copy2(src, tmp)
                linked = False
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)
        if linked:  # a new link changes the cache object's ctime: note it, or the next pull re-hashes
            cache.restamp(art["sha256"], int(art["size_bytes"]))
    return dest
