"""`modelreg site build`: a self-contained static catalog of the registry at one ref.

Pages are written from Jinja templates with autoescaping on, so names and card text reach
the page as text. Each page's inputs (the blob shas of the records it shows, the events and
check problems it lists) are hashed into a manifest in the output folder; a rebuild rewrites
only the pages whose inputs changed and removes the pages of models that are gone.
"""
import hashlib
import json
import multiprocessing
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from ..core.errors import InvalidInput
from ..core.urls import redact_url
from . import pages
from .catalog import read_catalog

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

    @property
    def index(self) -> Path:
        return self.out / "index.html"

    def to_dict(self) -> dict:
        return {"out": str(self.out), "index": str(self.index), "commit": self.commit, "models": self.models,
                "versions": self.versions, "written": len(self.written), "kept": self.kept,
                "removed": len(self.removed), "problems": self.problems}


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
    stamp = {"build": build_id(), "commit": commit, "ref": ref, "repo_url": repo_url}
    if _up_to_date(out, manifest, stamp):
        return BuildResult(out, commit, manifest["models"], manifest["versions"], kept=len(manifest["pages"]),
                           problems=manifest["problems"])
    catalog = read_catalog(reg.git, commit, ref)
    site = pages.Site(catalog, repo_url, stamp["build"])
    old = manifest.get("pages", {}) if manifest.get("build") == stamp["build"] else {}
    result = BuildResult(out, commit, len(site.models), sum(len(m.versions) for m in site.models.values()))
    todo = site.pages()
    new = {page.path: page.key for page in todo}
    stale = [page for page in todo if old.get(page.path) != page.key or not (out / page.path).exists()]
    result.kept = len(todo) - len(stale)
    result.written = _render_all(stale, out, progress, result.kept, len(todo))
    result.removed = [p for p in old if p not in new]
    for path in result.removed:
        (out / path).unlink(missing_ok=True)
    _prune_dirs(out / "models")
    _copy_assets(out)
    result.problems = site.problem_count
    (out / MANIFEST).write_text(json.dumps(dict(stamp, models=result.models, versions=result.versions,
                                                problems=result.problems, pages=new), indent=0))
    return result


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
    return doc if isinstance(doc, dict) and isinstance(doc.get("pages"), dict) else {}


def _up_to_date(out: Path, manifest: dict, stamp: dict) -> bool:
    """The same commit built by the same code with the same options, every page still there."""
    return (all(manifest.get(k) == v for k, v in stamp.items())
            and all((out / path).is_file() for path in manifest["pages"]))


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

