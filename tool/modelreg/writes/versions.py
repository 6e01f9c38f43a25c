"""`version create` and `version delete`: one commit each, on the working tree's branch.

A new version's files are admitted by the format policy and, for an adapter, fitted to its
parent before anything is written; then hashed once, tracked the way DVC tracks them and
uploaded (artifacts/push.py), and the version is committed only once all are in the remote.
"""
import os
from pathlib import Path

from ..core import clock, layout
from ..core.errors import InvalidInput, PolicyViolation
from ..core.names import check_name
from ..core.records import non_finite, prune
from ..core.refs import parse_ref, parse_version
from ..core.urls import redact_url
from ..store import reads
from .models import changed_fields, check_model_type, edit_tags, tags, with_reason

RELATION = {"fine_tuned": "fine_tuned", "adapter": "adapter", "quantized": "quantized",
            "distilled": "distilled", "merged": "merged"}


def create_version(tree, model: str, weights_dir: str | os.PathLike | None = None, *,
                   parent: str | None = None, metrics=(), parameters: dict | None = None,
                   tags_: dict | None = None, description: str | None = None,
                   run_id: str | None = None, experiment_id: str | None = None,
                   data_version: str | None = None, source_uri: str | None = None,
                   model_type: str | None = None, card: dict | None = None, progress=None) -> dict:
    """Register the next version; with weights, track them by DVC and push them to the remote.

    `progress`: a callback for the hashing and upload (artifacts/progress.py)."""
    with tree.write_lock():
        model_type = check_model_type(model_type or tree.model(check_name(model))["model_type"])
        if weights_dir is None and not source_uri:
            raise InvalidInput("give a weights folder, or a source URI for weights kept elsewhere", hint="weights")
        for where, value in non_finite({"metrics": list(metrics), "parameters": parameters or {}}):
            raise InvalidInput(f"{where} is {value}, not a finite number; record a real number")
        files = admitted = None
        if weights_dir is not None:
            from ..artifacts.files import scan_folder
            from ..supply.formats import admit

            files = scan_folder(weights_dir)
            admitted = admit(tree.settings, files)  # the format policy, before anything is written
        number = max(tree.version_numbers(model), default=0) + 1
        parent_rec = _parent(tree, parent, model_type, model, number)
        if model_type == "adapter" and weights_dir is not None:
            _refuse_unfit_adapter(tree, weights_dir, parent_rec)
        record = prune({
            "version": number, "model_type": model_type, "stage": tree.settings.initial_stage,
            "status": "active", "artifacts": None, "parent": parent_rec,
            "source": prune({"experiment_id": experiment_id, "run_id": run_id, "uri": redact_url(source_uri)}) or None,
            "training": prune({"data_version": data_version}) or None,
            "parameters": dict(parameters) if parameters else None,
            "metrics": [dict(m) for m in metrics] or None, "tags": tags(tags_),
            "description": description, "created_at": clock.now(), "created_by": tree.identity(),
        })
        with tree.begin_write([layout.version_dir(model, number)]) as write:
            if files is not None:
                add_weights(tree, write, model, number, files, record, admitted, progress)
            write.put(layout.version_file(model, number), "version", record)
            card_doc = prune(dict(card or {}, description=(card or {}).get("description") or description))
            write.put(layout.card_file(model, number), "card", card_doc)
            write.commit(f"register {model} version {number}",
                         {"Action": "version.create", "Model": model, "Version": str(number)})
        return record


def add_weights(tree, write, model: str, number: int, files, record: dict, admitted, progress=None) -> None:
    """Track the files the way DVC does and upload them (one read per file), as part of `write`;
    their entries (and an admitted chat template) go into `record`."""
    from ..artifacts.config import worktree_config
    from ..artifacts.push import add_and_push

    rel = layout.weights_dir(model, number)
    write.track(rel + ".dvc")
    write.track(rel, tracked=False)
    remote = worktree_config(tree.root, tree.settings.remote_name)
    record["artifacts"] = admitted.annotate(add_and_push(tree.root, rel, files, remote, progress=progress))
    if admitted.template:
        record["chat_template"] = admitted.template
        write.put_raw(layout.template_file(model, number), admitted.template_text.encode())


def _parent(tree, parent: str | None, model_type: str, model: str, number: int) -> dict | None:
    if not parent:
        if model_type == "adapter":
            raise InvalidInput("an adapter version needs a parent: the base model it applies to", hint="parent")
        return None
    if model_type == "base_model":
        raise InvalidInput("a base_model version has no parent; register it as fine_tuned, adapter, ...")
    resolved = reads.resolve(tree.snapshot(tree.main_branch), parse_ref(parent))
    if resolved.status == "deleted":
        raise PolicyViolation(f"parent {resolved.name} is deleted")
    if (resolved.model, resolved.version) == (model, number):
        raise InvalidInput("a version cannot be its own parent")
    return {"model": resolved.model, "version": resolved.version, "relation": RELATION[model_type]}


