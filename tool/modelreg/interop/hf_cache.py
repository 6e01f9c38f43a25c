"""A version laid out in the Hugging Face hub cache, so serving stacks load it by repo id.

    $HF_HUB_CACHE/models--ORG--NAME/
        blobs/<sha256>                 the registered bytes (hard links into modelreg's cache)
        snapshots/<snapshot>/<path>    relative symlinks into blobs/
        refs/<alias>, refs/v<N>        the snapshot id, no newline (what huggingface_hub writes)

The snapshot id is a 40-hex name derived from the version's content (model, number, every
path and sha256), so pulling the same version twice lands in the same snapshot. A snapshot
is built in a staging folder and renamed in; refs are written last, so an interrupted run
never leaves a revision pointing at a half-written snapshot.

What is there already is never trusted: a blob that is not the verified cache object itself
is linked (or, across filesystems, re-hashed and copied) again; a snapshot holding anything
but the version's links is rebuilt. `.modelreg-refs.json` beside refs/ notes which refs
modelreg wrote and for what; an alias ref whose alias has left that version (moved or
removed) is deleted at the next pull into the repo, so no revision serves a version its
alias no longer names. Ref names the hub gives a meaning to are refused for aliases:
`main` (the revision loaded when none is given) and 40 hex digits (read as a commit id).
"""
import json
import errno
import hashlib
import logging
import os
import re
import shutil
import stat
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from ..core.errors import InvalidInput, InvalidRecord, RegistryError

log = logging.getLogger(__name__)

_REPO_PART = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,95}")
_REVISION = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_COMMIT_LIKE = re.compile(r"[0-9a-fA-F]{40}")
_VERSION_REF = re.compile(r"v\d+")
DEFAULT_REVISION = "main"
REFS_NOTE = ".modelreg-refs.json"
DEFAULT_ORG = "modelreg"


@dataclass
class HFCacheResult:
    repo_id: str
    model: str
    version: int
    snapshot: Path
    commit: str
    refs: list[str]
    files: int
    bytes: int
    linked: int = 0  # blobs hard-linked to modelreg's cache
    copied: int = 0  # blobs copied (another filesystem, or links not allowed)
    base: "HFCacheResult | None" = field(default=None)

    def chain(self) -> list["HFCacheResult"]:
        """The full weights first, this version last (one item unless this is an adapter)."""
        found = [self]
        while found[-1].base is not None:
            found.append(found[-1].base)
        return found[::-1]

    def to_dict(self) -> dict:
        out = {"repo_id": self.repo_id, "model": self.model, "version": self.version,
               "snapshot": str(self.snapshot), "commit": self.commit, "refs": self.refs,
               "files": self.files, "bytes": self.bytes, "linked": self.linked, "copied": self.copied}
        if self.base is not None:
            out["base"] = self.base.to_dict()
            out["load"] = load_recipe(self)
        return out


def load_recipe(result: HFCacheResult) -> str:
    """Python that loads `result` by repo id from the hub cache, each step of an adapter's
    lineage pinned to the snapshot laid out for it (its 40-hex id, which huggingface_hub reads
    as a commit): a later move of the base's `production`, or of any alias, changes nothing it
    loads. Never an alias: the base an adapter was registered on is a version, not a stage."""
    base, *adapters = result.chain()
    lines = ["from transformers import AutoModelForCausalLM"] + (["from peft import PeftModel"] if adapters else [])
    lines.append(f'model = AutoModelForCausalLM.from_pretrained("{base.repo_id}", revision="{base.commit}")'
                 f"  # {base.model}@{base.version}")
    for i, step in enumerate(adapters):
        merge = ".merge_and_unload()" if i < len(adapters) - 1 else ""
        lines.append(f'model = PeftModel.from_pretrained(model, "{step.repo_id}", revision="{step.commit}"){merge}'
                     f"  # {step.model}@{step.version}")
    return "\n".join(lines)


def hub_cache(hf_home: str | os.PathLike | None = None) -> Path:
    """Where huggingface_hub looks: --hf-home/hub, $HF_HUB_CACHE, $HF_HOME/hub, XDG, ~/.cache."""
    if hf_home:
        return Path(hf_home).expanduser() / "hub"
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser() / "hub"
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "huggingface" / "hub"


