"""Rules about change, for `check --base`: what a pull request may do to merged records."""
from . import layout
from .check import IMMUTABLE_EXEMPT, Checker, TreeSource
from .errors import InvalidRecord
from .records import load_yaml


def check_changes(reg, checker: Checker, base: str, head: str, models: list[str], changed) -> None:
    before = TreeSource(reg.git, base)
    removed = {p for status, p in changed if status == "D"}
    for model in models:
        old_versions = _versions(before, model)
        if layout.model_file(model) in removed:
            checker.add(layout.model_file(model), "/", "a registered model's record cannot be removed; "
                        "mark it deprecated instead")
        new_versions = {n: checker.docs.get(layout.version_file(model, n))
                        for n in _numbers(checker.docs, model)}
        _check_versions(checker, model, old_versions, new_versions, before, removed)


def _numbers(docs, model) -> list[int]:
    return sorted(info[2] for info in map(layout.classify, docs)
                  if info and info[0] == "version" and info[1] == model)


def _versions(source: TreeSource, model: str) -> dict[int, dict]:
    paths = [p for p in source.paths() if layout.classify(p) and layout.classify(p)[0] == "version"
             and layout.classify(p)[1] == model]
    found = {}
    for path, data in source.read_many(paths).items():
        try:
            doc = load_yaml(data, path)
        except InvalidRecord:
            doc = None
        found[layout.classify(path)[2]] = doc if isinstance(doc, dict) else {}
    return found


def _check_versions(checker, model, old: dict, new: dict, before: TreeSource, removed: set) -> None:
    settings = checker.settings
    entered = {v.get("stage") for n, v in new.items()
               if isinstance(v, dict) and (old.get(n) or {}).get("stage") != v.get("stage")}
    highest = max(old, default=0)
    for number, record in old.items():
        path = layout.version_file(model, number)
        now = new.get(number)
        if path in removed or now is None:
            checker.add(path, "/", f"merged version {number} was removed; versions are never deleted "
                        "(use 'modelreg version delete' for a soft delete)")
            continue
        if not isinstance(now, dict):
            continue
        edited = sorted(k for k in set(record) | set(now)
                        if k not in IMMUTABLE_EXEMPT and record.get(k) != now.get(k))
        if edited:
            checker.add(path, f"/{edited[0]}", "a merged version may change only stage and status; "
                        f"this change edits {', '.join(edited)} (register a new version instead)")
        _check_pointer_unchanged(checker, model, number, before)
        _check_move(checker, path, record, now, entered, settings)
    for number, record in new.items():
        if number in old or not isinstance(record, dict):
            continue
        path = layout.version_file(model, number)
        if number <= highest:
            checker.add(path, "/version", f"version {number} reuses a number at or below the highest "
                        f"merged one ({highest}); run 'modelreg sync' to renumber")
        start = settings.initial_stage
        stage = record.get("stage", start)
        if stage != start and not settings.allowed(start, stage):
            checker.add(path, "/stage", f"a new version enters at {start}; {start} -> {stage} is not "
                        "allowed by registry.yaml")
        if record.get("status") == "deleted":
            checker.add(path, "/status", "a new version cannot start deleted")


def _check_pointer_unchanged(checker, model, number, before: TreeSource) -> None:
    path = layout.pointer_file(model, number)
    old = before.read_many([path]).get(path)
    now = checker.source.read_many([path]).get(path)
    if old != now:
        checker.add(path, "/", f"the weights of merged version {number} cannot change; register a new version")


def _check_move(checker, path, old: dict, new: dict, entered: set, settings) -> None:
    src, dst = old.get("stage", "none"), new.get("stage", "none")
    if old.get("status") == "deleted" and new.get("status") != "deleted":
        checker.add(path, "/status", "a deleted version cannot be restored; register it again")
    if src == dst or settings.allowed(src, dst):
        return
    # an exclusive stage's previous holder is archived when another version enters it
    if dst == "archived" and src in settings.exclusive_stages and src in entered:
        return
    checker.add(path, "/stage", f"{src} -> {dst} is not allowed by registry.yaml's transitions")
