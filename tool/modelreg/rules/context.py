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

`ctx.settings` is the base's registry.yaml whenever there is a base: a pull request never
judges itself by the policy it brings.
"""
from dataclasses import dataclass
from typing import Callable, Protocol


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
    def path(self, model: str, version: int, artifact: dict): ...


@dataclass
class Context:
    head: object  # store.snapshot.Snapshot: the records being judged
    settings: object  # core.settings.Settings in force (the base's with --base)
    models: list[str]  # the models in scope
    base: object | None = None  # Snapshot of the base, with --base
    change: object | None = None  # store.change.Change(base, head), with --base
    files: LocalFiles | None = None
    remote: Callable[[str, int, bool], list[str]] | None = None
    stages_held: Callable[[str, int], set] | None = None

    @property
    def head_settings(self):
        return self.head.settings
