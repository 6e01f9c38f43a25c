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

from . import gitstore, layout
from .errors import InvalidInput, NotFound
from .records import load_yaml
from .registry import Registry
from .settings import Settings

DEFAULT_TTL = 60.0
_SCP_LIKE = re.compile(r"^[\w.-]+@[\w.-]+:")
_OPEN: dict[str, tuple[Registry, str | None]] = {}
_LOCK = threading.Lock()


def cache_dir() -> Path:
    """$MODELREG_CACHE, else $XDG_CACHE_HOME/modelreg, else ~/.cache/modelreg."""
    if os.environ.get("MODELREG_CACHE"):
        return Path(os.environ["MODELREG_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "modelreg"


def is_url(where: str) -> bool:
    return "://" in where or bool(_SCP_LIKE.match(where))


def fetch_ttl() -> float:
    try:
        return float(os.environ.get("MODELREG_FETCH_TTL", DEFAULT_TTL))
    except ValueError:
        raise InvalidInput("MODELREG_FETCH_TTL must be a number of seconds") from None


def open_registry(where: str | os.PathLike | Registry | None = None, refresh: bool | None = None) -> Registry:
    """A Registry for a path or URL (None: $MODELREG_REGISTRY or the current folder)."""
    if isinstance(where, Registry):
        return where
    where = str(where or os.environ.get("MODELREG_REGISTRY") or ".")
    if not is_url(where):
        return _open_local(where)
    return _open_remote(where, refresh)


def url_of(reg: Registry) -> str | None:
    """The URL a registry was opened from, when it is a cached clone."""
    for key, (opened, url) in _OPEN.items():
        if opened is reg:
            return url
    return None


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
    return cache_dir() / "registries" / hashlib.sha256(url.encode()).hexdigest()[:20]


def _open_remote(url: str, refresh: bool | None) -> Registry:
    path = clone_path(url)
    with _LOCK:
        stamp = path / ".git" / "modelreg-fetched"
        if not (path / ".git").exists():
            gitstore.clone_partial(url, path)
            _after_fetch(path)
        elif refresh or (refresh is None and _stale(stamp)):
            gitstore.fetch_all(path)
            _after_fetch(path)
        key = f"{url}\0{path}"
        if key not in _OPEN:
            _OPEN[key] = (Registry(path, main_branch=_main_branch(path)), url)
        return _OPEN[key][0]


def refresh(reg: Registry) -> None:
    """Fetch a cached clone now (no-op for a local registry: its refs are already current)."""
    url = url_of(reg)
    if url:
        with _LOCK:
            gitstore.fetch_all(reg.root)
            _after_fetch(reg.root)


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


SETTINGS_FILES = (layout.REGISTRY_FILE, ".dvc/config")


def _after_fetch(path: Path) -> None:
    """Write registry.yaml and .dvc/config from the default branch into the (otherwise empty)
    working tree: settings and the DVC remote are read from files there."""
    store = gitstore.GitStore(path)
    try:
        blobs = store.read_objects([f"HEAD:{name}" for name in SETTINGS_FILES])
    finally:
        store.close()
    for name, data in zip(SETTINGS_FILES, blobs):
        if data is not None:
            target = path / name
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(target.name + ".tmp")
            tmp.write_bytes(data)
            os.replace(tmp, target)
    (path / ".git" / "modelreg-fetched").touch()


def _main_branch(path: Path) -> str:
    """The registry's main branch from registry.yaml on the remote's default branch."""
    settings_file = path / layout.REGISTRY_FILE
    if not settings_file.exists():
        return Settings().main_branch
    return Settings(load_yaml(settings_file.read_bytes(), layout.REGISTRY_FILE) or {}).main_branch


def forget() -> None:
    """Drop the opened registries (tests, and after moving the cache folder)."""
    with _LOCK:
        for reg, _ in _OPEN.values():
            reg.close()
        _OPEN.clear()
