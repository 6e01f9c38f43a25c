"""What a rule sees: the records (snapshots, a change), the settings in force, and named services.

A rule is `rule(ctx) -> iterable of Problem` (a version rule: `rule(ctx, model, number,
record)`). It reads only `ctx`: no git, no network, no printing. What reaches outside the
records comes in as a service, set by `check.run_check` and None where it does not apply:

- `files`        where a version's files are on this machine (the verified cache, the working
                 tree), never fetched: the adapter and index rules read headers through it;
- `remote`       `remote(model, number, deep) -> [problem]`: the version's objects in the DVC
                 remote (`check --remote`); deep re-hashes them;
- `stages_held`  `stages_held(model, number) -> {stage}`: every stage the version held on the
                 base branch's first-parent history (the rollback rule).
- `verdicts`     the schema passes remembered per blob (store/verdicts.py), for a whole check
                 of a commit: a record whose blob passed before is not validated again.

`ctx.settings` is the base's registry.yaml whenever there is a base: a pull request never
judges itself by the policy it brings.
"""
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Protocol

from ..core.settings import Settings
from ..store.change import Change
from ..store.snapshot import Snapshot


@dataclass(frozen=True, order=True)
class Problem:
    file: str
    pointer: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.pointer}: {self.message}"

    def to_dict(self) -> dict:
        return {"file": self.file, "pointer": self.pointer, "message": self.message}


class LocalFiles(Protocol):
    """Where a version's file is on this machine (loading.checks.LocalFiles), never fetched."""

    def path(self, model: str, version: int, artifact: dict) -> Path | None: ...


@dataclass
class Context:
    head: Snapshot  # the records being judged (a commit's, or the working tree's)
    settings: Settings  # the policy in force: the base's registry.yaml with --base
    models: list[str]  # the models in scope
    base: Snapshot | None = None  # with --base
    change: Change | None = None  # Change(base, head), with --base
    files: LocalFiles | None = None
    remote: Callable[[str, int, bool], list[str]] | None = None  # (model, number, deep) -> problems
    stages_held: Callable[[str, int], set[str]] | None = None  # (model, number) -> stages held on the base
    verdicts: object = None  # store.verdicts.Verdicts: passed(kind, sha) / add(kind, sha)
    paths: list[str] | None = None  # the files judged one by one (layout, credentials); None: all, or the change's

    @property
    def head_settings(self):
        return self.head.settings
