"""A version laid out in the Hugging Face hub cache, so serving stacks load it by repo id.

    $HF_HUB_CACHE/models--ORG--NAME/
        blobs/<sha256>                 the registered bytes (hard links into modelreg's cache)
        snapshots/<snapshot>/<path>    relative symlinks into blobs/
        refs/<alias>, refs/v<N>        the snapshot id, no newline (what huggingface_hub writes)

The snapshot id is a 40-hex name derived from the version's content (model, number, every
path and sha256), so pulling the same version twice lands in the same snapshot. A snapshot
is built in a staging folder and renamed in; refs are written last, so an interrupted run
never leaves a revision pointing at a half-written snapshot.
"""
import errno
import hashlib
import logging
import os
import re
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from ..core.errors import InvalidInput, InvalidRecord

log = logging.getLogger(__name__)

_REPO_PART = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,95}")
_REVISION = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
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

    def to_dict(self) -> dict:
        out = {"repo_id": self.repo_id, "model": self.model, "version": self.version,
               "snapshot": str(self.snapshot), "commit": self.commit, "refs": self.refs,
               "files": self.files, "bytes": self.bytes, "linked": self.linked, "copied": self.copied}
        if self.base is not None:
            out["base"] = self.base.to_dict()
        return out


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
    return name


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
    folders = [weights.pull(snap, r, registry.root, progress=progress, verify_signature=verify_signature).path
               for r, _, _ in jobs]
    written = [_write_one(r, folder, repo, root, names) for (r, repo, names), folder in zip(jobs, folders)]
    for upper, lower in zip(written, written[1:]):
        upper.base = lower
    return written[0]


def _write_one(resolved, folder: Path, repo_id, root: Path, extra) -> HFCacheResult:
    artifacts = resolved.record.get("artifacts") or []
    if not artifacts:
        raise InvalidRecord(f"{resolved.model}@{resolved.version} has no artifacts to lay out")
    refs = sorted(set(resolved.aliases) | {f"v{resolved.version}"} | set(extra))
    written = write_snapshot(folder, artifacts, repo_id, root,
                             snapshot_id(resolved.model, resolved.version, artifacts), refs)
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
    """Hard-link the verified file in as the blob, or copy it across filesystems."""
    try:
        if blob.stat().st_size == size:
            return None  # already there (blobs are named by their sha256)
    except FileNotFoundError:
        pass
    blob.parent.mkdir(parents=True, exist_ok=True)
    tmp = blob.with_name(f".{blob.name}.{uuid.uuid4().hex}.incomplete")
    try:
        try:
            os.link(src, tmp)
            how = "linked"
        except OSError as exc:
            if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP):
                raise
            shutil.copyfile(src, tmp)
            how = "copied"
        os.replace(tmp, blob)
    finally:
        tmp.unlink(missing_ok=True)
    return how


def _link_target(snapshot: Path, art: dict) -> str:
    link = snapshot / art["path"]
    return os.path.relpath(snapshot.parent.parent / "blobs" / art["sha256"], link.parent)


def _snapshot_complete(snapshot: Path, artifacts: list[dict]) -> bool:
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
        if snapshot.exists():  # an older, broken layout of the same content: replace it
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
