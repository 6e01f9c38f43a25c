"""`modelreg history`: the audit log, derived from Git history.

Events come from comparing records before and after each commit on the main branch's
first-parent line, so hand edits and merged pull requests show up the same way as
modelreg's own commits: who moved which alias when, through which PR.

When: the registry's clock (clock.py), the same one `--as-of` reads: the time the tag
workflow observed main reach the commit, else a merge commit's date, else the commit's own
date, which is marked `claimed` (the author's machine said so; nothing witnessed it).
Who: the author of the commit that made the change. For a merge (a pull request, or a
`git pull` that merged someone else's work) that is the newest commit on the merged side that
touched the record, not the person who merged; the merger is kept as `merged_by`.
"""
import re

from ..core import layout
from ..core.clock import iso, observations, parse_when, timeline
from .snapshot import Snapshot

_PR = re.compile(r"(?:Merge pull request #|\(#)(\d+)")
_REASON = re.compile(r"^Modelreg-Reason: (.+)$", re.M)


def events(reg, model: str | None, limit: int, ref: str) -> list[dict]:
    paths = [layout.model_dir(model)] if model else [layout.ROOT]
    clock = {tick.commit: tick for tick in timeline(reg.git, ref)}
    seen = observations(reg.git, ref)
    found = []
    for commit in reg.git.log(ref, paths, limit=limit):
        parent = commit.parents[0] if commit.parents else None
        changed = _changed(reg, parent, commit.sha, paths[0])
        pr = _PR.search(commit.subject)
        tick = clock.get(commit.sha)
        base = {"commit": commit.sha, "date": tick.iso if tick else _utc(commit.date),
                "clock": tick.source if tick else "claimed", "subject": commit.subject,
                "pr": int(pr.group(1)) if pr else None}
        _load(reg, (parent, commit.sha), changed)
        for path, event in _diff_events(reg, parent, commit.sha, changed):
            found.append({**base, **_who(reg, commit, path, seen), **event})
    return found


def _who(reg, commit, path: str, seen: dict) -> dict:
    """The author of the change to `path` that `commit` brought to main, and its reason; when
    that change was observed on main before a merge pushed it aside, that time."""
    source = commit
    if len(commit.parents) > 1:  # a merge: credit the merged side's commit, not the merger
        touched = reg.git.log(f"{commit.parents[0]}..{commit.parents[1]}", [path], limit=1, first_parent=False)
        source = touched[0] if touched else commit
    reason = _REASON.search(source.body)
    who = {"author": f"{source.author} <{source.email}>", "authored": _utc(source.date),
           "reason": reason.group(1).strip() if reason else None}
    if source is not commit:
        who.update(merged_by=f"{commit.author} <{commit.email}>", via=source.sha)
        if source.sha in seen:
            who.update(date=iso(seen[source.sha]), clock="observed")
    return who


def _utc(date: str) -> str:
    return iso(parse_when(date))


def _changed(reg, parent, sha, prefix) -> list[str]:
    if parent is None:
        return [p for p, _ in reg.git.ls_tree(sha, prefix)]
    return [p for _, p in reg.git.changed_paths(parent, sha, prefix)]


def _load(reg, commits, changed: list[str]) -> None:
    """Parse a commit's changed records, before and after, in one batch each (a registry's
    first commit can add every record; one read per file took seconds at 10,000 versions)."""
    records = [p for p in changed if layout.classify(p)]
    for commit in commits:
        if commit is not None and records:
            Snapshot.at(reg.git, commit).load(records)


def _read(reg, commit, path):
    return Snapshot.at(reg.git, commit).doc(path) if commit is not None else None


def _diff_events(reg, parent, sha, changed: list[str]):
    for path in sorted(changed):
        info = layout.classify(path)
        if not info:
            continue
        kind, model, number = info
        old, new = _read(reg, parent, path), _read(reg, sha, path)
        if kind == "model" and old is None and new is not None:
            yield path, {"event": "model.register", "model": model}
        elif kind == "version":
            for event in _version_events(model, number, old or {}, new or {}):
                yield path, event
        elif kind == "aliases":
            for event in _alias_events(model, (old or {}).get("aliases") or {}, (new or {}).get("aliases") or {}):
                yield path, event
        elif kind == "signature":  # issue 12: who signed a version, or dropped its signature, and when
            yield path, {"event": "version.sign" if new is not None else "version.unsign", "model": model,
                         "version": number}


def _version_events(model, number, old, new):
    if not old and new:
        yield {"event": "version.create", "model": model, "version": number, "stage": new.get("stage")}
        return
    if old.get("stage") != new.get("stage"):
        yield {"event": "stage", "model": model, "version": number, "from": old.get("stage"),
               "to": new.get("stage")}
    if old.get("status") != new.get("status") and new.get("status") == "deleted":
        yield {"event": "version.delete", "model": model, "version": number,
               "reason": (new.get("deleted") or {}).get("reason")}


def _alias_events(model, old: dict, new: dict):
    for alias in sorted(set(old) | set(new)):
        if old.get(alias) != new.get(alias):
            yield {"event": "alias", "model": model, "alias": alias, "from": old.get(alias),
                   "to": new.get(alias)}


def describe(event: dict) -> str:
    kind = event["event"]
    if kind == "model.register":
        return f"registered model {event['model']}"
    if kind == "version.create":
        return f"registered {event['model']}@{event['version']}"
    if kind == "stage":
        why = f" (reason: {event['reason']})" if event.get("reason") else ""
        return f"{event['model']}@{event['version']}: {event['from']} -> {event['to']}{why}"
    if kind == "version.delete":
        return f"deleted {event['model']}@{event['version']} ({event.get('reason')})"
    if kind in ("version.sign", "version.unsign"):
        done = "signed" if kind == "version.sign" else "removed the signature of"
        return f"{done} {event['model']}@{event['version']}"
    if kind == "alias":
        if event["to"] is None:
            return f"removed alias {event['model']}@{event['alias']} (was {event['from']})"
        was = f"{event['from']} -> " if event["from"] is not None else "-> "
        return f"alias {event['model']}@{event['alias']}: {was}{event['to']}"
    return kind