def check_repo_id(repo_id: str) -> str:
    parts = repo_id.split("/") if isinstance(repo_id, str) else []
    if len(parts) != 2 or not all(_REPO_PART.fullmatch(p) for p in parts) \
            or any("--" in p or ".." in p for p in parts):
        raise InvalidInput(f"invalid repo id {repo_id!r}: use ORG/NAME (letters, digits, '.', '_', '-'; "
                           "no '--' or '..')")
    return repo_id


def check_revision(name: str) -> str:
    if not isinstance(name, str) or not _REVISION.fullmatch(name) or ".." in name:
        raise InvalidInput(f"invalid revision name {name!r}: use letters, digits, '.', '_' or '-'")
    if _COMMIT_LIKE.fullmatch(name):
        raise InvalidInput(f"invalid revision name {name!r}: 40 hex digits name a commit in the Hugging Face "
                           "cache, not a ref")
    return name


def check_refs(resolved, extra) -> None:
    """Refuse a ref that would shadow what the hub cache already means by that name: an alias
    `main` (the revision loaded when none is given) or 40 hex digits (a commit id), or a
    revision v<N> naming another version's ref."""
    for alias in sorted(resolved.aliases):
        if alias == DEFAULT_REVISION or _COMMIT_LIKE.fullmatch(alias):
            meaning = "the revision loaded when none is given" if alias == DEFAULT_REVISION else "a commit id"
            raise InvalidInput(f"{resolved.model}@{resolved.version} has the alias {alias!r}, which the Hugging "
                               f"Face cache reads as {meaning}; rename the alias before laying the version "
                               "out there")
    for name in extra:
        if _VERSION_REF.fullmatch(name) and name != f"v{resolved.version}":
            raise InvalidInput(f"revision {name!r} names version {name[1:]}'s ref, not "
                               f"{resolved.model}@{resolved.version}'s; choose another name")


def snapshot_id(model: str, version: int, artifacts: list[dict]) -> str:
    """40 hex digits naming the version's exact content (huggingface_hub wants a commit-like name)."""
    digest = hashlib.sha1(f"modelreg\0{model}\0{version}".encode())
    for art in sorted(artifacts, key=lambda a: a["path"]):
        digest.update(f"\0{art['path']}\0{art['sha256']}".encode())
    return digest.hexdigest()


def pull_to_hf_cache(registry, ref, repo_id: str | None = None, hf_home=None, at: str | None = None,
                     revisions=(), progress=None, verify_signature: bool = False) -> HFCacheResult:
    """Fetch and verify a version, then lay it out under `repo_id` in the hub cache.

    An adapter's lineage (found through the registry, at the same commit) is laid out too,
    each version under ORG/<its model>, so `PeftModel.from_pretrained(base_by_repo_id,
    adapter_repo_id)` works offline, and for an adapter on an adapter, every step down to
    the full weights is there. `result.base` is the next step down (its own `.base` the one
    after).
    """
    from ..loading import weights
    from ..store import reads

    resolved = registry.resolve(ref, at=at)
    registry.require_on_main(resolved.commit, at, [(resolved.model, resolved.version)])
    snap = registry.snapshot(resolved.commit)
    repo_id = check_repo_id(repo_id or f"{DEFAULT_ORG}/{resolved.model}")
    extra = [check_revision(r) for r in revisions]
    root = hub_cache(hf_home)
    jobs = [(resolved, repo_id, extra)]
    if resolved.model_type == "adapter":
        chain = reads.lineage(snap, resolved)[1:]
        org = repo_id.split("/")[0]
        for step in chain:
            jobs.append((step, check_repo_id(f"{org}/{step.model}"), []))
            if step.record.get("model_type") != "adapter":
                break  # full weights: nothing below is needed to load
    # everything fetched and verified before the first byte goes into the HF cache
    for r, _, names in jobs:
        check_refs(r, names)  # before anything is fetched or written
    folders = [weights.pull(snap, r, registry.root, progress=progress, verify_signature=verify_signature).path
               for r, _, _ in jobs]
    written = [_write_one(r, folder, repo, root, names, _alias_snapshots(snap, r.model))
               for (r, repo, names), folder in zip(jobs, folders)]
    for upper, lower in zip(written, written[1:]):
        upper.base = lower
    return written[0]


