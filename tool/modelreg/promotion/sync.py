"""`modelreg sync`: bring a branch up to date with origin's main without losing a record.

Two branches that each registered "the next version" of a model both claim the same number.
The later one runs `sync`: fetch origin, then rebase onto origin/main. When numbers collide,
the branch's commits are replayed one by one on top of origin/main with its new versions
renumbered after the highest merged one: folder, version.yaml's `version` (and parents that
point at a renumbered version), aliases, commit subjects and trailers, and the git-ignored
weights folder beside the DVC pointer (the pointer names `weights` relatively, so its bytes,
and the objects in the DVC remote, stay valid). Record files both sides edited are merged
key by key: the branch's changes are laid over origin's state, never the other way round.

Truth rules (issue 13):
- versions are matched by identity (who registered which sha256s when), never by number or
  commit subject; each reference is translated from branch numbering to upstream numbering
  exactly once (the branch's side of a merge is translated, upstream's side never);
- a branch version upstream already has (another clone landed it) maps onto upstream's
  number and is not registered again; a commit upstream already has (same author, date,
  message and paths, wherever a rebase put it) is skipped;
- the result must pass `check` with no problem upstream lacks, or sync refuses and the branch
  (and its weights folders) are put back as they were.
"""
import re
import shutil
import tempfile
from pathlib import Path

from ..core import layout, schema
from ..core.errors import ExternalError, InvalidInput, PolicyViolation, RegistryError
from ..core.records import dump_yaml, load_yaml
from ..store.snapshot import Snapshot


def _versions(tree, commit: str, model: str) -> set[int]:
    return set(Snapshot.at(tree.git, commit).versions(model))


def _models(tree, commit: str) -> set[str]:
    return set(Snapshot.at(tree.git, commit).models())


def identity(record) -> tuple | None:
    """What makes a version the same version wherever it is numbered: who registered which bytes when."""
    if not isinstance(record, dict):
        return None
    files = tuple(sorted((a.get("path"), a.get("sha256")) for a in record.get("artifacts") or []))
    return (record.get("created_by"), record.get("created_at"), files) if files else None


def _identities(tree, commit: str, model: str, numbers) -> dict[int, tuple | None]:
    snap = Snapshot.at(tree.git, commit)
    snap.prefetch([layout.version_file(model, n) for n in numbers])
    return {n: identity(snap.version(model, n)) for n in sorted(numbers)}


def numbering(tree, base: str, head: str, upstream: str) -> tuple[dict[tuple[str, int], int], set]:
    """(model, number on the branch) -> number after sync, and the branch versions already on
    upstream (recognised by identity, not by commit subject or number): those map to
    upstream's number and are not registered again; the rest move past upstream's highest."""
    mapping, landed = {}, set()
    for model in sorted(_models(tree, head)):
        ours = _versions(tree, base, model)
        mine = sorted(_versions(tree, head, model) - ours)
        if not mine:
            continue
        theirs = _versions(tree, upstream, model)
        known = {i: n for n, i in _identities(tree, upstream, model, theirs - ours).items() if i}
        rest = []
        for number, ident in _identities(tree, head, model, mine).items():
            if ident in known:
                mapping[(model, number)] = known.pop(ident)
                landed.add((model, number))
            else:
                rest.append(number)
        if rest and theirs and min(rest) <= max(theirs):
            for offset, number in enumerate(rest, start=max(theirs) + 1):
                mapping[(model, number)] = offset
    return mapping, landed


