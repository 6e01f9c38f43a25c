"""`modelreg sync`: bring a branch up to date with origin's main without losing a record.

Two branches that each registered "the next version" of a model both claim the same number.
The later one runs `sync`: fetch origin, then rebase onto origin/main. When numbers collide,
the branch's commits are replayed one by one on top of origin/main with its new versions
renumbered after the highest merged one: folder, version.yaml's `version` (and parents that
point at a renumbered version), aliases, commit subjects and trailers, and the git-ignored
weights folder beside the DVC pointer (the pointer names `weights` relatively, so its bytes,
and the objects in the DVC remote, stay valid). Record files both sides edited are merged
key by key: the branch's changes are laid over origin's state, never the other way round.
"""
import re
import shutil
import tempfile
from pathlib import Path

from . import layout, schema
from .errors import InvalidInput
from .records import dump_yaml, load_yaml


def _versions(reg, commit: str, model: str) -> set[int]:
    return {int(n) for n in reg.git.list_dir(commit, layout.versions_dir(model)) if n.isdigit()}


def _models(reg, commit: str) -> set[str]:
    return {p.split("/")[1] for p, _ in reg.git.ls_tree(commit, layout.ROOT) if p.count("/") >= 2}


def renumbering(reg, base: str, head: str, upstream: str) -> dict[tuple[str, int], int]:
    """(model, number on the branch) -> new number, for versions that collide with upstream."""
    mapping = {}
    for model in sorted(_models(reg, head)):
        mine = sorted(_versions(reg, head, model) - _versions(reg, base, model))
        theirs = _versions(reg, upstream, model)
        if mine and theirs and min(mine) <= max(theirs):
            for offset, number in enumerate(mine, start=max(theirs) + 1):
                mapping[(model, number)] = offset
    return mapping


def sync(reg, remote: str = "origin") -> dict:
    ops = reg.git.branches
    branch = reg.git.current_branch()
    if branch is None:
        raise InvalidInput("HEAD is detached: check out the branch to sync first")
    if reg.git.dirty_paths([layout.ROOT, layout.REGISTRY_FILE]):
        raise InvalidInput("uncommitted changes under registry/: commit or discard them before syncing")
    ops.fetch(remote)
    upstream = reg.git.rev_parse(f"{remote}/{reg.main_branch}")
    head = reg.git.rev_parse("HEAD")
    base = ops.merge_base(head, upstream)
    commits = ops.commits(base, head)
    result = {"branch": branch, "upstream": upstream, "commits": len(commits), "renumbered": {}}
    if base == upstream:
        return dict(result, action="up to date")
    if not commits:
        ops.reset_branch(branch, upstream)
        return dict(result, action="fast-forwarded")
    mapping = renumbering(reg, base, head, upstream)
    if not mapping:
        ops.rebase(upstream)
        return dict(result, action="rebased")
    _replay(reg, branch, upstream, commits, mapping)
    result["renumbered"] = {f"{m}@{n}": new for (m, n), new in mapping.items()}
    return dict(result, action="rebased and renumbered")


def _replay(reg, branch, upstream, commits, mapping) -> None:
    ops = reg.git.branches
    parked = Path(tempfile.mkdtemp(prefix="modelreg-sync-", dir=reg.root / ".git"))
    try:
        moved = _park_weights(reg, mapping, parked)
        ops.reset_branch(branch, upstream)
        for commit in commits:
            _replay_one(reg, commit, mapping)
        for (model, _number), folder in moved.items():
            target = reg.root / layout.weights_dir(model, mapping[(model, _number)])
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(folder), target)
    except Exception:
        ops.reset_branch(branch, commits[-1])  # leave the branch as it was
        _unpark(reg, parked)
        raise
    shutil.rmtree(parked, ignore_errors=True)


def _park_weights(reg, mapping, parked: Path) -> dict:
    """Move the branch's weights folders aside: upstream's version N is not ours."""
    moved = {}
    for model, number in mapping:
        folder = reg.root / layout.weights_dir(model, number)
        if folder.is_dir():
            dest = parked / model / str(number)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(folder), dest)
            moved[(model, number)] = dest
    return moved


