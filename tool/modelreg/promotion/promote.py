"""Changes by pull request: a registry write on a new branch, pushed, with a PR that explains it.

`propose(tree, model, action, title, write)` creates and checks out `modelreg/<model>-<action>-<n>`
from the main branch, runs `write()` (any write of writes/: one commit), switches back,
pushes the branch to origin and, with a forge configured, opens the pull request and requests
the reviewers the policy's approval groups need. Without a forge it returns what to open.
The PR body is built from the records at both ends: what moves, metric deltas against the
current production version, card completeness, lineage and the gates' results.
"""
import logging
from contextlib import contextmanager
from dataclasses import dataclass, field

from ..core import layout
from ..core.errors import ExternalError, InvalidInput, RegistryError
from ..core.names import check_name
from ..core.refs import parse_version
from ..rules.approvals import required_groups, reviewers_for
from ..rules.gates import card_completeness, gates_for, metric_value
from ..store import reads
from ..store.change import compute, entered
from ..store.gitstore import origin_url
from ..writes.stages import transition_stage

log = logging.getLogger(__name__)
ACTIONS = ("promote", "rollback", "version", "alias", "stage", "sign", "model", "deprecate", "tag")


@dataclass
class Proposal:
    branch: str
    base: str
    title: str
    body: str
    result: object
    pushed: bool = False
    pull: dict | None = None
    reviewers: dict = field(default_factory=dict)
    gates_failed: list[str] = field(default_factory=list)

    @property
    def next_step(self) -> str:
        if self.pull:
            return f"opened pull request #{self.pull['number']}: {self.pull.get('html_url', '')}"
        where = "pushed to origin" if self.pushed else "not pushed (no origin remote)"
        return (f"branch {self.branch} {where}; no forge is configured, so open a pull request "
                f"from {self.branch} into {self.base} titled {self.title!r} with the body below")

    def to_dict(self) -> dict:
        return {"branch": self.branch, "base": self.base, "title": self.title, "pushed": self.pushed,
                "pull_request": ({"number": self.pull["number"], "url": self.pull.get("html_url")}
                                 if self.pull else None),
                "reviewers": self.reviewers, "gates_failed": self.gates_failed,
                "next_step": self.next_step, "body": self.body}


def branch_name(tree, model: str, action: str) -> str:
    if action not in ACTIONS:
        raise InvalidInput(f"unknown action {action!r}")
    prefix = f"modelreg/{check_name(model)}-{action}-"
    taken = [b[len(prefix):] for b in tree.git.branches.names(prefix + "*")]
    numbers = [int(t) for t in taken if t.isdigit()]
    return f"{prefix}{max(numbers, default=0) + 1}"


@contextmanager
def on_branch(tree, model: str, action: str):
    """Check out a fresh branch from main for one write; always come back; drop it on failure."""
    ops = tree.git.branches
    start = tree.git.current_branch() or tree.main_branch
    branch = branch_name(tree, model, action)
    ops.checkout(branch, create_from=tree.main_branch)
    ok = False
    try:
        yield branch
        ok = True
    finally:
        ops.checkout(start)
        tree.drop_branch_leftovers(model)
        if not ok:
            ops.delete(branch)


def forge_client(tree):
    """The GitHub client when a forge is configured (fails early on a missing token), else None."""
    from .forge import github

    settings = tree.settings
    if not github.configured(settings):
        return None
    return github.GitHub.from_env(settings, origin_url(tree.root))


def propose(tree, model: str, action: str, title: str, write, note: str | None = None) -> Proposal:
    client = forge_client(tree)
    with on_branch(tree, model, action) as branch:
        result = write()
    pushed = []
    try:
        return _publish(tree, client, branch, title, result, note, pushed)
    except BaseException:
        _drop_branch(tree, branch, remote=bool(pushed))  # the next try starts clean, same number
        raise


def extend(tree, branch: str, model: str, title: str, write, note: str | None = None) -> Proposal:
    """One more write on an open proposal's branch, pushed to the same pull request (MLflow's
    `register_model` registers a model, then its first version: one review, not two). On any
    failure the branch is put back where it was, here and on origin."""
    client = forge_client(tree)
    ops = tree.git.branches
    start = tree.git.current_branch() or tree.main_branch
    before = tree.git.rev_parse(f"refs/heads/{branch}")
    ops.checkout(branch)
    try:
        result = write()
    finally:
        ops.checkout(start)
        tree.drop_branch_leftovers(model)
    pushed = []
    try:
        return _publish(tree, client, branch, title, result, note, pushed)
    except BaseException:
        ops.run("branch", "--quiet", "-f", branch, before)
        if pushed:
            try:
                ops.push(f"+refs/heads/{branch}:refs/heads/{branch}")
            except RegistryError as exc:
                log.warning("could not put %s back on origin: %s; reset it by hand", branch, exc)
        raise