def _alias_snapshots(snap, model: str) -> dict[str, str]:
    """alias -> the snapshot id of the version it names now, for every alias of `model`."""
    from ..store import reads

    found = {}
    for alias, number in reads.aliases(snap, model).items():
        try:
            artifacts = reads.version(snap, model, int(number)).get("artifacts") or []
        except (RegistryError, TypeError, ValueError):
            continue  # an alias naming no readable version: its ref (if any) is stale
        found[alias] = snapshot_id(model, int(number), artifacts)
    return found


def _write_one(resolved, folder: Path, repo_id, root: Path, extra, alias_snapshots: dict) -> HFCacheResult:
    artifacts = resolved.record.get("artifacts") or []
    if not artifacts:
        raise InvalidRecord(f"{resolved.model}@{resolved.version} has no artifacts to lay out")
    kinds = {**{name: "revision" for name in extra}, f"v{resolved.version}": "version",
             **{alias: "alias" for alias in resolved.aliases}}
    refs = sorted(kinds)
    commit = snapshot_id(resolved.model, resolved.version, artifacts)
    written = write_snapshot(folder, artifacts, repo_id, root, commit, refs)
    _note_refs(repo_folder(root, repo_id), resolved.model, commit, kinds, alias_snapshots)
    return HFCacheResult(repo_id, resolved.model, resolved.version, files=len(artifacts),
                         bytes=sum(int(a.get("size_bytes", 0)) for a in artifacts), **written)


def repo_folder(root: Path, repo_id: str) -> Path:
    return root / ("models--" + repo_id.replace("/", "--"))


def write_snapshot(folder: Path, artifacts: list[dict], repo_id: str, root: Path, commit: str,
                   refs: list[str]) -> dict:
    """Blobs, then the snapshot (staged, renamed in), then refs. Returns what was done."""
    repo = repo_folder(root, repo_id)
    counts = {"linked": 0, "copied": 0}
    for art in artifacts:
        how = _put_blob(folder / art["path"], repo / "blobs" / art["sha256"], int(art["size_bytes"]))
        if how:
            counts[how] += 1
        if how == "linked":  # a new link changes the cache object's ctime: note it, or the next pull re-hashes
            _restamp(art["sha256"], int(art["size_bytes"]))
    snapshot = repo / "snapshots" / commit
    if not _snapshot_complete(snapshot, artifacts):
        _stage_snapshot(repo, snapshot, artifacts)
    for name in refs:
        _write_ref(repo, name, commit)
    if counts["copied"]:
        log.info("%s: copied %d blob(s): the HF cache is on another filesystem than modelreg's cache",
                 repo_id, counts["copied"])
    return {"snapshot": snapshot, "commit": commit, "refs": refs, **counts}


def _restamp(sha256: str, size: int) -> None:
    from ..artifacts.cache import Cache

    Cache().restamp(sha256, size)


def _put_blob(src: Path, blob: Path, size: int) -> str | None:
    """Hard-link the verified file in as the blob, or copy it across filesystems.

    A blob already there is kept only when it is the verified file itself (same inode), or,
    where links cannot be made, when its bytes hash to its name: never on its size alone."""
    if _same_inode(src, blob):
        return None
    blob.parent.mkdir(parents=True, exist_ok=True)
    tmp = blob.with_name(f".{blob.name}.{uuid.uuid4().hex}.incomplete")
    try:
        try:
            os.link(src, tmp)
            how = "linked"
        except OSError as exc:
            if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP):
                raise
            if _holds(blob, blob.name, size):
                return None
            shutil.copyfile(src, tmp)
            how = "copied"
        os.replace(tmp, blob)
    finally:
        tmp.unlink(missing_ok=True)
    return how


