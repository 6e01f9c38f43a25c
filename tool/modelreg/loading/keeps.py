"""What Git still keeps: `modelreg gc`'s walk over main, every ref tip and the lock files.

A version's weights may leave the remote only when all of these let it go:
  main       registry.yaml's `retention` at main (the reviewed policy) and main's records: the
             version is deleted, or archived, longer ago than the policy's window; it holds no
             alias; it is not among the newest `keep_last` versions not deleted. "Since when"
             comes from main's history read by the registry's clock (core/clock.py: observed,
             else merged, else the commit's date), from the commit that made it so; the record's
             own `deleted.at` is a claim of the deleting machine and is not read;
  branches   at every branch and remote-tracking branch tip it is deleted, or archived without
             an alias (a branch that still has it active, or aliased, keeps it);
  tags       at every tag it holds no alias and no stage but none and archived (a release tag
             keeps what it released);
  locks      no lock file pins it (files named *.lock[.yaml|.yml|.json] at any ref tip or in the
             working tree, and any given), nor a base under what it pins;
  lineage    no adapter that something keeps stands on it.
Then every weights.dvc of such a version, at any tip, is released; every other weights.dvc at
any tip is kept; artifacts/retention.py turns that into objects. Records never change: history
stays the audit log.
"""
import json
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..core import layout
from ..core import lineage as walks
from ..core.clock import iso, timeline
from ..core.errors import RegistryError
from ..core.records import load_yaml
from ..core.settings import Retention
from ..store import reads
from ..store.snapshot import Snapshot, read_blobs

NOT_HELD = ("none", "archived")  # stages that hold nothing for a release tag
LOCK_SUFFIXES = (".lock", ".lock.yaml", ".lock.yml", ".lock.json")
_SKIP_DIRS = {"node_modules", "__pycache__", "weights"}
_STAGE = re.compile(rb"^stage:[ \t]*['\"]?([A-Za-z0-9_-]+)", re.M)


@dataclass
class Verdict:
    """main's word on one version with weights: kept (and why), or purgeable (reason None)."""
    model: str
    version: int
    state: str  # active, archived or deleted (on main)
    reason: str | None = None
    since: int | None = None  # when main made it `state` (epoch seconds), where it was read

    @property
    def name(self) -> str:
        return f"{self.model}@{self.version}"

    def to_dict(self) -> dict:
        return {"model": self.model, "version": self.version, "state": self.state, "kept": self.reason,
                "since": iso(self.since) if self.since is not None else None}


@dataclass
class Keeps:
    """The walk's answer: the verdicts and the pointer bytes, kept and released."""
    main: str
    policy: Retention
    refs: int = 0
    verdicts: dict[tuple, Verdict] = field(default_factory=dict)
    kept: dict[str, bytes] = field(default_factory=dict)  # "path (blob)" -> weights.dvc bytes
    released: dict[tuple, dict[str, bytes]] = field(default_factory=dict)  # (model, n) -> pointers
    locks: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    blocked: bool = False  # something that might keep weights could not be read


def state_of(record) -> str:
    if not isinstance(record, dict):
        return "active"  # unreadable: nothing says it may go
    if record.get("status") == "deleted":
        return "deleted"
    return "archived" if record.get("stage") == "archived" else "active"


def surely_active(data: bytes | None) -> bool:
    """Bytes without the words `deleted` and `archived` are an active record (or none): no need
    to parse them, which is what a walk over thousands of records spends its time on. Sound in
    the direction that keeps: a record this misjudges is one kept, never one purged."""
    return data is None or (b"deleted" not in data and b"archived" not in data)


class Records:
    """Version records by blob, parsed once per walk however many tips share them."""

    def __init__(self):
        self.docs: dict[str, object] = {}

    def get(self, snap, path: str):
        sha = snap.sha(path)
        if sha is None:
            return snap.doc(path)
        if sha not in self.docs:
            self.docs[sha] = snap.doc(path)
        return self.docs[sha]


def _stage_of(data: bytes | None) -> str:
    """For messages only: the stage line of an active record."""
    match = _STAGE.search(data or b"")
    return match.group(1).decode() if match else "none"