def sync(tree, remote: str = "origin") -> dict:
    ops = tree.git.branches
    branch = tree.git.current_branch()
    if branch is None:
        raise InvalidInput("HEAD is detached: check out the branch to sync first")
    if tree.git.dirty_paths([layout.ROOT, layout.REGISTRY_FILE]):
        raise InvalidInput("uncommitted changes under registry/: commit or discard them before syncing")
    ops.fetch(remote)
    upstream = tree.git.rev_parse(f"{remote}/{tree.main_branch}")
    head = tree.git.rev_parse("HEAD")
    base = ops.merge_base(head, upstream)
    commits = ops.commits(base, head)
    result = {"branch": branch, "upstream": upstream, "commits": len(commits), "renumbered": {},
              "already_upstream": {}}
    if base == upstream:
        return dict(result, action="up to date")
    if not commits:
        ops.reset_branch(branch, upstream)
        return dict(result, action="fast-forwarded")
    mapping, landed = numbering(tree, base, head, upstream)
    if not mapping:
        ops.rebase(upstream)
        try:
            _verify(tree, upstream)
        except RegistryError:
            ops.reset_branch(branch, head)
            raise
        return dict(result, action="rebased")
    skipped = _replay(tree, branch, upstream, base, commits, mapping, landed)
    result["renumbered"] = {f"{m}@{n}": new for (m, n), new in mapping.items() if (m, n) not in landed}
    result["already_upstream"] = {f"{m}@{n}": new for (m, n), new in mapping.items() if (m, n) in landed}
    result["skipped_commits"] = skipped
    return dict(result, action="rebased and renumbered" if result["renumbered"] else "rebased")


def _verify(tree, upstream: str) -> None:
    """Refuse a result with problems upstream does not have (two production versions, a dangling
    parent, ...): key-by-key merges can each be right and still add up to a wrong registry."""
    from ..rules.check import run_check

    found = run_check(tree.git, at="HEAD").problems
    known = {str(p) for p in run_check(tree.git, at=upstream).problems}
    new = [p for p in found if str(p) not in known]
    if new:
        raise PolicyViolation(f"sync would leave {len(new)} problem(s) on the branch, first: {new[0]}; "
                              "the branch is unchanged: rebase it by hand and resolve the conflict")


def _replay(tree, branch, upstream, base, commits, mapping, landed) -> int:
    ops = tree.git.branches
    parked = Path(tempfile.mkdtemp(prefix="modelreg-sync-", dir=tree.git.common_dir))
    try:
        moved = _park_weights(tree, mapping, parked)
        seen = ops.authored_changes(base, upstream)
        ops.reset_branch(branch, upstream)
        replayed = sum(_replay_one(tree, commit, mapping, landed, seen) for commit in commits)
        _verify(tree, upstream)
        for (model, _number), folder in moved.items():
            target = tree.root / layout.weights_dir(model, mapping[(model, _number)])
            if not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.move(str(folder), target)
    except Exception:
        ops.reset_branch(branch, commits[-1])  # leave the branch as it was
        _unpark(tree, parked)
        raise
    shutil.rmtree(parked, ignore_errors=True)
    return len(commits) - replayed


def _park_weights(tree, mapping, parked: Path) -> dict:
    """Move the branch's weights folders aside: upstream's version N is not ours."""
    moved = {}
    for model, number in mapping:
        folder = tree.root / layout.weights_dir(model, number)
        if folder.is_dir():
            dest = parked / model / str(number)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(folder), dest)
            moved[(model, number)] = dest
    return moved


def _unpark(tree, parked: Path) -> None:
    for folder in parked.glob("*/*"):
        target = tree.root / layout.weights_dir(folder.parent.name, int(folder.name))
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


def _replay_one(tree, commit: str, mapping, landed, seen) -> bool:
    """Replay one branch commit on top of upstream; False when upstream already has it."""
    ops = tree.git.branches
    changes = ops.diff_tree(commit)
    author, date, message = ops.commit_meta(commit)
    message = _rewrite_message(message, mapping)
    if (author, date, message, frozenset(rename(p, mapping) for _, p in changes)) in seen:
        return False  # the same author's same change, landed through another branch
    touched = []
    for status, path in changes:
        info = layout.classify(path)
        if info and info[2] is not None and (info[1], info[2]) in landed and status == "A":
            continue  # upstream's record of a version that already landed wins
        target = rename(path, mapping)
        full = tree.root / target
        touched.append(target)
        if status == "D":
            full.unlink(missing_ok=True)
            continue
        if info and info[0] in ("version", "aliases", "model", "card"):
            data = _merge(tree, commit, path, target, info, mapping)
        else:
            data = Snapshot.at(tree.git, commit).read(path)
        full.parent.mkdir(parents=True, exist_ok=True)
        full.write_bytes(data)
    if not touched or not ops.stage_changes(touched):
        return False
    ops.commit_as(touched, message, author, date)
    return True


