"""Policy as code: what a change moves, the gates a stage demands, the approvals it needs.

Everything here is read from registry.yaml and the records at two commits (base, head):
- `changes(reg, base, head)` says what a change does (new versions, stage and alias moves);
- gates (`gates: {production: {metrics: ["mmlu/accuracy >= 0.6"], card_fields: [...]}}`)
  are checked for every version entering a stage;
- approval groups (`approvals: {production: {groups: [["@org/ml-leads"], ["@org/qa"]]}}`)
  must ALL approve, each by any one member (a user, or a member of a team through the API);
  the latest review per reviewer counts, a CHANGES_REQUESTED blocks, an approval of an
  older commit does not count, and the author approves nothing unless
  `allow_self_approval: true` (then the author's own membership satisfies a group).
"""
import operator
import re
from dataclasses import dataclass, field

from . import layout, schema
from .gitstore import origin_url
from .records import load_yaml
from .settings import Settings

OPS = {">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt, "==": operator.eq}
_CONDITION = re.compile(r"\s*([A-Za-z0-9_.-]+)/([A-Za-z0-9_.-]+)\s*(>=|<=|>|<|==)\s*(-?[0-9.]+(?:e-?[0-9]+)?)\s*")
COMMENT_MARKER = "<!-- modelreg:check -->"


@dataclass(frozen=True)
class Move:
    """One thing a change does to one model."""
    kind: str  # "version" (registered), "stage", "alias"
    model: str
    version: int | None
    before: object  # previous stage / alias target (None when new)
    after: object  # new stage / alias target (None when removed)
    name: str | None = None  # the alias name

    def describe(self) -> str:
        if self.kind == "version":
            return f"register {self.model}@{self.version} (enters {self.after})"
        if self.kind == "stage":
            return f"{self.model}@{self.version}: {self.before} -> {self.after}"
        after = "removed" if self.after is None else f"-> {self.after}"
        before = "" if self.before is None else f"{self.before} "
        return f"{self.model}@{self.name}: {before}{after}"


@dataclass
class Gate:
    model: str
    version: int
    stage: str
    condition: str
    ok: bool
    detail: str
    file: str
    pointer: str


@dataclass
class GroupResult:
    stage: str
    members: list[str]
    ok: bool
    by: str | None = None
    notes: list[str] = field(default_factory=list)


# -- reading records at a commit ----------------------------------------------------------------
class Snapshot:
    """Records of a commit, read lazily through the registry's cache."""

    def __init__(self, reg, commit: str):
        self.reg, self.commit = reg, commit

    def doc(self, path: str):
        data = self.reg.git.read(self.commit, path)
        return load_yaml(data, path) if data is not None else None

    def settings(self) -> Settings:
        return Settings(self.doc(layout.REGISTRY_FILE) or {})

    def versions(self, model: str) -> dict[int, dict]:
        numbers = [n for n in self.reg.git.list_dir(self.commit, layout.versions_dir(model)) if n.isdigit()]
        found = {int(n): self.doc(layout.version_file(model, int(n))) for n in numbers}
        return {n: d for n, d in sorted(found.items()) if isinstance(d, dict)}

    def aliases(self, model: str) -> dict:
        return ((self.doc(layout.aliases_file(model)) or {}).get("aliases")) or {}

    def card(self, model: str, number: int) -> dict:
        return self.doc(layout.card_file(model, number)) or {}


def changed_models(reg, base: str, head: str) -> list[str]:
    return sorted({layout.model_of(p) for _, p in reg.git.changed_paths(base, head, layout.ROOT)} - {None})


def changes(reg, base: str, head: str) -> list[Move]:
    """New versions, stage moves and alias moves between two commits."""
    before, after = Snapshot(reg, base), Snapshot(reg, head)
    moves = []
    for model in changed_models(reg, base, head):
        old, new = before.versions(model), after.versions(model)
        for number, record in new.items():
            if number not in old:
                moves.append(Move("version", model, number, None, record.get("stage", "none")))
            elif old[number].get("stage") != record.get("stage"):
                moves.append(Move("stage", model, number, old[number].get("stage"), record.get("stage")))
        old_aliases, new_aliases = before.aliases(model), after.aliases(model)
        for name in sorted(set(old_aliases) | set(new_aliases)):
            if old_aliases.get(name) != new_aliases.get(name):
                moves.append(Move("alias", model, new_aliases.get(name), old_aliases.get(name),
                                  new_aliases.get(name), name))
    return moves


def entered(moves: list[Move]) -> list[Move]:
    """Moves that put a version into a stage (registrations count: they enter the initial one)."""
    return [m for m in moves if m.kind in ("version", "stage") and m.after is not None]


# -- gates ----------------------------------------------------------------------------------
def parse_condition(text: str):
    match = _CONDITION.fullmatch(text)
    if not match:
        raise ValueError(f"bad gate condition {text!r}")
    benchmark, metric, op, value = match.groups()
    return benchmark, metric, op, float(value)


def metric_value(record: dict, benchmark: str, metric: str) -> float | None:
    """The last recorded value of benchmark/metric on a version."""
    values = [m.get("value") for m in record.get("metrics") or []
              if isinstance(m, dict) and m.get("benchmark") == benchmark and m.get("metric") == metric]
    return values[-1] if values else None


def filled(card: dict, name: str) -> bool:
    return card.get(name) not in (None, "", [], {})


def check_gates(settings: Settings, stage: str, model: str, number: int, record: dict, card: dict) -> list[Gate]:
    gate = (settings.get("gates") or {}).get(stage) or {}
    results = []
    vpath, cpath = layout.version_file(model, number), layout.card_file(model, number)
    for condition in gate.get("metrics") or []:
        benchmark, metric, op, threshold = parse_condition(condition)
        value = metric_value(record, benchmark, metric)
        if value is None:
            ok, detail = False, f"no {benchmark}/{metric} recorded"
        else:
            ok = OPS[op](value, threshold)
            detail = f"{benchmark}/{metric} = {value:g}"
        results.append(Gate(model, number, stage, condition, ok, detail, vpath, "/metrics"))
    for name in gate.get("card_fields") or []:
        ok = filled(card, name)
        results.append(Gate(model, number, stage, f"card.{name}", ok, "filled" if ok else "empty",
                            cpath, f"/{name}"))
    return results


def gates_for(reg, head: str, moves: list[Move], settings: Settings | None = None) -> list[Gate]:
    snap = Snapshot(reg, head)
    settings = settings or snap.settings()
    results = []
    for move in entered(moves):
        record = snap.doc(layout.version_file(move.model, move.version)) or {}
        results += check_gates(settings, move.after, move.model, move.version, record,
                               snap.card(move.model, move.version))
    return results


def card_completeness(card: dict) -> tuple[int, int, list[str]]:
    names = list(schema.load_schema("card").get("properties", {}))
    missing = [n for n in names if not filled(card, n)]
    return len(names) - len(missing), len(names), missing


# -- approvals ------------------------------------------------------------------------------
def approval_rule(settings: Settings, stage: str) -> tuple[list[list[str]], bool]:
    rule = (settings.get("approvals") or {}).get(stage) or {}
    return [list(g) for g in rule.get("groups") or []], bool(rule.get("allow_self_approval", False))


def required_groups(settings: Settings, moves: list[Move]) -> list[tuple[str, list[str], bool]]:
    """(stage, group, allow_self) for every group any entered stage needs, without repeats."""
    seen, found = set(), []
    for stage in dict.fromkeys(m.after for m in entered(moves)):
        groups, allow_self = approval_rule(settings, stage)
        for group in groups:
            key = (stage, tuple(group))
            if key not in seen:
                seen.add(key)
                found.append((stage, group, allow_self))
    return found


def reviewers_for(groups) -> tuple[list[str], list[str]]:
    """Users and team slugs to request reviews from (team slugs without the org)."""
    users, teams = set(), set()
    for _stage, group, _allow in groups:
        for member in group:
            name = member.lstrip("@")
            if "/" in name:
                teams.add(name.split("/", 1)[1])
            else:
                users.add(name)
    return sorted(users), sorted(teams)


def latest_reviews(reviews: list[dict], head_sha: str | None) -> tuple[dict[str, dict], list[str]]:
    """login -> latest deciding review; plus notes on approvals that do not count."""
    latest, notes = {}, []
    for review in reviews:
        login = ((review.get("user") or {}).get("login") or "").lower()
        state = review.get("state")
        if not login or state not in ("APPROVED", "CHANGES_REQUESTED", "DISMISSED"):
            continue  # a COMMENTED review neither grants nor withdraws approval
        latest[login] = review
    for login, review in list(latest.items()):
        if review["state"] == "APPROVED" and head_sha and review.get("commit_id") not in (None, head_sha):
            notes.append(f"@{login} approved an earlier commit; a new approval of {head_sha[:10]} is needed")
            del latest[login]
        elif review["state"] == "DISMISSED":
            del latest[login]
    return latest, notes


def is_member(member: str, login: str, team_check) -> bool:
    name = member.lstrip("@")
    if "/" not in name:
        return name.lower() == login.lower()
    org, team = name.split("/", 1)
    return team_check(org, team, login)


def evaluate_approvals(groups, reviews: list[dict], author: str, head_sha: str | None,
                       team_check) -> tuple[list[GroupResult], list[str]]:
    """Per-group results and blockers (CHANGES_REQUESTED) from a PR's reviews."""
    latest, notes = latest_reviews(reviews, head_sha)
    blockers = [f"@{login} requested changes" for login, r in latest.items() if r["state"] == "CHANGES_REQUESTED"]
    approvers = [login for login, r in latest.items() if r["state"] == "APPROVED"]
    cache: dict = {}

    def member(m, login):
        key = (m.lower(), login.lower())
        if key not in cache:
            cache[key] = is_member(m, login, team_check)
        return cache[key]

    results = []
    for stage, group, allow_self in groups:
        result = GroupResult(stage, group, False, notes=list(notes))
        for login in approvers:
            if not any(member(m, login) for m in group):
                continue
            if login == author.lower() and not allow_self:
                result.notes.append(f"self-approval by the author @{author} does not count "
                                    f"(allow_self_approval is false for {stage})")
                continue
            result.ok, result.by = True, login
            break
        if not result.ok and allow_self and any(member(m, author) for m in group):
            result.ok, result.by = True, f"{author} (author, self-approval allowed)"
        results.append(result)
    return results, blockers


# -- the pull-request check -----------------------------------------------------------------
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

    @property
    def ok(self) -> bool:
        return not self.problems


def _move_file(moves: list[Move], stage: str) -> tuple[str, str]:
    for move in entered(moves):
        if move.after == stage:
            return layout.version_file(move.model, move.version), "/stage"
    return layout.REGISTRY_FILE, f"/approvals/{stage}"


def pull_report(reg, base: str, head: str, pr_number: int | None, client=None) -> PullReport:
    base_sha, head_sha = reg.git.rev_parse(base), reg.git.rev_parse(head)
    settings = Snapshot(reg, base_sha).settings()  # the policy in force is the base's
    moves = changes(reg, base_sha, head_sha)
    gates = gates_for(reg, head_sha, moves, settings)
    problems = [(g.file, g.pointer, f"gate for {g.stage} failed: {g.condition} ({g.detail})")
                for g in gates if not g.ok]
    report = PullReport(base_sha, head_sha, pr_number, moves, gates, None, [], problems)
    groups = required_groups(settings, moves)
    if pr_number is None or not groups:
        report.groups = [] if groups == [] else None
        return report
    from .forge import github

    client = client or github.GitHub.from_env(settings, origin_url(reg.root))
    pull = client.get_pull(pr_number)
    report.author = (pull.get("user") or {}).get("login") or ""
    results, blockers = evaluate_approvals(groups, client.reviews(pr_number), report.author,
                                           (pull.get("head") or {}).get("sha"), client.is_team_member)
    report.groups, report.blockers = results, blockers
    for result in results:
        if not result.ok:
            file, pointer = _move_file(moves, result.stage)
            why = f"; {'; '.join(result.notes)}" if result.notes else ""
            problems.append((file, pointer, f"{result.stage} needs an approval from one of "
                             f"{', '.join(result.members)}{why}"))
    problems += [(layout.REGISTRY_FILE, "/approvals", f"blocked: {b}") for b in blockers]
    return report


def check_pull_request(registry, base: str, head: str, pr_number: int | None, comment: bool = False,
                       client=None, core_problems=None) -> list[tuple[str, str, str]]:
    """Gates and approval groups of the change base..head; with `comment`, keep the PR summary.

    `core_problems` are the schema/change-rule problems already found, for the comment.
    """
    report = pull_report(registry, base, head, pr_number, client)
    if comment and pr_number is not None:
        from .forge import github
        from .promote import render_check_comment

        client = client or github.GitHub.from_env(Snapshot(registry, report.base).settings(),
                                                  origin_url(registry.root))
        if core_problems is None:
            core_problems = registry.check(at=head, base=base).problems
        body = render_check_comment(registry, report, [(p.file, p.pointer, p.message) for p in core_problems])
        client.upsert_comment(pr_number, COMMENT_MARKER, body)
    return report.problems
