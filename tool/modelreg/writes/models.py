"""`model register`: a new model.yaml and aliases.yaml, and CODEOWNERS kept current, in one commit."""
from ..core import clock, layout
from ..core.errors import AlreadyExists, InvalidInput
from ..core.names import check_name, check_tag_key
from ..core.records import prune

EDITABLE = ("description", "owners", "tags")  # what `model set` edits
MODEL_TYPES = ("base_model", "fine_tuned", "adapter", "quantized", "distilled", "merged")


def check_model_type(model_type: str) -> str:
    if model_type not in MODEL_TYPES:
        raise InvalidInput(f"unknown model type {model_type!r}: use one of {', '.join(MODEL_TYPES)}")
    return model_type


def tags(given: dict | None) -> dict | None:
    """Tags as records keep them: checked keys, text values."""
    if not given:
        return None
    return {check_tag_key(str(k)): str(v) for k, v in given.items()}


def register_model(tree, name: str, model_type: str, description: str | None = None,
                   owners=(), tags_: dict | None = None) -> dict:
    with tree.write_lock():
        check_name(name)
        check_model_type(model_type)
        if (tree.root / layout.model_dir(name)).exists():
            raise AlreadyExists(f"model {name!r} is already registered")
        record = prune({"name": name, "description": description, "model_type": model_type,
                        "owners": list(owners) or None, "tags": tags(tags_), "created_at": clock.now(),
                        "created_by": tree.identity()})
        write = tree.begin_write([layout.model_dir(name)])
        write.put(layout.model_file(name), "model", record)
        write.put(layout.aliases_file(name), "aliases", {"aliases": {}})
        keep_codeowners(tree, write, {name: list(owners)})
        write.commit(f"register model {name}", {"Action": "model.register", "Model": name})
        return record


def keep_codeowners(tree, write, pending: dict) -> None:
    """A registry that has a generated CODEOWNERS keeps it current in the same commit
    (`pending`: models about to be written, name -> owners)."""
    from ..promotion import codeowners

    if codeowners.is_generated(tree.root):
        if tree.git.dirty_paths([codeowners.PATH]):
            raise InvalidInput(f"uncommitted changes in {codeowners.PATH}; commit or discard them first")
        write.put_raw(codeowners.PATH, codeowners.render_text(tree.root, tree.settings.raw, pending).encode())


# -- metadata edits: `model set`, `model deprecate`, `model undeprecate` (issue 20) -------------
def update_model(tree, name: str, description: str | None = None, owners=None, add_owners=(),
                 remove_owners=(), set_tags: dict | None = None, unset_tags=(),
                 reason: str | None = None) -> dict:
    """Edit model.yaml: a description ("" removes it), owners (`owners` replaces the list, then
    `add_owners`/`remove_owners` edit it), tags set and removed; one commit. Returns what changed
    (field -> [before, after]) and the new record."""
    with tree.write_lock():
        before = tree.model(check_name(name))
        if description is None and not (owners or add_owners or remove_owners or set_tags or unset_tags):
            raise InvalidInput(f"nothing to change in model {name}: give a description, owners or tags",
                               hint="model_set")
        record = dict(before)
        if description is not None:
            record["description"] = description
        record["owners"] = _owners(name, before.get("owners") or [], owners, add_owners, remove_owners)
        record["tags"] = edit_tags(f"model {name}", before.get("tags") or {}, set_tags, unset_tags)
        record = {k: v for k, v in record.items() if k not in EDITABLE or v not in (None, "", [], {})}
        changed = changed_fields(before, record, EDITABLE)
        if not changed:
            raise InvalidInput(f"model {name} already says that; nothing to commit")
        write = tree.begin_write([layout.model_file(name)])
        write.put(layout.model_file(name), "model", record)
        if "owners" in changed:
            keep_codeowners(tree, write, {name: list(record.get("owners") or [])})
        write.commit(f"update model {name}: {', '.join(changed)}",
                     with_reason({"Action": "model.update", "Model": name}, reason), body=_describe(changed))
        return {"model": name, "changed": changed, "record": record}


def deprecate_model(tree, name: str, reason: str) -> dict:
    """Mark a model deprecated, with why. It still resolves and loads (production keeps serving);
    reads return the deprecation so callers can warn."""
    with tree.write_lock():
        if not reason or not reason.strip():
            raise InvalidInput("a reason is required to deprecate a model", hint="reason")
        before = tree.model(check_name(name))
        marked = {"value": True, "reason": reason.strip()}
        if before.get("deprecated") == marked:
            raise InvalidInput(f"model {name} is already deprecated for that reason; nothing to commit")
        return _mark(tree, name, dict(before, deprecated=marked), "model.deprecate", f"deprecate model {name}",
                     marked["reason"])


def undeprecate_model(tree, name: str, reason: str | None = None) -> dict:
    with tree.write_lock():
        before = tree.model(check_name(name))
        if not (before.get("deprecated") or {}).get("value"):
            raise InvalidInput(f"model {name} is not deprecated; nothing to commit")
        record = {k: v for k, v in before.items() if k != "deprecated"}
        return _mark(tree, name, record, "model.undeprecate", f"undeprecate model {name}", reason)


def _mark(tree, name: str, record: dict, action: str, subject: str, reason: str | None) -> dict:
    write = tree.begin_write([layout.model_file(name)])
    write.put(layout.model_file(name), "model", record)
    trailers = with_reason({"Action": action, "Model": name}, reason)
    write.commit(subject, trailers)
    return {"model": name, "deprecated": record.get("deprecated"), "reason": trailers.get("Reason"),
            "record": record}


def with_reason(trailers: dict, reason: str | None) -> dict:
    """Commit trailers, with `Modelreg-Reason` when a reason was given (`history` shows it)."""
    return dict(trailers, Reason=reason.strip()) if reason and reason.strip() else trailers


def _owners(name: str, current: list, replace, add, remove) -> list:
    owners = list(replace) if replace else list(current)
    missing = [o for o in remove if o not in owners]
    if missing:
        raise InvalidInput(f"model {name} has no owner {missing[0]}")
    owners = [o for o in owners if o not in remove]
    return owners + [o for o in dict.fromkeys(add) if o not in owners]


def edit_tags(what: str, current: dict, set_tags: dict | None, unset=()) -> dict:
    """Tags after setting `set_tags` and removing the keys in `unset` (each one it has)."""
    result = dict(current)
    for key in unset:
        if key not in result:
            raise InvalidInput(f"{what} has no tag {key!r}")
        del result[key]
    result.update(tags(set_tags) or {})
    return result


def changed_fields(before: dict, after: dict, keys) -> dict:
    return {k: [before.get(k), after.get(k)] for k in keys if before.get(k) != after.get(k)}


def _describe(changed: dict) -> str:
    return "\n".join(f"{key}: {old!r} -> {new!r}" for key, (old, new) in changed.items())
