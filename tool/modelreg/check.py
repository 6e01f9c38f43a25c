"""`modelreg check`: every rule about the registry's content, and about changes to it.

Problems are reported all at once as FILE:JSON_POINTER: message. The records come from one
Snapshot (one `ls-tree`, one cat-file batch); with `--base`, one Change(base, head) is
computed and every rule, gate and approval is judged by the BASE's registry.yaml. The rules
themselves live in `rules/`; this module picks the scope, runs them and, for a pull request,
asks the forge for reviews and keeps the one PR comment.

Scope: without --base every model is checked. With --base, the models the change touches
are checked, unless the change edits a policy file (registry.yaml, schemas/, ...), which
can change the verdict on any record: then every model is (`scope` says which).
"""
from dataclasses import dataclass, field

from . import layout, rules
from .change import Change
from .errors import InvalidRecord
from .records import load_yaml
from .rules import Problem  # noqa: F401  (re-exported: the shape of every problem)
from .snapshot import Snapshot, WorkdirSnapshot


@dataclass
class CheckResult:
    target: str  # a commit sha or "working tree"
    base: str | None
    models: list[str]
    problems: list[Problem] = field(default_factory=list)
    scope: str = "all"  # "all" models, or only those "changed" by the change from base
    report: object = None  # the PullReport (gates, approvals), with --base

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict:
        return {"ok": self.ok, "target": self.target, "base": self.base, "scope": self.scope,
                "models_checked": len(self.models), "problems": [p.to_dict() for p in self.problems]}


def scope_of(head, change: Change | None) -> tuple[list[str], str]:
    """The models to check, and why: all of them, or those the change touches."""
    everything = head.models()
    if change is None or any(p == layout.REGISTRY_FILE or p.startswith(layout.SCHEMA_DIR + "/")
                             for p in change.policy_files):
        return everything, "all"
    return sorted(set(change.models) & set(everything)), "changed"


def run_check(reg, at: str | None = None, base: str | None = None, pr: int | None = None,
              comment: bool = False, remote: bool = False, client=None) -> CheckResult:
    """Full check (no base) or the change-scoped check against `base`, plus the PR's policy."""
    from .policy import compute_change, pull_report

    if base is None and at is None:
        head, commit = WorkdirSnapshot(reg.root), _head_or_none(reg)
    else:
        commit = reg.git.rev_parse(at or "HEAD")
        head = Snapshot.at(reg.git, commit)
    change = compute_change(reg, base, commit) if base is not None else None
    settings = (change.base if change else head).settings_in_force
    models, scope = scope_of(head, change)
    ctx = rules.Context(head, settings, models, change.base if change else None, change,
                        extra={"registry": reg, "commit": commit, "remote": remote,
                               "stages_held": _stages_held(reg, change)})
    problems = set(rules.run(ctx))
    result = CheckResult(head.commit, change.base.commit if change else None, models, [], scope)
    if change is not None:
        factory = (lambda: client or _client(reg, settings)) if pr is not None else None
        result.report = pull_report(change, settings, pr, factory)
        problems |= {Problem(*p) for p in result.report.problems}
    result.problems = sorted(problems)
    if comment and pr is not None:
        from .rules.render import COMMENT_MARKER, check_comment

        body = check_comment(result.report, [(p.file, p.pointer, p.message) for p in result.problems])
        (client or _client(reg, settings)).upsert_comment(pr, COMMENT_MARKER, body)
    return result


def check_pull_request(reg, base: str, head: str, pr_number: int | None, comment: bool = False,
                       client=None) -> list[tuple[str, str, str]]:
    """Every problem of the pull request base..head as (file, pointer, message)."""
    result = run_check(reg, at=head, base=base, pr=pr_number, comment=comment, client=client)
    return [(p.file, p.pointer, p.message) for p in result.problems]


def _client(reg, settings):
    from .forge import github
    from .gitstore import origin_url

    return github.GitHub.from_env(settings, origin_url(reg.root))


def _head_or_none(reg) -> str | None:
    try:
        return reg.git.rev_parse("HEAD")
    except Exception:
        return None  # a registry without commits yet


def _stages_held(reg, change: Change | None):
    """(model, n) -> every stage the version held on the base branch's first-parent history."""
    if change is None:
        return None

    def held(model: str, number: int) -> set[str]:
        path = layout.version_file(model, number)
        commits = reg.git.log(change.base.commit, [path])
        stages = set()
        for commit, data in zip(commits, reg.git.read_objects([f"{c.sha}:{path}" for c in commits])):
            try:
                doc = load_yaml(data, path) if data is not None else None
            except InvalidRecord:
                continue
            if isinstance(doc, dict) and doc.get("status") != "deleted":
                stages.add(doc.get("stage", "none"))
        return stages
    return held
