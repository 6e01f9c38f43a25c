"""`modelreg check`: every rule about the registry's content, and about changes to it.

Problems are reported all at once as FILE:JSON_POINTER: message. A full check reads every
record in one `git cat-file --batch` stream; `--base` checks only the models a change touches,
plus the rules about change (immutable merged versions, no reused numbers, transitions).
"""
import os
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from . import layout, loader_checks, schema
from .errors import InvalidRecord, RegistryError
from .names import check_name
from .records import load_yaml
from .settings import Settings

IMMUTABLE_EXEMPT = {"stage", "status", "deleted"}
IGNORED_FILES = {"registry/.gitkeep", "registry/.gitignore"}
DVC_CONFIG = ".dvc/config"  # tracked; credentials belong in the git-ignored config.local


@dataclass(frozen=True, order=True)
class Problem:
    file: str
    pointer: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.pointer}: {self.message}"

    def to_dict(self) -> dict:
        return {"file": self.file, "pointer": self.pointer, "message": self.message}


@dataclass
class CheckResult:
    target: str  # a commit sha or "working tree"
    base: str | None
    models: list[str]
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict:
        return {"ok": self.ok, "target": self.target, "base": self.base, "models_checked": len(self.models),
                "problems": [p.to_dict() for p in self.problems]}


# -- where records come from -------------------------------------------------------------
class TreeSource:
    """Records at a commit, read in one batch."""

    def __init__(self, git, commit: str):
        self.git, self.commit = git, commit
        entries = git.ls_tree(commit, layout.ROOT) + git.ls_tree(commit, layout.REGISTRY_FILE)
        self.shas = dict(entries)
        self.extra = dict(git.ls_tree(commit, DVC_CONFIG))

    def paths(self) -> list[str]:
        return list(self.shas)

    def extra_paths(self) -> list[str]:
        return list(self.extra)

    def read_many(self, paths: list[str]) -> dict[str, bytes]:
        known = {**self.shas, **self.extra}
        wanted = [p for p in paths if p in known]
        blobs = self.git.read_objects([known[p] for p in wanted])
        return dict(zip(wanted, blobs))


class WorkdirSource:
    """Records as the working tree has them (uncommitted edits included)."""

    def __init__(self, root: Path):
        self.root = root

    def paths(self) -> list[str]:
        found = [layout.REGISTRY_FILE] if (self.root / layout.REGISTRY_FILE).exists() else []
        base = self.root / layout.ROOT
        for dirpath, dirnames, filenames in os.walk(base):
            rel = Path(dirpath).relative_to(self.root).as_posix()
            # weights folders are git-ignored data, not records
            dirnames[:] = [d for d in dirnames if not (d == "weights" and rel.count("/") == 3)]
            found += [f"{rel}/{name}" for name in filenames if not name.endswith(".tmp")]
        return found

    def extra_paths(self) -> list[str]:
        return [DVC_CONFIG] if (self.root / DVC_CONFIG).is_file() else []

    def read_many(self, paths: list[str]) -> dict[str, bytes]:
        return {p: (self.root / p).read_bytes() for p in paths if (self.root / p).is_file()}


