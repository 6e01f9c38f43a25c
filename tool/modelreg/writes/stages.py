"""Stages and aliases: `stage set`, `alias set`, `alias rm`, each one commit.

A stage move follows registry.yaml's transitions; entering an exclusive stage archives its
previous holder and moves the stage's alias. Protected aliases move only with their stage.
"""
from ..core import layout
from ..core.errors import InvalidInput, NotFound, PolicyViolation
from ..core.names import check_alias, check_name
from ..core.refs import parse_version


def transition_stage(tree, model: str, version, stage: str, archive_existing: bool | None = None,
                     reason: str | None = None) -> dict:
    """Move a version to `stage`. Exclusive stages archive their previous holder by default."""
    with tree.write_lock():
        settings = tree.settings
        number = parse_version(version)
        record = tree.version(check_name(model), number)
        settings.check_stage(stage)
        what = f"{model}@{number}"
        if record.get("status") == "deleted":
            raise PolicyViolation(f"{what} is deleted; its stage cannot change")
        current = record.get("stage", "none")
        if current == stage:
            raise InvalidInput(f"{what} is already in {stage}")
        settings.check_transition(what, current, stage)
        _gates_pass(tree, settings, model, number, record, stage)
        exclusive = stage in settings.exclusive_stages
        archive = exclusive if archive_existing is None else archive_existing
        holders = _holders(tree, model, stage, besides=number)
        if holders and exclusive and not archive:
            raise PolicyViolation(f"{stage} is exclusive and {model}@{holders[0]} holds it; "
                                  "it must be archived", hint="keep_existing")
        write = tree.begin_write([layout.model_dir(model)])
        moved = {number: (current, stage)}
        write.put(layout.version_file(model, number), "version", dict(record, stage=stage))
        for other in holders if archive else []:
            write.put(layout.version_file(model, other), "version",
                      dict(tree.version(model, other), stage="archived"))
            moved[other] = (stage, "archived")
        aliases = _follow_stage(tree.aliases(model), settings, number, current, stage)
        write.put(layout.aliases_file(model), "aliases", {"aliases": dict(sorted(aliases.items()))})
        detail = "; ".join(f"{model}@{n}: {a} -> {b}" for n, (a, b) in sorted(moved.items()))
        trailers = {"Action": "stage.set", "Model": model, "Version": str(number), "Stage": stage}
        if reason:
            trailers["Reason"] = reason
        write.commit(f"move {model}@{number} to {stage}", trailers, body=detail)
        return {"model": model, "version": number, "stage": stage,
                "moved": {n: list(v) for n, v in moved.items()}, "aliases": aliases}


def _gates_pass(tree, settings, model: str, number: int, record: dict, stage: str) -> None:
    """A stage's gates are checked before the move is written, not only by a pull request's
    check: a registry without a forge commits the move to main directly (issue 19.14)."""
    from ..rules.gates import check_gates

    card = tree.record(layout.card_file(model, number)) or {}
    failed = [g for g in check_gates(settings, stage, model, number, record, card) if not g.ok]
    if failed:
        raise PolicyViolation(f"{model}@{number} cannot enter {stage}: its gates fail: "
                              + "; ".join(f"{g.condition} ({g.detail})" for g in failed))


def _holders(tree, model: str, stage: str, besides: int) -> list[int]:
    found = []
    for n in tree.version_numbers(model):
        record = tree.version(model, n) if n != besides else {}
        if record.get("stage") == stage and record.get("status") != "deleted":
            found.append(n)
    return found


def _follow_stage(aliases: dict, settings, number: int, left: str, entered: str) -> dict:
    """Stage aliases follow the stage: onto the version entering it, off the one leaving it."""
    for held_stage, alias in settings.stage_aliases.items():
        if entered == held_stage:
            aliases[alias] = number
        elif left == held_stage and aliases.get(alias) == number:
            del aliases[alias]
    return aliases


def set_alias(tree, model: str, alias: str, version) -> dict:
    with tree.write_lock():
        number = parse_version(version)
        check_alias(alias)
        record = tree.version(check_name(model), number)
        if alias in tree.settings.protected_aliases:
            raise PolicyViolation(f"alias {alias!r} is protected: it follows the stage; move {model}@{number} "
                                  "to the stage instead", hint="stage_set", model=model, version=number)
        if record.get("status") == "deleted":
            raise PolicyViolation(f"{model}@{number} is deleted; an alias cannot point at it")
        aliases = tree.aliases(model)
        previous = aliases.get(alias)
        if previous == number:
            raise InvalidInput(f"{model}@{alias} already points at version {number}")
        aliases[alias] = number
        write = tree.begin_write([layout.aliases_file(model)])
        write.put(layout.aliases_file(model), "aliases", {"aliases": dict(sorted(aliases.items()))})
        moved = f"{previous} -> {number}" if previous else f"-> {number}"
        write.commit(f"set alias {model}@{alias} {moved}",
                     {"Action": "alias.set", "Model": model, "Alias": alias, "Version": str(number)})
        return {"model": model, "alias": alias, "version": number, "previous": previous}


def remove_alias(tree, model: str, alias: str) -> dict:
    with tree.write_lock():
        check_name(model)
        aliases = tree.aliases(model)
        tree.model(model)
        if alias not in aliases:
            raise NotFound(f"{model} has no alias {alias!r}")
        if alias in tree.settings.protected_aliases:
            raise PolicyViolation(f"alias {alias!r} is protected: it follows the stage; move the stage instead")
        previous = aliases.pop(alias)
        write = tree.begin_write([layout.aliases_file(model)])
        write.put(layout.aliases_file(model), "aliases", {"aliases": dict(sorted(aliases.items()))})
        write.commit(f"remove alias {model}@{alias} (was {previous})",
                     {"Action": "alias.remove", "Model": model, "Alias": alias})
        return {"model": model, "alias": alias, "previous": previous}
