"""Every rule `check` applies, in one place, and the loop that runs them.

- RECORD_RULES   every check: the records at the head, judged by `ctx.settings`;
- VERSION_RULES  every checked version that is not soft-deleted: `rule(ctx, model, number, record)`;
- CHANGE_RULES   with a base: what the change does, judged by the BASE's settings.
Add a rule by writing it beside its kind (records.py, changes.py, supply/rules.py) and listing it here.
"""
from ..supply import rules as supply
from . import changes, records
from .context import Context, Problem

RECORD_RULES = (records.settings_file, records.layout_files, records.models, records.credentials,
                records.credential_files, records.policy_owners, records.gates_held, records.lineage,
                records.schema_drift)
VERSION_RULES = (records.adapter_fit, records.local_files, records.remote_objects, records.finite_numbers,
                 supply.signature, supply.weight_formats, supply.chat_template)
CHANGE_RULES = (changes.removed_models, changes.versions, changes.deleted_parents, changes.deleted_lineage,
                changes.protected_aliases, changes.rollbacks, changes.new_policy_fits, supply.signature_required,
                supply.signature_kept)


def run(ctx: Context, change_rules: bool = True) -> list[Problem]:
    """Every rule that applies; the problems sorted and without repeats. `change_rules=False`:
    the record and version rules only (a worker of a split check: the change rules judge the
    change as a whole, in one process)."""
    found = set()
    for rule in RECORD_RULES:
        found.update(rule(ctx))
    for model in ctx.models:
        for number, record in sorted(ctx.head.all_versions(model).items()):
            if record.get("status") == "deleted":
                continue  # a soft-deleted version is inert: it can no longer be loaded (issue 14.9)
            for rule in VERSION_RULES:
                found.update(rule(ctx, model, number, record))
    if change_rules:
        found.update(run_change_rules(ctx))
    return sorted(found)


def run_change_rules(ctx: Context, skip=()) -> list[Problem]:
    found = set()
    if ctx.change is not None:
        for rule in CHANGE_RULES:
            if rule not in skip:
                found.update(rule(ctx))
    return sorted(found)
