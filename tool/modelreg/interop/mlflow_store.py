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
import json
import logging
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
                                          RESOURCE_ALREADY_EXISTS, RESOURCE_DOES_NOT_EXIST)
from mlflow.store.artifact.artifact_repo import ArtifactRepository
from mlflow.store.entities.paged_list import PagedList
from mlflow.store.model_registry.abstract_store import AbstractStore
from mlflow.tracking._model_registry import DEFAULT_AWAIT_MAX_SLEEP_SECONDS as _MLFLOW_DEFAULT_WAIT
from mlflow.utils.search_utils import SearchModelUtils, SearchModelVersionUtils

from ..core import layout
from ..core.errors import InvalidInput, NotFound, PolicyViolation, RegistryError
from ..core.names import check_alias, check_name
from ..core.refs import ModelRef, parse_version
from ..core.urls import redact_url

_log = logging.getLogger(__name__)
SCHEME = "modelreg"
_WRITE_WAIT = 600.0  # seconds a write waits for another process's write and push on the same clone
PENDING, READY, FAILED = "PENDING_REGISTRATION", "READY", "FAILED_REGISTRATION"  # MLflow's version statuses
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
        self._touch_cache: tuple[str | None, dict] = (None, {})

    # -- entities --------------------------------------------------------------------
    def _commit(self) -> str:
        from ..loading import sources

        if sources.url_of(self.registry):
            sources.open_registry(sources.url_of(self.registry))  # refresh on the TTL
        return self.registry.commit_of()

    def _version_entity(self, name: str, record: dict, aliases: dict, commit: str,
                        status: str = READY, status_message: str | None = None) -> ModelVersion:
        number = int(record["version"])
        source = record.get("source") or {}
        created = _millis(record.get("created_at"))
        metrics = [Metric(f"{m['benchmark']}/{m['metric']}", float(m["value"]),
                          _millis(m.get("evaluated_at")) or created or 0, 0)
                   for m in record.get("metrics") or []]
        stage = STAGES.get(record.get("stage"), "None")
        tags = _shown(record.get("tags"))
        if "mlflow.stage" in tags:  # recorded by `import mlflow` at import time: answer what is true now
            tags["mlflow.stage"] = stage
        updated = self._touched(commit).get(layout.version_dir(name, number))
        return ModelVersion(
            name=name, version=str(number), creation_timestamp=created,
            last_updated_timestamp=max(created or 0, updated or 0) or None,
            description=self._description(name, number, record, commit), user_id=record.get("created_by"),
            current_stage=stage,
            source=redact_url(source.get("uri")) or self.download_uri(name, number), run_id=source.get("run_id"),
            tags=[ModelVersionTag(k, str(v)) for k, v in tags.items()], status=status,
            status_message=status_message,
            aliases=sorted(a for a, v in aliases.items() if v == number), metrics=metrics or None)

    def _touched(self, commit: str) -> dict[str, int]:
        """Model and version folder -> ms of its last change on main's line, by the registry's clock
        (MLflow's last_updated: a stage move, a tag, a card edit). One `git log` per commit, kept."""
        if self._touch_cache[0] == commit:
            return self._touch_cache[1]
        from ..core.clock import timeline

        when = {tick.commit: tick.at * 1000 for tick in timeline(self.registry.git, commit)}
        found: dict[str, int] = {}
        for sha, path, _blob in self.registry.git.path_changes(commit):  # newest first
            parts = path.split("/")
            if len(parts) < 3 or parts[0] != layout.ROOT or sha not in when:
                continue
            found.setdefault("/".join(parts[:2]), when[sha])
            if len(parts) >= 5 and parts[2] == "versions":
                found.setdefault("/".join(parts[:4]), when[sha])
        self._touch_cache = (commit, found)
        return found

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
        updated = max([created or 0, self._touched(commit).get(layout.model_dir(name)) or 0]
                      + [v.last_updated_timestamp or 0 for v in versions]) or None
        aliases = self.registry.aliases(name, at=commit)
        return RegisteredModel(
            name=name, creation_timestamp=created, last_updated_timestamp=updated,
            description=record.get("description"), latest_versions=_latest_per_stage(versions, ALL_STAGES),
            tags=[RegisteredModelTag(k, str(v)) for k, v in _shown(record.get("tags")).items()],
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
        name, number = check_name(name), parse_version(version)
        entry = _Pending(self.registry).get(f"{name}@{number}")
        if entry is not None:
            return self._pending_version(name, number, entry, commit)
        resolved = self.registry.resolve(ModelRef(name, version=number), at=commit)
        if resolved.status == "deleted":
            raise NotFound(f"{name} version {version} is deleted")
        return self._version_entity(name, resolved.record, self.registry.aliases(name, at=commit), commit)

    def _pending_version(self, name: str, number: int, entry: dict, commit: str) -> ModelVersion:
        """A version MLflow proposed: READY once main (here, else origin's after a fetch) holds a
        version with its identity, whatever number the merge gave it; FAILED once its pull request
        closed unmerged; PENDING_REGISTRATION, read from its branch, until then."""
        reg = self.registry
        for main in self._mains(commit):
            record = _with_identity(reg.snapshot(main), name, entry.get("identity"))
            if record is not None:
                if main != commit:
                    main = self._catch_up(main)
                if main == reg.commit_of():  # later reads of this clone's main find it too
                    _Pending(reg).drop(f"{name}@{number}", f"model:{name}")
                if record.get("status") == "deleted":
                    raise NotFound(f"{name} version {record['version']} is deleted")
                return self._version_entity(name, record, reg.aliases(name, at=main), main)
        closed = _closed_unmerged(reg, entry)
        refs = (f"refs/heads/{entry['branch']}", f"refs/remotes/origin/{entry['branch']}")
        head = next((reg.git.rev_parse(r) for r in refs if reg.git.branches.exists(r)), None)
        if head is None or not reg.snapshot(head).has(layout.version_file(name, number)):
            raise NotFound(f"{name} version {number} awaited review on {entry['branch']}, which is gone "
                           "and was not merged")
        record = reg.get_version(name, number, at=head)
        status, message = (FAILED, f"{closed}; nothing was registered") if closed else \
            (PENDING, f"awaits review: {entry.get('where') or entry['branch']}")
        return self._version_entity(name, record, reg.aliases(name, at=head), head, status, message)

    def _catch_up(self, upstream: str) -> str:
        """Fast-forward this clone's main to origin's, where the merged version is, so the MLflow
        code that waited for READY can use it (`models:/NAME/N`); a clone with commits of its own,
        or not on main, is left alone and answered from origin's main."""
        from ..promotion.sync import sync

        reg = self.registry
        here = reg.commit_of()
        if reg.git.current_branch() != reg.main_branch or not reg.git.is_ancestor(here, upstream):
            return upstream
        try:
            sync(reg.worktree)
        except RegistryError as exc:
            _log.warning("could not fast-forward %s to origin's: %s", reg.main_branch, exc)
        return upstream

    def _mains(self, commit: str):
        """Main here, then origin's main freshly fetched (a merge on the forge lands there first)."""
        yield commit
        reg = self.registry
        if not reg.git.branches.has_remote("origin"):
            return
        try:
            reg.git.branches.fetch("origin")
        except RegistryError as exc:
            _log.warning("could not fetch origin to see whether a pending version merged: %s", exc)
            return
        for _ref, upstream in reg.git.tracking(reg.main_branch):
            if upstream != commit:
                yield upstream

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

    # -- writes: the modelreg operation itself, one commit, pushed or proposed (issue 21) ---------
    def _writable(self):
        """The registry, if MLflow may write to it: a local clone on its main branch that holds the
        shared policy. Everything else names the modelreg way."""
        from ..loading import sources

        reg = self.registry
        if sources.url_of(reg) or not reg.checkout:
            raise PolicyViolation(f"{sources.where(reg)} is read through a cached clone: MLflow writes need a "
                                  "local clone (modelreg:///path/to/clone), whose commits are pushed")
        if reg.git.current_branch() != reg.main_branch:
            raise PolicyViolation(f"the clone at {reg.root} is not on {reg.main_branch}: check it out first")
        self._shared_policy(reg)
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

    @staticmethod
    def _reviewed(reg, stage: str | None = None) -> bool:
        """Whether a write goes through review: every write on a forge-governed main, and a move
        into a stage whose approvals registry.yaml names."""
        if (reg.settings.get("forge") or {}).get("type", "none") != "none":
            return True
        return bool(stage and (reg.settings.get("approvals") or {}).get(stage))

    def _apply(self, reg, model: str, action: str, title: str, write, review: bool):
        """Run `write` (one modelreg write) as the policy says: committed and pushed (sync renumbers
        when others pushed first), or on a branch with a pull request. (result, proposal, renumbered)."""
        # Held from the write to its push: training jobs on one host share the clone, and a push
        # or sync racing another process's commit would lose a version.
        with reg.git.write_lock(timeout=None if "MODELREG_LOCK_TIMEOUT" in os.environ else _WRITE_WAIT):
            if not review:
                result = write()
                return result, None, self._published(reg)
            from ..promotion.promote import extend, propose
            from ..promotion.sync import sync

            if reg.git.branches.has_remote("origin"):
                sync(reg.worktree)  # the branch starts from the shared main (a merge on the forge moved it)
            pending = _Pending(reg)
            branch = pending.model_branch(model) if not reg.at().has(layout.model_file(model)) else None
            if branch:  # the model itself awaits review: its version joins the same pull request
                proposal = extend(reg.worktree, branch, model, title, write)
            else:
                proposal = propose(reg.worktree, model, action, title, write)
            return proposal.result, proposal, {}

    def _published(self, reg) -> dict:
        """Push what was just committed; {"model@N": new number} for versions sync renumbered."""
        from ..promotion.sync import publish

        return publish(reg.worktree)["renumbered"]

    @_mlflow_errors
    def create_registered_model(self, name, tags=None, description=None, deployment_job_id=None):
        reg = self._writable()
        name = check_name(name)
        if reg.at().has(layout.model_file(name)) or _Pending(reg).model_branch(name):
            raise MlflowException(f"registered model {name!r} already exists", error_code=RESOURCE_ALREADY_EXISTS)
        pairs = {t.key: t.value for t in tags or []}
        model_type = pairs.pop("modelreg.model_type", None) or "base_model"  # as `import mlflow` reads it
        _, proposal, _ = self._apply(reg, name, "model", f"Register {name}",
                                     lambda: reg.register_model(name, model_type, description, tags=pairs),
                                     self._reviewed(reg))
        if proposal is None:
            return self.get_registered_model(name)
        _Pending(reg).add(f"model:{name}", proposal)
        record = reg.get_model(name, at=proposal.branch)
        return RegisteredModel(name=name, creation_timestamp=_millis(record.get("created_at")),
                               description=record.get("description"),
                               tags=[RegisteredModelTag(k, str(v)) for k, v in (record.get("tags") or {}).items()])

    @_mlflow_errors
    def update_registered_model(self, name, description, deployment_job_id=None):
        reg = self._writable()
        self._apply(reg, check_name(name), "model", f"Describe {name}",
                    lambda: reg.update_model(name, description=description or ""), self._reviewed(reg))
        return self.get_registered_model(name)

    @_mlflow_errors
    def set_registered_model_tag(self, name, tag):
        reg = self._writable()
        self._apply(reg, check_name(name), "model", f"Tag {name} {tag.key}",
                    lambda: reg.update_model(name, tags={tag.key: str(tag.value)}), self._reviewed(reg))

    @_mlflow_errors
    def delete_registered_model_tag(self, name, key):
        reg = self._writable()
        self._apply(reg, check_name(name), "model", f"Untag {name} {key}",
                    lambda: reg.update_model(name, untag=[key]), self._reviewed(reg))

    @_mlflow_errors
    def create_model_version(self, name, source, run_id=None, tags=None, run_link=None, description=None,
                             local_model_path=None, model_id=None):
        reg = self._writable()
        name = check_name(name)
        with tempfile.TemporaryDirectory(prefix="modelreg-mlflow-") as tmp:
            folder = local_model_path or _fetch_source(source, self.tracking_uri, tmp)
            record, proposal, renumbered = self._apply(
                reg, name, "version", f"Register a version of {name}",
                lambda: reg.create_version(name, folder, run_id=run_id, description=description,
                                           tags={t.key: str(t.value) for t in tags or []},
                                           source_uri=None if _is_local(source) else redact_url(source)),
                self._reviewed(reg))
        if proposal is not None:
            _Pending(reg).add(f"{name}@{record['version']}", proposal, identity=_identity(record))
            return self.get_model_version(name, record["version"])
        # another writer took the number: sync moved ours
        return self.get_model_version(name, renumbered.get(f"{name}@{record['version']}", record["version"]))

    def _await_model_version_creation(self, mv, await_creation_for):
        """MLflow waits up to 300 s for PENDING_REGISTRATION to end; a pull request waits for people,
        so a version awaiting review returns at once (the log names the PR). A caller that passes
        another wait (`await_registration_for=3600`) gets MLflow's polling."""
        if mv.status == PENDING and await_creation_for == _MLFLOW_DEFAULT_WAIT:
            _log.warning("%s version %s awaits review: %s", mv.name, mv.version, mv.status_message)
            return
        super()._await_model_version_creation(mv, await_creation_for)

    @_mlflow_errors
    def transition_model_version_stage(self, name, version, stage, archive_existing_versions=False):
        reg = self._writable()
        name, number = check_name(name), parse_version(version)
        target = _modelreg_stage(stage, reg.settings.initial_stage)
        return self._move_stage(reg, name, number, target, True if archive_existing_versions else None)

    def _move_stage(self, reg, name: str, number: int, target: str, archive):
        _, proposal, _ = self._apply(
            reg, name, "promote", f"Promote {name}@{number} to {target}",
            lambda: reg.transition_stage(name, number, target, archive_existing=archive),
            self._reviewed(reg, target))
        mv = self.get_model_version(name, number)
        if proposal is not None:
            mv._status_message = f"the move to {target} awaits review: {_where(proposal)}"
        return mv

    @_mlflow_errors
    def delete_model_version(self, name, version):
        reg = self._writable()
        name, number = check_name(name), parse_version(version)
        self._apply(reg, name, "version", f"Delete {name}@{number}",
                    lambda: reg.delete_version(name, number, "deleted through the MLflow client"), self._reviewed(reg))

    @_mlflow_errors
    def set_model_version_tag(self, name, version, tag):
        reg = self._writable()
        name, number = check_name(name), parse_version(version)
        self._apply(reg, name, "tag", f"Tag {name}@{number} {tag.key}",
                    lambda: reg.tag_version(name, number, tags={tag.key: str(tag.value)}), self._reviewed(reg))

    @_mlflow_errors
    def delete_model_version_tag(self, name, version, key):
        reg = self._writable()
        name, number = check_name(name), parse_version(version)
        self._apply(reg, name, "tag", f"Untag {name}@{number} {key}",
                    lambda: reg.tag_version(name, number, untag=[key]), self._reviewed(reg))

    @_mlflow_errors
    def set_registered_model_alias(self, name, alias, version):
        """An alias that follows a stage (`production`) is set by moving the stage: MLflow 2.9+
        promotes with aliases, modelreg with stages, and both end with the alias on the version."""
        reg = self._writable()
        name, alias, number = check_name(name), check_alias(alias), parse_version(version)
        stage = {a: s for s, a in reg.settings.stage_aliases.items()}.get(alias)
        if stage is not None:
            self._move_stage(reg, name, number, stage, None)
            return
        self._apply(reg, name, "alias", f"Point {name}@{alias} at {number}",
                    lambda: reg.set_alias(name, alias, number), self._reviewed(reg))

    @_mlflow_errors
    def delete_registered_model_alias(self, name, alias):
        reg = self._writable()
        name, alias = check_name(name), check_alias(alias)
        self._apply(reg, name, "alias", f"Remove {name}@{alias}",
                    lambda: reg.remove_alias(name, alias), self._reviewed(reg))

    def list_webhooks_by_event(self, event, max_results=None, page_token=None):
        """`mlflow server` asks after every write; a Git registry has none (events: issue 22)."""
        return PagedList([], None)

    @_mlflow_errors
    def update_model_version(self, name, version, description):
        """The description lives in the card (a merged version.yaml is immutable)."""
        from ..writes.cards import current, update

        reg = self._writable()
        name, number = check_name(name), parse_version(version)
        if (current(reg.worktree, name, number).get("description") or "") != (description or ""):
            self._apply(reg, name, "version", f"Describe {name}@{number}",
                        lambda: update(reg.worktree, f"{name}@{number}",
                                       {"description": description} if description else None,
                                       unset=() if description else ["description"]),
                        self._reviewed(reg))
        return self.get_model_version(name, number)
    rename_registered_model = _read_only("rename a model", "a pull request (names are paths; "
                                         "register the new name and deprecate the old one)")
    delete_registered_model = _read_only("delete a model", "`modelreg model deprecate NAME --reason ...`, "
                                         "or `modelreg version delete NAME@N --reason ...` per version (deletes are soft)")
    copy_model_version = _read_only("copy a version", "`modelreg version create NAME WEIGHTS_DIR --parent REF`")


def _shown(tags) -> dict:
    """A record's tags as MLflow shows them: without `import mlflow`'s bookkeeping (`mlflow.synced`,
    digests of what MLflow held at the last import), which no MLflow registry has."""
    return {k: v for k, v in (tags or {}).items() if k != "mlflow.synced"}


def _where(proposal) -> str:
    if proposal.pull:
        return f"pull request #{proposal.pull['number']} {proposal.pull.get('html_url') or ''}".strip()
    return f"branch {proposal.branch} (pushed; open a pull request into {proposal.base})"


def _identity(record) -> list | None:
    """Who registered which bytes when, as JSON keeps it: the version's identity wherever a merge
    (or `sync`) numbers it."""
    from ..promotion.sync import identity

    found = identity(record)
    return json.loads(json.dumps(found)) if found else None


def _with_identity(snap, name: str, wanted) -> dict | None:
    """The version of `name` at `snap` that has identity `wanted` (newest first), if any."""
    if not wanted or not snap.has(layout.model_file(name)):
        return None
    for number in sorted(snap.versions(name), reverse=True):
        record = snap.version(name, number)
        if _identity(record) == wanted:
            return record
    return None


def _closed_unmerged(reg, entry: dict) -> str | None:
    """'pull request #N was closed without merging', asked of the forge; None when open, merged
    or unknown (no forge, no token: the version stays pending)."""
    if not entry.get("pull"):
        return None
    from ..promotion.promote import forge_client

    try:
        client = forge_client(reg.worktree)
        pull = client.get_pull(int(entry["pull"])) if client else None
    except RegistryError as exc:
        _log.warning("could not read pull request #%s: %s", entry["pull"], exc)
        return None
    if pull and pull.get("state") == "closed" and not pull.get("merged"):
        return f"pull request #{entry['pull']} was closed without merging"
    return None


class _Pending:
    """What MLflow proposed and review has not merged yet, kept beside this clone's Git data
    (.git/modelreg/mlflow-pending.json): key ("model:NAME", "NAME@N") -> branch, pull request and,
    for a version, its identity. Only the host that wrote it polls it; nothing here is trusted for
    READY, which needs the version's identity on main."""

    def __init__(self, reg):
        self.reg = reg
        self.path = reg.git.git_dir / "modelreg" / "mlflow-pending.json"

    def load(self) -> dict:
        try:
            doc = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        return doc if isinstance(doc, dict) else {}

    def _save(self, doc: dict) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(doc, indent=1, sort_keys=True))
        os.replace(tmp, self.path)

    def get(self, key: str) -> dict | None:
        found = self.load().get(key)
        return found if isinstance(found, dict) else None

    def add(self, key: str, proposal, identity=None) -> None:
        doc = self.load()
        doc[key] = {"branch": proposal.branch, "base": proposal.base, "identity": identity,
                    "pull": proposal.pull["number"] if proposal.pull else None,
                    "url": (proposal.pull or {}).get("html_url"), "where": _where(proposal)}
        self._save(doc)

    def drop(self, *keys: str) -> None:
        doc = self.load()
        if any(k in doc for k in keys):
            self._save({k: v for k, v in doc.items() if k not in keys})

    def model_branch(self, model: str) -> str | None:
        """The local branch on which `model`'s registration awaits review, if any."""
        entry = self.get(f"model:{model}")
        if entry and self.reg.git.branches.exists(f"refs/heads/{entry['branch']}"):
            return entry["branch"]
        return None


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
