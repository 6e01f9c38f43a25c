"""Typed events from main's history: what each commit of main's first-parent line did.

Each commit is read as a `Change` against its first parent (the value `check` and `history`
use), so hand edits, merged pull requests and modelreg's own commits yield the same events:

    model.registered   a model.yaml appeared
    version.created    a version was registered (after: the stage it entered)
    stage.changed      a version's stage moved (before -> after)
    alias.moved        an alias was set, moved or removed (before -> after: versions; None when absent)
    version.deleted    a merged version was soft-deleted or removed (before: its stage)
    policy.changed     registry.yaml, CODEOWNERS, schemas, CI or a signer's key changed (files)

Every event carries the commit, the PR number its merge names (None if none) and the time
from the registry's clock (core/clock.py: observed, merged or claimed), and an id derived from
(commit, type, model, version, alias): the same event always has the same id.
"""
import hashlib
import re

from ..core import layout
from ..core.clock import timeline
from ..core.errors import InvalidInput
from ..core.names import is_name
from ..core.settings import EVENT_TYPES
from ..store.approval_notes import checked, records_on_line
from ..store.change import RECORD_KINDS
from ..store.history import commit_change

_PR = re.compile(r"(?:Merge pull request #|\(#)(\d+)")
_PR_TRAILER = re.compile(r"^(?:Modelreg-PR|PR): #?(\d+)\s*$", re.M)
DEFAULT_LIMIT = 100  # commits read when no --since is given


def main_events(git, until: str, since: str | None = None, limit: int | None = None) -> list[dict]:
    """The events of the first-parent commits in (since, until], oldest first. Without `since`,
    the last `limit` commits (DEFAULT_LIMIT)."""
    return events_of(git, until, commits_between(git, until, since, limit))


def commits_between(git, until: str, since: str | None = None, limit: int | None = None) -> list:
    """First-parent commits of `until` after `since`, oldest first (store Commit values)."""
    head = git.rev_parse(until)
    if since is None:
        return list(reversed(git.log(head, [], limit=limit or DEFAULT_LIMIT)))
    start = git.rev_parse(since)
    if start != head and not git.is_ancestor(start, head):
        raise InvalidInput(f"{since} ({start[:10]}) is not in the history of {until}: give a commit or tag "
                           f"{until} had")
    return list(reversed(git.log(f"{start}..{head}", []))) if start != head else []


def events_of(git, until: str, commits: list) -> list[dict]:
    """The events of `commits` (oldest first), dated by `until`'s clock."""
    clock = {tick.commit: tick for tick in timeline(git, until)} if commits else {}
    approved = records_on_line(git, until) if commits else {}
    found = []
    for commit in commits:
        tick = clock.get(commit.sha)
        base = {"commit": commit.sha, "pr": pr_number(commit),
                "time": tick.iso if tick else None, "clock": tick.source if tick else "claimed",
                # who approved the merge, as the tag workflow recorded it (a claim, labelled so)
                "approvals": checked(approved.get(commit.sha), commit.subject)}
        found += [_with_id({**event, **base}) for event in change_events(commit_change(git, commit, "."))]
    return found


def pr_number(commit) -> int | None:
    """The PR a commit says it merged: a forge merge ("Merge pull request #12"), a squash
    ("title (#12)"), or a `Modelreg-PR: 12` trailer."""
    found = _PR.search(commit.subject) or _PR_TRAILER.search(commit.body or "")
    return int(found.group(1)) if found else None


def change_events(change) -> list[dict]:
    """The typed events of one Change, model by model (registration, versions, aliases,
    deletions), then the policy change."""
    found = []
    for model, mc in change.models.items():
        if not is_name(model):
            continue  # a folder no model can be named (check flags it): no event, and no stop
        if layout.model_file(model) in mc.paths and mc.exists and not mc.existed:  # the paths first: no listing
            found.append(_event("model.registered", model))
        for move in change.moves:
            if move.model != model:
                continue
            if move.kind == "version":
                found.append(_event("version.created", model, move.version, after=move.after))
            elif move.kind == "stage":
                found.append(_event("stage.changed", model, move.version, before=move.before, after=move.after))
            else:
                found.append(_event("alias.moved", model, move.version, alias=move.name, before=move.before,
                                    after=move.after))
        found += _deletions(mc)
    if any(not _is_record(path) for path in change.paths) and change.policy_files:
        found.append(_event("policy.changed", None, files=list(change.policy_files)))
    return found


def _deletions(mc) -> list[dict]:
    """Merged versions the commit soft-deleted or removed (Change.deleted_versions, reading only
    the versions whose record changed: a model's other versions cost nothing)."""
    found = []
    for number in mc.differing():
        old, new = mc.base.version(mc.model, number), mc.head.version(mc.model, number)
        if old and (new is None or (new.get("status") == "deleted" and old.get("status") != "deleted")):
            found.append(_event("version.deleted", mc.model, number, before=old.get("stage"), after="deleted",
                                reason=((new or {}).get("deleted") or {}).get("reason")))
    return found


def _is_record(path: str) -> bool:
    """A record or a signature: never policy (a signer's key named by registry.yaml is kept elsewhere)."""
    info = layout.classify(path)
    return bool(info) and info[0] in RECORD_KINDS + ("signature",)


def _event(kind: str, model: str | None, version: int | None = None, alias: str | None = None,
           before=None, after=None, **extra) -> dict:
    if kind not in EVENT_TYPES:  # the vocabulary webhooks subscribe to is core/settings.EVENT_TYPES
        raise ValueError(kind)
    return {"type": kind, "model": model, "version": version, "alias": alias, "before": before,
            "after": after, **extra}


def _with_id(event: dict) -> dict:
    key = "\0".join(str(event.get(k)) for k in ("commit", "type", "model", "version", "alias"))
    return {"id": "evt_" + hashlib.sha256(key.encode()).hexdigest()[:24], **event}


def describe(event: dict) -> str:
    """One line for a person (the table, a Slack message)."""
    kind, model, n = event["type"], event.get("model"), event.get("version")
    if kind == "model.registered":
        return f"registered model {model}"
    if kind == "version.created":
        return f"registered {model}@{n} (enters {event['after']})"
    if kind == "stage.changed":
        return f"{model}@{n}: {event['before']} -> {event['after']}"
    if kind == "alias.moved":
        if event["after"] is None:
            return f"removed alias {model}@{event['alias']} (was {event['before']})"
        was = f"{event['before']} -> " if event["before"] is not None else "-> "
        return f"alias {model}@{event['alias']}: {was}{event['after']}"
    if kind == "version.deleted":
        why = f" ({event['reason']})" if event.get("reason") else ""
        return f"deleted {model}@{n}{why}"
    files = event.get("files") or []
    more = f" (+{len(files) - 3} more)" if len(files) > 3 else ""
    return f"policy changed: {', '.join(files[:3])}{more}"