def _refuse_unfit_adapter(tree, folder, parent: dict) -> None:
    """An adapter targeting modules its parent lacks can never load: refuse it here rather
    than let `check` fail on main afterwards (issue 14)."""
    from ..loading.checks import LocalFiles, applies_to, missing_targets

    snap = tree.snapshot(tree.main_branch)
    base = applies_to(snap, reads.pinned(snap, parent["model"], parent["version"]))
    problems = missing_targets(LocalFiles(tree.root), Path(folder), base)
    if problems:
        raise PolicyViolation(f"{problems[0]}: the adapter cannot load on it; check target_modules in "
                              "adapter_config.json, or the parent", hint="parent")


def delete_version(tree, model: str, version, reason: str) -> dict:
    """Soft delete: the record stays, marked deleted; aliases pointing at it are removed.

    A version the shared main never had (registered here, never pushed or merged) is removed
    outright instead: no one could have used it, and a new version may not start deleted, so a
    soft delete would leave a change `check --base` refuses with nothing left to do (issue 20)."""
    with tree.write_lock():
        number = parse_version(version)
        if not reason or not reason.strip():
            raise InvalidInput("a reason is required to delete a version", hint="reason")
        record = tree.version(check_name(model), number)
        if record.get("status") == "deleted":
            raise InvalidInput(f"{model}@{number} is already deleted")
        if record.get("stage") in tree.settings.exclusive_stages:
            raise PolicyViolation(f"{model}@{number} is in {record['stage']}; move it to archived first")
        children = reads.dependents(tree.snapshot(), model, number)
        if children:
            raise PolicyViolation(f"{model}@{number} is the parent of {_named(children)}, which would no "
                                  "longer load; delete those first")
        aliases = tree.aliases(model)
        dropped = sorted(a for a, v in aliases.items() if v == number)
        write = tree.begin_write([layout.model_dir(model)])
        unshared = tree.shared(layout.version_file(model, number)) is False
        if unshared:
            write.remove(layout.version_dir(model, number))
        else:
            deleted = {"reason": reason.strip(), "at": clock.now(), "by": tree.identity()}
            write.put(layout.version_file(model, number), "version",
                      dict(record, status="deleted", deleted=deleted))
        if dropped:
            write.put(layout.aliases_file(model), "aliases",
                      {"aliases": {a: v for a, v in aliases.items() if v != number}})
        write.commit(f"{'remove unshared' if unshared else 'delete'} {model}@{number}",
                     {"Action": "version.delete", "Model": model, "Version": str(number), "Reason": reason.strip()})
        return {"model": model, "version": number, "aliases_removed": dropped, "removed": unshared}


def _named(children) -> str:
    return ", ".join(f"{m}@{n} ({stage})" for m, n, stage in children)


def tag_version(tree, model: str, version, set_tags: dict | None = None, unset=(),
                reason: str | None = None) -> dict:
    """`version tag` / `version untag`: the one field of a merged version's record, besides stage
    and status, that may change (rules/changes.py); one commit."""
    with tree.write_lock():
        number = parse_version(version)
        before = tree.version(check_name(model), number)
        if not set_tags and not unset:
            raise InvalidInput(f"nothing to change on {model}@{number}: give tags to set or keys to remove",
                               hint="version_tags")
        after = edit_tags(f"{model}@{number}", before.get("tags") or {}, set_tags, unset)
        record = {k: v for k, v in before.items() if k != "tags"}
        if after:
            record["tags"] = after  # only tags change: a merged version's other fields must not
        old = before.get("tags") or {}
        changed = changed_fields(old, after, sorted(set(old) | set(after)))
        if not changed:
            raise InvalidInput(f"{model}@{number} already has those tags; nothing to commit")
        action = "version.tag" if set_tags else "version.untag"
        write = tree.begin_write([layout.version_file(model, number)])
        write.put(layout.version_file(model, number), "version", record)
        what = ", ".join(f"{k}={new}" if new is not None else f"-{k}" for k, (_, new) in changed.items())
        write.commit(f"{'tag' if set_tags else 'untag'} {model}@{number}: {what}",
                     with_reason({"Action": action, "Model": model, "Version": str(number)}, reason))
        return {"model": model, "version": number, "tags": record.get("tags") or {}, "changed": changed}