def _same_inode(src: Path, blob: Path) -> bool:
    try:
        a, b = src.stat(), blob.lstat()  # a symlink as the blob is never the verified file
    except FileNotFoundError:
        return False
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def _holds(blob: Path, sha256: str, size: int) -> bool:
    """The blob is a regular file whose bytes hash to `sha256` (a copy made on another filesystem)."""
    from ..artifacts.cache import sha256_file

    try:
        st = blob.lstat()
    except FileNotFoundError:
        return False
    return stat.S_ISREG(st.st_mode) and st.st_size == size and sha256_file(blob) == sha256


def _link_target(snapshot: Path, art: dict) -> str:
    link = snapshot / art["path"]
    return os.path.relpath(snapshot.parent.parent / "blobs" / art["sha256"], link.parent)


def _snapshot_complete(snapshot: Path, artifacts: list[dict]) -> bool:
    """The snapshot is a real folder holding the version's links and nothing else."""
    if snapshot.is_symlink() or not snapshot.is_dir():
        return False
    wanted = {a["path"] for a in artifacts}
    folders = {"/".join(p.split("/")[:i]) for p in wanted for i in range(1, p.count("/") + 1)}
    for dirpath, dirnames, filenames in os.walk(snapshot):
        for name in dirnames + filenames:
            rel = Path(dirpath, name).relative_to(snapshot).as_posix()
            if rel not in wanted and (rel not in folders or os.path.islink(os.path.join(dirpath, name))):
                return False
    try:
        return all(os.readlink(snapshot / a["path"]) == _link_target(snapshot, a) for a in artifacts)
    except OSError:
        return False


def _stage_snapshot(repo: Path, snapshot: Path, artifacts: list[dict]) -> None:
    # The staging folder sits at the same depth as snapshots/<id>, so relative links stay valid.
    staging = repo / ".modelreg-staging" / uuid.uuid4().hex
    try:
        for art in artifacts:
            link = staging / art["path"]
            link.parent.mkdir(parents=True, exist_ok=True)
            os.symlink(_link_target(snapshot, art), link)
        snapshot.parent.mkdir(parents=True, exist_ok=True)
        if snapshot.is_symlink() or snapshot.is_file():  # not ours: a snapshot is a real folder
            snapshot.unlink()
        elif snapshot.exists():  # an older, broken or added-to layout of the same content: replace it
            shutil.rmtree(snapshot)
        os.replace(staging, snapshot)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        try:
            staging.parent.rmdir()
        except OSError:
            pass


def _write_ref(repo: Path, name: str, commit: str) -> None:
    # Staged outside refs/: scan_cache_dir reads every file there as a ref.
    path = repo / "refs" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = repo / ".modelreg-staging"
    staging.mkdir(exist_ok=True)
    tmp = staging / f"ref.{uuid.uuid4().hex}"
    tmp.write_text(commit)  # no newline: huggingface_hub compares the file's text as-is
    os.replace(tmp, path)
    try:
        staging.rmdir()
    except OSError:
        pass


def _note_refs(repo: Path, model: str, commit: str, kinds: dict, alias_snapshots: dict) -> None:
    """Note the refs just written, then delete every alias ref of `model` noted before whose
    alias no longer names the version it points at (a moved or removed alias)."""
    note = _read_note(repo)
    for name, kind in kinds.items():
        note[name] = {"model": model, "kind": kind, "snapshot": commit}
    for name, entry in sorted(note.items()):
        if entry.get("model") != model or entry.get("kind") != "alias":
            continue
        if alias_snapshots.get(name) != entry.get("snapshot"):
            ref = repo / "refs" / name
            try:
                if ref.read_text() == entry.get("snapshot"):  # still what modelreg wrote there
                    ref.unlink()
            except (FileNotFoundError, IsADirectoryError):
                pass
            del note[name]
    tmp = repo / f"{REFS_NOTE}.{uuid.uuid4().hex}.tmp"
    try:
        tmp.write_text(json.dumps(note, indent=1, sort_keys=True) + "\n")
        os.replace(tmp, repo / REFS_NOTE)
    finally:
        tmp.unlink(missing_ok=True)


def _read_note(repo: Path) -> dict:
    try:
        note = json.loads((repo / REFS_NOTE).read_text())
    except (FileNotFoundError, ValueError):
        return {}
    return {k: v for k, v in note.items() if isinstance(v, dict) and _REVISION.fullmatch(str(k))} \
        if isinstance(note, dict) else {}
