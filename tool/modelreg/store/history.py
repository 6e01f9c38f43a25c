"""`modelreg history`: the audit log, derived from Git history.

Each commit on the main branch's first-parent line is read as a `Change` from its first
parent (the same value `check` judges a pull request by), so hand edits and merged pull
requests show up the same way as modelreg's own commits: who moved which alias when,
through which PR.

When: the registry's clock (core/clock.py), the same one `--as-of` reads: the time the tag
workflow observed main reach the commit, else a merge commit's date, else the commit's own
date, which is marked `claimed` (the author's machine said so; nothing witnessed it).
Who: the author of the commit that made the change. For a merge (a pull request, or a
`git pull` that merged someone else's work) that is the newest commit on the merged side that
touched the record, not the person who merged; the merger is kept as `merged_by`.
"""
import re

from ..core import layout
from ..core.clock import iso, parse_when, timeline
from ..core.names import is_name
from .approval_notes import checked, pr_of, records_on_line
from .change import Change
from .snapshot import Snapshot, record_history

_REASON = re.compile(r"^Modelreg-Reason: (.+)$", re.M)
EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"  # what a root commit's parent would hold


def events(git, model: str | None, limit: int, ref: str, since: str | None = None) -> list[dict]:
    """The events of the last `limit` commits on `ref` touching `model` (or any model), newest first.

    `since` (a commit on `ref`'s first-parent line): only the commits after it (a site rebuild
    adds them to the events it kept)."""
    prefix = layout.model_dir(model) if model else layout.ROOT
    clock = {tick.commit: tick for tick in timeline(git, ref)}
    records = records_on_line(git, ref)  # who approved, as the tag workflow recorded it (issue 22)
    found = []
    for commit in git.log(f"{since}..{ref}" if since else ref, [prefix], limit=limit):
        base = event_base(commit, clock.get(commit.sha), records)
        for path, event in change_events(commit_change(git, commit, prefix)):
            found.append({**base, **_who(git, commit, path), **event})
    return found


def event_base(commit, tick, records: dict) -> dict:
    """What every event of `commit` says about the commit: when (main's clock), its subject, PR
    and approval record. Only the clock and the records can change for a commit already seen."""
    return {"commit": commit.sha, "date": tick.iso if tick else _utc(commit.date),
            "clock": tick.source if tick else "claimed", "subject": commit.subject,
            "pr": pr_of(commit.subject),
            "approvals": checked(records.get(commit.sha), commit.subject) if tick else None}


def commit_change(git, commit, prefix: str) -> Change:
    """What `commit` did under `prefix`, against its first parent (a root commit: against nothing)."""
    parent = commit.parents[0] if commit.parents else None
    if parent is None:
        changed = [("A", p) for p, _ in git.ls_tree(commit.sha, prefix)]
    else:
        changed = git.changed_paths(parent, commit.sha, prefix)
    return Change.between(Snapshot.at(git, parent or EMPTY_TREE), Snapshot.at(git, commit.sha), changed=changed,
                          exact=True)


# Every event name is NOUN.VERB, one vocabulary for history, `--json` of the write commands and
# the site: model.register, version.create, version.stage, version.delete, version.sign,
# version.unsign, version.remove, alias.set, alias.remove, card.update (and the metadata edits' model.*/version.tag*).
METADATA_EVENTS = ("model.update", "model.deprecate", "model.undeprecate", "version.tag", "version.untag")


def change_events(change: Change):
    """(path, event) for what a change did, in path order: registrations, stage moves, deletions,
    alias moves, signatures added or removed."""
    found = []
    for model, mc in change.models.items():
        if not is_name(model):
            continue  # a folder no model can be named (check flags it): no event, and no stop
        if layout.model_file(model) in mc.paths and mc.exists and not mc.existed:
            found.append((layout.model_file(model), {"event": "model.register", "model": model}))
        elif layout.model_file(model) in mc.paths and mc.exists:
            found += [(layout.model_file(model), e) for e in _model_events(mc)]
        for number in mc.differing():
            found += [(layout.version_file(model, number), e) for e in _version_events(mc, number)]
        if mc.aliases_differ():
            found += [(layout.aliases_file(model), e)
                      for e in _alias_events(model, mc.aliases_before, mc.aliases_after)]
    for status, path in change.changed:
        info = layout.classify(path)
        if info and info[0] == "signature":  # issue 12: who signed a version, or dropped its signature
            found.append((path, {"event": "version.sign" if status != "D" else "version.unsign",
                                 "model": info[1], "version": info[2]}))
        elif info and info[0] == "card" and info[1] in change.models \
                and change.models[info[1]].base.version(info[1], info[2]):  # not a new version's own card
            found.append((path, {"event": "card.update", "model": info[1], "version": info[2]}))
    return sorted(found, key=lambda item: item[0])


