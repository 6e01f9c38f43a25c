"""Where a registry is: a local Git repository, or a URL kept as a cached partial clone.

A remote registry is cloned once without blobs (`--filter=blob:none --no-checkout`) under
the cache folder and refreshed with `git fetch` at most once per TTL; reading an alias then
fetches just the few record blobs it needs, never the history's. The same Registry object
is reused in the process, so warm reads stay in memory.
"""
import hashlib
import os
import re
import threading
import time
from pathlib import Path

from ..artifacts.cache import cache_root
from ..core.errors import InvalidInput, NotFound
from ..registry import Registry
from ..store import gitstore
from ..store.snapshot import Snapshot

DEFAULT_TTL = 60.0
_SCP_LIKE = re.compile(r"^[\w.-]+@[\w.-]+:")
_OPEN: dict[str, tuple[Registry, str | None]] = {}
_LOCK = threading.Lock()


def is_url(where: str) -> bool:
    return "://" in where or bool(_SCP_LIKE.match(where))


def fetch_ttl() -> float:
    try:
        return float(os.environ.get("MODELREG_FETCH_TTL", DEFAULT_TTL))
    except ValueError as exc:
        raise InvalidInput("MODELREG_FETCH_TTL must be a number of seconds") from exc


def open_registry(where: str | os.PathLike | Registry | None = None, refresh: bool | None = None) -> Registry:
    """A Registry for a path or URL (None: $MODELREG_REGISTRY or the current folder)."""
    if isinstance(where, Registry):
        return where
    where = str(where or os.environ.get("MODELREG_REGISTRY") or ".")
    if not is_url(where):
        return _open_local(where)
    return _open_remote(where, refresh)


def url_of(reg: Registry) -> str | None:
    """The URL a registry was opened from, when it is a cached clone (credentials included:
    for git's use only; record or print `where(reg)`)."""
    for key, (opened, url) in _OPEN.items():
        if opened is reg:
            return url
    return None


def where(reg: Registry) -> str:
    """What to record or print for a registry: its URL without credentials, or its folder."""
    url = url_of(reg)
    return redact(url) if url else str(reg.root)


def redact(url: str) -> str:
    """`url` without userinfo or credential query parameters (core/urls.py); an scp-like
    `git@host:path` keeps its user, which is not a secret."""
    from ..core.urls import redact_url

    return redact_url(url)


def _open_local(where: str) -> Registry:
    path = Path(where).expanduser()
    if not path.exists():
        raise NotFound(f"registry {where} does not exist; give a registry folder or a Git URL")
    key = str(path.resolve())
    with _LOCK:
        if key not in _OPEN:
            _OPEN[key] = (Registry(path), None)
        return _OPEN[key][0]


def clone_path(url: str) -> Path:
    return cache_root() / "registries" / hashlib.sha256(url.encode()).hexdigest()[:20]


def _open_remote(url: str, refresh: bool | None) -> Registry:
    path = clone_path(url)
    with _LOCK:
        stamp = _stamp_path(path)
        if not (path / ".git").exists():
            gitstore.clone_partial(url, path)
            stamp.touch()
        elif refresh or (refresh is None and _stale(stamp)):
            gitstore.fetch_all(path)
            stamp.touch()
        key = f"{url}\0{path}"
        if key not in _OPEN:
            _OPEN[key] = (Registry(path, main_branch=_main_branch(path), checkout=False), url)
        return _OPEN[key][0]


def _stamp_path(clone: Path) -> Path:
    """When the clone was last fetched: kept beside it, so the clone holds only what git wrote."""
    return clone.with_name(clone.name + ".fetched")


def refresh(reg: Registry) -> None:
    """Fetch a cached clone now (no-op for a local registry: its refs are already current)."""
    url = url_of(reg)
    if url:
        with _LOCK:
            gitstore.fetch_all(reg.root)
            _stamp_path(reg.root).touch()


def head_of(reg: Registry, branch: str | None = None) -> str | None:
    """The remote's current sha of the main branch, by one ls-remote; local: rev-parse."""
    branch = branch or reg.main_branch
    url = url_of(reg)
    if url is None:
        return reg.git.rev_parse(branch)
    return gitstore.ls_remote(url, f"refs/heads/{branch}", cwd=reg.root)


def _stale(stamp: Path) -> bool:
    try:
        return time.time() - stamp.stat().st_mtime >= fetch_ttl()
    except FileNotFoundError:
        return True


def _main_branch(path: Path) -> str:
    """The registry's main branch, from registry.yaml on the remote's default branch (HEAD),
    read from Git objects; it may name another branch than HEAD."""
    store = gitstore.GitStore(path)
    try:
        return Snapshot(store, store.rev_parse("HEAD")).settings_in_force.main_branch
    finally:
        store.close()


def forget() -> None:
    """Drop the opened registries (tests, and after moving the cache folder)."""
    with _LOCK:
        for reg, _ in _OPEN.values():
            reg.close()
        _OPEN.clear()
