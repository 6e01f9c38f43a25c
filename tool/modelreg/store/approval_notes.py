"""Who approved a merge, as the tag workflow recorded it beside the clock (issue 22).

When `modelreg tag --observe` sees main reach a merged pull request, it writes into the same
note as its observation (refs/notes/modelreg, core/clock.py) what the forge said about it:

    Modelreg-Observed: 2026-11-20T14:03:00Z
    Modelreg-Branch: main
    Modelreg-PR: 42
    Modelreg-PR-Author: alice
    Modelreg-Merged-By: maintainer
    Modelreg-Approval: lead 2026-11-19T10:00:00Z production/1=@acme/ml-leads
    Modelreg-Approval: bob 2026-11-19T11:00:00Z -

one `Modelreg-Approval` line per approving review that counted (login, when it was
submitted, and each approval group `STAGE/N` of registry.yaml it satisfied, through which
member: a team or the login itself; `-` for none).

Notes are claims: anyone who can push can write one. A record is read only from a note the
clock counts as the workflow's observation (its shape, on main's first-parent line, dated as
the workflow dates), only when every one of its lines parses, and only when the PR number it
names is the one the commit's own message names (a message naming none leaves the record
unverified, `pr_verified: false`). Readers label it "recorded by the workflow". A record says
who approved; it never makes a state main never had appear: states come from the records.
"""
import logging
import re

from ..core.clock import BRANCH, NOTES_REF, OBSERVED, iso, witnessed

log = logging.getLogger(__name__)

PR = "Modelreg-PR"
PR_AUTHOR = "Modelreg-PR-Author"
MERGED_BY = "Modelreg-Merged-By"
APPROVAL = "Modelreg-Approval"
RECORDED_BY = "workflow"  # what every record read back says about its source

_PR_SUBJECT = re.compile(r"(?:Merge pull request #|\(#)(\d+)")
_LOGIN = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})(?:\[bot\])?"
_WHEN = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"
_MEMBER = r"@?[A-Za-z0-9_.-]+(?:/[A-Za-z0-9_.-]+)?"
_GROUP = rf"([a-z][a-z0-9_-]{{0,63}})/([1-9][0-9]{{0,2}})=({_MEMBER})"
_APPROVAL = re.compile(rf"({_LOGIN}) ({_WHEN}) (-|{_GROUP}(?:,{_GROUP})*)")


def pr_of(subject: str) -> int | None:
    """The PR number a merge or squash commit's subject names (GitHub's two forms)."""
    found = _PR_SUBJECT.search(subject or "")
    return int(found.group(1)) if found else None


def format_record(pr: int, author: str, merged_by: str | None, approvals: list[dict]) -> str:
    """The lines that follow the observation in the note (see the module docstring).
    Values that could not be read back are left out rather than written malformed."""
    lines = [f"{PR}: {int(pr)}"]
    if re.fullmatch(_LOGIN, author or ""):
        lines.append(f"{PR_AUTHOR}: {author}")
    if re.fullmatch(_LOGIN, merged_by or ""):
        lines.append(f"{MERGED_BY}: {merged_by}")
    for item in approvals:
        groups = ",".join(f"{g['stage']}/{g['group']}={g['via']}" for g in item["groups"]) or "-"
        line = f"{item['login']} {item['at']} {groups}"
        if _APPROVAL.fullmatch(line):
            lines.append(f"{APPROVAL}: {line}")
        else:
            log.warning("not recording an approval that does not fit the record's format: %r", line)
    return "\n".join(lines) + "\n"


def parse_record(note: str) -> dict | None:
    """The approval record in a note, or None when it holds none or any of its lines is malformed."""
    record, approvals = {}, []
    for line in (note or "").splitlines():
        key, sep, value = line.partition(": ")
        if not line.strip() or key in (OBSERVED, BRANCH):
            continue
        if not sep:
            return None
        value = value.strip()
        if key == PR and re.fullmatch(r"[1-9][0-9]{0,9}", value) and "pr" not in record:
            record["pr"] = int(value)
        elif key in (PR_AUTHOR, MERGED_BY) and re.fullmatch(_LOGIN, value) and key not in record:
            record[key] = value
        elif key == APPROVAL and _APPROVAL.fullmatch(value):
            approvals.append(_approval(value))
        else:
            return None  # a line the workflow does not write: the whole note is no record
    if "pr" not in record:
        return None
    return {"pr": record["pr"], "author": record.get(PR_AUTHOR), "merged_by": record.get(MERGED_BY),
            "approvals": approvals}


def _approval(value: str) -> dict:
    login, at, groups = value.split(" ", 2)
    found = []
    for item in ([] if groups == "-" else groups.split(",")):
        where, via = item.split("=", 1)
        stage, number = where.split("/")
        found.append({"stage": stage, "group": int(number), "via": via})
    return {"login": login, "at": at, "groups": found}


def records_on_line(git, main: str) -> dict[str, dict]:
    """commit -> its record, for every note on `main`'s first-parent line the clock counts as
    the workflow's observation and that holds a well-formed record (not yet checked against
    the commit's message: see `checked`)."""
    line = git.first_parent_line(main, NOTES_REF)
    counted = witnessed(line)
    found = {}
    for sha, _committed, _parents, note in line:
        if sha not in counted:
            continue
        record = parse_record(note)
        if record is not None:
            found[sha] = {**record, "observed": iso(counted[sha])}
    return found


def checked(record: dict | None, subject: str) -> dict | None:
    """The record as readers see it: labelled, its PR number checked against the commit's
    message. A record naming another PR than the message does is dropped."""
    if record is None:
        return None
    named = pr_of(subject)
    if named is not None and named != record["pr"]:
        log.warning("ignoring an approval record naming PR #%s on a commit that merged #%s", record["pr"], named)
        return None
    return {"recorded_by": RECORDED_BY, **record, "pr_verified": named is not None}


def approvals_for(git, commit: str, main: str = "main") -> dict | None:
    """Who approved the merge `commit`, as the tag workflow recorded it, or None (no record,
    a note that is no record, or a commit off main's first-parent line). For events (issue 22)."""
    sha = git.rev_parse(commit)
    record = records_on_line(git, main).get(sha)
    if record is None:
        return None
    found = git.log(sha, [], limit=1)
    return checked(record, found[0].subject if found else "")
