"""The only module that talks to git.

Reads come straight from Git objects at any ref (no checkout) through one long-lived
`git cat-file --batch` process; ref names are resolved from the ref files when possible,
which keeps warm in-process reads in microseconds. Writes run git itself; `commit` is
the one way anything is committed.
"""
import os
import re
import subprocess
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from ..core.errors import ConcurrentWrite, ExternalError, InvalidInput, NotFound
from ..core.values import value


def _env() -> dict:
    # read at call time: callers (tests, the loader) may change the environment after import
    return {**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"}


_USERINFO = re.compile(r"://[^/@\s]+@")  # credentials in a URL git quotes back: never shown


def _run(args, cwd, input=None, check=True, env: dict | None = None) -> str:
    try:
        proc = subprocess.run(["git", *args], cwd=cwd, input=input, capture_output=True,
                              text=True, env={**_env(), **(env or {})})
    except FileNotFoundError as exc:
        raise ExternalError("git is not installed or not on PATH; install git and retry") from exc
    if check and proc.returncode != 0:
        msg = (proc.stderr.strip().splitlines() or ["(no message)"])[-1]
        raise ExternalError(f"git {args[0]} failed: {_USERINFO.sub('://', msg)}")
    return proc.stdout


def find_root(start: str | os.PathLike) -> Path:
    """The top of the Git working tree holding `start`."""
    path = Path(start).resolve()
    for candidate in (path, *path.parents):
        if (candidate / ".git").exists():
            return candidate
    raise NotFound(f"{path} is not inside a Git repository; make it a registry first", hint="init")


@value
class Commit:
    sha: str
    author: str
    email: str
    date: str
    subject: str
    body: str
    parents: tuple[str, ...]


class GitStore:
    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        self.git_dir, self.common_dir = self._git_dirs()
        self._batch = None
        self._lock = threading.Lock()
        self._packed: tuple[int, dict] | None = None
        self._commits: set[str] = set()  # full shas already verified as commits (immutable)
        self._lock_depth = 0
        self._lines: dict = {}  # (head, notes head) -> first-parent line with times

    # -- locating refs -------------------------------------------------------------
    def _git_dirs(self) -> tuple[Path, Path]:
        dot = self.root / ".git"
        if dot.is_dir():
            return dot, dot
        if dot.is_file():  # a worktree or submodule: "gitdir: <path>"
            git_dir = (self.root / dot.read_text().split(":", 1)[1].strip()).resolve()
            common = git_dir / "commondir"
            return git_dir, (git_dir / common.read_text().strip()).resolve() if common.exists() else git_dir
        raise NotFound(f"{self.root} is not a Git repository; make it a registry first", hint="init")

    def _packed_refs(self) -> dict:
        path = self.common_dir / "packed-refs"
        try:
            mtime = path.stat().st_mtime_ns
        except FileNotFoundError:
            return {}
        if self._packed is None or self._packed[0] != mtime:
            refs = {}
            for line in path.read_text().splitlines():
                if line and line[0] not in "#^":
                    sha, _, name = line.partition(" ")
                    refs[name] = sha
            self._packed = (mtime, refs)
        return self._packed[1]

    def _read_ref_file(self, name: str) -> str | None:
        for base in (self.git_dir, self.common_dir):
            try:
                text = (base / name).read_text().strip()
            except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
                continue
            if text.startswith("ref: "):
                return self._read_ref_file(text[5:])
            return text
        return self._packed_refs().get(name)

    def rev_parse(self, ref: str) -> str:
        """The commit a branch, tag, remote branch or sha names. A plain name is read as a branch
        first (then a remote branch), from its ref file: main is the branch main, even where
        someone pushed a tag of that name."""
        if ref in self._commits:
            return ref
        for name in _ref_files(ref):
            sha = self._read_ref_file(name)
            if sha and len(sha) == 40:
                return sha
        out = _run(["rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"], self.root, check=False).strip()
        if not out:
            raise NotFound(self._not_found(ref))
        if out == ref:
            self._commits.add(out)
        return out

    def tracking(self, branch: str) -> list[tuple[str, str]]:
        """(name, commit) of every remote-tracking branch called `branch`: origin/main, upstream/main."""
        if "/" in branch or branch.startswith("-"):
            return []
        out = _run(["for-each-ref", "--format=%(objectname) %(refname:short)", f"refs/remotes/*/{branch}"],
                   self.root, check=False)
        return [(name, sha) for sha, _, name in (line.partition(" ") for line in out.splitlines()) if name]

    def _not_found(self, ref: str) -> str:
        """Why `ref` names nothing, and the way out when a remote has that branch: a clone of an
        origin whose HEAD names another branch (a `git init --bare` made with master) checks
        nothing out and has origin/main only."""
        tracking = self.tracking(ref)
        if tracking:
            name = tracking[0][0]
            return (f"no branch named {ref!r} in {self.root}, but {name} exists: run 'git checkout {ref}' "
                    f"to make it (a clone of an origin whose HEAD names another branch checks nothing out), "
                    f"or read it with --at {name}")
        return f"no branch, tag or commit named {ref!r} in {self.root}"

    # -- reading objects -----------------------------------------------------------
    def after_fork(self) -> None:
        """In a forked child: forget the parent's cat-file process (its pipes are the parent's; a
        read from both would interleave) so the next read starts this process's own."""
        self._batch = None
        self._lock = threading.Lock()

    def _batch_proc(self):
        if self._batch is None or self._batch.poll() is not None:
            self._batch = subprocess.Popen(
                ["git", "cat-file", "--batch"], cwd=self.root, env=_env(),
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        return self._batch

    def read(self, commit: str, path: str) -> bytes | None:
        """The bytes of `path` at `commit`, or None if there is no such file."""
        return self.read_objects([f"{commit}:{path}"])[0]

    def read_objects(self, specs: list[str]) -> list[bytes | None]:
        """Many objects through the one cat-file process; a writer thread avoids pipe deadlock.

        The batch protocol is one name per line: a name holding a line break (a hostile file
        name) would be two requests and shift every answer after it onto the wrong file, so such
        a name is never sent (None: no file by that name can be read this way)."""
        sendable = [s for s in specs if "\n" not in s and "\r" not in s]
        with self._lock:
            proc = self._batch_proc()
            payload = "".join(f"{s}\n" for s in sendable).encode()
            writer = threading.Thread(target=self._write_all, args=(proc, payload))
            writer.start()
            answers = iter([self._read_one(proc.stdout) for _ in sendable])
            writer.join()
        return [None if "\n" in s or "\r" in s else next(answers) for s in specs]

    @staticmethod
    def _write_all(proc, payload):
        proc.stdin.write(payload)
        proc.stdin.flush()

    @staticmethod
    def _read_one(stream) -> bytes | None:
        line = stream.readline()
        if line.rstrip(b"\n").endswith((b" missing", b" ambiguous")):  # "<name> missing": a name may hold spaces
            return None
        header = line.split()
        if len(header) != 3 or header[1] != b"blob":
            if len(header) == 3:  # a tree or other object: consume it
                stream.read(int(header[2]) + 1)
            return None
        data = stream.read(int(header[2]))
        stream.read(1)
        return data

    def ls_tree(self, commit: str, prefix: str, *more: str) -> list[tuple[str, str]]:
        """(path, blob sha) of every file under `prefix` (and `more` prefixes) at `commit`."""
        out = _run(["ls-tree", "-r", "-z", "--full-tree", commit, "--", prefix, *more], self.root)
        entries = []
        for item in out.split("\0"):
            if item:
                meta, _, path = item.partition("\t")
                entries.append((path, meta.split()[2]))
        return entries

    def tree_entries(self, commit: str, folder: str = "") -> list[tuple[str, str, str]]:
        """(name, object type, object id) of what lies directly in `folder` ("" for the top) at
        `commit`: a sub-folder's tree id names every file below it (equal ids, equal content)."""
        args = ["ls-tree", "-z", "--full-tree", commit] + (["--", folder.rstrip("/") + "/"] if folder else [])
        entries = []
        for item in _run(args, self.root).split("\0"):
            if item:
                meta, _, path = item.partition("\t")
                _mode, kind, oid = meta.split()
                entries.append((path.rsplit("/", 1)[-1], kind, oid))
        return entries

    def list_dir(self, commit: str, prefix: str) -> list[str]:
        """Names directly inside folder `prefix` at `commit`."""
        out = _run(["ls-tree", "-z", "--name-only", commit, "--", prefix.rstrip("/") + "/"], self.root)
        return [p.rsplit("/", 1)[-1] for p in out.split("\0") if p]

    def changed_paths(self, base: str, head: str, prefix: str = "") -> list[tuple[str, str]]:
        """(status letter, path) for files that differ between two commits."""
        args = ["diff", "--name-status", "-z", "--no-renames", f"{base}...{head}", "--"]
        out = _run(args + ([prefix] if prefix else []), self.root).split("\0")
        return [(out[i], out[i + 1]) for i in range(0, len(out) - 1, 2)]

    def is_ancestor(self, commit: str, ref: str) -> bool:
        """Whether `commit` is in `ref`'s history."""
        proc = subprocess.run(["git", "merge-base", "--is-ancestor", commit, ref], cwd=self.root,
                              capture_output=True, env=_env())
        return proc.returncode == 0

    def commit_before(self, ref: str, when: str) -> str:
        """The commit `ref` pointed at, at time `when`, by the registry's clock (clock.py)."""
        from ..core.clock import commit_before

        return commit_before(self, ref, when)

    def first_parent_line(self, ref: str, notes_ref: str) -> list[tuple[str, int, tuple, str]]:
        """(sha, committer epoch, parents, note) along `ref`'s first-parent line, newest first."""
        head = self.rev_parse(ref)
        notes = self._read_ref_file(notes_ref) or ""
        key = (head, notes)
        if key not in self._lines:
            out = _run(["log", "--first-parent", "--format=%H%x1f%ct%x1f%P%x1f%N%x1e",
                        f"--notes={notes_ref}", head], self.root)
            rows = []
            for rec in out.split("\x1e"):
                fields = rec.strip("\n").split("\x1f")
                if len(fields) == 4:
                    rows.append((fields[0], int(fields[1]), tuple(fields[2].split()), fields[3]))
            self._lines = {key: rows}  # one line kept: the newest head is what readers ask about
        return self._lines[key]

    def log(self, ref: str, paths: list[str], limit: int | None = None, first_parent: bool = True) -> list[Commit]:
        """Commits of `ref` (a name or a range such as A..B) touching `paths`, newest first."""
        fmt = "%H%x1f%an%x1f%ae%x1f%aI%x1f%P%x1f%s%x1f%b%x1e"
        args = ["log", f"--format={fmt}"] + (["--first-parent"] if first_parent else [])
        if limit:
            args.append(f"-n{limit}")
        out = _run(args + [ref, "--", *paths], self.root)
        commits = []
        for rec in out.split("\x1e"):
            fields = rec.strip("\n").split("\x1f")
            if len(fields) == 7:
                sha, author, email, date, parents, subject, body = fields
                commits.append(Commit(sha, author, email, date, subject, body.strip(), tuple(parents.split())))
        return commits

    def ref_tips(self) -> set[str]:
        """The commits every branch, remote-tracking branch and tag points at (tags peeled)."""
        out = _run(["for-each-ref", "--format=%(objectname) %(*objectname)", "refs/heads", "refs/remotes",
                    "refs/tags"], self.root)
        return {line.split()[-1] for line in out.splitlines() if line.strip()}

    def named_tips(self) -> list[tuple[str, str]]:
        """(full ref name, commit) of every branch, remote-tracking branch and tag (tags peeled)."""
        out = _run(["for-each-ref", "--format=%(refname) %(objectname) %(*objectname)", "refs/heads",
                    "refs/remotes", "refs/tags"], self.root)
        return [(line.split()[0], line.split()[-1]) for line in out.splitlines() if line.strip()]

    def path_changes(self, ref: str) -> list[tuple[str, str, str]]:
        """(commit, path, new blob sha; zeros when removed) of every file change along `ref`'s
        first-parent line, each commit against its first parent (a merge included), newest first:
        one `git log` for a whole history (a pathspec would make git slower, not faster)."""
        out = _run(["log", "--first-parent", "--diff-merges=first-parent", "--raw", "--no-abbrev", "--no-renames",
                    "--format=%x1e%H", ref], self.root)
        found = []
        for rec in out.split("\x1e")[1:]:
            sha, _, body = rec.partition("\n")
            for line in body.splitlines():
                meta, tab, path = line.partition("\t")
                if line.startswith(":") and tab:
                    found.append((sha.strip(), path, meta.split()[3]))
        return found

    @property
    def branches(self) -> "BranchOps":
        """Branch, push, fetch and tag operations (promotion PRs, sync, releases)."""
        return BranchOps(self.root)

    def close(self):
        if self._batch is not None and self._batch.poll() is None:
            self._batch.stdin.close()
            self._batch.wait()
        self._batch = None

    # -- writing -------------------------------------------------------------------
    @contextmanager
    def write_lock(self, timeout: float | None = None):
        """Hold this working tree's write lock (re-entrant within one GitStore).

        Another process holding it makes us wait up to `timeout` seconds
        ($MODELREG_LOCK_TIMEOUT, default 10), then fail with nothing written."""
        if self._lock_depth:
            self._lock_depth += 1
            try:
                yield
            finally:
                self._lock_depth -= 1
            return
        fh = _acquire(self.git_dir / "modelreg-write.lock", _lock_timeout(timeout))
        self._lock_depth = 1
        try:
            yield
        finally:
            self._lock_depth = 0
            fh.close()

    def identity(self) -> str:
        return identity(self.root)

    def current_branch(self) -> str | None:
        return _run(["symbolic-ref", "--quiet", "--short", "HEAD"], self.root, check=False).strip() or None

    def dirty_paths(self, paths: list[str]) -> list[str]:
        out = _run(["status", "--porcelain", "-z", "--untracked-files=all", "--", *paths], self.root)
        return [item[3:] for item in out.split("\0") if item]

    def tracked_outside(self, folder: str) -> list[str]:
        """Paths git tracks (the index, ignored files included) outside `folder`."""
        out = _run(["ls-files", "-z", "--", ".", f":(exclude){folder}/"], self.root, check=False)
        return [p for p in out.split("\0") if p]

    def commit_paths(self, paths: list[str], message: str) -> str:
        """Stage exactly `paths` (additions, edits, deletions) and commit only them."""
        return commit(self.root, paths, message)

    def unstage(self, paths: list[str]) -> None:
        _run(["reset", "--quiet", "--", *paths], self.root, check=False)

    def restore(self, paths: list[str]) -> None:
        """Put tracked files back as HEAD has them (used to undo a failed write)."""
        if paths:
            _run(["checkout", "HEAD", "--", *paths], self.root, check=False)


def _ref_files(ref: str) -> tuple[str, ...]:
    """The ref files that may hold `ref`'s commit without asking git (tags need peeling: git)."""
    if ref == "HEAD":
        return ("HEAD",)
    if ".." in ref or ref.startswith("refs/tags/"):
        return ()
    if ref.startswith("refs/"):
        return (ref,)
    if "/" not in ref or ref.startswith("origin/"):
        return (f"refs/heads/{ref}", f"refs/remotes/{ref}")
    return ()


def _lock_timeout(timeout: float | None) -> float:
    if timeout is not None:
        return timeout
    try:
        return float(os.environ.get("MODELREG_LOCK_TIMEOUT", "10"))
    except ValueError as exc:
        raise InvalidInput("MODELREG_LOCK_TIMEOUT must be a number of seconds") from exc


def _acquire(path: Path, timeout: float):
    """An open file holding an exclusive flock on `path`, or ConcurrentWrite after `timeout`."""
    import fcntl

    fh = open(path, "a+")
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fh
        except BlockingIOError as exc:
            if time.monotonic() >= deadline:
                fh.close()
                raise ConcurrentWrite(f"another modelreg command is writing to this clone ({path} is locked); "
                                      "wait for it to finish and retry") from exc
            time.sleep(0.05)


def identity(cwd: Path) -> str:
    """'Name <email>' as git commit will use it: the environment first, then git config."""
    name = os.environ.get("GIT_AUTHOR_NAME") or _run(["config", "user.name"], cwd, check=False).strip()
    email = os.environ.get("GIT_AUTHOR_EMAIL") or _run(["config", "user.email"], cwd, check=False).strip()
    if not name or not email:
        raise ExternalError("git has no identity: run 'git config --global user.name NAME' and "
                            "'git config --global user.email EMAIL' before writing to the registry")
    return f"{name} <{email}>"


def init_repo(path: Path, branch: str = "main") -> None:
    path.mkdir(parents=True, exist_ok=True)
    _run(["init", "--quiet", f"--initial-branch={branch}", str(path)], path)


def commit(root: Path, paths: list[str], message: str, author: str | None = None, date: str | None = None) -> str:
    """The one way modelreg commits: stage exactly `paths` (additions, edits, deletions) and
    commit only them, hooks skipped; `author`/`date` keep another commit's (sync's replay)."""
    _run(["add", "--all", "--", *paths], root)
    extra = ([f"--author={author}"] if author else []) + ([f"--date={date}"] if date else [])
    try:
        _run(["commit", "--quiet", "--no-verify", "-m", message, *extra, "--", *paths], root)
    except ExternalError as exc:
        raise ExternalError(f"git commit failed: {exc}") from exc
    return _run(["rev-parse", "HEAD"], root).strip()


# -- remote registries (used by the loader and the serving watcher) --------------------
def clone_partial(url: str, dest: Path) -> None:
    """A blobless clone without a checkout: history's trees and commits, blobs on demand.

    Branches map onto local branches, so `main` in the clone is the remote's main after
    every `fetch_all`, and reads at `main` need no remote-tracking names.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".partial")
    _run(["clone", "--quiet", "--filter=blob:none", "--no-checkout", url, str(tmp)], dest.parent)
    _run(["config", "remote.origin.fetch", "+refs/heads/*:refs/heads/*"], tmp)
    _run(["config", "--add", "remote.origin.fetch", "+refs/tags/*:refs/tags/*"], tmp)
    _run(["config", "--add", "remote.origin.fetch", "+refs/notes/*:refs/notes/*"], tmp)  # the clock
    fetch_all(tmp)  # the clone made only HEAD's branch local; main may be another one
    os.replace(tmp, dest)


def fetch_all(root: Path) -> None:
    """Bring every branch and tag up to date (no blobs: the clone is partial)."""
    _run(["fetch", "--quiet", "--prune", "--update-head-ok", "--filter=blob:none", "origin"], root)


def ls_remote(url: str, ref: str, cwd: Path | None = None) -> str | None:
    """The sha `ref` has on a remote: one round trip, nothing downloaded."""
    out = _run(["ls-remote", url, ref], cwd or Path.cwd())
    for line in out.splitlines():
        sha, _, name = line.partition("\t")
        if name == ref:
            return sha
    return None


def origin_url(root: Path) -> str | None:
    return _run(["config", "--get", "remote.origin.url"], root, check=False).strip() or None


# -- branches, pushes and tags (promotion PRs, sync, release tags) ---------------------
class BranchOps:
    """Writes that move refs; used through `GitStore.branches`."""

    def __init__(self, root: Path):
        self.root = root

    def run(self, *args, check=True) -> str:
        return _run(list(args), self.root, check=check)

    def exists(self, ref: str) -> bool:
        return bool(self.run("rev-parse", "--verify", "--quiet", ref, check=False).strip())

    def names(self, pattern: str) -> list[str]:
        """Local and origin branch names matching a glob (origin's without the prefix)."""
        out = self.run("for-each-ref", "--format=%(refname)", f"refs/heads/{pattern}",
                       f"refs/remotes/origin/{pattern}")
        return sorted({r.split("/", 3)[-1] if r.startswith("refs/remotes/") else r[len("refs/heads/"):]
                       for r in out.split()})

    def checkout(self, branch: str, create_from: str | None = None) -> None:
        if create_from:
            self.run("checkout", "--quiet", "-b", branch, create_from)
        else:
            self.run("checkout", "--quiet", branch)

    def reset_branch(self, branch: str, start: str) -> None:
        """Point `branch` at `start` and check it out (tracked files follow; ignored ones stay)."""
        self.run("checkout", "--quiet", "-B", branch, start)

    def delete(self, branch: str) -> None:
        self.run("branch", "--quiet", "-D", branch, check=False)

    def has_remote(self, name: str = "origin") -> bool:
        return name in self.run("remote").split()

    def push(self, *refspecs: str, remote: str = "origin", force_with_lease: bool = False) -> None:
        args = ["push", "--quiet", "--porcelain"] + (["--force-with-lease"] if force_with_lease else [])
        self.run(*args, remote, *refspecs)

    def fetch(self, remote: str = "origin") -> None:
        self.run("fetch", "--quiet", "--tags", remote)

    def rebase(self, onto: str) -> None:
        proc = subprocess.run(["git", "rebase", "--quiet", onto], cwd=self.root, capture_output=True,
                              text=True, env=_env())
        if proc.returncode != 0:
            self.run("rebase", "--abort", check=False)
            raise ExternalError(f"git rebase onto {onto} failed ({proc.stderr.strip().splitlines()[-1:]}); "
                                "resolve by hand with 'git rebase'")

    def merge_base(self, a: str, b: str) -> str:
        return self.run("merge-base", a, b).strip()

    def commits(self, base: str, head: str) -> list[str]:
        """First-parent commits in base..head, oldest first."""
        return self.run("rev-list", "--reverse", "--first-parent", f"{base}..{head}").split()

    def diff_tree(self, commit: str) -> list[tuple[str, str]]:
        out = self.run("diff-tree", "-r", "-z", "--no-renames", "--name-status", "--root", f"{commit}^", commit)
        parts = out.split("\0")
        return [(parts[i], parts[i + 1]) for i in range(0, len(parts) - 1, 2)]

    def commit_meta(self, commit: str) -> tuple[str, str, str]:
        """(author 'Name <email>', author date, full message)."""
        out = self.run("show", "-s", "--format=%an <%ae>%x1f%aI%x1f%B", commit)
        author, date, message = out.split("\x1f", 2)
        return author, date, message.rstrip("\n")

    def authored_changes(self, base: str, head: str) -> set[tuple[str, str, str, frozenset]]:
        """(author, author date, message, changed paths) of every non-merge commit in base..head:
        what a commit is wherever a rebase put it (sync recognises landed work by it)."""
        out = self.run("log", "--no-merges", "--no-renames", "--format=%x1e%an <%ae>%x1f%aI%x1f%B%x1d",
                       "--name-only", f"{base}..{head}")
        found = set()
        for record in out.split("\x1e")[1:]:
            author, date, rest = record.split("\x1f", 2)
            message, _, paths = rest.partition("\x1d")
            found.add((author, date, message.rstrip("\n"), frozenset(p for p in paths.splitlines() if p)))
        return found

    def stage_changes(self, paths: list[str]) -> bool:
        """Stage `paths`; True if that changes anything against HEAD."""
        self.run("add", "--all", "--", *paths)
        return bool(self.run("diff", "--cached", "--name-only", "--", *paths).strip())

    def commit_as(self, paths: list[str], message: str, author: str, date: str) -> str:
        return commit(self.root, paths, message, author, date)

    # tags
    def tags(self, pattern: str = "*") -> dict[str, str]:
        """tag name -> the commit it points at (peeled)."""
        out = self.run("for-each-ref", "--format=%(refname:short)%1f%(*objectname)%1f%(objectname)",
                       f"refs/tags/{pattern}")
        found = {}
        for line in out.splitlines():
            name, peeled, obj = line.split("\x1f")
            found[name] = peeled or obj
        return found

    def tag_messages(self) -> dict[str, str]:
        """Every annotated tag's message, by name, in one call (lightweight tags are left out)."""
        out = self.run("for-each-ref", "--format=%(objecttype)%1f%(refname:short)%1f%(contents)%1e",
                       "refs/tags")
        found = {}
        for record in out.split("\x1e"):
            kind, _, rest = record.lstrip("\n").partition("\x1f")
            name, _, message = rest.partition("\x1f")
            if kind == "tag":
                found[name] = message.rstrip("\n")
        return found

    def tag_message(self, name: str) -> str | None:
        out = self.run("for-each-ref", "--format=%(objecttype)%1f%(contents)", f"refs/tags/{name}")
        if not out.strip():
            return None
        kind, _, message = out.partition("\x1f")
        return message.rstrip("\n") if kind == "tag" else ""

    def create_tag(self, name: str, commit: str, message: str, force: bool = False,
                   date: str | None = None) -> None:
        """An annotated tag; `date` (ISO 8601) sets the tagger date instead of now."""
        self.run("check-ref-format", f"refs/tags/{name}")
        _run(["tag", "--annotate", "--cleanup=verbatim", *(["--force"] if force else []), "-m", message,
              "--", name, commit], self.root, env={"GIT_COMMITTER_DATE": date} if date else None)

    def delete_tag(self, name: str) -> None:
        self.run("tag", "--delete", "--", name, check=False)

    def first_parent_merges(self, ref: str, limit: int = 200) -> list[str]:
        """Commits of `ref`'s first-parent history, newest first (all of them when limit is 0)."""
        return self.run("rev-list", "--first-parent", *([f"--max-count={limit}"] if limit else []), ref).split()

    def is_ancestor(self, commit: str, ref: str) -> bool:
        return subprocess.run(["git", "merge-base", "--is-ancestor", commit, ref], cwd=self.root,
                              capture_output=True, env=_env()).returncode == 0

    # notes (the registry's clock: when the tag workflow saw main move)
    def fetch_notes(self, ref: str, remote: str = "origin") -> None:
        self.run("fetch", "--quiet", remote, f"+{ref}:{ref}", check=False)  # none yet is fine

    def add_note(self, ref: str, commit: str, text: str, force: bool = False) -> None:
        self.run("notes", f"--ref={ref}", "add", *(["-f"] if force else []), "-m", text, commit)

    def set_notes(self, ref: str, notes: dict[str, str]) -> None:
        """Replace the notes of many commits in one notes commit (fast-import: one process, not one
        per note). Texts are ASCII (fast-import counts bytes)."""
        if not notes:
            return
        parent = self.run("rev-parse", "--verify", "--quiet", ref, check=False).strip()
        ident = self.run("var", "GIT_COMMITTER_IDENT").strip()
        lines = [f"commit {ref}", f"committer {ident}", "data 0"] + ([f"from {parent}"] if parent else [])
        for commit, text in notes.items():
            lines += [f"N inline {commit}", f"data {len(text)}", text]
        _run(["fast-import", "--quiet"], self.root, input="\n".join(lines) + "\n")

    def remove_note(self, ref: str, commit: str) -> None:
        self.run("notes", f"--ref={ref}", "remove", "--ignore-missing", commit, check=False)

    def parents(self, commit: str) -> list[str]:
        return self.run("rev-list", "--parents", "-n1", commit).split()[1:]
