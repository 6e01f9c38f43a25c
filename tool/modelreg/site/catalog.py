"""What the site shows: the registry's records at one commit, read in one batch.

Every record keeps its blob sha (the incremental build keys pages on them), its raw text
(shown when the record cannot be rendered) and the problems `check` reports for its file,
so a broken record becomes a problem on its page instead of a failed build. Every URL in a
record is shown without its credentials (core/urls.py): a published site never repeats a
token a record should not hold (`check` flags the record itself).
"""
from collections import defaultdict
from dataclasses import dataclass, field

from ..core import layout, schema
from ..core.settings import Settings
from ..core.urls import scrub, scrub_text

HISTORY_COMMITS = 5000
YAML_KINDS = ("model", "aliases", "version", "card")  # how far back the timelines read main's first-parent history


@dataclass
class Record:
    path: str
    sha: str
    text: str
    data: object = None  # the parsed mapping; None when unreadable or schema-invalid
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and isinstance(self.data, dict)

    def get(self, key, default=None):
        return self.data.get(key, default) if self.ok else default


@dataclass
class Version:
    model: str
    number: int
    record: Record | None = None
    card: Record | None = None
    pointer: Record | None = None
    extras: dict[str, Record] = field(default_factory=dict)  # signature, chat template: shown as files
    problems: list[str] = field(default_factory=list)  # what check says about any of its files

    def get(self, key, default=None):
        return self.record.get(key, default) if self.record else default


@dataclass
class Model:
    name: str
    record: Record | None = None
    aliases_record: Record | None = None
    versions: dict[int, Version] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)  # model.yaml / aliases.yaml problems
    events: list[dict] = field(default_factory=list)

    def get(self, key, default=None):
        return self.record.get(key, default) if self.record else default

    @property
    def aliases(self) -> dict[str, int]:
        found = self.aliases_record.get("aliases") if self.aliases_record else None
        return dict(found) if isinstance(found, dict) else {}

    def version(self, number: int) -> Version:
        return self.versions.setdefault(number, Version(self.name, number))


@dataclass
class Catalog:
    commit: str
    ref: str
    settings: Settings
    models: dict[str, Model]
    events: list[dict]
    problems: dict[str, list[str]] = field(default_factory=dict)  # path -> what check says of the file


def read_catalog(git, commit: str, ref: str) -> Catalog:
    """Records, check's problems and history events at `commit` (nothing is rendered here).

    check parses every record into the commit's memoised Snapshot; the site reads the same
    parsed records from it, and the raw text (shown for records it cannot render) too. The
    check judges the records alone, not the weights this machine holds: a commit's site is the
    same wherever it is built.
    """
    from ..rules.check import run_check
    from ..store.snapshot import Snapshot

    problems = defaultdict(list)
    for problem in run_check(git, at=commit, local_files=False).problems:
        problems[problem.file].append(f"{problem.pointer}: {problem.message}")
    snap = Snapshot.at(git, commit)
    paths = [p for p in snap.paths() if p.startswith(layout.ROOT + "/") and layout.classify(p)]
    return _catalog(git, snap, ref, paths, dict(problems), _events(git, commit))


def read_models(git, commit: str, ref: str, names, problems: dict[str, list[str]], events: list[dict]) -> Catalog:
    """The same as read_catalog, for the model folders `names` only, with check's problems and
    the history events already known (the site's rebuild: only the folders that changed, and
    those next to them on the lineage)."""
    from ..store.snapshot import Snapshot

    snap = Snapshot.at(git, commit)
    snap.list_models(names)
    paths = [p for name in sorted(names) for p in snap.model_paths(name) if layout.classify(p)]  # git's order
    return _catalog(git, snap, ref, paths, problems, events)


def _catalog(git, snap, ref: str, paths: list[str], problems: dict, events: list[dict]) -> Catalog:
    snap.prefetch(paths)  # the records check parsed are already here; the rest in one batch
    models: dict[str, Model] = {}
    for path in paths:
        _place(models, path, _record(snap, path, snap.read(path) or b"", bool(problems.get(path))))
    for path, found in problems.items():
        _attach(models, path, found)
    for event in events:
        if event.get("model") in models:
            models[event["model"]].events.append(event)
    return Catalog(snap.commit, ref, snap.settings, dict(sorted(models.items())), events, problems)


def parents_named(snap, name: str) -> list[str]:
    """The models whose versions the versions of model folder `name` name as parent, read from
    the parsed records whether or not they fit the schema (more than the site draws: a model
    is never missed)."""
    found = set()
    for number in snap.versions(name):
        doc = snap.doc(layout.version_file(name, number))
        parent = doc.get("parent") if isinstance(doc, dict) else None
        model = parent.get("model") if isinstance(parent, dict) else None
        if isinstance(model, str):
            found.add(model)
    return sorted(found)


def _record(snap, path: str, blob: bytes, flagged: bool) -> Record:
    """Parsed (by the snapshot); a record check flagged is schema-checked here, and shown as
    text if it fails."""
    text = scrub_text(blob.decode("utf-8", "replace"))
    kind = layout.classify(path)[0]
    if kind not in YAML_KINDS:  # a DVC pointer, a signature bundle, a chat template: kept as text
        return Record(path, snap.sha(path), text, None, [])
    data = snap.doc(path)
    if path in snap.errors:
        return Record(path, snap.sha(path), text, None, [snap.errors[path]])
    if not isinstance(data, dict):
        return Record(path, snap.sha(path), text, None, ["/: expected a mapping of fields"])
    found = [f"{ptr}: {msg}" for ptr, msg in schema.problems(kind, data)] if flagged else []
    return Record(path, snap.sha(path), text, scrub(data), found)


def _place(models: dict, path: str, record: Record) -> None:
    kind, name, number = layout.classify(path)
    model = models.setdefault(name, Model(name))
    if kind == "model":
        model.record = record
    elif kind == "aliases":
        model.aliases_record = record
    elif kind in ("version", "card", "pointer"):
        setattr(model.version(number), {"version": "record", "card": "card", "pointer": "pointer"}[kind], record)
    else:
        model.version(number).extras[path.rsplit("/", 1)[-1]] = record


def _attach(models: dict, path: str, found: list[str]) -> None:
    info = layout.classify(path)
    if not info or info[1] not in models:
        return
    kind, name, number = info
    if number is None:
        models[name].problems += [f"{path.rsplit('/', 1)[-1]} {p}" for p in found]
    else:
        models[name].version(number).problems += [f"{path.rsplit('/', 1)[-1]} {p}" for p in found]


def _events(git, commit: str) -> list[dict]:
    """history.events on main's clock (it reads the same memoised snapshots check filled)."""
    from ..store.history import events

    return events(git, None, HISTORY_COMMITS, commit)
