"""`modelreg history`: the audit log, derived from Git history.

Events come from comparing records before and after each commit on the main branch's
first-parent line, so hand edits and merged pull requests show up the same way as
modelreg's own commits: who moved which alias when, through which PR.
"""
import re

from . import layout
from .errors import InvalidRecord
from .records import load_yaml

_PR = re.compile(r"(?:Merge pull request #|\(#)(\d+)")


def events(reg, model: str | None, limit: int, ref: str) -> list[dict]:
    paths = [layout.model_dir(model)] if model else [layout.ROOT]
    found = []
    for commit in reg.git.log(ref, paths, limit=limit):
        parent = commit.parents[0] if commit.parents else None
        changed = _changed(reg, parent, commit.sha, paths[0])
        pr = _PR.search(commit.subject)
        base = {"commit": commit.sha, "date": commit.date, "author": f"{commit.author} <{commit.email}>",
                "subject": commit.subject, "pr": int(pr.group(1)) if pr else None}
        for event in _diff_events(reg, parent, commit.sha, changed):
            found.append(dict(base, **event))
    return found


def _changed(reg, parent, sha, prefix) -> list[str]:
    if parent is None:
        return [p for p, _ in reg.git.ls_tree(sha, prefix)]
    return [p for _, p in reg.git.changed_paths(parent, sha, prefix)]


def _read(reg, commit, path):
    if commit is None:
        return None
    data = reg.git.read(commit, path)
    try:
        return load_yaml(data, path) if data is not None else None
    except InvalidRecord:
        return None


def _diff_events(reg, parent, sha, changed: list[str]):
    for path in sorted(changed):
        info = layout.classify(path)
        if not info:
            continue
        kind, model, number = info
        old, new = _read(reg, parent, path), _read(reg, sha, path)
        if kind == "model" and old is None and new is not None:
            yield {"event": "model.register", "model": model}
        elif kind == "version":
            yield from _version_events(model, number, old or {}, new or {})
        elif kind == "aliases":
            yield from _alias_events(model, (old or {}).get("aliases") or {}, (new or {}).get("aliases") or {})
        elif kind == "signature":  # issue 12: who signed a version, or dropped its signature, and when
            yield {"event": "version.sign" if new is not None else "version.unsign", "model": model,
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
        return f"{event['model']}@{event['version']}: {event['from']} -> {event['to']}"
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
