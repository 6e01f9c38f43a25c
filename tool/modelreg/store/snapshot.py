"""Snapshot: the registry's records at one commit, the one reader everybody asks.

A snapshot is lazy. A one-record read (a warm `resolve`) costs one cat-file lookup; the
first question about the whole tree (`paths`, `models`, `versions`) runs ONE `git ls-tree -r`
and indexes every path by model once; `prefetch` reads many blobs in ONE cat-file batch.
Snapshots are memoised per (repository, commit) in a small LRU, so the base of a pull
request read by check, the gates and the comment is read once.

Parse errors never raise here: a malformed record reads as None and its message is kept in
`errors` (check reports every one of them). `record(path)` is the raising read for the
Registry: it turns a recorded parse error into InvalidRecord, as the Registry always did.
"""
import gc
import os
import threading
import weakref
from collections import OrderedDict, defaultdict
from contextlib import contextmanager
from pathlib import Path

from ..core import layout
from ..core.errors import InvalidRecord
from ..core.records import load_yaml
from ..core.settings import Settings, shape_problems

PARTIAL_LISTINGS = 16  # per-model `ls-tree` calls before one `ls-tree -r` of the whole tree
BULK_LISTING = 256  # records loaded at once before the whole tree is listed first
MAX_SNAPSHOTS = 8  # per repository: base, head, merge-base and a few served commits
_MISSING = object()
# Parsed records by blob id, across the snapshots of this process: a commit's snapshot reads the
# records its neighbour already parsed (a site build checks the branch, then its history reads
# the commit below it: 310,000 identical records at 100,000 versions, issue 23). A blob id names
# the bytes, so an entry is never wrong; callers never change a parsed record (snapshots share
# them already). Bounded: emptied when it grows past PARSED_BLOBS.
PARSED_BLOBS = 600_000
_parsed: dict[str, tuple[object, str | None]] = {}  # blob id -> (record, parse problem or None)
_memo: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
_lock = threading.Lock()
_paused = [0, False]  # depth of paused_gc blocks, and whether the collector was on before the first


@contextmanager
def paused_gc():
    """No cyclic garbage collection while a bulk read builds many containers that all stay alive
    (every record of a registry, a cached query table): the collector would walk them again and
    again for nothing (issue 23: ~30% of parsing 310,000 records). Records hold no cycles."""
    with _lock:
        if _paused[0] == 0:
            _paused[1] = gc.isenabled()
            gc.disable()
        _paused[0] += 1
    try:
        yield
    finally:
        with _lock:
            _paused[0] -= 1
            if _paused[0] == 0 and _paused[1]:
                gc.enable()


