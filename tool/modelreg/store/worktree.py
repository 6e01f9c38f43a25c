"""A clone's working tree, for writers: the records as they are now, and the one way to change them.

Readers ask a Snapshot (the records at a commit); writers start from the working tree, the
branch the next commit lands on. `Worktree` reads its records, its registry.yaml and its
main branch, and opens a `Write`: files are validated and serialized as they are put, written
only when the write commits, and put back as they were if anything fails on the way, so a
failed command leaves no partial commit and no stray file.
"""
import os
from pathlib import Path

from ..core import layout
from ..core.errors import InvalidInput, InvalidRecord, NotFound
from ..core.names import check_name
from ..core.records import dump_yaml, load_yaml
from ..core.settings import DEFAULT_SETTINGS, Settings
from .gitstore import GitStore


class Worktree:
    """The working tree of a clone at `root` (its git is `git`)."""

    def __init__(self, root: Path, git: GitStore, main_branch: str | None = None):
        self.root, self.git = Path(root), git
        self._main = main_branch

    @property
    def settings(self) -> Settings:
        """registry.yaml as the working tree has it (the defaults when there is none)."""
        path = self.root / layout.REGISTRY_FILE
        if not path.exists():
            return Settings(dict(DEFAULT_SETTINGS))
        return Settings.load(load_yaml(path.read_bytes(), layout.REGISTRY_FILE))

    @property
    def main_branch(self) -> str:
        if self._main is None:
            self._main = self.settings.main_branch
        return self._main

    def snapshot(self, ref: str = "HEAD"):
        from .snapshot import Snapshot

        return Snapshot.at(self.git, self.git.rev_parse(ref))

    def identity(self) -> str:
        return self.git.identity()

    # -- the records as the next commit starts from them ---------------------------------
    def record(self, path: str, missing: NotFound | None = None) -> dict | None:
        full = self.root / path
        if not full.exists():
            if missing is not None:
                raise missing
            return None
        doc = load_yaml(full.read_bytes(), path)
        if not isinstance(doc, dict):
            raise InvalidRecord(f"{path}: expected a mapping; fix the file by hand")
        return doc

    def model(self, name: str) -> dict:
        """model.yaml of `name` (NotFound if it is not registered)."""
        return self.record(layout.model_file(check_name(name)),
                           NotFound(f"no model named {name!r}; register it first", hint="register"))

    def version(self, name: str, number: int) -> dict:
        self.model(name)
        return self.record(layout.version_file(name, number),
                           NotFound(f"{name} has no version {number}", hint="versions", model=name))

    def aliases(self, name: str) -> dict:
        """{alias: version} from aliases.yaml."""
        doc = self.record(layout.aliases_file(name)) or {}
        return dict(doc.get("aliases") or {})

    def version_numbers(self, name: str) -> list[int]:
        folder = self.root / layout.versions_dir(name)
        if not folder.is_dir():
            return []
        # A folder holding only git-ignored weights is not a version on this branch.
        return sorted(int(p.name) for p in folder.iterdir()
                      if p.name.isdigit() and (p / "version.yaml").exists())

    def drop_branch_leftovers(self, name: str) -> list[int]:
        """After a write on another branch (a pull request), git takes that branch's records away
        but leaves the git-ignored weights folders of the versions it added; drop those folders
        (their files are in the DVC cache and the remote), so this branch has no ghosts."""
        import shutil

        folder = self.root / layout.versions_dir(check_name(name))
        dropped = []
        for path in sorted(folder.iterdir()) if folder.is_dir() else []:
            inside = {p.name for p in path.iterdir()} if path.is_dir() else {"?"}
            if path.name.isdigit() and inside <= {"weights"}:
                shutil.rmtree(path)
                dropped.append(int(path.name))
        return dropped

    def shared(self, relpath: str) -> bool | None:
        """Whether `relpath` ever left this clone on the main branch: in a remote-tracking main
        (origin/main), or in local main when writing on another branch. None: no remote is known,
        so nothing says it was not shared."""
        tips = [sha for _, sha in self.git.tracking(self.main_branch)]
        if not tips:
            return None
        if self.git.current_branch() != self.main_branch and self.git.branches.exists(f"refs/heads/{self.main_branch}"):
            tips.append(self.git.rev_parse(self.main_branch))
        return any(self.git.read(tip, relpath) is not None for tip in tips)

    # -- writing ---------------------------------------------------------------------------
    def write_lock(self):
        """Held by every write from its first read to its commit (re-entrant)."""
        return self.git.write_lock()

    def begin_write(self, paths_to_check: list[str]) -> "Write":
        """Start one write. Refused in a repository that is not a registry, or when
        `paths_to_check` have uncommitted edits (never mix our commit with someone's work)."""
        if not (self.root / layout.REGISTRY_FILE).is_file():
            # a Git repository that is not a registry must never get registry commits (issue 8 hole 10)
            raise NotFound(f"{self.root} is a Git repository but not a registry (no {layout.REGISTRY_FILE}); "
                           "make it one first", hint="init")
        dirty = self.git.dirty_paths(paths_to_check)
        if dirty:
            raise InvalidInput(f"uncommitted changes in {dirty[0]}; commit or discard them first")
        return Write(self)


