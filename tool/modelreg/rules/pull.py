"""The pull-request side of `check`: gates and approval groups of a Change, by the base's policy.

`pull_report(change, settings, pr, client_factory)` evaluates the gates of every stage the
change enters and, with a PR number, the approval groups against the PR's reviews through
the one forge client. The pure parts live in gates.py and approvals.py, the words in render.py.
"""
from dataclasses import dataclass

from ..core import layout
from ..store.change import Change, Move, entered
from .approvals import POLICY, GroupResult, evaluate_approvals, required_groups
from .gates import Gate, gates_for


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
    gates = gates_for(change.head, change.moves, settings)
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
