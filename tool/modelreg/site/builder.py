"""`modelreg site build`: a self-contained static catalog of the registry at one ref.

Pages are written from Jinja templates with autoescaping on, so names and card text reach
the page as text. Each page's inputs (the blob shas of the records it shows, the events and
check problems it lists) are hashed into a key; a rebuild rewrites only the pages whose key
changed and removes the pages of models that are gone. What a rebuild needs from the last
build is kept beside the manifest (site/state.py): a rebuild after a pull request reads only
the model folders whose git tree changed and their neighbours on the lineage, so its cost
follows the change, not the registry.
"""
import hashlib
import json
import multiprocessing
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from ..core import layout
from ..core.errors import InvalidInput
from ..core.urls import redact_url
from . import pages
from . import state as site_state
from .catalog import HISTORY_COMMITS, parents_named, read_catalog, read_models

MANIFEST = ".modelreg-site.json"
HERE = Path(__file__).parent
PARALLEL_MIN_PAGES = 2000  # below this, forking costs more than it saves
MAX_WORKERS = 4
CHUNK = 250  # pages per task: progress reports and load balance
_PENDING: list = []  # the chunks forked workers render (inherited, never pickled)


@dataclass
class BuildResult:
    out: Path
    commit: str
    models: int
    versions: int
    written: list[str] = field(default_factory=list)
    kept: int = 0
    removed: list[str] = field(default_factory=list)
    problems: int = 0
    mode: str = "full"  # "full", "incremental" (only the folders that changed were read) or "same"

    @property
    def index(self) -> Path:
        return self.out / "index.html"

    def to_dict(self) -> dict:
        return {"out": str(self.out), "index": str(self.index), "commit": self.commit, "models": self.models,
                "versions": self.versions, "written": len(self.written), "kept": self.kept,
                "removed": len(self.removed), "problems": self.problems, "mode": self.mode}


def build_site(reg, out, at: str | None = None, repo_url: str | None = None, progress=None) -> BuildResult:
    """Write the site for `at` (default: the main branch) into `out`; returns what was done.

    `repo_url` (e.g. https://github.com/org/registry) turns commits and PR numbers into links.
    `progress(done, total)` is called while pages are written.
    """
    ref = at or reg.main_branch
    commit = reg.git.rev_parse(ref)  # an unknown ref raises NotFound before anything is written
    _require_jinja()
    out = Path(out)
    _check_out(out)
    repo_url = redact_url(repo_url.rstrip("/")) if repo_url else None  # published: never with credentials
    manifest = _read_manifest(out)
    stamp = {"build": build_id(), "commit": commit, "ref": ref, "repo_url": repo_url, "notes": _notes(reg.git)}
    last = _last_state(out, manifest, stamp)
    if last is not None and _up_to_date(out, manifest, stamp, last):
        return BuildResult(out, commit, manifest["models"], manifest["versions"], kept=_page_count(last),
                           problems=manifest["problems"], mode="same")
    folders, tree = site_state.tree_key(reg.git, commit)
    plan = _plan(reg.git, commit, out, last, folders, tree) if last is not None else None
    if plan is None:
        catalog = read_catalog(reg.git, commit, ref)
        site = pages.Site(catalog, repo_url, stamp["build"])
        window = site_state.window_of(reg.git, commit, HISTORY_COMMITS)
        dirty = set(folders)
    else:
        catalog = read_models(reg.git, commit, ref, plan["read"], plan["problems"], plan["events"].events)
        site = pages.Site(catalog, repo_url, stamp["build"], only=plan["dirty"],
                          kept={name: entry["rows"] for name, entry in last["folders"].items()
                                if name in folders and entry["rows"] is not None})
        window, dirty = plan["events"].window, plan["dirty"]
    result = BuildResult(out, commit, site.model_count, site.version_count, mode="full" if plan is None else "incremental")
    old = _all_pages(last) if last is not None else {}
    todo = site.pages()
    new = {page.path: page.key for page in todo}
    stale = [page for page in todo if old.get(page.path) != page.key or not (out / page.path).exists()]
    kept_pages = {} if plan is None else {p: k for name, entry in last["folders"].items()
                                          if name in folders and name not in dirty for p, k in entry["pages"].items()}
    result.kept = len(todo) - len(stale) + len(kept_pages)
    result.written = _render_all(stale, out, progress, result.kept, len(todo) + len(kept_pages))
    result.removed = [p for p in old if p not in new and p not in kept_pages]
    for path in result.removed:
        (out / path).unlink(missing_ok=True)
    if result.removed:
        _prune_dirs(out / "models")
    _copy_assets(out)
    result.problems = site.problem_count
    state = _next_state(reg.git, commit, catalog, site, last, plan, folders, tree, window, new)
    digest = site_state.write(out, state)
    (out / MANIFEST).write_text(json.dumps(dict(stamp, models=result.models, versions=result.versions,
                                                problems=result.problems, state=digest), indent=0))
    return result


