"""The only module that talks to DVC. DVC is imported inside functions: it costs ~0.4 s."""
import configparser
import contextlib
import io
import logging
import os
from pathlib import Path

from ..errors import ExternalError, InvalidRecord
from ..records import load_yaml

os.environ.setdefault("DVC_NO_ANALYTICS", "1")


@contextlib.contextmanager
def _quiet():
    """DVC talks to the terminal; the core never prints, so its chatter is swallowed."""
    from dvc.ui import ui

    was = ui._enabled
    ui._enabled = False
    dvc_log = logging.getLogger("dvc")
    level, propagate = dvc_log.level, dvc_log.propagate
    dvc_log.setLevel(logging.WARNING)
    dvc_log.propagate = False
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            yield
    finally:
        ui._enabled = was
        dvc_log.setLevel(level)
        dvc_log.propagate = propagate


def _repo(root):
    os.environ["DVC_NO_ANALYTICS"] = "1"
    from dvc.repo import Repo

    return Repo(str(root))


def init(root: Path, remote_name: str, remote_url: str, endpoint_url: str | None = None) -> None:
    """`dvc init` plus a default remote, with analytics and update checks off."""
    os.environ["DVC_NO_ANALYTICS"] = "1"
    from dvc.repo import Repo

    try:
        with _quiet():
            repo = Repo.init(str(root))
        with repo.config.edit() as conf:
            conf["core"]["analytics"] = False
            conf["core"]["check_update"] = False
            conf["core"]["remote"] = remote_name
            conf["remote"][remote_name] = {"url": remote_url}
            if endpoint_url:
                conf["remote"][remote_name]["endpointurl"] = endpoint_url
        repo.close()
    except Exception as exc:  # DVC raises many types; the user needs one line
        raise ExternalError(f"dvc init failed: {exc}") from None


def remote_url(root: Path, name: str) -> str | None:
    """The URL of a DVC remote from .dvc/config, read without importing DVC."""
    parser = configparser.ConfigParser()
    parser.read([root / ".dvc" / "config", root / ".dvc" / "config.local"])
    section = f"remote \"{name}\""
    url = parser.get(section, "url", fallback=None) or parser.get(f"'{section}'", "url", fallback=None)
    if url and "://" not in url and not os.path.isabs(url):
        url = str((root / ".dvc" / url).resolve())
    return url


def read_pointer(data: bytes, path: str) -> dict:
    """A .dvc pointer for a folder: {md5 (…dir), size, nfiles, path}."""
    doc = load_yaml(data, path)
    outs = (doc or {}).get("outs") if isinstance(doc, dict) else None
    if not isinstance(outs, list) or len(outs) != 1 or not isinstance(outs[0], dict):
        raise InvalidRecord(f"{path}: not a DVC pointer with one output")
    return outs[0]


def set_remote(root: Path, remote_name: str, remote_url: str, endpoint_url: str | None = None) -> None:
    """Point the registry's DVC remote at a new URL (tracked .dvc/config; credentials stay local)."""
    os.environ["DVC_NO_ANALYTICS"] = "1"
    try:
        with _repo(root) as repo, repo.config.edit() as conf:
            section = {"url": remote_url}
            if endpoint_url:
                section["endpointurl"] = endpoint_url
            conf["remote"][remote_name] = section
            conf["core"]["remote"] = remote_name
    except Exception as exc:
        raise ExternalError(f"could not update .dvc/config: {exc}") from None