# -- the check -------------------------------------------------------------------------------
class Checker:
    def __init__(self, source, settings_override: Settings | None = None):
        self.source = source
        self.problems: list[Problem] = []
        self.docs: dict[str, object] = {}
        self.settings = settings_override or Settings()

    def add(self, file: str, pointer: str, message: str) -> None:
        self.problems.append(Problem(file, pointer or "/", message))

    def parse(self, path: str, data: bytes, kind: str | None):
        try:
            doc = load_yaml(data, path)
        except InvalidRecord as exc:
            self.add(path, "/", str(exc).split(": ", 1)[-1])
            return None
        if kind and kind != "pointer":
            for pointer, message in schema.problems(kind, doc):
                self.add(path, pointer, message)
        self.docs[path] = doc
        return doc

    def load(self, paths: list[str]) -> None:
        blobs = self.source.read_many(paths)
        for path in paths:
            if path in blobs:
                info = layout.classify(path)
                self.parse(path, blobs[path], info[0] if info else None)

    # settings
    def check_settings(self, paths: set[str]) -> None:
        path = layout.REGISTRY_FILE
        if path not in paths:
            self.add(path, "/", "missing; run 'modelreg init' to create it")
            return
        self.load([path])
        doc = self.docs.get(path)
        if isinstance(doc, dict):
            self.settings = Settings(doc)
            for pointer, message in self.settings.problems():
                self.add(path, pointer, message)

    def check_layout(self, paths: list[str]) -> dict[str, list[str]]:
        """Group record paths by model; flag anything that does not belong."""
        by_model = defaultdict(list)
        for path in paths:
            if path == layout.REGISTRY_FILE or path in IGNORED_FILES:
                continue
            info = layout.classify(path)
            model = layout.model_of(path)
            if info is None or model is None:
                if not path.endswith("/.gitignore"):
                    self.add(path, "/", "unexpected file in the registry; records are model.yaml, "
                             "aliases.yaml, versions/<N>/{version.yaml,card.yaml,weights.dvc}")
                continue
            try:
                check_name(model)
            except Exception as exc:
                self.add(path, "/", str(exc))
                continue
            by_model[model].append(path)
        return by_model

    def check_model(self, model: str, paths: list[str]) -> None:
        model_path = layout.model_file(model)
        doc = self.docs.get(model_path)
        if model_path not in paths:
            self.add(model_path, "/", "missing: every model folder needs a model.yaml")
        elif isinstance(doc, dict) and doc.get("name") != model:
            self.add(model_path, "/name", f"name {doc.get('name')!r} does not match its folder {model!r}")
        versions = self.versions_of(model, paths)
        for number, record in versions.items():
            self.check_version(model, number, record, paths)
        self.check_aliases(model, versions)
        self.check_exclusive(model, versions)

    def versions_of(self, model: str, paths) -> dict[int, dict]:
        found = {}
        for path in paths:
            info = layout.classify(path)
            if info and info[0] == "version":
                doc = self.docs.get(path)
                found[info[2]] = doc if isinstance(doc, dict) else {}
            elif info and info[2] is not None and layout.version_file(model, info[2]) not in paths:
                self.add(path, "/", "no version.yaml beside this file")
        return dict(sorted(found.items()))

    def check_version(self, model: str, number: int, record: dict, paths) -> None:
        path = layout.version_file(model, number)
        if record.get("version") not in (None, number):
            self.add(path, "/version", f"{record.get('version')} does not match its folder {number}")
        if "stage" in record and record["stage"] not in self.settings.stages:
            self.add(path, "/stage", f"stage {record['stage']!r} is not in registry.yaml's stages")
        if record.get("model_type") == "adapter" and not record.get("parent"):
            self.add(path, "/parent", "an adapter must name its base model in parent")
        for pointer, message in loader_checks.record_problems(record):  # what load would refuse
            self.add(path, pointer, message)
        self.check_pointer(model, number, record, paths)

    def check_pointer(self, model: str, number: int, record: dict, paths) -> None:
        pointer_path = layout.pointer_file(model, number)
        artifacts = record.get("artifacts") or []
        if pointer_path not in paths:
            if artifacts:
                self.add(pointer_path, "/", "missing: the version lists artifacts but has no DVC pointer")
            return
        doc = self.docs.get(pointer_path)
        outs = doc.get("outs") if isinstance(doc, dict) else None
        if not isinstance(outs, list) or len(outs) != 1 or not isinstance(outs[0], dict):
            self.add(pointer_path, "/outs", "not a DVC pointer with exactly one output")
            return
        out = outs[0]
        if out.get("path") != "weights":
            self.add(pointer_path, "/outs/0/path", f"must be 'weights' (the version's own folder), not {out.get('path')!r}")
        if not str(out.get("md5", "")).endswith(".dir"):
            self.add(pointer_path, "/outs/0/md5", "must point at a folder listing (<md5>.dir)")
        size = sum(a.get("size_bytes", 0) for a in artifacts if isinstance(a, dict))
        if out.get("size") != size:
            self.add(pointer_path, "/outs/0/size", f"{out.get('size')} bytes, but version.yaml's artifacts add up to {size}")
        if out.get("nfiles") != len(artifacts):
            self.add(pointer_path, "/outs/0/nfiles", f"{out.get('nfiles')} files, but version.yaml lists {len(artifacts)}")

    def check_aliases(self, model: str, versions: dict[int, dict]) -> None:
        path = layout.aliases_file(model)
        doc = self.docs.get(path)
        aliases = (doc.get("aliases") or {}) if isinstance(doc, dict) else {}
        for alias, number in aliases.items():
            target = versions.get(number) if isinstance(number, int) else None
            if target is None:
                self.add(path, f"/aliases/{alias}", f"points at version {number}, which does not exist")
            elif target.get("status") == "deleted":
                self.add(path, f"/aliases/{alias}", f"points at version {number}, which is deleted")
        for stage, alias in self.settings.stage_aliases.items():
            holders = [n for n, v in versions.items() if v.get("stage") == stage and v.get("status") != "deleted"]
            if holders and aliases.get(alias) != holders[0]:
                self.add(path, f"/aliases/{alias}", f"must point at version {holders[0]}, the {stage} version")
            if not holders and alias in aliases:
                self.add(path, f"/aliases/{alias}", f"points at version {aliases[alias]}, which is not in {stage}")

    def check_exclusive(self, model: str, versions: dict[int, dict]) -> None:
        for stage in self.settings.exclusive_stages:
            holders = [n for n, v in versions.items() if v.get("stage") == stage]
            for extra in holders[1:]:
                self.add(layout.version_file(model, extra), "/stage",
                         f"{stage} is exclusive but versions {', '.join(map(str, holders))} are all in it")

    def check_credentials(self, paths: list[str]) -> None:
        """No tracked registry file may hold a credential (they belong in .dvc/config.local)."""
        from .artifacts.secrets import find_credentials

        scannable = set(self.source.paths()) | set(self.source.extra_paths())
        wanted = [p for p in paths if p in scannable]
        for path, data in self.source.read_many(wanted).items():
            for where, message in find_credentials(path, data.decode("utf-8", "replace")):
                self.add(path, "/", f"{where}: {message}")

    def check_parents(self, lookup) -> None:
        """Parents exist and lineage has no cycle. `lookup(model, n)` finds any version."""
        for path, doc in list(self.docs.items()):
            info = layout.classify(path)
            if not info or info[0] != "version" or not isinstance(doc, dict) or not doc.get("parent"):
                continue
            self._walk_lineage(path, info[1], info[2], lookup)

    def _walk_lineage(self, path, model, number, lookup) -> None:
        seen = {(model, number)}
        current = lookup(model, number)
        while isinstance(current, dict) and isinstance(current.get("parent"), dict):
            parent = current["parent"]
            key = (parent.get("model"), parent.get("version"))
            if key in seen:
                self.add(path, "/parent", f"lineage cycle through {key[0]}@{key[1]}")
                return
            seen.add(key)
            nxt = lookup(*key)
            if nxt is None:
                if len(seen) == 2:  # report a missing parent only on its direct child
                    self.add(path, "/parent", f"parent {key[0]}@{key[1]} does not exist")
                return
            current = nxt


