"""Change: what a pull request does, computed once from two snapshots.

`Change.between(base, head, fork)` compares blob ids from the two indexes (no `git diff`, no
parsing of unchanged files): the changed paths are those whose blob differs between the fork
point (the merge base; by default the base itself) and the head; records before the change
are read from the base, the truth the PR would land on. From that come the per-model
before/after, stage moves, alias moves, deletions and policy-file changes that the rules,
the gates, the approvals and the PR comment all consume.
"""
from dataclasses import dataclass, field
from functools import cached_property

from ..core import layout

RECORD_KINDS = ("model", "aliases", "version", "card")
# Files that change the rules themselves, not the records they judge.
POLICY_FILES = {layout.REGISTRY_FILE, "CODEOWNERS", "docs/CODEOWNERS", ".dvcignore"}
POLICY_PREFIXES = (f"{layout.SCHEMA_DIR}/", ".github/", ".dvc/")


def is_policy_file(path: str, named=()) -> bool:
    """`named`: the files a policy names (its signers' keys): policy too (issue 19.1)."""
    return path in POLICY_FILES or path.startswith(POLICY_PREFIXES) or path in named


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
        if self.kind == "stage" and self.before is None:  # registered straight into it
            return f"{self.model}@{self.version}: registered into {self.after}"
        if self.kind == "stage":
            return f"{self.model}@{self.version}: {self.before} -> {self.after}"
        after = "removed" if self.after is None else f"-> {self.after}"
        before = "" if self.before is None else f"{self.before} "
        return f"{self.model}@{self.name}: {before}{after}"


class ModelChange:
    """One model before (base) and after (head) the change. Records are read when first asked
    for: the moves need only the versions whose blob differs."""

    def __init__(self, model: str, paths: list[str], base, head, exact: bool = False):
        self.model, self.paths, self.base, self.head = model, paths, base, head
        self.exact = exact  # `paths` are every difference between base and head (base is the fork)
        try:
            self._files = (layout.model_file(model), layout.aliases_file(model))
        except Exception:  # a bad folder name: the layout rule reports it
            self._files = None

    @cached_property
    def before(self) -> dict[int, dict]:
        return self.base.all_versions(self.model) if self._files else {}

    @cached_property
    def after(self) -> dict[int, dict]:
        return self.head.all_versions(self.model) if self._files else {}

    @cached_property
    def aliases_before(self) -> dict:
        return self.base.aliases(self.model) if self._files else {}

    @cached_property
    def aliases_after(self) -> dict:
        return self.head.aliases(self.model) if self._files else {}

    @property
    def existed(self) -> bool:
        """model.yaml on the base."""
        return bool(self._files) and self.base.has(self._files[0])

    @property
    def exists(self) -> bool:
        """model.yaml on the head."""
        return bool(self._files) and self.head.has(self._files[0])

    @property
    def removed(self) -> bool:
        return self.existed and not self.exists

    def differing(self) -> list[int]:
        """Version numbers whose version.yaml is not the same blob on both sides (a working tree
        has no blob ids: every version differs)."""
        if not self._files:
            return []
        if self.exact:
            return sorted({info[2] for info in map(layout.classify, self.paths) if info and info[0] == "version"})
        numbers = sorted(set(self.base.versions(self.model)) | set(self.head.versions(self.model)))
        paths = {n: layout.version_file(self.model, n) for n in numbers}
        return [n for n in numbers if self.base.sha(paths[n]) is None or
                self.base.sha(paths[n]) != self.head.sha(paths[n])]

    def aliases_differ(self) -> bool:
        if not self._files:
            return False
        if self.exact:
            return self._files[1] in self.paths
        old, new = self.base.sha(self._files[1]), self.head.sha(self._files[1])
        return old is None or old != new


@dataclass
class Change:
    base: object  # Snapshot
    head: object  # Snapshot
    changed: list[tuple[str, str]]  # (A/M/D, path), sorted by path
    models: dict[str, ModelChange] = field(default_factory=dict)
    moves: list[Move] = field(default_factory=list)

    @classmethod
    def between(cls, base, head, fork=None, changed=None, exact: bool = False) -> "Change":
        """`changed` ((status, path) since the fork, e.g. from `git diff base...head`) spares
        listing both trees; without it, the two indexes are compared blob id by blob id.
        `exact`: `changed` is every difference between base and head (the base is the fork, as
        for a commit and its parent), so only those files need reading."""
        exact = exact or (changed is None and fork is None)
        changed = sorted(changed, key=lambda item: item[1]) if changed is not None else _changed(fork or base, head)
        change = cls(base, head, changed)
        by_model: dict[str, list[str]] = {}
        for _status, path in changed:
            model = layout.model_of(path)
            if model is not None:
                by_model.setdefault(model, []).append(path)
        _prefetch(base, head, [p for _, p in changed])
        for model, paths in sorted(by_model.items()):
            change.models[model] = ModelChange(model, paths, base, head, exact)
            change.moves += _moves(change.models[model])
        return change

    @property
    def paths(self) -> list[str]:
        return [p for _, p in self.changed]

    @property
    def removed(self) -> set[str]:
        return {p for s, p in self.changed if s == "D"}

    @cached_property
    def policy_files(self) -> list[str]:
        """Changed files that are policy: by their path, or named by the base's policy (a
        signer's key replaced by a PR is the trust policy changed)."""
        named = set(self.base.settings.named_files) | set(self.head.settings.named_files)
        return [p for p in self.paths if is_policy_file(p, named)]

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


def compute(git, base: str, head: str) -> Change:
    """What `head` does on top of `base` (refs or commits): records before from the base, changed
    paths since the two forked. git compares the trees by hash, so unchanged folders cost
    nothing: a one-model PR never lists the whole registry."""
    from .snapshot import Snapshot

    base_sha, head_sha = git.rev_parse(base), git.rev_parse(head)
    changed = git.changed_paths(base_sha, head_sha) if base_sha != head_sha else []
    return Change.between(Snapshot.at(git, base_sha), Snapshot.at(git, head_sha), changed=changed)


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


def _prefetch(base, head, paths: list[str]) -> None:
    """Parse the changed records on both sides in one batch each (a registry's first commit can
    add every record; one read per file took seconds at 10,000 versions)."""
    records = [p for p in paths if layout.classify(p) and layout.classify(p)[0] in RECORD_KINDS]
    if records:
        base.load(records)
        head.load(records)


def _moves(mc: ModelChange) -> list[Move]:
    """Registrations, stage moves and alias moves: only differing blobs can hold one."""
    moves = []
    for number in mc.differing():
        record, old = mc.head.version(mc.model, number), mc.base.version(mc.model, number)
        if record is None:
            continue  # removed, or unreadable on the head: the rules say which
        if old is None:
            moves.append(Move("version", mc.model, number, None, record.get("stage", "none")))
        elif old.get("stage") != record.get("stage"):
            moves.append(Move("stage", mc.model, number, old.get("stage"), record.get("stage")))
    if not mc.aliases_differ():
        return moves
    for name in sorted(set(mc.aliases_before) | set(mc.aliases_after), key=str):
        old, new = mc.aliases_before.get(name), mc.aliases_after.get(name)
        if old != new:
            moves.append(Move("alias", mc.model, new, old, new, name))
    return moves
