"""What a site build keeps for the next one (`.modelreg-site.state`), and what a rebuild re-reads.

Per model folder: its git tree id (which names every file below it), the models its versions
name as parent, what `check` said about its files, its pages' keys and its rows in the index,
the as-of page and the JSON index; and the history events of the window the timelines show.
A rebuild lists the model folders with their tree ids in one `git ls-tree` and re-reads only:
the folders whose id changed (or that are new or gone), the folders next to one of those on
the lineage (a parent's page lists its derived versions, a child's check walks its parents),
and the folders whose events moved (a new commit, a new clock note, the window's oldest
commit dropping out). The folders next to those on the lineage are read too (their pages
draw them) but keep their pages. Everything else comes from this file.

Anything else the site reads falls back to a full build: another registry.yaml, schemas,
CODEOWNERS, `.dvc/`, a file loose in `registry/`, a policy key file (inside `registry/`, or
outside it once it changes), another build of modelreg or `--repo-url`, and a commit that is
not on the first-parent line after the one built. Files the site never reads (a README, the
code beside the registry) change nothing; when registry.yaml cannot be read, or names a key
with a character git's pathspecs treat specially, every file outside `registry/` counts. The file is a claim about content, so it is keyed by
content: every folder entry by its tree id, the file itself by its sha256, which the manifest
holds; a file that does not match, does not parse or has the wrong shape is ignored (a full
build). It is marshal, not pickle: reading it runs no code.
"""
import hashlib
import marshal
import os
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from types import SimpleNamespace

from ..core import layout

STATE = ".modelreg-site.state"
FORMAT = 1
_TAG = b"\x00modelreg-site-time"  # a date or datetime from a record, which marshal cannot hold


# -- the file ---------------------------------------------------------------------------------
def write(out: Path, state: dict) -> str | None:
    """Write the state; its sha256 (for the manifest), or None when it cannot be kept (then the
    next build is a full one)."""
    try:
        payload = marshal.dumps((FORMAT, False, state))
    except ValueError:  # a record's timestamp among the rows or events
        try:
            payload = marshal.dumps((FORMAT, True, _pack(state)))
        except (ValueError, TypeError):
            (out / STATE).unlink(missing_ok=True)
            return None
    tmp = out / (STATE + ".tmp")
    tmp.write_bytes(payload)
    os.replace(tmp, out / STATE)
    return hashlib.sha256(payload).hexdigest()


def read(out: Path, digest) -> dict | None:
    """The state the manifest names by its sha256, or None (absent, altered, truncated, another
    format): the caller builds everything then."""
    try:
        payload = (out / STATE).read_bytes()
        if not isinstance(digest, str) or hashlib.sha256(payload).hexdigest() != digest:
            return None
        version, packed, state = marshal.loads(payload)
        if version != FORMAT:
            return None
        state = _unpack(state) if packed else state
        return state if _well_formed(state) else None
    except (OSError, ValueError, EOFError, TypeError):
        return None


def _well_formed(state) -> bool:
    if not isinstance(state, dict) or not all(isinstance(state.get(k), str) for k in ("commit", "tree")):
        return False
    if not isinstance(state.get("pages"), dict) or not isinstance(state.get("events"), list) \
            or not isinstance(state.get("window"), list) or not isinstance(state.get("folders"), dict):
        return False
    entry_keys = {"tree": str, "parents": list, "problems": dict, "pages": dict, "rows": (dict, type(None))}
    return all(isinstance(e, dict) and all(isinstance(e.get(k), t) for k, t in entry_keys.items())
               for e in state["folders"].values())