def walk(git, main: str, now: int | None = None, worktree: Path | None = None, lock_paths=()) -> Keeps:
    """Judge every version with weights at `main` (a commit) and sort every weights.dvc at every
    ref tip into kept and released. InvalidRecord for a malformed retention policy."""
    snap = Snapshot.at(git, main)
    keeps = Keeps(main, snap.settings_in_force.retention)
    now = int(time.time()) if now is None else now
    records = Records()
    pending = _judge_main(snap, keeps, records)
    tips = [(ref, sha) for ref, sha in git.named_tips() if sha != main]
    keeps.refs = len(tips) + 1
    pointers = {main: _pointer_shas(snap)}
    seen_locks = set()
    protect = _lineage_at(snap, None, records)
    protect.update(_locks(keeps, _lock_docs_at(snap.settings.main_branch, snap, seen_locks)))
    for ref, sha in tips:
        tip = Snapshot(git, sha)  # not memoised: one look at each tip
        pointers.setdefault(sha, _pointer_shas(tip))
        protect.update(_held_at(ref, tip, snap, pending, pointers[sha], records))
        protect.update(_lineage_at(tip, snap, records))
        protect.update(_locks(keeps, _lock_docs_at(ref, tip, seen_locks)))
    protect.update(_locks(keeps, _lock_docs_in(worktree, lock_paths)))
    for key, reason in protect.items():
        if key in pending:
            pending.pop(key).reason = reason
    _windows(git, snap, keeps.policy, pending, now)
    _sort_pointers(git, keeps, pointers)
    return keeps


def _judge_main(snap, keeps: Keeps, records: Records) -> dict[tuple, Verdict]:
    """Verdicts for main's versions with weights.dvc; the ones only a window can keep, returned."""
    pending = {}
    for model, numbers in _with_pointers(snap).items():
        paths = {n: layout.version_file(model, n) for n in snap.versions(model)}
        snap.prefetch(paths.values())
        raw = {n: snap.read(p) for n, p in paths.items()}
        states = {n: "active" if surely_active(raw[n]) else state_of(records.get(snap, paths[n])) for n in paths}
        aliases = {}
        for alias, number in sorted(snap.aliases(model).items()):
            aliases.setdefault(number, alias)
        alive = sorted(n for n, state in states.items() if state != "deleted")
        newest = set(alive[-keeps.policy.keep_last:]) if keeps.policy.keep_last else set()
        for number in numbers:
            verdict = Verdict(model, number, states.get(number, "active"))
            if verdict.state == "active":
                verdict.reason = f"active (stage {_stage_of(raw.get(number))})"
            elif number in aliases:
                verdict.reason = f"alias {aliases[number]}"
            elif number in newest:
                verdict.reason = f"among the newest {keeps.policy.keep_last} not deleted (keep_last)"
            elif keeps.policy.window(verdict.state) is None:
                verdict.reason = f"{verdict.state}; registry.yaml sets no retention.purge_{verdict.state}_after"
            else:
                pending[(model, number)] = verdict
            keeps.verdicts[(model, number)] = verdict
    return pending


def _with_pointers(snap) -> dict[str, list[int]]:
    found = {}
    for model, number in _pointer_shas(snap):
        found.setdefault(model, []).append(number)
    return found


def _pointer_shas(snap) -> dict[tuple, tuple[str, str]]:
    """(model, n) -> (path, blob sha) of every weights.dvc in a snapshot."""
    found = {}
    for path in snap.paths():
        kind = layout.classify(path)
        if kind and kind[0] == "pointer":
            found[(kind[1], kind[2])] = (path, snap.sha(path))
    return found


def _short(ref: str) -> str:
    for prefix in ("refs/heads/", "refs/remotes/", "refs/tags/"):
        if ref.startswith(prefix):
            return ref[len(prefix):]
    return ref


def _held_at(ref: str, tip, main, pending: dict, shas: dict, records: Records) -> dict[tuple, str]:
    """The pending versions this tip keeps, with why."""
    tag = ref.startswith("refs/tags/")
    where = f"release tag {_short(ref)}" if tag else f"branch {_short(ref)}"
    found = {}
    for key, verdict in pending.items():
        path = layout.version_file(*key)
        if key not in shas and not tip.has(path):
            continue
        aliases = sorted(a for a, n in tip.aliases(key[0]).items() if n == key[1])
        if tip.sha(path) == main.sha(path):  # main's record: deleted or archived, holding no stage
            state, stage = verdict.state, "archived"
        elif not tag and surely_active(tip.read(path)):
            state, stage = "active", _stage_of(tip.read(path))
        else:
            record = records.get(tip, path)
            state = state_of(record)
            stage = record.get("stage", "none") if isinstance(record, dict) else "none"
        if aliases:
            found[key] = f"{where}: alias {aliases[0]}"
        elif tag and state != "deleted" and stage not in NOT_HELD:
            found[key] = f"{where}: stage {stage}"
        elif not tag and state == "active":
            found[key] = f"{where}: active (stage {stage})"
    return found