def run_check(reg, at: str | None = None, base: str | None = None, pr: int | None = None,
              comment: bool = False, remote: bool = False) -> CheckResult:
    """Full check (no base) or the change-scoped check against `base`, plus the PR's policy."""
    if base is None and at is None:
        source, target = WorkdirSource(reg.root), "working tree"
    else:
        target = reg.git.rev_parse(at or "HEAD")
        source = TreeSource(reg.git, target)
    checker = Checker(source)
    paths = source.paths()
    checker.check_settings(set(paths))
    by_model = checker.check_layout(paths)
    if base is not None:
        base_sha = reg.git.rev_parse(base)
        changed = reg.git.changed_paths(base_sha, target)
        changed_files = [p for status, p in changed if status != "D"]
        touched = sorted({layout.model_of(p) for _, p in changed if layout.model_of(p)} & set(by_model)
                         | ({m for m in by_model} if any(p == layout.REGISTRY_FILE for _, p in changed) else set()))
    else:
        base_sha, touched = None, sorted(by_model)
    checker.load([p for m in touched for p in by_model[m]])
    for model in touched:
        checker.check_model(model, by_model[model])
    checker.check_parents(_lookup(checker, source, set(paths)))
    _check_adapters(reg, checker, target, touched)
    _check_local_files(reg, checker, touched)
    checker.check_credentials(changed_files if base is not None else paths + source.extra_paths())
    if remote:
        _check_remote(reg, checker, target, touched)
    if base_sha is not None:
        from .change_rules import check_changes

        check_changes(reg, checker, base_sha, target, touched, changed)
    problems = set(checker.problems)
    if base_sha is not None:
        from .policy import check_pull_request

        found = check_pull_request(reg, base_sha, target, pr, comment, core_problems=sorted(problems))
        problems |= {Problem(*p) for p in found}
    return CheckResult(target, base_sha, touched, sorted(problems))


