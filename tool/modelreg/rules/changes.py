"""Rules about change (`check --base`): what a pull request may do to merged records.

Every rule here judges by `ctx.settings`, the BASE commit's registry.yaml (issue 8 hole 1).
"""
from ..core import layout
from .context import Problem

IMMUTABLE_EXEMPT = {"stage", "status", "deleted", "tags"}  # tags: `version tag` (issue 20)
ARCHIVED = "archived"  # where an exclusive stage's previous holder goes; the rollback edge starts here


def removed_models(ctx):
    """A registered model's folder, or its model.yaml, cannot be removed (issue 8 hole 4)."""
    return [Problem(layout.model_file(m), "/", "a registered model cannot be removed (its versions may be "
                    "in use); deprecate it instead ('modelreg model deprecate NAME --reason TEXT')")
            for m in ctx.change.deleted_models]


def versions(ctx):
    """Merged versions stay (soft delete only), keep their content and weights; new ones start right."""
    found = []
    for model, mc in ctx.change.models.items():
        if mc.removed:
            continue  # removed_models says it once for the folder
        entered = {v.get("stage") for n, v in mc.after.items() if (mc.before.get(n) or {}).get("stage") != v.get("stage")}
        for number, record in mc.before.items():
            found += merged_version(ctx, model, number, record, mc.after.get(number), entered)
        highest = max(mc.before, default=0)
        for number, record in mc.after.items():
            if number not in mc.before:
                found += new_version(ctx.settings, model, number, record, highest)
    return found


def deleted_parents(ctx):
    """A soft delete may not strand what depends on the version: a version whose parent is deleted
    no longer loads, whichever model it is in and whether or not the change touches it (19.13)."""
    from ..store.reads import dependents

    found = []
    for model, number in ctx.change.deleted_versions:
        record = ctx.head.version(model, number) if ctx.head.has(layout.version_file(model, number)) else None
        if not isinstance(record, dict) or record.get("status") != "deleted":
            continue  # removed outright: merged_version refuses that
        children = dependents(ctx.head, model, number)
        if children:
            named = ", ".join(f"{m}@{n} ({stage})" for m, n, stage in children)
            found.append(Problem(layout.version_file(model, number), "/status",
                                 f"deletes {model}@{number}, the parent of {named}, which would no longer "
                                 "load: delete or replace those first"))
    return found


def deleted_lineage(ctx):
    """A version entering a stage (a rollback of an archived adapter, say) may not stand on a
    deleted version: it could not load there."""
    from ..core import lineage as walks

    def lookup(model, number):
        try:
            return ctx.head.version(model, number)
        except Exception:  # a malformed parent field: the lineage rule reports it
            return None

    found = []
    for move in ctx.change.entered():
        start = walks.Link(move.model, move.version, lookup(move.model, move.version) or {})
        chain, _ = walks.walk(lookup, start, walks.adapters_only)  # what loading it needs
        gone = [link.name for link in chain[1:] if link.record.get("status") == "deleted"]
        if gone:
            found.append(Problem(layout.version_file(move.model, move.version), "/stage",
                                 f"enters {move.after}, but its lineage includes deleted {', '.join(gone)}, "
                                 "so it could not load: register it on a live parent"))
    return found


def merged_version(ctx, model, number, old: dict, new: dict | None, entered: set) -> list[Problem]:
    path = layout.version_file(model, number)
    if new is None:
        if ctx.head.has(path) and path in ctx.head.errors:
            return []  # malformed, not removed: the record rules report the parse problem
        return [Problem(path, "/", f"merged version {number} was removed; versions are never deleted "
                        "(use 'modelreg version delete' for a soft delete; if the branch is behind the "
                        "base, run 'modelreg sync')")]
    found = []
    edited = sorted(k for k in set(old) | set(new) if k not in IMMUTABLE_EXEMPT and old.get(k) != new.get(k))
    if edited:
        found.append(Problem(path, f"/{edited[0]}", "a merged version may change only stage and status (and its tags); "
                             f"this change edits {', '.join(edited)} (register a new version instead)"))
    pointer = layout.pointer_file(model, number)
    if ctx.base.sha(pointer) != ctx.head.sha(pointer):
        found.append(Problem(pointer, "/", f"the weights of merged version {number} cannot change; "
                             "register a new version"))
    return found + move(ctx.settings, path, old, new, entered)


def move(settings, path: str, old: dict, new: dict, entered: set) -> list[Problem]:
    src, dst = old.get("stage", "none"), new.get("stage", "none")
    found = []
    if old.get("status") == "deleted" and new.get("status") != "deleted":
        found.append(Problem(path, "/status", "a deleted version cannot be restored; register it again"))
    if old.get("status") == "deleted" and src != dst:
        found.append(Problem(path, "/stage", "a deleted version's stage cannot change"))
    if src == dst or settings.allowed(src, dst):
        return found
    # an exclusive stage's previous holder is archived when another version enters it
    if dst == ARCHIVED and src in settings.exclusive_stages and src in entered:
        return found
    return found + [Problem(path, "/stage", f"{src} -> {dst} is not allowed by registry.yaml's transitions "
                            "(on the base branch); allowed from " f"{src}: "
                            f"{', '.join((settings.get('transitions') or {}).get(src, [])) or 'nothing'}")]