def _lineage_at(tip, main, records: Records) -> dict[tuple, str]:
    """Bases under the adapters a snapshot keeps alive (not deleted there). With `main` given,
    only records that differ from main's are walked (main's own walk covered the rest)."""
    found = {}
    lookup = reads.lookup(tip)
    paths = {(m, n): _version_path(m, n) for m in tip.models() for n in tip.versions(m)}
    paths = {key: p for key, p in paths.items() if p and (main is None or tip.sha(p) != main.sha(p))}
    tip.prefetch(paths.values())
    for (model, number), path in paths.items():
        if b"adapter" not in (tip.read(path) or b""):  # the word an adapter's record must hold
            continue
        record = records.get(tip, path)
        if not isinstance(record, dict) or state_of(record) == "deleted" or record.get("model_type") != "adapter":
            continue
        try:
            chain, _ = walks.walk(lookup, walks.Link(model, number, record), walks.adapters_only)
        except RegistryError:
            continue  # a malformed parent: check reports it; nothing to protect by name
        found.update({(link.model, link.version): f"base of {model}@{number} (an adapter loads on it)"
                      for link in chain[1:]})
    return found


def _version_path(model: str, number: int) -> str | None:
    try:
        return layout.version_file(model, number)
    except (RegistryError, ValueError):
        return None


def _is_lock_name(path: str) -> bool:
    name = path.rsplit("/", 1)[-1]
    return name == "models.lock" or name.endswith(LOCK_SUFFIXES)


def _lock_docs_at(ref: str, tip, seen: set) -> list[tuple[str, str, bytes]]:
    """(where, path, bytes) of the lock-named files at a tip not seen at another tip already."""
    found = []
    for path in tip.paths():
        if _is_lock_name(path) and tip.sha(path) not in seen:
            seen.add(tip.sha(path))
            found.append((f"{path} at {_short(ref)}", path, tip.read(path)))
    return found


def _lock_docs_in(worktree: Path | None, extra) -> list[tuple[str, bytes]]:
    """Lock files in the working tree (not in dot folders, weights or node_modules), and `extra`."""
    found = [Path(p) for p in extra]
    if worktree is not None:
        for dirpath, dirnames, filenames in os.walk(worktree):
            dirnames[:] = [d for d in dirnames if not d.startswith(".") and d not in _SKIP_DIRS]
            found += [Path(dirpath, n) for n in filenames if _is_lock_name(n)]
    docs = []
    for path in found:
        try:
            docs.append((str(path), path.name, path.read_bytes()))
        except OSError as exc:
            docs.append((str(path), path.name, exc))
    return docs


def _locks(keeps: Keeps, docs) -> dict[tuple, str]:
    """What the lock files among `docs` pin (every base under each entry too). A file that says
    it is a lock but cannot be read blocks every deletion."""
    from .lockfile import LOCK_VERSION, pinned_refs

    found = {}
    for where, path, data in docs:
        doc = _parse_lock(path, data)
        if doc is None:
            continue
        if doc is False or doc.get("lock_version") != LOCK_VERSION or not isinstance(doc.get("models"), dict):
            keeps.problems.append(f"{where}: a lock file that cannot be read; nothing is deleted until it "
                                  "is fixed or removed")
            keeps.blocked = True
            continue
        keeps.locks.append(where)
        for entry in doc["models"].values():
            try:
                found.update({(ref.model, ref.version): f"lock file {where}" for ref, _ in pinned_refs(entry)})
            except (KeyError, TypeError, ValueError, RegistryError):
                keeps.problems.append(f"{where}: an entry that cannot be read; nothing is deleted")
                keeps.blocked = True
    return found