def _notes(git) -> str | None:
    """The clock's notes (the tag workflow's observations): a new note can re-date the timelines
    of a commit already built."""
    from ..core.clock import NOTES_REF
    from ..core.errors import RegistryError

    try:
        return git.rev_parse(NOTES_REF)
    except RegistryError:
        return None


def _last_state(out: Path, manifest: dict, stamp: dict) -> dict | None:
    """What the last build kept, when it is usable: the same build of modelreg with the same
    options, and the state file the manifest names (site/state.py)."""
    if any(manifest.get(k) != stamp[k] for k in ("build", "repo_url")):
        return None
    last = site_state.read(out, manifest.get("state"))
    return last if last is not None and last["commit"] == manifest.get("commit") else None


def _plan(git, commit: str, out: Path, last: dict, folders: dict, tree: str) -> dict | None:
    """Which model folders a rebuild re-reads, with check's problems and the events; None for
    a full build (see site/state.py for when)."""
    from ..core.errors import RegistryError
    from ..rules.check import check_models
    from ..store.snapshot import Snapshot

    if tree != last["tree"]:
        return None  # registry.yaml, schemas, CODEOWNERS, .dvc, a key file: what the site reads outside the folders
    snap = Snapshot.at(git, commit)
    try:
        if any(p.startswith(layout.ROOT + "/") for p in snap.settings.named_files):
            return None  # a policy key inside registry/: every signature's verdict may read it
    except RegistryError:
        return None
    events = site_state.events_after(git, commit, last, HISTORY_COMMITS)
    if events is None:
        return None
    before = {name: entry["parents"] for name, entry in last["folders"].items()}
    changed = {n for n in folders if before.get(n) is None or last["folders"][n]["tree"] != folders[n]}
    gone = set(before) - set(folders)
    snap.list_models(changed)
    after = {n: p for n, p in before.items() if n in folders}
    after.update({n: parents_named(snap, n) for n in changed})
    touched = changed | gone
    dirty = site_state.related(before, touched) | site_state.related(after, touched)
    dirty |= events.moved | _missing_pages(out, last, folders)
    dirty &= set(folders)
    read = site_state.related(after, dirty) & set(folders)
    snap.list_models(read)
    problems: dict[str, list[str]] = {}
    for name in sorted(read - dirty):
        problems.update(last["folders"][name]["problems"])
    paths = [p for name in sorted(dirty) for p in snap.model_paths(name)]
    for problem in check_models(git, commit, sorted(dirty), paths):
        if layout.model_of(problem.file) in dirty:  # the rest: registry-wide, the same as last time
            problems.setdefault(problem.file, []).append(f"{problem.pointer}: {problem.message}")
    return {"dirty": dirty, "read": read, "problems": problems, "events": events, "parents": after}


def _missing_pages(out: Path, last: dict, folders: dict) -> set[str]:
    """Folders one of whose pages is no longer in the output folder (one listing per folder)."""
    listed: dict[Path, set[str]] = {}
    missing = set()
    for name, entry in last["folders"].items():
        if name not in folders:
            continue
        for path in entry["pages"]:
            folder, _, leaf = path.rpartition("/")
            if folder not in listed:
                try:
                    listed[folder] = set(os.listdir(out / folder))
                except OSError:
                    listed[folder] = set()
            if leaf not in listed[folder]:
                missing.add(name)
                break
    return missing