def _dump(doc: dict, path: str, kind: str) -> bytes:
    schema.validate(kind, doc, path)
    return dump_yaml(doc, layout.schema_ref(path, kind), schema.key_order(kind))


def _translate(kind: str, model: str, doc: dict, mapping) -> dict:
    """A record as the branch wrote it, with its version numbers in upstream's numbering.
    Applied to the branch's side only, so every reference is mapped exactly once."""
    if kind == "aliases":
        aliases = doc.get("aliases") or {}
        return {**doc, "aliases": {a: mapping.get((model, v), v) for a, v in aliases.items()}}
    if kind != "version":
        return doc
    doc = dict(doc)
    if "version" in doc:
        doc["version"] = mapping.get((model, doc["version"]), doc["version"])
    parent = doc.get("parent")
    if isinstance(parent, dict) and (parent.get("model"), parent.get("version")) in mapping:
        doc["parent"] = dict(parent, version=mapping[(parent["model"], parent["version"])])
    return doc


def _record(doc) -> dict:
    return doc if isinstance(doc, dict) else {}


def _merge(tree, commit, path, target, info, mapping) -> bytes:
    """Lay the keys this commit changed over the file as upstream (plus earlier replays) has it."""
    kind, model, _ = info
    parent = tree.git.branches.parents(commit)[0]
    before = _translate(kind, model, _record(Snapshot.at(tree.git, parent).record(path)), mapping)
    after = _translate(kind, model, _record(Snapshot.at(tree.git, commit).record(path)), mapping)
    full = tree.root / target
    current = _record(load_yaml(full.read_bytes(), target)) if full.exists() else {}
    if kind == "aliases":
        merged = _lay_over(current.get("aliases") or {}, before.get("aliases") or {}, after.get("aliases") or {})
        return _dump({**current, "aliases": dict(sorted(merged.items()))}, target, "aliases")
    return _dump(_lay_over(current, before, after), target, kind)


def _lay_over(current: dict, before: dict, after: dict) -> dict:
    merged = dict(current)
    for key in set(before) | set(after):
        if before.get(key) != after.get(key):
            if key in after:
                merged[key] = after[key]
            else:
                merged.pop(key, None)
    return merged


def _rewrite_message(message: str, mapping) -> str:
    model = re.search(r"^Modelreg-Model: (\S+)$", message, re.M)
    version = re.search(r"^Modelreg-Version: (\d+)$", message, re.M)
    if not model or not version or (model.group(1), int(version.group(1))) not in mapping:
        return message
    name, old = model.group(1), int(version.group(1))
    new = mapping[(name, old)]
    if new == old:
        return message
    message = re.sub(rf"^Modelreg-Version: {old}$", f"Modelreg-Version: {new}", message, flags=re.M)
    message = message.replace(f"{name} version {old}", f"{name} version {new}")
    message = message.replace(f"{name}@{old}", f"{name}@{new}")
    return message + f"\nModelreg-Renumbered: {old} -> {new}"


__all__ = ["sync", "numbering", "identity"]


def publish(tree, remote: str = "origin", attempts: int = 3) -> dict:
    """Push the main branch after a direct write (the MLflow store's writes): where the remote
    moved meanwhile, `sync` first (rebase, renumber a version number someone else took), then
    push again, so concurrent writers never lose a version. No remote: nothing to do."""
    ops = tree.git.branches
    if not ops.has_remote(remote):
        return {"pushed": False, "renumbered": {}}
    renumbered: dict = {}
    for _ in range(attempts):
        try:
            ops.push(f"HEAD:refs/heads/{tree.main_branch}", remote=remote)
            return {"pushed": True, "renumbered": renumbered}
        except RegistryError:
            renumbered.update(sync(tree, remote).get("renumbered") or {})
    raise ExternalError(f"could not push {tree.main_branch} to {remote} after {attempts} attempts (others keep "
                        "pushing); the commit is kept here: sync it and push again", hint="sync_push")