def _parse_lock(path: str, data):
    """The document (dict), None when it is no modelreg lock at all (poetry.lock, Cargo.lock),
    False when it claims to be one but cannot be read."""
    if isinstance(data, Exception) or data is None:
        return False if isinstance(data, Exception) else None
    try:
        doc = json.loads(data) if str(path).endswith(".json") else load_yaml(data, str(path))
    except (ValueError, RegistryError):
        return False if b"lock_version" in data else None
    if not isinstance(doc, dict) or "lock_version" not in doc:
        return None
    return doc


def _windows(git, snap, policy: Retention, pending: dict, now: int) -> None:
    """Since when main has had each pending version in its state; keep those within the window."""
    if not pending:
        return
    ticks = {tick.commit: tick.at for tick in timeline(git, snap.commit)}
    wanted = {layout.version_file(*key): key for key in pending}
    changes = {}
    for commit, path, blob in git.path_changes(snap.commit):
        if path in wanted:
            changes.setdefault(path, []).append((commit, blob))
    for path, key in wanted.items():
        verdict = pending[key]
        first = _since(git, changes.get(path, []), verdict.state, snap.sha(path))
        window = policy.window(verdict.state)
        verdict.since = ticks.get(first) if first else None
        if verdict.since is None:
            verdict.reason = f"{verdict.state}, but main's first-parent history does not say since when"
        elif now - verdict.since < window:
            verdict.reason = (f"{verdict.state} since {iso(verdict.since)}: within "
                              f"purge_{verdict.state}_after, until {iso(verdict.since + window)}")
        if verdict.reason:
            del pending[key]


def _since(git, changes: list, state: str, tip_blob: str) -> str | None:
    """The commit of main's first-parent line from which a record has been in `state` ever since:
    walk its changes newest first (the newest is main's own record, in `state`) until one is not."""
    first = None
    for commit, blob in changes:
        if blob != tip_blob:
            data = read_blobs(git, [blob])[0] if blob.strip("0") else None
            if data is None or state.encode() not in data:  # surely not in that state then
                break
            try:
                doc = load_yaml(data, "version.yaml")
            except RegistryError:
                doc = None
            if not isinstance(doc, dict) or state_of(doc) != state:
                break
        first = commit
    return first


def _sort_pointers(git, keeps: Keeps, pointers: dict) -> None:
    """Every weights.dvc at every tip: released if its version is purgeable, else kept."""
    purgeable = {k for k, v in keeps.verdicts.items() if v.reason is None}
    blobs = {}
    for shas in pointers.values():
        for key, (path, sha) in shas.items():
            blobs.setdefault(sha, (path, set()))[1].add(key)
    data = read_blobs(git, list(blobs))
    for (sha, (path, keys)), body in zip(blobs.items(), data):
        where = f"{path} (blob {sha[:10]})"
        if body is None:
            continue
        if keys <= purgeable:
            for key in keys:
                keeps.released.setdefault(key, {})[where] = body
        else:
            keeps.kept[where] = body


@dataclass
class GcResult:
    """`modelreg gc`: the walk's verdicts, the plan over the remote's objects, what was deleted."""
    keeps: Keeps
    plan: "object"  # artifacts.retention.GcPlan
    applied: bool = False
    deleted: int = 0
    freed: int = 0

    @property
    def kept(self) -> list[Verdict]:
        return [v for v in self.keeps.verdicts.values() if v.reason is not None]

    @property
    def problems(self) -> list[str]:
        return self.keeps.problems + self.plan.problems

    @property
    def blocked(self) -> bool:
        return self.keeps.blocked or self.plan.blocked

    def to_dict(self) -> dict:
        policy, plan = self.keeps.policy, self.plan
        return {
            "main": self.keeps.main, "refs": self.keeps.refs,
            "policy": {"keep_last": policy.keep_last, "purge_deleted_after_seconds": policy.purge_deleted_after,
                       "purge_archived_after_seconds": policy.purge_archived_after},
            "purge": [p.to_dict() for p in plan.purges], "purged_before": plan.spent,
            "kept": [v.to_dict() for v in self.kept],
            "objects": len(plan.deletions), "bytes": plan.bytes,
            "shared_objects": plan.shared, "shared_bytes": plan.shared_bytes,
            "orphans": len(plan.orphans), "orphan_bytes": plan.orphan_bytes,
            "orphans_included": plan.orphans_included, "lock_files": self.keeps.locks,
            "problems": self.problems, "blocked": self.blocked,
            "applied": self.applied, "deleted": self.deleted, "freed_bytes": self.freed,
        }
