"""The rules `check` applies: small functions over snapshots, a change and the settings in force.

A rule is `rule(ctx) -> iterable of Problem`. It reads only `ctx` (no git, no network, no
printing) and says what is wrong as FILE, JSON pointer, message (naming what to do).
Add a rule by appending it to one of the lists below (or `register(...)` from a plug-in module):

- RECORD_RULES   every check: the records at the head, judged by `ctx.settings`;
- VERSION_RULES  every checked, not soft-deleted version: `rule(ctx, model, number, record)`
                 (adapter files, weight maps, signatures, formats policy hook in here);
- CHANGE_RULES   with --base: what the change does, judged by the BASE's settings.

`ctx.settings` is the base's registry.yaml whenever there is a base: a pull request never
judges itself by the policy it brings.
"""
from dataclasses import dataclass, field


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
class Context:
    head: object  # Snapshot: the records being judged
    settings: object  # Settings in force (the base's with --base)
    models: list[str]  # the models in scope
    base: object | None = None  # Snapshot of the base, with --base
    change: object | None = None  # Change(base, head), with --base
    extra: dict = field(default_factory=dict)  # services a rule may need (e.g. a registry for caches)

    @property
    def head_settings(self):
        return self.head.settings


RECORD_RULES: list = []
VERSION_RULES: list = []
CHANGE_RULES: list = []


def register(kind: str, rule) -> None:
    {"record": RECORD_RULES, "version": VERSION_RULES, "change": CHANGE_RULES}[kind].append(rule)


def run(ctx: Context) -> list[Problem]:
    """Every rule that applies; the problems sorted and without repeats."""
    from . import changes, records  # noqa: F401  (fills the lists)
    from ..supply import rules as _supply  # noqa: F401  (signatures, formats, chat template: issue 12)

    found = set()
    for rule in RECORD_RULES:
        found.update(rule(ctx))
    for model in ctx.models:
        for number, record in sorted(ctx.head.all_versions(model).items()):
            if record.get("status") == "deleted":
                continue  # a soft-deleted version is inert: it can no longer be loaded (issue 14.9)
            for rule in VERSION_RULES:
                found.update(rule(ctx, model, number, record))
    if ctx.change is not None:
        for rule in CHANGE_RULES:
            found.update(rule(ctx))
    return sorted(found)
