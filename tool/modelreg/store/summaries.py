"""Query rows, parsed once: per blob id, and per commit for the whole registry.

Parsing 10,000 version.yaml files costs ~1.5 s and listing the tree ~0.2 s; a query across
every model must answer in well under 0.5 s. Both are keyed by what cannot change:
- a blob id names its bytes, so the summary parsed from a blob (core/query.py's `summary`) is
  valid at every commit that has that blob (`rows`); a new commit re-parses only its new blobs;
- a commit names its tree, so the table of every model's rows at a commit (store/reads.py
  builds it) is valid for ever (`load_table`/`save_table`; the newest KEEP_TABLES are kept).
The files (JSON for blobs, marshal for tables) are in the repository's Git directory (`cache_dir`): never stale, only
incomplete. One that cannot be read or written is no error: the rows are parsed instead. A
working-tree snapshot (no blob ids, no commit) is never cached.
"""
import json
import marshal
import os
import sys
import threading
from pathlib import Path

from ..core.query import summary
from .snapshot import paused_gc

VERSION = 1  # bump when core/query.summary keeps different fields
KEEP_TABLES = 8  # commits: main, a release tag, a few branches read by --at
MEMO = 4  # files held in memory by a long-lived process (a serving host, the site build)
_memo: dict[Path, tuple[int, object]] = {}
_lock = threading.Lock()


def cache_dir(git_dir: Path) -> Path:
    return Path(git_dir) / "modelreg" / f"query-v{VERSION}"


def rows(snap, paths: list[str], kind: str, cache: Path | None = None) -> dict[str, dict | None]:
    """path -> the summary of the record there (`kind`: "version", or "model" for its tags);
    None for an absent or malformed file (read it through store/reads.py to get the error)."""
    store = cache / "blobs.json" if cache is not None and snap.git is not None else None
    known = (_load(store) if store is not None else None) or {}
    known = known if isinstance(known, dict) else {}
    shas = {p: snap.sha(p) for p in paths}
    found, missing = {}, []
    for path, sha in shas.items():
        hit = known.get(f"{kind}:{sha}") if sha else None
        if hit is None:
            missing.append(path)
        else:
            found[path] = hit
    if not missing:
        return found
    snap.prefetch(missing)
    added = {}
    with paused_gc():  # a clone's first query parses every version record
        for path in missing:
            doc = snap.doc(path)
            found[path] = _project(doc, kind) if isinstance(doc, dict) else None
            if found[path] is not None and shas[path]:
                added[f"{kind}:{shas[path]}"] = found[path]
    if added and store is not None:
        merged = {**known, **added}
        used = {f"{kind}:{s}" for s in shas.values() if s}
        if len(merged) > 2 * len(used) + 10_000:  # old commits' blobs pile up as stages move
            merged = {k: v for k, v in merged.items() if k in used or not k.startswith(f"{kind}:")}
        _save(store, merged)
    return found


def _project(doc: dict, kind: str) -> dict:
    if kind == "model":
        tags = doc.get("tags")
        return {"tags": tags if isinstance(tags, dict) else {}}
    return summary(doc)


# Tables are marshal files: a 100,000-row table loads in ~0.2 s against ~0.33 s as JSON (issue 23:
# a warm query <= 0.5 s). marshal builds plain values only and runs nothing; the file sits in .git,
# beside the hooks, and one that does not load or has the wrong shape is parsed again. Its name
# carries the marshal format, so another Python never misreads it.
TABLE_SUFFIX = f".m{marshal.version}"


def load_table(cache: Path | None, commit: str):
    """The table saved for `commit`, or None. Callers must not change it (it is shared)."""
    return _load(cache / f"commit-{commit}{TABLE_SUFFIX}", marshal.loads) if cache is not None else None


def save_table(cache: Path | None, commit: str, table) -> None:
    if cache is None:
        return
    _save(cache / f"commit-{commit}{TABLE_SUFFIX}", _interned(table), marshal.dumps)
    try:
        tables = sorted(cache.glob("commit-*"), key=lambda p: p.stat().st_mtime_ns, reverse=True)
        for old in tables[KEEP_TABLES:]:
            old.unlink(missing_ok=True)
    except OSError:
        pass


def _interned(value):
    """The same value with its keys and short texts interned: marshal writes a repeated string
    once and refers back to it (100,000 rows: 23 MB -> 17 MB, loaded in 0.15 s instead of 0.22 s)."""
    if isinstance(value, dict):
        return {sys.intern(k) if isinstance(k, str) else k: _interned(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_interned(v) for v in value]
    return sys.intern(value) if isinstance(value, str) and len(value) <= 64 else value


def _remember(path: Path, stamp: int, data) -> None:
    with _lock:
        _memo.pop(path, None)
        _memo[path] = (stamp, data)
        while len(_memo) > MEMO:
            _memo.pop(next(iter(_memo)))


def _json_dumps(data) -> bytes:
    return json.dumps(data, separators=(",", ":")).encode()


def _load(path: Path, decode=json.loads):
    try:
        stamp = path.stat().st_mtime_ns
    except OSError:
        return None
    with _lock:
        held = _memo.get(path)
        if held is not None and held[0] == stamp:
            return held[1]
    try:
        with paused_gc():  # 100,000 rows: ~0.1 s of collector walks over what stays alive anyway
            data = decode(path.read_bytes())
    except (OSError, ValueError, EOFError, TypeError):
        return None
    _remember(path, stamp, data)
    return data


def _save(path: Path, data, encode=_json_dumps) -> None:
    """Written whole to a temporary file, then renamed: a reader sees the old file or the new."""
    tmp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_bytes(encode(data))
        os.replace(tmp, path)
        _remember(path, path.stat().st_mtime_ns, data)
    except (OSError, ValueError):
        tmp.unlink(missing_ok=True)
