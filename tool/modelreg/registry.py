"""Registry: the operations of the data model on top of gitstore, records and schema.

Reads come from Git objects at a ref (default: the main branch) and are cached per commit,
so a warm `resolve` costs a ref-file read and two dict lookups. Writes edit the working tree
and end in exactly one commit; if anything fails on the way, the tree is put back as it was.
"""
import functools
import logging
import os
import shutil
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from .core import layout, schema
from .core.errors import AlreadyExists, ExternalError, InvalidInput, InvalidRecord, NotFound, PolicyViolation, RegistryError
from .store.gitstore import GitStore, find_root
from .core.names import check_alias, check_name, check_tag_key
from .core.records import dump_yaml, load_yaml, non_finite
from .core.refs import ModelRef, parse_ref, parse_version
from .core.settings import DEFAULT_SETTINGS, Settings

log = logging.getLogger(__name__)

MODEL_TYPES = ("base_model", "fine_tuned", "adapter", "quantized", "distilled", "merged")
MAX_CACHED_RECORDS = 200_000
RELATION = {"fine_tuned": "fine_tuned", "adapter": "adapter", "quantized": "quantized",
            "distilled": "distilled", "merged": "merged"}


@dataclass(frozen=True)
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

    def to_dict(self) -> dict:
        return {"model": self.model, "version": self.version, "stage": self.stage,
                "status": self.status, "aliases": list(self.aliases), "commit": self.commit,
                "ref": self.ref, "model_type": self.record.get("model_type"),
                "artifacts": self.record.get("artifacts", []), "parent": self.record.get("parent")}


def _locked(method):
    """A write to the working tree holds the clone's write lock from its first read to its
    commit, so two writers in one clone never number or commit over each other."""
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with self.git.write_lock():
            return method(self, *args, **kwargs)
    return wrapper