class Snapshot:
    """Records at one commit. Build with `Snapshot.at(git, commit)` (memoised)."""

    def __init__(self, git, commit: str):
        self.git, self.commit = git, commit
        self._shas: dict[str, str] | None = None  # path -> blob sha, once indexed
        self._by_model: dict[str, list[str]] | None = None
        self._partial: dict[str, dict[str, str]] = {}  # model -> its paths, before a full index
        self._numbers: dict[str, list[int]] = {}
        self._docs: dict[str, object] = {}
        self._raw: dict[str, bytes | None] = {}
        self.errors: dict[str, str] = {}  # path -> parse problem (without the path)
        self._settings: Settings | None = None

    @classmethod
    def at(cls, git, commit: str) -> "Snapshot":
        with _lock:  # a serving host reads from several threads
            cache = _memo.setdefault(git, OrderedDict())
            snap = cache.get(commit)
            if snap is None:
                snap = cache[commit] = cls(git, commit)
                while len(cache) > MAX_SNAPSHOTS:
                    cache.popitem(last=False)
            cache.move_to_end(commit)
            return snap

    # -- the index (built on first need) --------------------------------------------
    def _list(self) -> dict[str, str]:
        return dict(self.git.ls_tree(self.commit, "."))

    def _index(self) -> dict[str, str]:
        if self._shas is None:
            self._shas = self._list()
            by_model = defaultdict(list)
            for path in self._shas:
                model = layout.model_of(path)
                if model is not None:
                    by_model[model].append(path)
            self._by_model = dict(by_model)
        return self._shas

    def paths(self) -> list[str]:
        """Every tracked path at this commit (records, policy files, everything)."""
        return list(self._index())

    def has(self, path: str) -> bool:
        if self._shas is None:  # answer without listing the whole tree
            model = layout.model_of(path)
            return path in self._model_index(model) if model else self.read(path) is not None
        return path in self._shas

    def sha(self, path: str) -> str | None:
        """The blob id of `path` (equal ids mean equal bytes: the cheap way to diff)."""
        if self._shas is None:
            model = layout.model_of(path)
            if model is not None:
                return self._model_index(model).get(path)
        return self._index().get(path)

    def _model_index(self, model: str) -> dict[str, str]:
        if self._shas is None and model not in self._partial and len(self._partial) >= PARTIAL_LISTINGS:
            self._index()  # asked about many models: one whole listing beats one per model
        if self._shas is not None:
            return {p: self._shas[p] for p in self._by_model.get(model, [])}
        if model not in self._partial:  # one model's folder: no need to list the whole tree
            self._partial[model] = dict(self.git.ls_tree(self.commit, f"{layout.ROOT}/{model}/"))
        return self._partial[model]

    def model_paths(self, model: str) -> list[str]:
        if self._shas is None:
            return list(self._model_index(model))
        return self._by_model.get(model, [])

    def list_models(self, models) -> None:
        """List many model folders in one `ls-tree` without listing the whole tree (a site
        rebuild reads the few folders that changed, of 5,000); later questions about them are
        answered from these listings."""
        wanted = [m for m in dict.fromkeys(models) if m not in self._partial]
        if self._shas is not None or self.git is None or not wanted:
            return
        for start in range(0, len(wanted), 500):  # keep each command line short
            chunk = {m: {} for m in wanted[start:start + 500]}
            for path, sha in self.git.ls_tree(self.commit, *(f"{layout.ROOT}/{m}/" for m in chunk)):
                found = chunk.get(layout.model_of(path))
                if found is not None:  # a pathspec is a pattern: keep only the folders asked for
                    found[path] = sha
            self._partial.update(chunk)

    def models(self) -> list[str]:
        """Folders under registry/ (whether or not they hold a valid model.yaml)."""
        self._index()
        return sorted(self._by_model)

    def versions(self, model: str) -> list[int]:
        found = self._numbers.get(model)
        if found is None or self._shas is None:
            numbers = set()
            for path in self.model_paths(model):
                info = layout.classify(path)
                if info and info[0] == "version":
                    numbers.add(info[2])
            found = sorted(numbers)
            if self._shas is not None:  # the full index never changes: remember
                self._numbers[model] = found
        return list(found)

    # -- bytes ------------------------------------------------------------------------
    def _fetch(self, paths: list[str]) -> list[bytes | None]:
        """By blob id where a listing gave one (a `commit:path` lookup walks the trees: ~0.7 ms each
        at 5,000 models, against a fraction of that by id); files a listing lacks are not asked."""
        if self._shas is not None:
            ids = [self._shas.get(p) for p in paths]
        else:
            ids = []
            for path in paths:
                model = layout.model_of(path)
                listed = self._partial.get(model) if model is not None else None
                ids.append(f"{self.commit}:{path}" if listed is None else listed.get(path))
        found = iter(self.git.read_objects([i for i in ids if i is not None]))
        return [None if i is None else next(found) for i in ids]

    def prefetch(self, paths) -> None:
        """Read many files in one batch (check reads the whole registry this way)."""
        wanted = [p for p in paths if p not in self._raw]
        if wanted:
            self._raw.update(zip(wanted, self._fetch(wanted)))

    def read(self, path: str) -> bytes | None:
        if path not in self._raw:
            self.prefetch([path])
        return self._raw[path]

    def _known_sha(self, path: str) -> str | None:
        """The blob id of `path` if a listing already gave it (never lists for it: a one-record
        read stays one cat-file lookup); None for a working tree, which has no ids."""
        if self.git is None:
            return None
        if self._shas is not None:
            return self._shas.get(path)
        model = layout.model_of(path)
        listed = self._partial.get(model) if model is not None else None
        return listed.get(path) if listed else None

    # -- parsed records -----------------------------------------------------------------
    def doc(self, path: str):
        """The parsed YAML at `path`; None when absent or malformed (see `errors`)."""
        cached = self._docs.get(path, _MISSING)
        if cached is not _MISSING:
            return cached
        sha = self._known_sha(path)
        known = _parsed.get(sha) if sha is not None else None
        if known is not None:
            doc, problem = known
            if problem is not None:
                self.errors[path] = problem
            self._docs[path] = doc
            return doc
        data = self.read(path)
        doc = None
        if data is not None:
            try:
                doc = load_yaml(data, path)
            except InvalidRecord as exc:
                self.errors[path] = str(exc).split(": ", 1)[-1]
        self._docs[path] = doc  # the bytes stay too: the credential scan reads them next
        if sha is not None and data is not None:
            if len(_parsed) >= PARSED_BLOBS:
                _parsed.clear()
            _parsed[sha] = (doc, self.errors.get(path))
        return doc

    def record(self, path: str):
        """The raising read: InvalidRecord for a malformed file, None for an absent one."""
        doc = self.doc(path)
        if path in self.errors:
            raise InvalidRecord(f"{path}: {self.errors[path]}")
        return doc

    def _mapping(self, path: str) -> dict | None:
        doc = self.doc(path)
        return doc if isinstance(doc, dict) else None

    @property
    def settings(self) -> Settings:
        """registry.yaml at this commit; the defaults when absent, unreadable or mistyped."""
        if self._settings is None:
            raw = self._mapping(layout.REGISTRY_FILE) or {}
            self._settings = Settings({} if shape_problems(raw) else raw)
        return self._settings

    @property
    def settings_in_force(self) -> Settings:
        """The settings rules judge by. A registry.yaml whose values have the wrong types cannot be
        applied, and falling back to looser defaults would let a change through: InvalidRecord."""
        raw = self.doc(layout.REGISTRY_FILE)
        if layout.REGISTRY_FILE in self.errors:
            raise InvalidRecord(f"{layout.REGISTRY_FILE}: {self.errors[layout.REGISTRY_FILE]}")
        found = shape_problems(raw) if raw is not None else []
        if found:
            raise InvalidRecord(f"{layout.REGISTRY_FILE}:{found[0][0]}: {found[0][1]}")
        return self.settings

    def model(self, name: str) -> dict | None:
        return self._mapping(layout.model_file(name))

    def version(self, name: str, number: int) -> dict | None:
        return self._mapping(layout.version_file(name, number))

    def all_versions(self, name: str) -> dict[int, dict]:
        """number -> record for every readable version of a model (one batch)."""
        paths = {n: layout.version_file(name, n) for n in self.versions(name)}
        self.prefetch(paths.values())
        found = {n: self._mapping(p) for n, p in paths.items()}
        return {n: d for n, d in found.items() if d is not None}

    def aliases(self, name: str) -> dict[str, int]:
        doc = self._mapping(layout.aliases_file(name)) or {}
        aliases = doc.get("aliases")
        return dict(aliases) if isinstance(aliases, dict) else {}

    def card(self, name: str, number: int) -> dict | None:
        return self._mapping(layout.card_file(name, number))

    def pointer(self, name: str, number: int) -> bytes | None:
        return self.read(layout.pointer_file(name, number))

    def load(self, paths) -> None:
        """Parse many records in one read (errors are recorded, not raised)."""
        paths = [p for p in paths if p not in self._docs]
        if self._shas is None and self.git is not None \
                and sum(1 for p in paths if self._known_sha(p) is None) > BULK_LISTING:
            self._index()  # one listing gives every blob id: records parsed elsewhere need no read
        paths = [p for p in paths if self._known_sha(p) not in _parsed]
        self.prefetch(paths)
        with paused_gc():
            for path in paths:
                self.doc(path)


