"""Change: what a pull request does, computed once from two snapshots.

`Change.between(base, head, fork)` compares blob ids from the two indexes (no `git diff`, no
parsing of unchanged files): the changed paths are those whose blob differs between the fork
point (the merge base; by default the base itself) and the head; records before the change
are read from the base, the truth the PR would land on. From that come the per-model
before/after, stage moves, alias moves, deletions and policy-file changes that the rules,
the gates, the approvals and the PR comment all consume.
"""
from dataclasses import dataclass, field

from ..core import layout

# Files that change the rules themselves, not the records they judge.
POLICY_FILES = {layout.REGISTRY_FILE, "CODEOWNERS", "docs/CODEOWNERS", ".dvcignore"}
POLICY_PREFIXES = (f"{layout.SCHEMA_DIR}/", ".github/", ".dvc/")


def is_policy_file(path: str) -> bool:
    return path in POLICY_FILES or path.startswith(POLICY_PREFIXES)


@dataclass(frozen=True)
class Move:
    """One thing a change does to one model."""
    kind: str  # "version" (registered), "stage", "alias"
    model: str
    version: int | None
    before: object  # previous stage / alias target (None when new)
    after: object  # new stage / alias target (None when removed)
    name: str | None = None  # the alias name

    def describe(self) -> str:
        if self.kind == "version":
            return f"register {self.model}@{self.version} (enters {self.after})"
        if self.kind == "stage":
            return f"{self.model}@{self.version}: {self.before} -> {self.after}"
        after = "removed" if self.after is None else f"-> {self.after}"
        before = "" if self.before is None else f"{self.before} "
        return f"{self.model}@{self.name}: {before}{after}"


@dataclass
class ModelChange:
    """One model before (base) and after (head) the change."""
    model: str
    paths: list[str]
    before: dict[int, dict]
    after: dict[int, dict]
    aliases_before: dict
    aliases_after: dict
    existed: bool  # model.yaml on the base
    exists: bool  # model.yaml on the head

    @property
    def removed(self) -> bool:
        return self.existed and not self.exists


@dataclass
class Change:
    base: object  # Snapshot
    head: object  # Snapshot
    changed: list[tuple[str, str]]  # (A/M/D, path), sorted by path
    models: dict[str, ModelChange] = field(default_factory=dict)
    moves: list[Move] = field(default_factory=list)

    @classmethod
    def between(cls, base, head, fork=None, changed=None) -> "Change":
        """`changed` ((status, path) since the fork, e.g. from `git diff base...head`) spares
        listing both trees; without it, the two indexes are compared blob id by blob id."""
        changed = sorted(changed, key=lambda item: item[1]) if changed is not None else _changed(fork or base, head)
        change = cls(base, head, changed)
        by_model: dict[str, list[str]] = {}
        for _status, path in changed:
            model = layout.model_of(path)
            if model is not None:
                by_model.setdefault(model, []).append(path)
        for model, paths in sorted(by_model.items()):
            change.models[model] = _model_change(base, head, model, paths)
            change.moves += _moves(change.models[model])
        return change

    @property
    def paths(self) -> list[str]:
        return [p for _, p in self.changed]

    @property
    def removed(self) -> set[str]:
        return {p for s, p in self.changed if s == "D"}

    @property
    def policy_files(self) -> list[str]:
        return [p for p in self.paths if is_policy_file(p)]

    @property
    def deleted_models(self) -> list[str]:
        return [m for m, c in self.models.items() if c.removed]

    @property
    def deleted_versions(self) -> list[tuple[str, int]]:
        """(model, n) of merged versions the change removes or soft-deletes."""
        found = []
        for model, mc in self.models.items():
            for number, record in mc.before.items():
                now = mc.after.get(number)
                if now is None or (now.get("status") == "deleted" and record.get("status") != "deleted"):
                    found.append((model, number))
        return found

    def entered(self) -> list[Move]:
        return entered(self.moves)


def entered(moves: list[Move]) -> list[Move]:
    """Moves that put a version into a stage (registrations count: they enter the initial one)."""
    return [m for m in moves if m.kind in ("version", "stage") and m.after is not None]


def _changed(before, after) -> list[tuple[str, str]]:
    old, new = {p: before.sha(p) for p in before.paths()}, {p: after.sha(p) for p in after.paths()}
    found = []
    for path in set(old) | set(new):
        if path not in new:
            found.append(("D", path))
        elif path not in old:
            found.append(("A", path))
        elif old[path] != new[path] or old[path] is None:
            found.append(("M", path))
    return sorted(found, key=lambda item: item[1])


def _model_change(base, head, model: str, paths: list[str]) -> ModelChange:
    try:
        mfile = layout.model_file(model)
    except Exception:  # a bad folder name: the layout rule reports it
        return ModelChange(model, paths, {}, {}, {}, {}, False, False)
    return ModelChange(model, paths, base.all_versions(model), head.all_versions(model),
                       base.aliases(model), head.aliases(model), base.has(mfile), head.has(mfile))


def _moves(mc: ModelChange) -> list[Move]:
    moves = []
    for number, record in mc.after.items():
        old = mc.before.get(number)
        if old is None:
            moves.append(Move("version", mc.model, number, None, record.get("stage", "none")))
        elif old.get("stage") != record.get("stage"):
            moves.append(Move("stage", mc.model, number, old.get("stage"), record.get("stage")))
    for name in sorted(set(mc.aliases_before) | set(mc.aliases_after), key=str):
        old, new = mc.aliases_before.get(name), mc.aliases_after.get(name)
        if old != new:
            moves.append(Move("alias", mc.model, new, old, new, name))
    return moves