def _drop_branch(tree, branch: str, remote: bool) -> None:
    """Undo a proposal that failed after its commit: its local branch, and the pushed one."""
    ops = tree.git.branches
    if remote:
        try:
            ops.push(f":refs/heads/{branch}")
        except RegistryError as exc:
            log.warning("could not delete the pushed branch %s on origin: %s; delete it by hand", branch, exc)
    ops.delete(branch)


def _publish(tree, client, branch: str, title: str, result, note, pushed: list) -> Proposal:
    change = compute(tree.git, tree.main_branch, branch)
    settings = change.base.settings_in_force
    gates = gates_for(change.head, change.moves, settings)
    proposal = Proposal(branch, tree.main_branch, title, render_body(change, title, gates, settings, note),
                        result, gates_failed=[f"{g.stage}: {g.condition} ({g.detail})" for g in gates if not g.ok])
    if tree.git.branches.has_remote("origin"):
        pushed.append(branch)  # before the push: a push that fails halfway may still have landed
        tree.git.branches.push(f"refs/heads/{branch}:refs/heads/{branch}")
        proposal.pushed = True
    users, teams = reviewers_for(required_groups(settings, change.moves))
    proposal.reviewers = {"users": users, "teams": teams}
    if client is not None:
        if not proposal.pushed:
            raise ExternalError(f"branch {branch} was committed but there is no 'origin' remote to push "
                                "it to; add one ('git remote add origin URL') and push it")
        _open_pull(client, proposal, users, teams)
    return proposal


def _open_pull(client, proposal: Proposal, users: list[str], teams: list[str]) -> None:
    proposal.pull = client.find_pull(proposal.branch) or client.create_pull(
        proposal.title, proposal.branch, proposal.base, proposal.body)
    author = ((proposal.pull.get("user") or {}).get("login") or "").lower()
    users = [u for u in users if u.lower() != author]  # GitHub refuses to request the author
    if users or teams:
        try:
            client.request_reviewers(proposal.pull["number"], users, teams)
        except RegistryError as exc:
            # the PR is open; missing review requests are worth a warning, not a failure
            log.warning("could not request reviewers on #%s: %s", proposal.pull["number"], exc)


# -- the words -------------------------------------------------------------------------------
def current_production(snap, model: str, settings) -> tuple[int, dict] | None:
    stage = "production" if "production" in settings.stages else (settings.exclusive_stages or [None])[-1]
    holders = [(n, v) for n, v in snap.all_versions(model).items()
               if v.get("stage") == stage and v.get("status") != "deleted"]
    return holders[-1] if holders else None


def metric_table(old: dict | None, new: dict) -> list[str]:
    names = []
    for record in (new, old or {}):
        for m in record.get("metrics") or []:
            key = f"{m.get('benchmark')}/{m.get('metric')}"
            if key not in names:
                names.append(key)
    rows = []
    for key in names:
        benchmark, metric = key.split("/", 1)
        a = metric_value(old, benchmark, metric) if old else None
        b = metric_value(new, benchmark, metric)
        delta = f"{b - a:+.4g}" if a is not None and b is not None else "n/a"
        rows.append(f"| {key} | {_num(a)} | {_num(b)} | {delta} |")
    return rows


def _num(value) -> str:
    return "—" if value is None else f"{value:.4g}"


def metadata_edits(change) -> list[str]:
    """What a change does besides moves: model.yaml edits, deprecations, version tags (issue 20)."""
    from ..store.history import METADATA_EVENTS, change_events, describe

    return [describe(event) for _, event in change_events(change) if event["event"] in METADATA_EVENTS]