def record_history(git, commits: list[str], path: str) -> list:
    """`path` parsed at each of `commits`, in one batch (None where absent or malformed): one
    record through time, e.g. every stage a version held."""
    docs = []
    for data in git.read_objects([f"{c}:{path}" for c in commits]):
        try:
            docs.append(load_yaml(data, path) if data is not None else None)
        except InvalidRecord:
            docs.append(None)
    return docs


def read_blobs(git, shas: list[str]) -> list[bytes | None]:
    """Files by blob id, in one batch: for readers that found the ids in several snapshots
    (doctor's pointers at every branch and tag)."""
    return git.read_objects(shas)


class WorkdirSnapshot(Snapshot):
    """The working tree as a snapshot (uncommitted edits included): `check` without --at."""

    def __init__(self, root: Path, tracked: list[str] = ()):
        super().__init__(None, "working tree")
        self.root = Path(root)
        # files git tracks outside registry/: a tracked .dvc/config.local must be seen here
        # even though it is git-ignored (a plain `check` refuses it as a commit's check does)
        self.tracked = list(tracked)

    def _list(self) -> dict[str, str]:
        found = {p: p for p in self.tracked if (self.root / p).is_file()}
        for top in (layout.REGISTRY_FILE, ".dvc/config"):  # config.local is git-ignored here
            if (self.root / top).is_file():
                found[top] = top
        for path in sorted((self.root / layout.SCHEMA_DIR).glob("*.json")):
            found[f"{layout.SCHEMA_DIR}/{path.name}"] = f"{layout.SCHEMA_DIR}/{path.name}"
        for dirpath, dirnames, filenames in os.walk(self.root / layout.ROOT):
            rel = Path(dirpath).relative_to(self.root).as_posix()
            # weights folders are git-ignored data, not records
            dirnames[:] = [d for d in dirnames if not (d == "weights" and rel.count("/") == 3)]
            for name in filenames:
                if not name.endswith(".tmp"):
                    found[f"{rel}/{name}"] = f"{rel}/{name}"
        return found

    def model_paths(self, model: str) -> list[str]:
        self._index()
        return super().model_paths(model)

    def has(self, path: str) -> bool:
        return path in self._index()

    def sha(self, path: str) -> str | None:
        return None  # no blob ids: a working tree is never the base of a change

    def _fetch(self, paths: list[str]) -> list[bytes | None]:
        out = []
        for path in paths:
            full = self.root / path
            out.append(full.read_bytes() if full.is_file() else None)
        return out
