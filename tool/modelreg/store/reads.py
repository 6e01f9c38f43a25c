"""The data model's reads over one Snapshot: models, versions, aliases, resolve, lineage.

Pure functions of a snapshot (no git of their own): the Registry picks the commit and asks
here, and so does every module below it that was handed a snapshot. A malformed record is
an InvalidRecord naming its file; a missing one is NotFound.
"""
from dataclasses import dataclass, field

from ..core import layout
from ..core import lineage as walks
from ..core.errors import InvalidRecord, NotFound
from ..core.refs import ModelRef


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
    # the model's `deprecated` mapping ({value, reason}) when the model is deprecated at this
    # commit: it still resolves (production keeps serving); callers warn (issue 20)
    deprecated: dict | None = field(default=None, compare=False)

    @property
    def name(self) -> str:
        return f"{self.model}@{self.version}"

    @property
    def model_type(self) -> str:
        return self.record.get("model_type", "base_model")

    def to_dict(self) -> dict:
        return {"model": self.model, "version": self.version, "stage": self.stage,
                "status": self.status, "aliases": list(self.aliases), "commit": self.commit,
                "ref": self.ref, "model_type": self.record.get("model_type"),
                "artifacts": self.record.get("artifacts", []), "parent": self.record.get("parent"),
                "deprecated": self.deprecated}


def _mapping(snap, path: str, missing: NotFound | None):
    doc = snap.record(path)  # InvalidRecord for a file that does not parse
    if doc is None:
        if missing is not None:
            raise missing
        return None
    if not isinstance(doc, dict):
        raise InvalidRecord(f"{path}: expected a mapping; fix the file by hand")
    return doc


def model(snap, name: str) -> dict:
    return _mapping(snap, layout.model_file(name), NotFound(f"no model named {name!r}", hint="models"))


def version(snap, name: str, number: int) -> dict:
    doc = _mapping(snap, layout.version_file(name, number), None)
    if doc is None:
        model(snap, name)
        raise NotFound(f"{name} has no version {number}", hint="versions", model=name)
    return doc


def aliases(snap, name: str) -> dict[str, int]:
    doc = _mapping(snap, layout.aliases_file(name), None)
    if doc is None:
        model(snap, name)
        return {}
    return dict(doc.get("aliases") or {})


def card(snap, name: str, number: int) -> dict:
    """card.yaml of a version ({} when it has none)."""
    return _mapping(snap, layout.card_file(name, number), None) or {}


def versions(snap, name: str, stage: str | None = None, include_deleted: bool = False) -> list[dict]:
    """The version records of a model, oldest first (one batch)."""
    model(snap, name)
    snap.prefetch(layout.version_file(name, n) for n in snap.versions(name))
    found = [version(snap, name, n) for n in snap.versions(name)]
    return [v for v in found
            if (include_deleted or v.get("status") != "deleted") and (stage is None or v.get("stage") == stage)]


def models(snap, filter_tags: dict | None = None, active: bool = False) -> list[dict]:
    """The model records, by name, with every tag in `filter_tags` (`active`: not deprecated)."""
    paths = [p for p in (f"{layout.ROOT}/{m}/model.yaml" for m in snap.models()) if snap.has(p)]
    snap.prefetch(paths)
    found = sorted((_mapping(snap, p, None) for p in paths), key=lambda m: m.get("name", ""))
    wanted = filter_tags or {}
    return [m for m in found if all((m.get("tags") or {}).get(k) == v for k, v in wanted.items())
            and not (active and deprecation(m))]


def resolve(snap, target: ModelRef) -> Resolved:
    """NAME@ALIAS / NAME@N / NAME@latest at the snapshot's commit."""
    name = target.model
    snap.prefetch([layout.model_file(name), layout.aliases_file(name)])  # one batch for both
    held = aliases(snap, name)
    if target.version is not None:
        number = target.version
    elif target.alias == "latest":
        number = latest_active(snap, name)
    elif target.alias in held:
        number = held[target.alias]
    else:
        known = ", ".join(sorted(held)) or "none"
        raise NotFound(f"{name} has no alias {target.alias!r} at {snap.commit[:10]} (aliases: {known})")
    record = version(snap, name, number)
    if record.get("status") == "deleted" and target.version is None:
        raise NotFound(f"{target} points at version {number}, which is deleted")
    pointing = tuple(sorted(a for a, v in held.items() if v == number))
    return Resolved(name, number, record.get("stage", "none"), record.get("status", "active"),
                    pointing, snap.commit, str(target), record, deprecation(snap.model(name)))


def deprecation(record: dict | None) -> dict | None:
    """A model record's `deprecated` mapping when it says the model is deprecated, else None."""
    marked = (record or {}).get("deprecated")
    return dict(marked) if isinstance(marked, dict) and marked.get("value") is True else None


def pinned(snap, name: str, number: int) -> Resolved:
    """The version `name`@`number` as a Resolved (no text to parse)."""
    return resolve(snap, ModelRef(name, version=number))


def latest_active(snap, name: str) -> int:
    for number in reversed(snap.versions(name)):
        if version(snap, name, number).get("status") != "deleted":
            return number
    model(snap, name)
    raise NotFound(f"{name} has no active version")


def lineage(snap, start: Resolved) -> list[Resolved]:
    """`start`, then its parent, and so on down to the base model (NotFound for a missing
    parent, PolicyViolation for a cycle)."""
    chain = walks.strict(lookup(snap), walks.Link(start.model, start.version, start.record))
    return [start] + [pinned(snap, link.model, link.version) for link in chain[1:]]


def dependents(snap, name: str, number: int) -> list[tuple[str, int, str]]:
    """(model, version, stage) of every adapter not deleted whose parent is `name`@`number`, in
    any model: what stops loading if that version goes (a fine-tuned child's weights stand alone;
    one batch over every version record)."""
    wanted = [(m, n) for m in snap.models() if _is_name(m) for n in snap.versions(m)]
    snap.prefetch(layout.version_file(m, n) for m, n in wanted)
    found = []
    for m, n in wanted:
        try:
            record = snap.version(m, n)
        except Exception:  # an unreadable record: the record rules report it
            continue
        if isinstance(record, dict) and record.get("status") != "deleted" \
                and walks.Link(m, n, record).model_type == "adapter" and walks.parent_of(record) == (name, number):
            found.append((m, n, record.get("stage", "none")))
    return found


def lookup(snap):
    """A lineage lookup over `snap` that reports a malformed parent (InvalidRecord) rather than
    calling it missing: for strict callers."""
    return lambda name, number: _mapping(snap, layout.version_file(name, number), None) if _is_name(name) else None


def _is_name(name) -> bool:
    try:
        layout.model_dir(name)
    except Exception:  # a folder that is not a valid name: check's layout rule reports it
        return False
    return True