def _version_events(mc, number: int):
    old, new = mc.base.version(mc.model, number) or {}, mc.head.version(mc.model, number) or {}
    if not old and new:
        yield {"event": "version.create", "model": mc.model, "version": number, "stage": new.get("stage")}
        return
    if old and not new:  # a version main never shared, removed on a branch (writes/versions.delete_version)
        yield {"event": "version.remove", "model": mc.model, "version": number}
        return
    if old.get("stage") != new.get("stage"):
        yield {"event": "version.stage", "model": mc.model, "version": number, "from": old.get("stage"),
               "to": new.get("stage")}
    if old.get("status") != new.get("status") and new.get("status") == "deleted":
        yield {"event": "version.delete", "model": mc.model, "version": number,
               "reason": (new.get("deleted") or {}).get("reason")}
    before, after = old.get("tags") or {}, new.get("tags") or {}
    if before != after:  # `version tag` / `version untag` (issue 20)
        yield {"event": "version.tag" if any(before.get(k) != v for k, v in after.items()) else "version.untag",
               "model": mc.model, "version": number, "from": before, "to": after}


def _model_events(mc):
    """model.yaml edited: `model set` (description, owners, tags) and `model deprecate`/`undeprecate`."""
    from .reads import deprecation

    old, new = mc.base.model(mc.model) or {}, mc.head.model(mc.model) or {}
    changed = sorted(k for k in ("description", "owners", "tags") if old.get(k) != new.get(k))
    if changed:
        yield {"event": "model.update", "model": mc.model, "changed": changed}
    was, now = deprecation(old), deprecation(new)
    if now and now != was:
        yield {"event": "model.deprecate", "model": mc.model, "reason": now.get("reason")}
    elif was and not now:
        yield {"event": "model.undeprecate", "model": mc.model}


def _alias_events(model, old: dict, new: dict):
    for alias in sorted(set(old) | set(new)):
        if old.get(alias) != new.get(alias):
            yield {"event": "alias.set" if alias in new else "alias.remove", "model": model, "alias": alias,
                   "from": old.get(alias),
                   "to": new.get(alias)}


def _who(git, commit, path: str) -> dict:
    """The author of the change to `path` that `commit` brought to main, and its reason."""
    source = commit
    if len(commit.parents) > 1:  # a merge: credit the merged side's commit, not the merger
        touched = git.log(f"{commit.parents[0]}..{commit.parents[1]}", [path], limit=1, first_parent=False)
        source = touched[0] if touched else commit
    reason = _REASON.search(source.body)
    who = {"author": f"{source.author} <{source.email}>", "authored": _utc(source.date),
           "reason": reason.group(1).strip() if reason else None}
    if source is not commit:
        who.update(merged_by=f"{commit.author} <{commit.email}>", via=source.sha)
    return who


def _utc(date: str) -> str:
    return iso(parse_when(date))


def stages_held(git, base: str):
    """`held(model, n)`: every stage the version held on `base`'s first-parent history (the
    rollback rule: only a version that held a stage may return to it from archived)."""
    def held(model: str, number: int) -> set[str]:
        path = layout.version_file(model, number)
        commits = [c.sha for c in git.log(base, [path])]
        return {doc.get("stage", "none") for doc in record_history(git, commits, path)
                if isinstance(doc, dict) and doc.get("status") != "deleted"}
    return held


def describe(event: dict) -> str:
    kind = event["event"]
    if kind == "model.register":
        return f"registered model {event['model']}"
    if kind == "version.create":
        return f"registered {event['model']}@{event['version']}"
    if kind == "version.stage":
        why = f" (reason: {event['reason']})" if event.get("reason") else ""
        return f"{event['model']}@{event['version']}: {event['from']} -> {event['to']}{why}"
    if kind == "card.update":
        return f"updated the card of {event['model']}@{event['version']}"
    if kind == "version.remove":
        return f"removed {event['model']}@{event['version']} (never on the shared main)"
    if kind == "version.delete":
        return f"deleted {event['model']}@{event['version']} ({event.get('reason')})"
    why = f" (reason: {event['reason']})" if event.get("reason") else ""
    if kind == "model.update":
        return f"updated model {event['model']}: {', '.join(event['changed'])}{why}"
    if kind == "model.deprecate":
        return f"deprecated model {event['model']} ({event.get('reason')})"
    if kind == "model.undeprecate":
        return f"model {event['model']} no longer deprecated{why}"
    if kind in ("version.tag", "version.untag"):
        old, new = event["from"], event["to"]
        done = [f"{k}={v}" for k, v in sorted(new.items()) if old.get(k) != v]
        done += [f"-{k}" for k in sorted(old) if k not in new]
        verb = "tagged" if kind == "version.tag" else "untagged"
        return f"{verb} {event['model']}@{event['version']}: {', '.join(done)}{why}"
    if kind in ("version.sign", "version.unsign"):
        done = "signed" if kind == "version.sign" else "removed the signature of"
        return f"{done} {event['model']}@{event['version']}"
    if kind in ("alias.set", "alias.remove"):
        if kind == "alias.remove":
            return f"removed alias {event['model']}@{event['alias']} (was {event['from']})"
        was = f"{event['from']} -> " if event["from"] is not None else "-> "
        return f"alias {event['model']}@{event['alias']}: {was}{event['to']}"
    return kind