class Write:
    """One write: files put in the working tree, then one commit; undone on any failure."""

    def __init__(self, tree: Worktree):
        self.tree = tree
        self.paths: list[str] = []
        self.created: list[Path] = []
        self.modified: list[str] = []
        self.pending: dict[str, bytes] = {}
        self.removals: list[str] = []
        self.aside: list[tuple[Path, Path]] = []  # (where it was, where it waits until the commit lands)
        self.done = False

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None and not self.done:
            self.rollback()
        return False

    def put(self, relpath: str, kind: str, data: dict) -> None:
        """Validate and serialize now; files are written only when the change commits."""
        from ..core import schema

        schema.validate(kind, data, relpath)
        self.pending[relpath] = dump_yaml(data, layout.schema_ref(relpath, kind), schema.key_order(kind))

    def put_raw(self, relpath: str, blob: bytes) -> None:
        """A file that is not a YAML record (a signature bundle, a chat template, CODEOWNERS)."""
        self.pending[relpath] = blob

    def track(self, relpath: str, tracked: bool = True) -> Path:
        """Note what exists at `relpath` before something outside `put` writes there (the DVC
        pointer and weights folder), so rollback restores it; git sees only tracked paths."""
        full = self.tree.root / relpath
        if relpath in self.paths or full in self.created:
            return full
        if tracked:
            self.paths.append(relpath)
        if full.exists():
            self.modified.append(relpath)
        else:
            top = full
            while not top.parent.exists():
                top = top.parent
            self.created.append(top)
        return full

    def remove(self, relpath: str) -> None:
        """Remove a file or folder (ignored contents too) when the change commits; put back on rollback."""
        self.removals.append(relpath)

    def _flush(self) -> None:
        import shutil
        import tempfile

        for relpath in self.removals:
            full = self.tree.root / relpath
            if full.exists():
                git_dir = self.tree.root / ".git"
                aside = Path(tempfile.mkdtemp(prefix="modelreg-removed-",
                                              dir=git_dir if git_dir.is_dir() else None)) / "item"
                shutil.move(full, aside)  # in .git: the same filesystem, so a rename
                self.aside.append((full, aside))
            self.paths.append(relpath)
        for relpath, blob in self.pending.items():
            full = self.track(relpath)
            full.parent.mkdir(parents=True, exist_ok=True)
            tmp = full.with_name(full.name + ".tmp")
            tmp.write_bytes(blob)
            os.replace(tmp, full)

    def commit(self, subject: str, trailers: dict, body: str = "") -> str:
        import shutil

        lines = [f"modelreg: {subject}", ""]
        if body:
            lines += [body, ""]
        lines += [f"Modelreg-{k}: {v}" for k, v in trailers.items()]
        # Writers that did not take the lock for their reads hold it at least here.
        with self.tree.write_lock(), self:
            self._flush()
            sha = self.tree.git.commit_paths(self.paths, "\n".join(lines))
        self.done = True
        for _, aside in self.aside:
            shutil.rmtree(aside.parent, ignore_errors=True)
        return sha

    def rollback(self) -> None:
        import shutil

        self.done = True
        self.tree.git.unstage(self.paths)
        self.tree.git.restore(self.modified)
        for full, aside in reversed(self.aside):
            full.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(aside, full)
            shutil.rmtree(aside.parent, ignore_errors=True)
        for path in reversed(self.created):
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
