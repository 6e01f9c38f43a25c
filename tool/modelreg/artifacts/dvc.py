"""The only module that talks to DVC, and the one that knows DVC's file formats (the remote
layout, .dvc pointers, .dir listings, config files). DVC itself is imported inside functions:
it costs ~0.4 s, and reading the formats needs none of it."""
import configparser
import contextlib
import hashlib
import io
import json
import logging
import os
import posixpath
import re
from pathlib import Path

from ..core.errors import ExternalError, IntegrityError, InvalidInput, InvalidRecord
from ..core.records import load_yaml


@contextlib.contextmanager
def _no_analytics():
    """DVC reads DVC_NO_ANALYTICS from the environment; set it only while DVC runs."""
    was = os.environ.get("DVC_NO_ANALYTICS")
    os.environ["DVC_NO_ANALYTICS"] = "1"
    try:
        yield
    finally:
        if was is None:
            os.environ.pop("DVC_NO_ANALYTICS", None)
        else:
            os.environ["DVC_NO_ANALYTICS"] = was


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


def init(root: Path, remote_name: str, remote_url: str, endpoint_url: str | None = None) -> None:
    """`dvc init` plus a default remote, with analytics and update checks off."""
    from dvc.repo import Repo

    try:
        with _no_analytics(), _quiet():
            repo = Repo.init(str(root))
        with _no_analytics(), repo.config.edit() as conf:
            conf["core"]["analytics"] = False
            conf["core"]["check_update"] = False
            conf["core"]["remote"] = remote_name
            conf["remote"][remote_name] = {"url": remote_url}
            if endpoint_url:
                conf["remote"][remote_name]["endpointurl"] = endpoint_url
        repo.close()
    except Exception as exc:  # DVC raises many types; the user needs one line
        raise ExternalError(f"dvc init failed: {exc}") from exc


LAYOUT = "files/md5"
_MD5 = re.compile(r"[0-9a-f]{32}")
_DIR_MD5 = re.compile(r"[0-9a-f]{32}\.dir")
_CREDENTIAL_KEYS = ("access_key_id", "secret_access_key", "session_token", "connection_string", "account_key",
                    "sas_token")
POINTER = """outs:
- md5: {md5}
  size: {size}
  nfiles: {nfiles}
  hash: md5
  path: {path}
"""


# -- DVC's file formats, read without DVC: the remote layout, pointers, listings, config ---
def object_key(md5: str) -> str:
    """`files/md5/ab/cdef…` for a file md5, or a folder's `….dir` md5."""
    base = md5[:-4] if md5.endswith(".dir") else md5
    if not _MD5.fullmatch(base):
        raise InvalidInput(f"not a DVC md5: {md5!r}")
    return f"{LAYOUT}/{md5[:2]}/{md5[2:]}"


def md5_of_key(key: str) -> str | None:
    """The md5 (with .dir) a layout key names, or None for anything else."""
    parts = key.split("/")
    if len(parts) != 4 or "/".join(parts[:2]) != LAYOUT:
        return None
    md5 = parts[2] + parts[3]
    return md5 if _MD5.fullmatch(md5[:-4] if md5.endswith(".dir") else md5) else None


def safe_relpath(rel, what: str) -> str:
    """A relative POSIX path that stays inside its folder, or InvalidRecord."""
    if not isinstance(rel, str) or not rel or "\\" in rel or "\0" in rel or rel.startswith("/") \
            or re.match(r"[A-Za-z]:", rel) or any(p in ("", ".", "..") for p in rel.split("/")):
        raise InvalidRecord(f"{what}: unsafe path {rel!r} (absolute, '..' or empty parts); "
                            "refusing it; fix the record or re-push the version")
    return rel


def read_pointer(data: bytes, path: str) -> dict:
    """A .dvc pointer for a folder: {md5 (….dir), size, nfiles, path}, checked to stay inside
    the version folder and to name a folder listing."""
    doc = load_yaml(data, path)
    outs = (doc or {}).get("outs") if isinstance(doc, dict) else None
    if not isinstance(outs, list) or len(outs) != 1 or not isinstance(outs[0], dict):
        raise InvalidRecord(f"{path}: not a DVC pointer with one output")
    out = outs[0]
    target = out.get("path")
    if not isinstance(target, str) or posixpath.isabs(target) or \
            posixpath.normpath(target).split("/")[0] in ("..", ".", ""):
        raise InvalidRecord(f"{path}: output path {target!r} escapes the version folder; refusing it")
    safe_relpath(target, path)
    if not isinstance(out.get("md5"), str) or not _DIR_MD5.fullmatch(out["md5"]):
        raise InvalidRecord(f"{path}: md5 {out.get('md5')!r} is not a DVC folder hash (<md5>.dir)")
    return out


def pointer_text(dir_md5: str, size: int, nfiles: int, path: str) -> str:
    return POINTER.format(md5=dir_md5, size=size, nfiles=nfiles, path=path)


def listing_bytes(pairs) -> tuple[bytes, str]:
    """A .dir listing as DVC writes it from (relpath, md5) pairs, and its md5 (….dir)."""
    items = sorted(({"md5": md5, "relpath": rel} for rel, md5 in pairs), key=lambda d: d["relpath"])
    data = json.dumps(items, sort_keys=True).encode()
    return data, hashlib.md5(data).hexdigest() + ".dir"


def parse_listing(data: bytes, dir_md5: str) -> list[tuple[str, str]]:
    """(relpath, md5) pairs of a DVC .dir listing, every path checked."""
    try:
        items = json.loads(data)
    except ValueError as exc:
        raise IntegrityError(f"folder listing {dir_md5} is not JSON; push the version again") from exc
    if not isinstance(items, list):
        raise IntegrityError(f"folder listing {dir_md5} is not a list; push the version again")
    pairs, seen = [], set()
    for item in items:
        if not isinstance(item, dict) or not _MD5.fullmatch(str(item.get("md5", ""))):
            raise IntegrityError(f"folder listing {dir_md5} has a malformed entry {item!r}")
        rel = safe_relpath(item.get("relpath"), f"folder listing {dir_md5}")
        if rel in seen:
            raise IntegrityError(f"folder listing {dir_md5} lists {rel} twice")
        seen.add(rel)
        pairs.append((rel, item["md5"]))
    return pairs


def remote_section(data: bytes | None, name: str, where: str, credentials: bool) -> dict:
    """The options of remote `name` in a DVC config file's bytes (credentials only if asked)."""
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string((data or b"").decode("utf-8", "replace"), source=where)
    except configparser.Error as exc:
        raise InvalidInput(f"{where}: unreadable DVC config ({exc}); fix it by hand") from exc
    for section in (f"'remote \"{name}\"'", f"remote \"{name}\""):
        if parser.has_section(section):
            items = dict(parser.items(section))
            return items if credentials else {k: v for k, v in items.items() if k not in _CREDENTIAL_KEYS}
    return {}


def set_remote(root: Path, remote_name: str, remote_url: str, endpoint_url: str | None = None) -> None:
    """Point the registry's DVC remote at a new URL (tracked .dvc/config; credentials stay local)."""
    from dvc.repo import Repo

    try:
        with _no_analytics(), Repo(str(root)) as repo, repo.config.edit() as conf:
            section = {"url": remote_url}
            if endpoint_url:
                section["endpointurl"] = endpoint_url
            conf["remote"][remote_name] = section
            conf["core"]["remote"] = remote_name
    except Exception as exc:
        raise ExternalError(f"could not update .dvc/config: {exc}") from exc
