"""The registry's clock: when main said what. `--as-of` and `history` both read it.

Git records no push time, so "main at T" needs a witness. In order of trust:
  observed  the tag workflow (`modelreg tag --observe`, run on every push to main) writes a
            note under refs/notes/modelreg on each commit main newly reached, holding the time
            it saw main move (`Modelreg-Observed: 2026-11-20T14:03:00Z`);
  merged    otherwise a merge commit's committer date (the moment the forge or a person merged);
  claimed   otherwise the commit's own committer date: only what the author's machine said.
A commit never counts before its first parent did (times are made monotonic along main's
first-parent line), so a back-dated commit fast-forwarded in later is not "in effect" early,
and a future-dated one is not in effect until its date. An observed commit that a later
`git pull` merge pushed off the first-parent line still counts from its observation. A date
with no time means 00:00 UTC; a time with no zone means UTC.
"""
from dataclasses import dataclass
from datetime import datetime, timezone

from .errors import InvalidInput, NotFound

NOTES_REF = "refs/notes/modelreg"
OBSERVED = "Modelreg-Observed"


@dataclass(frozen=True)
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


def timeline(git, ref: str) -> list[Tick]:
    """Main's first-parent commits, oldest first, each with when it became main and why we think so."""
    ticks, floor = [], 0
    for sha, committed, parents, note in reversed(git.first_parent_line(ref, NOTES_REF)):
        seen = observed_at(note)
        source = "observed" if seen is not None else "merged" if len(parents) > 1 else "claimed"
        at = seen if seen is not None else committed
        floor = max(floor, at)
        ticks.append(Tick(sha, floor, source))
    return ticks


def observations(git, ref: str) -> dict[str, int]:
    """commit -> observed time, for observed commits `ref` reaches off its first-parent line:
    tips a `git pull` merge later pushed aside (main really was there at that time)."""
    found = {}
    for commit, note in git.notes_off_line(NOTES_REF, ref).items():
        seen = observed_at(note)
        if seen is not None:
            found[commit] = seen
    return found


def commit_before(git, ref: str, when: str) -> str:
    """The commit `ref` (main) pointed at, at time `when`, by the clock above: the latest of the
    first-parent line's answer and any observed tip (the latest witness wins)."""
    limit = parse_when(when)
    best, best_at = None, None
    for tick in timeline(git, ref):
        if tick.at > limit:
            break
        best, best_at = tick.commit, tick.at
    for commit, seen in observations(git, ref).items():
        if seen <= limit and (best_at is None or seen > best_at):
            best, best_at = commit, seen
    if best is None:
        raise NotFound(f"{ref} has no commit before {when}")
    return best