def render_body(change, title, gates, settings, note=None) -> str:
    """The PR body: what moves, and per version entering a stage its metrics against production,
    chat template, card completeness and lineage; then the gates and the approvals required."""
    moves = change.moves
    lines = [f"## {title}", ""] + ([f"> {note}", ""] if note else []) + ["### What moves"]
    primary = sorted(moves, key=lambda m: (m.kind == "alias", m.after == "archived"))
    lines += [f"- {m.describe()}" for m in primary] + [f"- {edit}" for edit in metadata_edits(change)] \
        or ["- nothing (no record changes)"]
    for move in entered(moves):
        if move.after == "archived":
            continue  # the archived side of an exclusive move is listed above; no section
        lines += _version_section(change.base, change.head, move, settings)
    lines += ["", "### Gates"]
    lines += [f"- {'✅' if g.ok else '❌'} {g.model}@{g.version} → {g.stage}: `{g.condition}` ({g.detail})"
              for g in gates] or ["- no gates apply to the stages entered"]
    groups = required_groups(settings, moves)
    lines += ["", "### Approvals required"]
    lines += [f"- {stage}: one of {', '.join(group)}" + ("" if allow else " (not the author)")
              for stage, group, allow in groups] or ["- none"]
    lines += ["", "<sub>Opened by `modelreg`. Merging this pull request is the change; the "
              "`modelreg check` status enforces transitions, gates and approval groups.</sub>"]
    return "\n".join(lines) + "\n"


def _version_section(before, after, move, settings) -> list[str]:
    record = after.version(move.model, move.version) or {}
    lines = ["", f"### {move.model}@{move.version}"]
    prod = current_production(before, move.model, settings)
    if prod and prod[0] != move.version:
        lines += [f"Metrics against current production ({move.model}@{prod[0]}):", "",
                  f"| metric | @{prod[0]} (production) | @{move.version} | delta |", "|---|---|---|---|"]
        lines += metric_table(prod[1], record) or ["| (no metrics recorded) | | | |"]
    else:
        lines += ["Metrics (no other version in production to compare with):", "",
                  f"| metric | — | @{move.version} | delta |", "|---|---|---|---|"]
        lines += metric_table(None, record) or ["| (no metrics recorded) | | | |"]
    lines += template_diff(before, after, move, prod)
    done, total, missing = card_completeness(after.card(move.model, move.version) or {})
    lines += ["", f"Card: {done}/{total} fields filled" + (f"; missing: {', '.join(missing)}" if missing else "")]
    try:
        chain = reads.lineage(after, reads.pinned(after, move.model, move.version))
        lines.append("Lineage: " + " ← ".join(
            f"{r.model}@{r.version} ({r.record.get('model_type')})" for r in chain))
    except RegistryError as exc:
        lines.append(f"Lineage: broken ({exc})")
    return lines


def template_diff(before, after, move, prod) -> list[str]:
    """The chat template against production's: executable text that changes behaviour (issue 12)."""
    import difflib

    new = after.read(layout.template_file(move.model, move.version))
    old = before.read(layout.template_file(move.model, prod[0])) if prod else None
    if new == old or prod is None or prod[0] == move.version:
        return [] if new == old or new is None else ["", "Chat template: new (no production version to compare with)"]
    diff = difflib.unified_diff((old or b"").decode("utf-8", "replace").splitlines(),
                                (new or b"").decode("utf-8", "replace").splitlines(),
                                f"@{prod[0]} (production)", f"@{move.version}", lineterm="")
    return ["", f"Chat template changed against @{prod[0]} (production):", "", "```diff", *diff, "```"]


# -- the commands' library functions ---------------------------------------------------------
def production_stage(settings) -> str:
    if "production" in settings.stages:
        return "production"
    if settings.exclusive_stages:
        return settings.exclusive_stages[-1]
    raise InvalidInput("registry.yaml has no production (or other exclusive) stage to roll back in")


def promote(tree, model: str, version, stage: str) -> Proposal:
    number = parse_version(version)
    return propose(tree, model, "promote", f"Promote {model}@{number} to {stage}",
                   lambda: transition_stage(tree, model, number, stage))


def rollback(tree, model: str, version, reason: str) -> Proposal:
    """Put an earlier version back in production (the current one is archived), with a reason."""
    number = parse_version(version)
    if not reason or not reason.strip():
        raise InvalidInput("a rollback needs a reason: it is kept in the commit and the PR", hint="reason")
    stage = production_stage(tree.settings)
    title = f"Roll back {model} {stage} to @{number}"
    return propose(tree, model, "rollback", title,
                   lambda: transition_stage(tree, model, number, stage, reason=reason.strip()),
                   note=f"Reason: {reason.strip()}")
