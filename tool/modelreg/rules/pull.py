"""The pull-request side of `check`: gates and approval groups of a Change, by the base's policy.

`pull_report(change, settings, pr, client)` evaluates the gates of every stage the change
enters and, with a PR number, the approval groups against the PR's reviews through the one
forge client. The pure parts live in `rules/` (gates, approvals) and the words in
`rules/render.py`; the names below are kept for the modules that import them from here.
"""
from dataclasses import dataclass

from ..core import layout
from ..store.change import Change, Move, entered  # noqa: F401  (re-exported)
from .approvals import POLICY, GroupResult, evaluate_approvals, required_groups, reviewers_for
from .gates import Gate, card_completeness, check_gates, metric_value, parse_condition  # noqa: F401
from .gates import gates_for as _gates_for
from .render import COMMENT_MARKER  # noqa: F401
from ..store.snapshot import Snapshot


def snapshot(reg, ref: str) -> Snapshot:
    return Snapshot.at(reg.git, reg.git.rev_parse(ref))


def compute_change(reg, base: str, head: str) -> Change:
    """What head does on top of base: records before from the base, changed paths since the fork."""
    base_sha, head_sha = reg.git.rev_parse(base), reg.git.rev_parse(head)
    # git compares the trees by hash, so unchanged folders cost nothing: a one-model PR never
    # lists the whole registry. `base...head` is what head changed since it forked from base.
    changed = reg.git.changed_paths(base_sha, head_sha) if base_sha != head_sha else []
    return Change.between(Snapshot.at(reg.git, base_sha), Snapshot.at(reg.git, head_sha), changed=changed)


def changes(reg, base: str, head: str) -> list[Move]:
    """New versions, stage moves and alias moves between two commits."""
    return compute_change(reg, base, head).moves


def gates_for(reg, head: str, moves: list[Move], settings=None) -> list[Gate]:
    snap = snapshot(reg, head)
    return _gates_for(snap, moves, settings or snap.settings)


@dataclass
class PullReport:
    base: str
    head: str
    pr: int | None
    moves: list[Move]
    gates: list[Gate]
    groups: list[GroupResult] | None  # None: approvals not checked (no PR number)
    blockers: list[str]
    problems: list[tuple[str, str, str]]
    author: str | None = None
    policy_files: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems


def _move_file(report: PullReport, stage: str) -> tuple[str, str]:
    if stage == POLICY and report.policy_files:
        return report.policy_files[0], "/"
    for move in entered(report.moves):
        if move.after == stage:
            return layout.version_file(move.model, move.version), "/stage"
    return layout.REGISTRY_FILE, f"/approvals/{stage}"


def pull_report(change: Change, settings, pr_number: int | None, client_factory=None) -> PullReport:
    """Gates and (with a PR number) approval groups of `change`, judged by `settings` (the base's).

    `client_factory()` gives the forge client; it is called only when reviews must be read."""
    gates = _gates_for(change.head, change.moves, settings)
    problems = [(g.file, g.pointer, f"gate for {g.stage} failed: {g.condition} ({g.detail})")
                for g in gates if not g.ok]
    report = PullReport(change.base.commit, change.head.commit, pr_number, change.moves, gates, None, [],
                        problems, policy_files=tuple(change.policy_files))
    groups = required_groups(settings, change.moves, report.policy_files)
    if pr_number is None or not groups:
        report.groups = [] if groups == [] else None
        return report
    client = client_factory()
    pull = client.get_pull(pr_number)
    report.author = (pull.get("user") or {}).get("login") or ""
    results, blockers = evaluate_approvals(groups, client.reviews(pr_number), report.author,
                                           (pull.get("head") or {}).get("sha"), client.is_team_member)
    report.groups, report.blockers = results, blockers
    for result in results:
        if not result.ok:
            file, pointer = _move_file(report, result.stage)
            what = "a change of policy files" if result.stage == POLICY else result.stage
            why = f"; {'; '.join(result.notes)}" if result.notes else ""
            problems.append((file, pointer, f"{what} needs an approval from one of "
                             f"{', '.join(result.members)}{why}"))
    problems += [(layout.REGISTRY_FILE, "/approvals", f"blocked: {b}") for b in blockers]
    return report