def now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class Registry:
    """`checkout=False`: a clone without a working tree (a URL registry); its settings are
    read from main's commit, never from files."""

    def __init__(self, path: str | os.PathLike = ".", main_branch: str | None = None, checkout: bool = True):
        self.root = find_root(path)
        self.git = GitStore(self.root)
        self._records: dict[tuple[str, str], object] = {}
        self._main = main_branch
        self.checkout = checkout

    def close(self):
        self.git.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- settings and refs ---------------------------------------------------------
    @property
    def settings(self) -> Settings:
        """registry.yaml as the working tree has it (the branch being written to); in a clone
        without a checkout, as main has it."""
        if not self.checkout:
            return self.settings_at(self.commit_of(None))
        path = self.root / layout.REGISTRY_FILE
        if not path.exists():
            return Settings(dict(DEFAULT_SETTINGS))
        return Settings.load(load_yaml(path.read_bytes(), layout.REGISTRY_FILE))

    def settings_at(self, commit: str) -> Settings:
        """registry.yaml as `commit` has it (the defaults where it has none)."""
        return self.snapshot(commit).settings

    # -- what a version's weights are and where they live, read from its commit ---------
    def pointer(self, resolved) -> dict:
        """The version's weights.dvc at its commit (checked to name a folder inside it)."""
        from .artifacts.dvc import read_pointer

        path = layout.pointer_file(resolved.model, resolved.version)
        data = self.snapshot(resolved.commit).pointer(resolved.model, resolved.version)
        if data is None:
            raise NotFound(f"{resolved.model}@{resolved.version} has no weights.dvc at {resolved.commit[:10]}: "
                           "it has no weights in the remote")
        return read_pointer(data, path)

    def remote(self, commit: str):
        """The DVC remote named by registry.yaml, configured by .dvc/config, both at `commit`;
        credentials come only from this clone's untracked .dvc/config.local."""
        from .artifacts.remote import local_config_bytes, remote_config

        snap = self.snapshot(commit)
        return remote_config(snap.settings.remote_name, snap.read(".dvc/config"), local_config_bytes(self.root),
                             self.root)

    def set_remote(self, url: str, endpoint_url: str | None = None) -> dict:
        """Change the DVC remote's URL (and endpoint) in .dvc/config and commit that one file."""
        from .artifacts import dvc
        from .artifacts.remote import checked_url, show_remote, worktree_config

        url = checked_url(url, endpoint_url)
        name, path = self.settings.remote_name, ".dvc/config"
        with self.git.write_lock():
            if self.git.dirty_paths([path]):
                raise InvalidInput(f"uncommitted changes in {path}; commit or discard them first")
            dvc.set_remote(self.root, name, url, endpoint_url)
            self.git.commit_paths([path], f"modelreg: set remote {name} to {url}\n\nModelreg-Action: remote.set")
        return show_remote(worktree_config(self.root, name))

    @property
    def main_branch(self) -> str:
        if self._main is None:
            self._main = self.settings.main_branch
        return self._main

    def commit_of(self, at: str | None = None, as_of: str | None = None) -> str:
        ref = at or self.main_branch
        if as_of:
            return self.git.commit_before(ref, as_of)
        return self.git.rev_parse(ref)

    # -- record reads at a commit (through the one memoised Snapshot) --------------
    def snapshot(self, commit: str):
        from .store.snapshot import Snapshot

        return Snapshot.at(self.git, commit)

    def _read(self, commit: str, path: str, kind: str | None = None):
        return self.snapshot(commit).record(path)

    def _bound_cache(self) -> None:
        # A long-lived process (a serving host) sees many commits: keep memory bounded.
        if len(self._records) > MAX_CACHED_RECORDS:
            self._records.clear()

    def _require(self, commit, path, what):
        doc = self._read(commit, path)
        if doc is None:
            raise NotFound(what)
        if not isinstance(doc, dict):
            raise InvalidRecord(f"{path}: expected a mapping; fix the file by hand")
        return doc

    def _version_numbers(self, commit: str, model: str) -> list[int]:
        return self.snapshot(commit).versions(model)

    # -- reads ---------------------------------------------------------------------
    def get_model(self, name: str, at: str | None = None, as_of: str | None = None) -> dict:
        commit = self.commit_of(at, as_of)
        return self._model(commit, check_name(name))

    def _model(self, commit: str, name: str) -> dict:
        return self._require(commit, layout.model_file(name),
                             f"no model named {name!r}; 'modelreg model list' shows the registered models")

    def get_version(self, model: str, version, at: str | None = None, as_of: str | None = None) -> dict:
        commit = self.commit_of(at, as_of)
        return self._version(commit, check_name(model), parse_version(version))

    def _version(self, commit: str, model: str, version: int) -> dict:
        path = layout.version_file(model, version)
        doc = self._read(commit, path)
        if doc is None:
            self._model(commit, model)
            raise NotFound(f"{model} has no version {version}; 'modelreg version list {model}' shows them")
        if not isinstance(doc, dict):
            raise InvalidRecord(f"{path}: expected a mapping; fix the file by hand")
        return doc

    def aliases(self, model: str, at: str | None = None, as_of: str | None = None) -> dict[str, int]:
        return dict(self._aliases(self.commit_of(at, as_of), check_name(model)))

    def _aliases(self, commit: str, model: str) -> dict[str, int]:
        doc = self._read(commit, layout.aliases_file(model))
        if doc is None:
            self._model(commit, model)
            return {}
        return (doc or {}).get("aliases") or {}

    def list_versions(self, model: str, stage: str | None = None, at: str | None = None,
                      include_deleted: bool = False) -> list[dict]:
        commit = self.commit_of(at)
        self._model(commit, check_name(model))
        if stage is not None:
            self.settings.check_stage(stage)
        found = [self._version(commit, model, n) for n in self._version_numbers(commit, model)]
        return [v for v in found
                if (include_deleted or v.get("status") != "deleted") and (stage is None or v.get("stage") == stage)]

    def get_latest_version(self, model: str, stage: str | None = None, at: str | None = None) -> dict:
        versions = self.list_versions(model, stage=stage, at=at)
        if not versions:
            where = f" in stage {stage}" if stage else ""
            raise NotFound(f"{model} has no active version{where}")
        return versions[-1]

    def get_model_by_alias(self, model: str, alias: str, at: str | None = None) -> dict:
        return self.resolve(f"{model}@{alias}", at=at).record

    def list_models(self, filter_tags: dict | None = None, at: str | None = None) -> list[dict]:
        snap = self.snapshot(self.commit_of(at))
        paths = [p for p in (f"{layout.ROOT}/{m}/model.yaml" for m in snap.models()) if snap.has(p)]
        snap.prefetch(paths)
        models = sorted((snap.record(p) for p in paths), key=lambda m: m.get("name", ""))
        wanted = filter_tags or {}
        return [m for m in models
                if all((m.get("tags") or {}).get(k) == v for k, v in wanted.items())]

    def resolve(self, ref: str | ModelRef, at: str | None = None, as_of: str | None = None) -> Resolved:
        """NAME@ALIAS / NAME@N / NAME@latest / NAME (=@production) -> a version at a commit."""
        target = parse_ref(ref) if isinstance(ref, str) else ref
        commit = self.commit_of(at, as_of)
        key = (commit, str(target))
        hit = self._records.get(key)
        if hit is None:
            hit = self._resolve(commit, target)
            self._bound_cache()
            self._records[key] = hit
        return hit

    def _resolve(self, commit: str, target: ModelRef) -> Resolved:
        model = target.model
        aliases = self._aliases(commit, model)
        if target.version is not None:
            number = target.version
        elif target.alias == "latest":
            number = self._latest_active(commit, model)
        elif target.alias in aliases:
            number = aliases[target.alias]
        else:
            known = ", ".join(sorted(aliases)) or "none"
            raise NotFound(f"{model} has no alias {target.alias!r} at {commit[:10]} (aliases: {known})")
        record = self._version(commit, model, number)
        if record.get("status") == "deleted" and target.version is None:
            raise NotFound(f"{target} points at version {number}, which is deleted")
        pointing = tuple(sorted(a for a, v in aliases.items() if v == number))
        return Resolved(model, number, record.get("stage", "none"), record.get("status", "active"),
                        pointing, commit, str(target), record)

    def _latest_active(self, commit: str, model: str) -> int:
        for number in reversed(self._version_numbers(commit, model)):
            if self._version(commit, model, number).get("status") != "deleted":
                return number
        self._model(commit, model)
        raise NotFound(f"{model} has no active version")

    def lineage(self, ref: str, at: str | None = None) -> list[Resolved]:
        """This version, then its parent, and so on down to the base model."""
        chain = [self.resolve(ref, at=at)]
        seen = {(chain[0].model, chain[0].version)}
        while parent := chain[-1].record.get("parent"):
            key = (parent["model"], parent["version"])
            if key in seen:
                raise PolicyViolation(f"lineage cycle at {key[0]}@{key[1]}; fix the parent fields")
            seen.add(key)
            try:
                chain.append(self.resolve(ModelRef(key[0], version=key[1]), at=at))
            except NotFound:
                raise NotFound(f"{chain[-1].model}@{chain[-1].version} names parent {key[0]}@{key[1]}, "
                               "which is not in the registry") from None
        return chain

    def history(self, model: str | None = None, limit: int = 50, at: str | None = None) -> list[dict]:
        from .store.history import events

        return events(self, check_name(model) if model else None, limit, at or self.main_branch)

    def check(self, at: str | None = None, base: str | None = None, pr: int | None = None,
              comment: bool = False, remote: bool = False):
        """Every problem at `at` (default: the working tree); with `base`, the change rules,
        gates and (with `pr`) the approval groups of the pull request; with `remote`, that
        every artifact of the checked versions is in the DVC remote. With `comment`, the PR
        comment is rendered into `result.comment`; `modelreg.check.post_comment` posts it."""
        from .rules.check import run_check

        return run_check(self, at=at, base=base, pr=pr, comment=comment, remote=remote)

    # -- writes ----------------------------------------------------------------------
    def _workdir_record(self, path: str, required_msg: str | None = None):
        full = self.root / path
        if not full.exists():
            if required_msg:
                raise NotFound(required_msg)
            return None
        doc = load_yaml(full.read_bytes(), path)
        if not isinstance(doc, dict):
            raise InvalidRecord(f"{path}: expected a mapping; fix the file by hand")
        return doc

    # -- the working tree, for writers: what the next commit starts from ------------------
    # (readers use the committed records at a ref; these read the files as they are now)
    def working_model(self, model: str) -> dict:
        """model.yaml of `model` in the working tree (NotFound if it is not registered)."""
        return self._workdir_record(layout.model_file(check_name(model)),
                                    f"no model named {model!r}; register it with 'modelreg model register'")

    def working_version(self, model: str, version: int) -> dict:
        """version.yaml of model@version in the working tree."""
        self.working_model(model)
        return self._workdir_record(layout.version_file(model, version),
                                    f"{model} has no version {version}")

    def working_aliases(self, model: str) -> dict:
        """{alias: version} from aliases.yaml in the working tree."""
        doc = self._workdir_record(layout.aliases_file(model)) or {}
        return dict(doc.get("aliases") or {})

    def working_version_numbers(self, model: str) -> list[int]:
        folder = self.root / layout.versions_dir(model)
        if not folder.is_dir():
            return []
        # A folder holding only git-ignored weights is not a version on this branch.
        return sorted(int(p.name) for p in folder.iterdir()
                      if p.name.isdigit() and (p / "version.yaml").exists())

    def drop_branch_leftovers(self, model: str) -> list[int]:
        """After a write on another branch (--pr), git takes that branch's records away but
        leaves the git-ignored weights folders of the versions it added; drop those folders
        (their files are in the DVC cache and the remote), so this branch has no ghosts."""
        folder = self.root / layout.versions_dir(check_name(model))
        dropped = []
        for path in sorted(folder.iterdir()) if folder.is_dir() else []:
            inside = {p.name for p in path.iterdir()} if path.is_dir() else {"?"}
            if path.name.isdigit() and inside <= {"weights"}:
                shutil.rmtree(path)
                dropped.append(int(path.name))
        return dropped

    def begin_write(self, paths_to_check: list[str]) -> "Write":
        """Start one write (put files, then one commit; undone on failure). For writers
        outside this class too (MLflow import, signatures): hold `git.write_lock()` around
        the reads it depends on. Refused in a repository that is not a registry, or when
        `paths_to_check` have uncommitted edits."""
        if not (self.root / layout.REGISTRY_FILE).is_file():
            # a Git repository that is not a registry must never get registry commits (issue 8 hole 10)
            raise NotFound(f"{self.root} is a Git repository but not a registry (no {layout.REGISTRY_FILE}); "
                           "run 'modelreg init' there first")
        # Refuse to mix our commit with someone's uncommitted edits to the same records.
        dirty = self.git.dirty_paths(paths_to_check)
        if dirty:
            raise InvalidInput(f"uncommitted changes in {dirty[0]}; commit or discard them first")
        return Write(self)

    @_locked
    def register_model(self, name: str, model_type: str, description: str | None = None,
                       owners=(), tags: dict | None = None) -> dict:
        check_name(name)
        if model_type not in MODEL_TYPES:
            raise InvalidInput(f"unknown model type {model_type!r}: use one of {', '.join(MODEL_TYPES)}")
        if (self.root / layout.model_dir(name)).exists():
            raise AlreadyExists(f"model {name!r} is already registered")
        record = {"name": name, "description": description, "model_type": model_type,
                  "owners": list(owners) or None, "tags": _tags(tags), "created_at": now(),
                  "created_by": self.git.identity()}
        record = _prune(record)
        change = self.begin_write([layout.model_dir(name)])
        change.put(layout.model_file(name), "model", record)
        change.put(layout.aliases_file(name), "aliases", {"aliases": {}})
        self._keep_codeowners(change, {name: list(owners)})
        change.commit(f"register model {name}", {"Action": "model.register", "Model": name})
        return record

    def _keep_codeowners(self, change: "Write", pending: dict) -> None:
        """A registry that has a generated CODEOWNERS keeps it current in the same commit."""
        from .promotion import codeowners

        if codeowners.is_generated(self.root):
            if self.git.dirty_paths([codeowners.PATH]):
                raise InvalidInput(f"uncommitted changes in {codeowners.PATH}; commit or discard them first")
            change.put_raw(codeowners.PATH, codeowners.render(self, pending).encode())

    @_locked
    def create_version(self, model: str, weights_dir: str | os.PathLike | None = None, *,
                       parent: str | None = None, metrics=(), parameters: dict | None = None,
                       tags: dict | None = None, description: str | None = None,
                       run_id: str | None = None, experiment_id: str | None = None,
                       data_version: str | None = None, source_uri: str | None = None,
                       model_type: str | None = None, card: dict | None = None,
                       progress=None) -> dict:
        """Register the next version; with weights, track them by DVC and push to the remote.

        `progress`: a callback for the hashing and upload (artifacts/progress.py)."""
        model_rec = self.working_model(check_name(model))
        model_type = model_type or model_rec["model_type"]
        if model_type not in MODEL_TYPES:
            raise InvalidInput(f"unknown model type {model_type!r}: use one of {', '.join(MODEL_TYPES)}")
        if weights_dir is None and not source_uri:
            raise InvalidInput("give a weights folder or --source-uri for a version kept elsewhere")
        for where, value in non_finite({"metrics": list(metrics), "parameters": parameters or {}}):
            raise InvalidInput(f"{where} is {value}, not a finite number; record a real number")
        files = admitted = None
        if weights_dir is not None:
            from .artifacts.files import scan_folder
            from .supply.formats import admit

            files = scan_folder(weights_dir)
            admitted = admit(self.settings, files)  # the format policy, before anything is written
        number = (max(self.working_version_numbers(model), default=0)) + 1
        parent_rec = self._parent(parent, model_type, model, number)
        if model_type == "adapter" and weights_dir is not None:
            self._refuse_unfit_adapter(weights_dir, parent_rec)
        record = _prune({
            "version": number, "model_type": model_type, "stage": self.settings.initial_stage,
            "status": "active", "artifacts": None,
            "parent": parent_rec,
            "source": _prune({"experiment_id": experiment_id, "run_id": run_id, "uri": source_uri}) or None,
            "training": _prune({"data_version": data_version}) or None,
            "parameters": dict(parameters) if parameters else None,
            "metrics": [dict(m) for m in metrics] or None, "tags": _tags(tags),
            "description": description, "created_at": now(), "created_by": self.git.identity(),
        })
        change = self.begin_write([layout.version_dir(model, number)])
        with change:
            if files is not None:
                record["artifacts"] = admitted.annotate(change.add_weights(model, number, files, progress))
                if admitted.template:
                    record["chat_template"] = admitted.template
                    change.put_raw(layout.template_file(model, number), admitted.template_text.encode())
            change.put(layout.version_file(model, number), "version", record)
            card_doc = _prune(dict(card or {}, description=(card or {}).get("description") or description))
            change.put(layout.card_file(model, number), "card", card_doc)
            change.commit(f"register {model} version {number}",
                          {"Action": "version.create", "Model": model, "Version": str(number)})
        return record

    def _refuse_unfit_adapter(self, folder, parent: dict) -> None:
        """An adapter targeting modules its parent lacks can never load: refuse it here rather
        than let `check` fail on main afterwards (issue 14)."""
        from .loading.checks import applies_to, missing_targets

        commit = self.commit_of()
        base = applies_to(self, commit, self.resolve(ModelRef(parent["model"], version=parent["version"]),
                                                     at=commit))
        problems = missing_targets(self, Path(folder), base)
        if problems:
            raise PolicyViolation(f"{problems[0]}: the adapter cannot load on it; check "
                                  "target_modules in adapter_config.json or --parent")

    def _parent(self, parent: str | None, model_type: str, model: str, number: int) -> dict | None:
        if not parent:
            if model_type == "adapter":
                raise InvalidInput("an adapter version needs --parent: the base model it applies to")
            return None
        if model_type == "base_model":
            raise InvalidInput("a base_model version has no parent; register it as fine_tuned, adapter, ...")
        resolved = self.resolve(parent)
        if resolved.status == "deleted":
            raise PolicyViolation(f"parent {resolved.model}@{resolved.version} is deleted")
        if (resolved.model, resolved.version) == (model, number):
            raise InvalidInput("a version cannot be its own parent")
        return {"model": resolved.model, "version": resolved.version, "relation": RELATION[model_type]}

    @_locked
    def transition_stage(self, model: str, version, stage: str, archive_existing: bool | None = None,
                         reason: str | None = None) -> dict:
        """Move a version to `stage`. Exclusive stages archive their previous holder by default."""
        settings = self.settings
        number = parse_version(version)
        record = self.working_version(check_name(model), number)
        settings.check_stage(stage)
        what = f"{model}@{number}"
        if record.get("status") == "deleted":
            raise PolicyViolation(f"{what} is deleted; its stage cannot change")
        current = record.get("stage", "none")
        if current == stage:
            raise InvalidInput(f"{what} is already in {stage}")
        settings.check_transition(what, current, stage)
        exclusive = stage in settings.exclusive_stages
        if archive_existing is None:
            archive_existing = exclusive
        holders = [n for n in self.working_version_numbers(model)
                   if n != number and self.working_version(model, n).get("stage") == stage
                   and self.working_version(model, n).get("status") != "deleted"]
        if holders and exclusive and not archive_existing:
            raise PolicyViolation(f"{stage} is exclusive and {model}@{holders[0]} holds it; "
                                  "drop --keep-existing to archive it")
        change = self.begin_write([layout.model_dir(model)])
        moved = {number: (current, stage)}
        record = dict(record, stage=stage)
        change.put(layout.version_file(model, number), "version", record)
        for other in holders if archive_existing else []:
            prev = self.working_version(model, other)
            change.put(layout.version_file(model, other), "version", dict(prev, stage="archived"))
            moved[other] = (stage, "archived")
        aliases = self.working_aliases(model)
        for held_stage, alias in settings.stage_aliases.items():
            if stage == held_stage:
                aliases[alias] = number
            elif current == held_stage and aliases.get(alias) == number:
                del aliases[alias]
        change.put(layout.aliases_file(model), "aliases", {"aliases": dict(sorted(aliases.items()))})
        detail = "; ".join(f"{model}@{n}: {a} -> {b}" for n, (a, b) in sorted(moved.items()))
        trailers = {"Action": "stage.set", "Model": model, "Version": str(number), "Stage": stage}
        if reason:
            trailers["Reason"] = reason
        change.commit(f"move {model}@{number} to {stage}", trailers, body=detail)
        return {"model": model, "version": number, "stage": stage,
                "moved": {n: list(v) for n, v in moved.items()}, "aliases": aliases}

    @_locked
    def set_alias(self, model: str, alias: str, version) -> dict:
        number = parse_version(version)
        check_alias(alias)
        record = self.working_version(check_name(model), number)
        if alias in self.settings.protected_aliases:
            raise PolicyViolation(f"alias {alias!r} is protected: it follows the stage; use "
                                  f"'modelreg stage set {model} {number} <stage>'")
        if record.get("status") == "deleted":
            raise PolicyViolation(f"{model}@{number} is deleted; an alias cannot point at it")
        aliases = self.working_aliases(model)
        previous = aliases.get(alias)
        if previous == number:
            raise InvalidInput(f"{model}@{alias} already points at version {number}")
        aliases[alias] = number
        change = self.begin_write([layout.aliases_file(model)])
        change.put(layout.aliases_file(model), "aliases", {"aliases": dict(sorted(aliases.items()))})
        moved = f"{previous} -> {number}" if previous else f"-> {number}"
        change.commit(f"set alias {model}@{alias} {moved}",
                      {"Action": "alias.set", "Model": model, "Alias": alias, "Version": str(number)})
        return {"model": model, "alias": alias, "version": number, "previous": previous}

    @_locked
    def remove_alias(self, model: str, alias: str) -> dict:
        check_name(model)
        aliases = self.working_aliases(model)
        self.working_model(model)
        if alias not in aliases:
            raise NotFound(f"{model} has no alias {alias!r}")
        if alias in self.settings.protected_aliases:
            raise PolicyViolation(f"alias {alias!r} is protected: it follows the stage; move the stage instead")
        previous = aliases.pop(alias)
        change = self.begin_write([layout.aliases_file(model)])
        change.put(layout.aliases_file(model), "aliases", {"aliases": dict(sorted(aliases.items()))})
        change.commit(f"remove alias {model}@{alias} (was {previous})",
                      {"Action": "alias.remove", "Model": model, "Alias": alias})
        return {"model": model, "alias": alias, "previous": previous}

    @_locked
    def delete_version(self, model: str, version, reason: str) -> dict:
        """Soft delete: the record stays, marked deleted; aliases pointing at it are removed."""
        number = parse_version(version)
        if not reason or not reason.strip():
            raise InvalidInput("a reason is required to delete a version (--reason)")
        record = self.working_version(check_name(model), number)
        if record.get("status") == "deleted":
            raise InvalidInput(f"{model}@{number} is already deleted")
        if record.get("stage") in self.settings.exclusive_stages:
            raise PolicyViolation(f"{model}@{number} is in {record['stage']}; move it to archived first")
        aliases = self.working_aliases(model)
        dropped = sorted(a for a, v in aliases.items() if v == number)
        change = self.begin_write([layout.model_dir(model)])
        deleted = {"reason": reason.strip(), "at": now(), "by": self.git.identity()}
        change.put(layout.version_file(model, number), "version", dict(record, status="deleted", deleted=deleted))
        if dropped:
            kept = {a: v for a, v in aliases.items() if v != number}
            change.put(layout.aliases_file(model), "aliases", {"aliases": kept})
        change.commit(f"delete {model}@{number}", {"Action": "version.delete", "Model": model,
                                                   "Version": str(number), "Reason": reason.strip()})
        return {"model": model, "version": number, "aliases_removed": dropped}

    @_locked
    def set_card(self, model: str, version, card: dict) -> dict:
        number = parse_version(version)
        self.working_version(check_name(model), number)
        change = self.begin_write([layout.card_file(model, number)])
        change.put(layout.card_file(model, number), "card", _prune(card))
        change.commit(f"update card of {model}@{number}", {"Action": "card.set", "Model": model,
                                                           "Version": str(number)})
        return card


