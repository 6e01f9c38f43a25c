"""`modelreg://ORG/REPO/NAME@ALIAS` -> verified files in a folder (KServe's storage initializer).

KServe runs a storage-initializer container with two arguments, the InferenceService's
storageUri and the folder the model server reads (/mnt/models). ORG/REPO names the registry's
Git repository under $MODELREG_GIT_BASE (default https://github.com), opened as a cached
blobless clone; the weights come from the DVC remote its .dvc/config names, verified by sha256
before anything is put in the folder.
"""
import os
import re
from dataclasses import dataclass
from pathlib import Path

from ..core.errors import InvalidInput

SCHEME = "modelreg://"
DEFAULT_GIT_BASE = "https://github.com"
_PART = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


@dataclass(frozen=True)
class Source:
    registry_url: str
    ref: str
    at: str | None = None


def parse_uri(uri: str, git_base: str | None = None) -> Source:
    """modelreg://ORG/REPO/NAME[@ALIAS|@N][?at=GITREF] -> the registry's Git URL and the ref."""
    from ..core.refs import parse_ref

    if not isinstance(uri, str) or not uri.startswith(SCHEME):
        raise InvalidInput(f"unsupported source {uri!r}: use modelreg://ORG/REPO/NAME@ALIAS")
    rest, _, query = uri[len(SCHEME):].partition("?")
    parts = rest.split("/")
    if len(parts) != 3 or not all(_PART.fullmatch(p) for p in parts[:2]) or ".." in rest:
        raise InvalidInput(f"malformed source {uri!r}: use modelreg://ORG/REPO/NAME@ALIAS")
    at = _query_at(uri, query)
    ref = str(parse_ref(parts[2]))
    base = (git_base or os.environ.get("MODELREG_GIT_BASE") or DEFAULT_GIT_BASE).rstrip("/")
    return Source(f"{base}/{parts[0]}/{parts[1]}.git", ref, at)


def _query_at(uri: str, query: str) -> str | None:
    if not query:
        return None
    key, sep, value = query.partition("=")
    if key != "at" or not sep or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._/-]{0,199}", value):
        raise InvalidInput(f"malformed source {uri!r}: the only query is ?at=BRANCH_TAG_OR_COMMIT")
    return value


@dataclass
class FetchResult:
    uri: str
    path: Path
    model: str
    version: int
    commit: str
    files: int
    bytes: int

    def to_dict(self) -> dict:
        return {"uri": self.uri, "path": str(self.path), "model": self.model, "version": self.version,
                "commit": self.commit, "files": self.files, "bytes": self.bytes}


def fetch_into(uri: str, dest: str | os.PathLike, progress=None) -> FetchResult:
    """Resolve the URI on the registry's main branch (or ?at=), pull and verify, fill `dest`."""
    from ..loading import sources, weights

    source = parse_uri(uri)
    target = Path(dest)
    if target.exists() and not target.is_dir():
        raise InvalidInput(f"destination {dest} is a file; give a folder")
    registry = sources.open_registry(source.registry_url)
    resolved = registry.resolve(source.ref, at=source.at)
    registry.require_on_main(resolved.commit, source.at, [(resolved.model, resolved.version)])
    folder = weights.pull(registry.snapshot(resolved.commit), resolved, registry.root, dest=target,
                          progress=progress).path
    artifacts = resolved.record.get("artifacts") or []
    return FetchResult(uri, folder, resolved.model, resolved.version, resolved.commit, len(artifacts),
                       sum(int(a.get("size_bytes", 0)) for a in artifacts))
