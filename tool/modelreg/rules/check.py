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

from ..core import layout
from ..core.errors import InvalidRecord
from ..core.settings import Settings
from ..store.change import Change, compute
from ..store.snapshot import Snapshot, WorkdirSnapshot
from . import catalog, changes
from .context import Context, Problem


@dataclass
class CheckResult:
    target: str  # a commit sha or "working tree"
    base: str | None
    models: list[str]
    problems: list[Problem] = field(default_factory=list)
    scope: str = "all"  # "all" models, or only those "changed" by the change from base
    report: object = None  # the PullReport (gates, approvals), with --base
    comment: str | None = None  # the rendered PR comment, when asked for (post_comment posts it)
    pr: int | None = None
    forge: object = None  # the one forge client, once one was needed
    forge_factory: object = None

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict:
        return {"ok": self.ok, "target": self.target, "base": self.base, "scope": self.scope,
                "models_checked": len(self.models), "problems": [p.to_dict() for p in self.problems]}


def scope_of(head, change: Change | None) -> tuple[list[str], str]:
    """The models to check, and why: all of them, or those the change touches."""
    named = set(change.base.settings.named_files) if change is not None else set()
    # a signer's key is read for every version's signature: replacing one can change any verdict
    if change is None or any(p == layout.REGISTRY_FILE or p.startswith(layout.SCHEMA_DIR + "/") or p in named
                             for p in change.policy_files):
        return head.models(), "all"
    return sorted(m for m in change.models if head.model_paths(m)), "changed"


def run_check(git, at: str | None = None, base: str | None = None, pr: int | None = None,
              comment: bool = False, remote: bool = False, local_files: bool = True) -> CheckResult:
    """Full check (no base) or the change-scoped check against `base`, plus the PR's policy.

    `git` is the clone's GitStore: without `at` or `base`, its working tree is checked.
    `local_files=False` judges the records alone, not the copies of the weights this machine
    happens to hold (the site: a commit's pages must not depend on the machine that built them)."""
    if base is None and at is None:
        commit = _head_or_none(git)
        head = WorkdirSnapshot(git.root, git.tracked_outside(layout.ROOT))
    else:
        commit = git.rev_parse(at or "HEAD")
        head = Snapshot.at(git, commit)
    change = compute(git, base, commit) if base is not None else None
    settings, broken = _settings_in_force(change.base if change else head, change is not None)
    models, scope = scope_of(head, change)
    services = _services(git, head, change, remote, settings)
    if not local_files:
        services.pop("files")
    if scope == "all" and not isinstance(head, WorkdirSnapshot):
        from ..store.verdicts import Verdicts

        services["verdicts"] = Verdicts(git.common_dir)  # every record is read: remembered passes pay
    ctx = Context(head, settings, models, change.base if change else None, change, **services)
    split = _split_workers(ctx, scope) > 1
    problems = set(_run_split(ctx, scope) if split else catalog.run(ctx)) | set(broken)
    if ctx.verdicts is not None:
        ctx.verdicts.save(keep={head.sha(p) for p in head.paths()})
    result = CheckResult(head.commit, change.base.commit if change else None, models, [], scope)
    result.pr = pr
    if change is not None:
        from .pull import pull_report

        result.forge_factory = lambda: result.forge or _client(git, settings)
        result.report = pull_report(change, settings, pr, _remember(result) if pr is not None else None)
        problems |= {Problem(*p) for p in result.report.problems}
    result.problems = sorted(problems)
    if comment and pr is not None:
        from .render import check_comment

        result.comment = check_comment(result.report, [(p.file, p.pointer, p.message) for p in result.problems])
    return result


def check_models(git, commit: str, models: list[str], paths: list[str]) -> list[Problem]:
    """What the whole check of `commit` (`run_check(git, at=commit, local_files=False)`) reports
    about `models` and about `paths` (the files judged one by one: layout, credentials), plus
    the registry-wide rules; nothing else is read. The site's rebuild judges only the model
    folders whose content changed, and keeps what the check said about the others: every rule
    about a model reports on that model's files, reading other models only along its lineage."""
    head = Snapshot.at(git, commit)
    head.list_models(models)
    settings, _ = _settings_in_force(head, False)
    return catalog.run(Context(head, settings, sorted(models), paths=list(paths)))


# A check of every model in a big registry (a whole check, or a PR that edits the policy) is
# split across CPUs: rules about a model read that model's files (and its lineage), so each worker
# judges a share of the models and of the files, and the union of the workers' problems is what
# one process finds (the registry-wide rules run in every worker; the set removes the repeats).
# The change rules judge the change as a whole: they run once, here, while the workers work; the
# one that reads every version (does a new registry.yaml fit the versions it governs) collects in
# the workers and is worded here.
# Forked workers inherit the parsed state; each reads through a git process of its own.
SPLIT_MIN_MODELS = 500  # below this, forking costs more than it saves
MAX_SPLIT = 4
_SPLIT: list = []  # (ctx, shares) for the forked workers (inherited, never pickled)