class Write:
    """One write: files put in the working tree, then one commit; undone on any failure."""

    def __init__(self, reg: Registry):
        self.reg = reg
        self.paths: list[str] = []
        self.created: list[Path] = []
        self.modified: list[str] = []
        self.pending: dict[str, bytes] = {}
        self.done = False

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None and not self.done:
            self.rollback()
        return False

    def put(self, relpath: str, kind: str, data: dict) -> None:
        """Validate and serialize now; files are written only when the change commits."""
        schema.validate(kind, data, relpath)
        self.pending[relpath] = dump_yaml(data, layout.schema_ref(relpath, kind), schema.key_order(kind))

    def put_raw(self, relpath: str, blob: bytes) -> None:
        """A file that is not a YAML record (a signature bundle, a chat template, CODEOWNERS)."""
        self.pending[relpath] = blob

    def _flush(self) -> None:
        for relpath, blob in self.pending.items():
            full = self.reg.root / relpath
            self._remember(relpath, full)
            full.parent.mkdir(parents=True, exist_ok=True)
            tmp = full.with_name(full.name + ".tmp")
            tmp.write_bytes(blob)
            os.replace(tmp, full)

    def _remember(self, relpath: str, full: Path, tracked: bool = True) -> None:
        """Note what existed before, so rollback can restore it; git sees only tracked paths."""
        if relpath in self.paths or full in self.created:
            return
        if tracked:
            self.paths.append(relpath)
        if full.exists():
            self.modified.append(relpath)
        else:
            top = full
            while not top.parent.exists():
                top = top.parent
            self.created.append(top)

    def add_weights(self, model: str, number: int, files, progress=None) -> list[dict]:
        """Track the folder the way DVC does and upload it, in one read per file (artifacts/push.py)."""
        from .artifacts.push import add_and_push
        from .artifacts.remote import worktree_config

        rel = layout.weights_dir(model, number)
        self._remember(rel + ".dvc", self.reg.root / (rel + ".dvc"))
        self._remember(rel, self.reg.root / rel, tracked=False)
        remote = worktree_config(self.reg.root, self.reg.settings.remote_name)
        return add_and_push(self.reg.root, rel, files, remote, progress=progress)

    def commit(self, subject: str, trailers: dict, body: str = "") -> str:
        lines = [f"modelreg: {subject}", ""]
        if body:
            lines += [body, ""]
        lines += [f"Modelreg-{k}: {v}" for k, v in trailers.items()]
        # Writers outside Registry (codeowners, signatures) hold the clone's lock at least here.
        with self.reg.git.write_lock(), self:
            self._flush()
            sha = self.reg.git.commit_paths(self.paths, "\n".join(lines))
        self.done = True
        return sha

    def rollback(self) -> None:
        self.done = True
        self.reg.git.unstage(self.paths)
        self.reg.git.restore(self.modified)
        for path in reversed(self.created):
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)


def init_registry(path: str | os.PathLike, remote: str | None = None,
                  endpoint_url: str | None = None, tool_source: str | None = None) -> Path:
    """Make `path` a registry: git init if needed, DVC with a remote, registry.yaml, schemas,
    CI workflows installing modelreg from `tool_source` (a git URL pinned to a commit), CODEOWNERS."""
    from .writes.scaffold import scaffold

    return scaffold(Path(path), remote, endpoint_url=endpoint_url, tool_source=tool_source)


def _tags(tags: dict | None) -> dict | None:
    if not tags:
        return None
    return {check_tag_key(str(k)): str(v) for k, v in tags.items()}


def _prune(doc: dict) -> dict:
    """Drop empty fields so records stay short and diffs small."""
    return {k: v for k, v in doc.items() if v not in (None, "", [], {})}


__all__ = ["Registry", "Resolved", "init_registry", "RegistryError", "ExternalError"]