def _versions_in(checker: Checker, models: list[str], model_type: str | None = None):
    for path, doc in list(checker.docs.items()):
        info = layout.classify(path)
        if info and info[0] == "version" and info[1] in models and isinstance(doc, dict):
            if model_type is None or doc.get("model_type") == model_type:
                yield info[1], info[2]


def _check_adapters(reg, checker: Checker, target: str, models: list[str]) -> None:
    """An adapter's adapter_config.json must fit its registered parent (files in the local cache)."""
    from .loader_checks import adapter_problems

    adapters = list(_versions_in(checker, models, "adapter"))
    if not adapters:
        return
    commit = target if target != "working tree" else reg.git.rev_parse("HEAD")
    for model, number in adapters:
        try:
            found = adapter_problems(reg, commit, model, number)
        except RegistryError:
            continue  # not committed yet, or unreadable: the record checks above report it
        for pointer, message in found:
            checker.add(layout.version_file(model, number), pointer, message)


def _check_local_files(reg, checker: Checker, models: list[str]) -> None:
    """Content rules the loader applies too (a sharded index names only the version's files),
    on the files available locally."""
    for model, number in _versions_in(checker, models):
        path = layout.version_file(model, number)
        for pointer, message in loader_checks.local_file_problems(reg, model, number, checker.docs[path]):
            checker.add(path, pointer, message)


def _check_remote(reg, checker: Checker, target: str, models: list[str]) -> None:
    from .weights import missing_in_remote

    commit = target if target != "working tree" else reg.git.rev_parse("HEAD")
    for model, number in _versions_in(checker, models):
        for message in missing_in_remote(reg, model, number, commit):
            checker.add(layout.pointer_file(model, number), "/", message)


def _lookup(checker: Checker, source, paths: set[str]):
    """Find a version record by (model, n), reading records outside the checked set on demand."""
    def lookup(model, number):
        if not isinstance(model, str) or not isinstance(number, int) or number < 1:
            return None
        try:
            path = layout.version_file(model, number)
        except Exception:
            return None
        if path not in checker.docs and path in paths:
            data = source.read_many([path]).get(path)
            try:
                checker.docs[path] = load_yaml(data, path) if data is not None else None
            except InvalidRecord:
                checker.docs[path] = None
        doc = checker.docs.get(path)
        return doc if isinstance(doc, dict) else None
    return lookup