def _pack(value):
    if isinstance(value, dict):
        return {_pack(k): _pack(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_pack(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_pack(v) for v in value)
    if isinstance(value, datetime):
        return (_TAG, "datetime", _same_text(value, datetime.fromisoformat(value.isoformat())).isoformat())
    if isinstance(value, date):
        return (_TAG, "date", _same_text(value, date.fromisoformat(value.isoformat())).isoformat())
    return value


def _same_text(value, back):
    if str(back) != str(value) or back != value:
        raise ValueError(f"{value!r} does not read back the same")
    return value


def _unpack(value):
    if isinstance(value, dict):
        return {_unpack(k): _unpack(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unpack(v) for v in value]
    if isinstance(value, tuple):
        if len(value) == 3 and value[0] == _TAG:
            return (datetime if value[1] == "datetime" else date).fromisoformat(value[2])
        return tuple(_unpack(v) for v in value)
    return value


# -- the tree ---------------------------------------------------------------------------------
def tree_key(git, commit: str) -> tuple[dict[str, str], str]:
    """(model folder -> tree id, one key for every other file the site reads): three git
    calls, whatever the registry's size."""
    top = git.tree_entries(commit)
    everything = sorted(e for e in top if not (e[0] == layout.ROOT and e[1] == "tree"))
    inside = git.tree_entries(commit, layout.ROOT) if len(everything) < len(top) else []
    folders = {name: oid for name, kind, oid in inside if kind == "tree"}
    loose = sorted(e for e in inside if e[1] != "tree")
    named = _named_outside(git, commit)
    outside = everything if named is None else sorted(git.ls_tree(commit, *read_outside(), *named))
    return folders, hashlib.sha256(repr((outside, loose)).encode()).hexdigest()


def read_outside() -> tuple[str, ...]:
    """What check reads outside registry/ (rules/records.py): the policy, the schemas, DVC's
    folder (its config is scanned for credentials) and every place GitHub looks for CODEOWNERS."""
    from ..rules.records import CODEOWNERS_FILES

    return (layout.REGISTRY_FILE, layout.SCHEMA_DIR, ".dvc", *CODEOWNERS_FILES)


def _named_outside(git, commit: str) -> list[str] | None:
    """The key files registry.yaml names outside registry/ (a signature's verdict reads them);
    None, so that every file counts, when it cannot be read or a name would be a pattern to
    git (`ls-tree` takes pathspecs: `*`, `?`, `[` and a leading `:` are not literal) or lies
    outside the repository."""
    from ..core.errors import RegistryError
    from ..store.snapshot import Snapshot

    try:
        named = Snapshot.at(git, commit).settings.named_files
    except RegistryError:
        return None
    if any(c in name for name in named for c in "*?[\\") or any(name.startswith((":", "..")) for name in named):
        return None  # ".." (outside the repository) would make git fail, not match
    return [name for name in named if not name.startswith(layout.ROOT + "/")]


# -- the lineage ------------------------------------------------------------------------------
def related(parents: dict[str, list[str]], names) -> set[str]:
    """Every model above or below `names` on the lineage, by model (over-approximates the
    versions' lineage: a model is never missed), `names` included."""
    below: dict[str, set[str]] = {}
    for child, named in parents.items():
        for parent in named:
            below.setdefault(parent, set()).add(child)
    found = set(names)
    for edges in (parents, below):
        todo, seen = list(names), set(names)
        while todo:
            for other in edges.get(todo.pop(), ()):
                if other not in seen:
                    seen.add(other)
                    todo.append(other)
        found |= seen
    return found


# -- the events -------------------------------------------------------------------------------
@dataclass
class Events:
    events: list[dict]
    window: list[tuple[str, str, str]]  # (sha, date, subject) of the commits the events cover
    moved: set[str] = field(default_factory=set)  # models whose events differ from the last build's


def events_after(git, commit: str, state: dict, limit: int) -> Events | None:
    """The events of the last `limit` commits on `commit`'s first-parent line touching
    registry/, from the last build's: the new commits' events are computed, the old ones
    re-dated by the clock as it is now (a clock note may have arrived since). None when the
    last build's commit is not on that line."""
    from ..core.clock import NOTES_REF, timeline
    from ..store.approval_notes import records_on_line
    from ..store.history import event_base, events

    built = state["commit"]
    if built not in {row[0] for row in git.first_parent_line(commit, NOTES_REF)}:
        return None
    fresh, new = [], []
    if built != commit:
        new = [(c.sha, c.date, c.subject) for c in git.log(f"{built}..{commit}", [layout.ROOT], limit=limit)]
        fresh = events(git, None, limit, commit, since=built)
    window = (new + [tuple(c) for c in state["window"]])[:limit]
    kept = {c[0] for c in window}
    clock = {tick.commit: tick for tick in timeline(git, commit)}
    records = records_on_line(git, commit)
    moved = {e["model"] for e in fresh}
    bases = {sha: event_base(SimpleNamespace(sha=sha, date=when, subject=subject), clock.get(sha), records)
             for sha, when, subject in state["window"] if sha in kept}
    seen, redated = set(), set()  # a commit's events share what event_base says: compare one of them
    for event in state["events"]:
        sha = event["commit"]
        if sha not in seen and sha in bases:
            seen.add(sha)
            if any(event.get(k) != v for k, v in bases[sha].items()):
                redated.add(sha)
    old = []
    for event in state["events"]:
        sha = event["commit"]
        if sha not in bases:
            moved.add(event["model"])  # out of the window: gone from the timelines
            continue
        if sha in redated:
            event = {k: bases[sha].get(k, v) for k, v in event.items()}
            moved.add(event["model"])
        old.append(event)
    return Events(fresh + old, window, moved)


def window_of(git, commit: str, limit: int) -> list[tuple[str, str, str]]:
    return [(c.sha, c.date, c.subject) for c in git.log(commit, [layout.ROOT], limit=limit)]