def _next_state(git, commit: str, catalog, site, last: dict | None, plan: dict | None, folders: dict,
                tree: str, window: list, new_pages: dict) -> dict:
    """What the next build keeps: the folders re-read now, the others as they were."""
    from ..store.snapshot import Snapshot

    snap = Snapshot.at(git, commit)
    owner = {}
    for path in new_pages:
        name = _page_folder(path)
        owner.setdefault(name, {})[path] = new_pages[path]
    problems: dict[str, dict] = {}
    for path, found in catalog.problems.items():
        problems.setdefault(layout.model_of(path), {})[path] = found
    entries = {}
    for name, oid in folders.items():
        if plan is not None and name not in plan["dirty"]:
            entries[name] = last["folders"][name]
            continue
        parents = plan["parents"][name] if plan is not None else parents_named(snap, name)
        entries[name] = {"tree": oid, "parents": parents, "problems": problems.get(name, {}),
                         "pages": owner.get(name, {}), "rows": site.rows.get(name)}
    return {"commit": commit, "tree": tree, "folders": entries, "pages": owner.get(None, {}),
            "window": [list(c) for c in window], "events": catalog.events}


def _page_folder(path: str) -> str | None:
    """The model folder a page belongs to (None: the index, the as-of page, the JSON index)."""
    if path.startswith("models/"):
        return path.split("/")[1]
    if path.startswith("api/models/"):
        return path[len("api/models/"):-len(".json")]
    return None


def _all_pages(state: dict) -> dict[str, str]:
    found = dict(state["pages"])
    for entry in state["folders"].values():
        found.update(entry["pages"])
    return found


def _page_count(state: dict) -> int:
    return len(state["pages"]) + sum(len(e["pages"]) for e in state["folders"].values())


def _render_all(stale: list, out: Path, progress, done: int, total: int) -> list[str]:
    """Render and write `stale` pages, in forked workers when there are many and CPUs to spare
    (pages are independent; a worker inherits the catalog, so nothing is pickled but paths)."""
    workers = min(os.cpu_count() or 1, MAX_WORKERS)
    chunks = [stale[i:i + CHUNK] for i in range(0, len(stale), CHUNK)]
    if workers < 2 or len(stale) < PARALLEL_MIN_PAGES or "fork" not in multiprocessing.get_all_start_methods():
        return _collect((_write_pages(out, chunk) for chunk in chunks), progress, done, total)
    global _PENDING
    _PENDING = [out, chunks]
    try:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            return _collect(pool.imap(_write_chunk, range(len(chunks))), progress, done, total)
    finally:
        _PENDING = []


def _collect(results, progress, done: int, total: int) -> list[str]:
    written = []
    for paths in results:
        written += paths
        if progress:
            progress(done + len(written), total)
    return written


def _write_chunk(index: int) -> list[str]:
    out, chunks = _PENDING
    return _write_pages(out, chunks[index])


def _write_pages(out: Path, chunk: list) -> list[str]:
    for page in chunk:
        _write(out / page.path, page.render())
    return [page.path for page in chunk]


def _require_jinja() -> None:
    """Before anything is written (in CI: add site to the extras in .github/modelreg-requirements.txt)."""
    from ..core.extras import require

    require("site", ("jinja2",), "building the site")


def _check_out(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise InvalidInput(f"{out} is a file; give a folder for the site")
    if out.is_dir() and any(out.iterdir()) and not (out / MANIFEST).exists():
        raise InvalidInput(f"{out} is not empty and holds no site built by modelreg; give an empty or new folder")
    out.mkdir(parents=True, exist_ok=True)


def build_id() -> str:
    """Changes whenever the templates, assets or page code change: every page is rewritten then."""
    digest = hashlib.sha256()
    for path in sorted([*HERE.glob("*.py"), *(HERE / "templates").glob("*"), *(HERE / "static").glob("*")]):
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()[:16]


def _read_manifest(out: Path) -> dict:
    try:
        doc = json.loads((out / MANIFEST).read_text())
    except (OSError, ValueError):
        return {}
    return doc if isinstance(doc, dict) else {}


def _up_to_date(out: Path, manifest: dict, stamp: dict, last: dict) -> bool:
    """The same commit built by the same code with the same options, every page still there."""
    return (all(manifest.get(k) == v for k, v in stamp.items())
            and all((out / path).is_file() for path in last["pages"])
            and not _missing_pages(out, last, last["folders"]))


def _write(target: Path, data: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, target)


def _prune_dirs(root: Path) -> None:
    if root.is_dir():
        for folder in root.iterdir():
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()


def _copy_assets(out: Path) -> None:
    assets = out / "assets"
    assets.mkdir(exist_ok=True)
    for path in (HERE / "static").iterdir():
        if not (assets / path.name).exists() or (assets / path.name).read_bytes() != path.read_bytes():
            shutil.copyfile(path, assets / path.name)