def _split_workers(ctx: Context, scope: str = "all") -> int:
    import multiprocessing
    import os
    import threading

    # only from a single-threaded process (the CLI, CI): a fork copies locks other threads hold
    if (scope != "all" or ctx.remote is not None or len(ctx.models) < SPLIT_MIN_MODELS
            or threading.active_count() > 1 or "fork" not in multiprocessing.get_all_start_methods()):
        return 1
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return min(usable or 1, MAX_SPLIT)  # the CPUs this process may run on (taskset, a container's cpuset)


def _run_split(ctx: Context, scope: str = "all") -> list[Problem]:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    workers = _split_workers(ctx, scope)
    shares = [sorted(ctx.models[i::workers]) for i in range(workers)]
    global _SPLIT
    _SPLIT = [ctx, shares]
    try:
        # an executor, not a Pool: a worker that dies (killed for memory) fails the check, never hangs it
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
            pending = [pool.submit(_check_share, index) for index in range(workers)]
            found = set(catalog.run_change_rules(ctx, skip=(changes.new_policy_fits,)))
            results = [future.result() for future in pending]
    finally:
        _SPLIT = []
    stranded, failing = {}, {}
    for problems, passes, (share_stranded, share_failing) in results:
        found.update(problems)
        for stage, held in share_stranded.items():
            stranded.setdefault(stage, []).extend(held)
        for stage, held in share_failing.items():
            failing.setdefault(stage, []).extend(held)
        if ctx.verdicts is not None:
            ctx.verdicts.added |= passes
    found.update(changes.policy_fits_problems(stranded, failing))
    return sorted(found)


def _check_share(index: int) -> tuple[list[Problem], set[str], tuple[dict, dict]]:
    """In a forked worker: the record and version rules over one share of the models, and of the
    files one process would judge one by one (all of them, or the change's)."""
    import dataclasses

    ctx, shares = _SPLIT
    if ctx.head.git is not None:
        ctx.head.git.after_fork()  # base and head share it
    if ctx.base is not None and ctx.base.git is not None:
        ctx.base.git.after_fork()
    mine = set(shares[index])
    judged = ctx.head.paths() if ctx.change is None else [p for s, p in ctx.change.changed if s != "D"]
    paths = [p for p in judged if layout.model_of(p) in mine or (index == 0 and layout.model_of(p) is None)]
    share = dataclasses.replace(ctx, models=shares[index], paths=paths)
    return (catalog.run(share, change_rules=False), ctx.verdicts.added if ctx.verdicts is not None else set(),
            changes.policy_holders(share, share.models))


def _services(git, head, change: Change | None, remote: bool, settings) -> dict:
    """What the rules may reach beyond the records: this machine's copies of the files, the
    remote (with --remote; a deep look re-scans pickles by the policy in force), and the base
    branch's history (with a base)."""
    from ..loading.checks import LocalFiles
    from ..store.history import stages_held

    services = {"files": LocalFiles(git.root)}
    if remote:
        from ..loading.weights import RemoteCheck
        from ..supply.formats import RemoteBytes

        services["remote"] = RemoteCheck(head, git.root, RemoteBytes.factory(settings))
    if change is not None:
        services["stages_held"] = stages_held(git, change.base.commit)
    return services


def post_comment(result: CheckResult) -> dict:
    """Keep the one summary comment on the PR current, through the same forge client."""
    from .render import COMMENT_MARKER

    if result.comment is None or result.pr is None:
        raise ValueError("no comment to post: run the check with a PR number and comment=True")
    client = result.forge or result.forge_factory()
    return client.upsert_comment(result.pr, COMMENT_MARKER, result.comment)


def _remember(result: CheckResult):
    def factory():
        result.forge = result.forge_factory()
        return result.forge
    return factory


def _settings_in_force(snap, is_base: bool):
    """The policy to judge by. A base whose registry.yaml cannot be applied fails closed: falling
    back to the defaults would drop its gates and approval groups."""
    try:
        return snap.settings_in_force, []
    except InvalidRecord as exc:
        if not is_base:
            return Settings({}), []  # the head's registry.yaml: the settings rule reports it
        return Settings({}), [Problem(layout.REGISTRY_FILE, "/", f"cannot be applied on the base branch "
                                      f"({exc}); every change fails until it is fixed there")]


def _client(git, settings):
    from ..promotion.forge import github
    from ..store.gitstore import origin_url

    return github.GitHub.from_env(settings, origin_url(git.root))


def _head_or_none(git) -> str | None:
    try:
        return git.rev_parse("HEAD")
    except Exception:
        return None  # a registry without commits yet