def new_version(settings, model, number, record: dict, highest: int) -> list[Problem]:
    path = layout.version_file(model, number)
    found = []
    if number <= highest:
        found.append(Problem(path, "/version", f"version {number} reuses a number at or below the highest "
                             f"merged one ({highest}); run 'modelreg sync' to renumber"))
    start = settings.initial_stage
    stage = record.get("stage", start)
    if stage != start and not settings.allowed(start, stage):
        found.append(Problem(path, "/stage", f"a new version enters at {start}; {start} -> {stage} is not "
                             "allowed by registry.yaml's transitions on the base branch"))
    if record.get("status") == "deleted":
        found.append(Problem(path, "/status", "a new version cannot start deleted: the base never had it, so "
                             f"drop it from the change instead (git rm -r {layout.version_dir(model, number)}; "
                             "'modelreg version delete' does that for a version the remote's main never had)"))
    return found


def protected_aliases(ctx):
    """A protected alias moves only with its stage; editing aliases.yaml cannot move it (hole 5)."""
    stage_aliases = set(ctx.settings.stage_aliases.values())
    found = []
    for m in ctx.change.moves:
        if m.kind != "alias" or m.name not in ctx.settings.protected_aliases or m.name in stage_aliases:
            continue  # stage aliases are held to their stage's version by the record rules
        found.append(Problem(layout.aliases_file(m.model), f"/aliases/{m.name}",
                             f"alias {m.name!r} is protected by registry.yaml on the base branch; "
                             "a pull request cannot move it by editing aliases.yaml (unprotect it in "
                             "protected_aliases by a reviewed policy change first)"))
    return found


def rollback_eligible(stage: str, src: str, held: set[str], settings) -> bool:
    """A version may enter an exclusive stage from archived (the rollback edge) only if it held
    that stage before, per the history on the base branch (issue 8 hole 6)."""
    if src != ARCHIVED or stage not in settings.exclusive_stages:
        return True
    return stage in held


def rollbacks(ctx):
    """`none -> archived -> production` must not put a never-reviewed version in production."""
    held_before = ctx.stages_held  # (model, n) -> stages held on the base's history
    found = []
    for m in ctx.change.moves:
        if m.kind != "stage" or m.before != ARCHIVED or m.after not in ctx.settings.exclusive_stages:
            continue
        held = held_before(m.model, m.version) if held_before else set()
        if not rollback_eligible(m.after, m.before, held, ctx.settings):
            found.append(Problem(layout.version_file(m.model, m.version), "/stage",
                                 f"archived -> {m.after} is a rollback, and {m.model}@{m.version} never "
                                 f"held {m.after} on the base branch; promote it through the normal "
                                 "stages instead"))
    return found


def new_policy_fits(ctx):
    """A registry.yaml change must still fit the records it will govern once merged: no version may
    be left in a stage it removes (main would fail its own check after the merge)."""
    return policy_fits_problems(*policy_holders(ctx, ctx.models))


def policy_after(ctx):
    """The settings a registry.yaml change brings, or None when it brings none (or unreadable ones:
    the settings rule reports those)."""
    if ctx.change is None or layout.REGISTRY_FILE not in ctx.change.paths:
        return None
    try:
        return ctx.head.settings_in_force
    except Exception:
        return None


def policy_holders(ctx, models) -> tuple[dict, dict]:
    """(stranded, failing), stage -> [(model, number)] among `models`: the versions left in a stage
    the new registry.yaml removes, and those in a stage whose new gates they fail. A split check
    collects these per share of the models and words them once (policy_fits_problems)."""
    after = policy_after(ctx)
    if after is None:
        return {}, {}
    stranded: dict[str, list] = {}
    for model in models:
        for number, record in ctx.head.all_versions(model).items():
            stage = record.get("stage")
            if isinstance(stage, str) and stage not in after.stages:
                stranded.setdefault(stage, []).append((model, number))
    return stranded, _gates_failing(ctx, after, models)


def policy_fits_problems(stranded: dict, failing: dict) -> list[Problem]:
    def held(found):
        return [f"{m}@{n}" for m, n in sorted(found)]

    return ([Problem(layout.REGISTRY_FILE, "/stages", f"the new stages leave out {stage!r}, which "
                     f"{len(found)} version(s) are in ({_few(held(found))}); move them out first")
             for stage, found in sorted(stranded.items())]
            + [Problem(layout.REGISTRY_FILE, f"/gates/{stage}", f"the new gates of {stage} fail for "
                       f"{len(found)} version(s) in it ({_few(held(found))}); move them out first or loosen the "
                       "gates") for stage, found in sorted(failing.items())])


def _few(names: list[str]) -> str:
    return f"{', '.join(names[:3])}{', ...' if len(names) > 3 else ''}"


def _gates_failing(ctx, after, models) -> dict:
    """New gates hold for the versions already in their stage (a gate is what a stage's holders
    meet, and main's own check judges them by it)."""
    from .gates import check_gates

    failing: dict[str, list] = {}
    for stage in after.get("gates") or {}:
        if (after.get("gates") or {}).get(stage) == (ctx.settings.get("gates") or {}).get(stage):
            continue  # unchanged gates: their holders were judged when they entered
        for model in models:
            for number, record in ctx.head.all_versions(model).items():
                if record.get("stage") != stage or record.get("status") == "deleted":
                    continue
                card = ctx.head.card(model, number) or {}
                if not all(g.ok for g in check_gates(after, stage, model, number, record, card)):
                    failing.setdefault(stage, []).append((model, number))
    return failing
