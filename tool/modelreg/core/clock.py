"""The registry's clock: when main said what. `--as-of` and `history` both read it.

Git records no push time, so "main at T" needs a witness. In order of trust:
  observed  the tag workflow (`modelreg tag --observe`, run on every push to main) writes a
            note under refs/notes/modelreg on each commit main newly reached, holding the time
            it saw main move (`Modelreg-Observed: 2026-11-20T14:03:00Z`);
  merged    otherwise a merge commit's committer date (the moment the forge or a person merged);
  claimed   otherwise the commit's own committer date: only what the author's machine said.
A commit never counts before its first parent did (times are made monotonic along main's
first-parent line), so a back-dated commit fast-forwarded in later is not "in effect" early,
and a future-dated one is not in effect until its date. A date with no time means 00:00 UTC;
a time with no zone means UTC.

Notes are claims (issue 19.3): the notes ref is not branch-protected, so anyone who can push
can write one. An observation counts only as the tag workflow writes it (both its
`Modelreg-Observed` and `Modelreg-Branch` lines), only on a commit of main's first-parent line
(with main protected, every tip main ever had is on that line; a note on a commit merged in
from a branch, which was never main, is ignored), and never for a time before the commit
existed. The workflow notes main's commits in the order main reached them, never from the
future, so along the line (read newest first) an observation also counts only if it is not
later than any newer commit's counted observation, nor than now: a note cannot hold a
reviewed move out of effect past the time a newer commit was seen, or into the future. A
note that does not count leaves its commit to the merged/claimed dates, as if it were absent,
and the workflow observes that commit again. A forged note can therefore move a commit main
really had only within what its dates and its neighbours' observations allow (never before
the commit existed), and cannot put a state main never had in effect.
"""
import time
from datetime import datetime, timezone

from .errors import InvalidInput, NotFound
from .values import value

NOTES_REF = "refs/notes/modelreg"
OBSERVED = "Modelreg-Observed"
BRANCH = "Modelreg-Branch"


@value
class Tick:
    commit: str
    at: int  # seconds since the epoch, UTC
    source: str  # observed, merged or claimed

    @property
    def iso(self) -> str:
        return iso(self.at)


def now() -> str:
    """This machine's time, as records store it (created_at, deleted.at)."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_when(text: str) -> int:
    """ISO 8601 date or date-time -> epoch seconds; a bare date is 00:00 UTC."""
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except (ValueError, AttributeError):
        raise InvalidInput(f"invalid date {text!r}: use ISO 8601, e.g. 2026-11-26 or "
                           "2026-11-26T12:00:00Z") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return int(when.timestamp())


def observed_at(note: str) -> int | None:
    for line in (note or "").splitlines():
        key, sep, value = line.partition(": ")
        if sep and key == OBSERVED:
            try:
                return parse_when(value)
            except InvalidInput:
                return None
    return None


def workflow_observation(note: str, committed: int) -> int | None:
    """The observed time of a note shaped as the tag workflow writes it, unless it claims main
    reached the commit before the commit existed (then it is no witness: None)."""
    if not any(line.startswith(f"{BRANCH}: ") and line[len(BRANCH) + 2:].strip()
               for line in (note or "").splitlines()):
        return None
    seen = observed_at(note)
    return seen if seen is not None and seen >= committed else None


def witnessed(line, now: int | None = None) -> dict[str, int]:
    """commit -> observed time, for the notes on a first-parent line (newest first, as
    `first_parent_line` gives it) that count: shaped and dated as the tag workflow writes them,
    and not later than now or than any newer commit's counted observation."""
    ceiling = int(time.time()) if now is None else now
    found = {}
    for sha, committed, _parents, note in line:
        seen = workflow_observation(note, committed)
        if seen is not None and seen <= ceiling:
            found[sha] = ceiling = seen
    return found


def timeline(git, ref: str) -> list[Tick]:
    """Main's first-parent commits, oldest first, each with when it became main and why we think so."""
    ticks, floor = [], 0
    line = git.first_parent_line(ref, NOTES_REF)
    observed = witnessed(line)
    for sha, committed, parents, _note in reversed(line):
        seen = observed.get(sha)
        source = "observed" if seen is not None else "merged" if len(parents) > 1 else "claimed"
        at = seen if seen is not None else committed
        floor = max(floor, at)
        ticks.append(Tick(sha, floor, source))
    return ticks


def commit_before(git, ref: str, when: str) -> str:
    """The commit `ref` (main) pointed at, at time `when`, by the clock above."""
    limit = parse_when(when)
    best = None
    for tick in timeline(git, ref):
        if tick.at > limit:
            break
        best = tick.commit
    if best is None:
        raise NotFound(f"{ref} has no commit before {when}")
    return best