def _unpark(reg, parked: Path) -> None:
    for folder in parked.glob("*/*"):
        target = reg.root / layout.weights_dir(folder.parent.name, int(folder.name))
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(folder), target)
    shutil.rmtree(parked, ignore_errors=True)


_VERSION_DIR = re.compile(r"(registry/([^/]+)/versions/)([0-9]+)(/.*)")


def rename(path: str, mapping) -> str:
    match = _VERSION_DIR.fullmatch(path)
    if match and (match.group(2), int(match.group(3))) in mapping:
        return f"{match.group(1)}{mapping[(match.group(2), int(match.group(3)))]}{match.group(4)}"
    return path


def _replay_one(reg, commit: str, mapping) -> None:
    ops = reg.git.branches
    touched = []
    for status, path in ops.diff_tree(commit):
        target = rename(path, mapping)
        full = reg.root / target
        touched.append(target)
        if status == "D":
            full.unlink(missing_ok=True)
            continue
        data = reg.git.read(commit, path)
        info = layout.classify(path)
        if info and info[0] in ("version", "aliases", "model", "card") and status == "M" and full.exists():
            data = _merge(reg, commit, path, target, info, mapping)
        elif info and info[0] == "version":
            data = _rewrite_version(load_yaml(data, path), info[1], mapping, target)
        full.parent.mkdir(parents=True, exist_ok=True)
        full.write_bytes(data)
    author, date, message = ops.commit_meta(commit)
    ops.commit_as(touched, _rewrite_message(message, mapping), author, date)


def _dump(doc: dict, path: str, kind: str) -> bytes:
    schema.validate(kind, doc, path)
    return dump_yaml(doc, layout.schema_ref(path, kind), schema.key_order(kind))


def _rewrite_version(doc: dict, model: str, mapping, path: str) -> bytes:
    doc = dict(doc)
    number = doc.get("version")
    doc["version"] = mapping.get((model, number), number)
    parent = doc.get("parent")
    if isinstance(parent, dict) and (parent.get("model"), parent.get("version")) in mapping:
        doc["parent"] = dict(parent, version=mapping[(parent["model"], parent["version"])])
    return _dump(doc, path, "version")


def _merge(reg, commit, path, target, info, mapping) -> bytes:
    """Lay the keys this commit changed over the file as upstream (plus earlier replays) has it."""
    kind, model, _ = info
    before = load_yaml(reg.git.read(f"{commit}^", path) or b"{}", path) or {}
    after = load_yaml(reg.git.read(commit, path), path) or {}
    current = load_yaml((reg.root / target).read_bytes(), target) or {}
    if kind == "aliases":
        old, new = before.get("aliases") or {}, after.get("aliases") or {}
        merged = dict(current.get("aliases") or {})
        for name in set(old) | set(new):
            if old.get(name) != new.get(name):
                if name in new:
                    merged[name] = mapping.get((model, new[name]), new[name])
                else:
                    merged.pop(name, None)
        return _dump({**current, "aliases": dict(sorted(merged.items()))}, target, "aliases")
    merged = dict(current)
    for key in set(before) | set(after):
        if before.get(key) != after.get(key):
            if key in after:
                merged[key] = after[key]
            else:
                merged.pop(key, None)
    if kind == "version":
        return _rewrite_version(merged, model, mapping, target)
    return _dump(merged, target, kind)


def _rewrite_message(message: str, mapping) -> str:
    model = re.search(r"^Modelreg-Model: (\S+)$", message, re.M)
    version = re.search(r"^Modelreg-Version: (\d+)$", message, re.M)
    if not model or not version or (model.group(1), int(version.group(1))) not in mapping:
        return message
    name, old = model.group(1), int(version.group(1))
    new = mapping[(name, old)]
    message = re.sub(rf"^Modelreg-Version: {old}$", f"Modelreg-Version: {new}", message, flags=re.M)
    message = message.replace(f"{name} version {old}", f"{name} version {new}")
    message = message.replace(f"{name}@{old}", f"{name}@{new}")
    return message + f"\nModelreg-Renumbered: {old} -> {new}"


__all__ = ["sync", "renumbering"]
