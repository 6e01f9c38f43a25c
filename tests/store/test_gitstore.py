"""GitStore against real repositories: refs, batched object reads, listings, diffs, logs, the write lock, commits."""
import subprocess
import sys
import time

import pytest

from modelreg.core.errors import ConcurrentWrite, InvalidInput, NotFound
from modelreg.store.gitstore import GitStore, find_root

from tests.conftest import git


@pytest.fixture
def two(repo):
    """Commit c1 (a.txt, dir/b.txt) then c2 (a.txt edited, dir/c.txt added, dir/b.txt removed)."""
    repo.write("a.txt", "one\n")
    repo.write("dir/b.txt", "bee\n")
    c1 = repo.commit("first")
    repo.write("a.txt", "two\n")
    repo.write("dir/c.txt", "sea\n")
    repo.remove("dir/b.txt")
    return c1, repo.commit("second")


# -- refs ------------------------------------------------------------------------------
def test_rev_parse_branch_head_and_sha(repo, store, two):
    c1, c2 = two
    assert store.rev_parse("main") == c2
    assert store.rev_parse("HEAD") == c2
    assert store.rev_parse("refs/heads/main") == c2
    assert store.rev_parse(c1) == c1
    assert store.rev_parse(c1[:10]) == c1


def test_rev_parse_tags_are_peeled_to_their_commit(repo, store, two):
    c1, _ = two
    git(repo.root, "tag", "light", c1)
    git(repo.root, "tag", "-a", "-m", "annotated", "heavy", c1)
    assert store.rev_parse("light") == c1
    assert store.rev_parse("heavy") == c1
    assert store.rev_parse("refs/tags/heavy") == c1


def test_rev_parse_a_branch_named_like_a_file_in_dot_git(repo, store, two):
    """A branch named `index` (or `config`) is the branch: .git/index is not a ref file."""
    git(repo.root, "branch", "index", two[0])
    git(repo.root, "branch", "config", two[0])
    assert store.rev_parse("index") == two[0] and store.rev_parse("config") == two[0]


def test_rev_parse_main_is_the_branch_even_beside_a_tag_of_that_name(repo, store, two):
    """A tag pushed with the main branch's name does not redirect reads of main."""
    git(repo.root, "tag", "main", two[0])
    assert store.rev_parse("main") == two[1]
    assert store.rev_parse("refs/tags/main") == two[0]


def test_rev_parse_reads_packed_refs(repo, store, two):
    git(repo.root, "branch", "side", two[0])
    git(repo.root, "pack-refs", "--all")
    assert not (repo.root / ".git/refs/heads/side").exists()
    assert store.rev_parse("side") == two[0]


def test_rev_parse_unknown_ref_is_not_found(store, two):
    for ref in ("nope", "refs/heads/nope", "origin/nope", "0" * 40):
        with pytest.raises(NotFound, match="no branch, tag or commit"):
            store.rev_parse(ref)


def test_rev_parse_a_blob_is_not_a_commit(repo, store, two):
    blob = git(repo.root, "rev-parse", f"{two[0]}:a.txt").strip()
    with pytest.raises(NotFound):
        store.rev_parse(blob)


# -- objects ---------------------------------------------------------------------------
def test_read_present_absent_and_tree(store, two):
    c1, c2 = two
    assert store.read(c1, "a.txt") == b"one\n"
    assert store.read(c2, "a.txt") == b"two\n"
    assert store.read(c2, "dir/b.txt") is None
    assert store.read(c2, "dir") is None, "a tree is not a file"
    assert store.read(c2, "dir/c.txt") == b"sea\n", "the tree's bytes were consumed, the stream is in step"


def test_read_objects_many_in_one_batch_in_order(store, two):
    c1, c2 = two
    specs = [f"{c1}:a.txt", f"{c2}:dir", "nonexistent-ref:a.txt", f"{c1}:dir/b.txt", f"{c2}:missing"] * 400
    out = store.read_objects(specs)
    assert out[:5] == [b"one\n", None, None, b"bee\n", None]
    assert out == out[:5] * 400
    assert store.read_objects([]) == []


def test_read_binary_and_empty_blobs(repo, store):
    repo.write("bin", bytes(range(256)) * 4)
    repo.write("empty", b"")
    commit = repo.commit()
    assert store.read_objects([f"{commit}:bin", f"{commit}:empty"]) == [bytes(range(256)) * 4, b""]


def test_ls_tree_lists_files_recursively_with_blob_ids(repo, store, two):
    repo.write("dir/sub dir/x y.txt", "spaced\n")
    commit = repo.commit()
    entries = dict(store.ls_tree(commit, "dir"))
    assert sorted(entries) == ["dir/c.txt", "dir/sub dir/x y.txt"]
    assert entries["dir/c.txt"] == git(repo.root, "rev-parse", f"{commit}:dir/c.txt").strip()
    assert "registry.yaml" in dict(store.ls_tree(commit, "."))
    assert store.ls_tree(commit, "nowhere") == []


def test_list_dir_names_direct_children_only(repo, store):
    repo.write("top/f.txt", "f")
    repo.write("top/inner/g.txt", "g")
    commit = repo.commit()
    assert sorted(store.list_dir(commit, "top")) == ["f.txt", "inner"]
    assert sorted(store.list_dir(commit, "top/")) == ["f.txt", "inner"]
    assert store.list_dir(commit, "absent") == []


def test_changed_paths_added_modified_deleted(store, two):
    c1, c2 = two
    assert sorted(store.changed_paths(c1, c2)) == [("A", "dir/c.txt"), ("D", "dir/b.txt"), ("M", "a.txt")]
    assert sorted(store.changed_paths(c1, c2, "dir")) == [("A", "dir/c.txt"), ("D", "dir/b.txt")]
    assert store.changed_paths(c2, c2) == []


def test_changed_paths_are_since_the_fork(repo, store, two):
    c1, _ = two
    git(repo.root, "checkout", "-q", "-b", "side", c1)
    repo.write("side.txt", "s")
    side = repo.commit("side")
    assert store.changed_paths("main", side) == [("A", "side.txt")], "main's own changes are not the side's"


def test_is_ancestor(repo, store, two):
    c1, c2 = two
    assert store.is_ancestor(c1, c2)
    assert store.is_ancestor(c2, "main")
    assert not store.is_ancestor(c2, c1)


# -- history ---------------------------------------------------------------------------
def test_log_filters_by_path_and_reads_fields(repo, store, two):
    c1, c2 = two
    repo.write("other.txt", "o")
    repo.commit("subject line\n\nbody text")
    assert [c.sha for c in store.log("main", ["a.txt"])] == [c2, c1]
    assert [c.sha for c in store.log("main", ["dir/b.txt"])] == [c2, c1]
    newest = store.log("main", [], limit=1)[0]
    assert (newest.subject, newest.body, newest.parents) == ("subject line", "body text", (c2,))
    assert (newest.author, newest.email) == ("Test User", "test@example.com")
    assert [c.sha for c in store.log(f"{c1}..{c2}", [])] == [c2]


def test_log_first_parent_skips_the_merged_side(repo, store, two):
    _, c2 = two
    git(repo.root, "checkout", "-q", "-b", "side")
    repo.write("side.txt", "s")
    side = repo.commit("side work")
    git(repo.root, "checkout", "-q", "main")
    repo.write("main.txt", "m")
    repo.commit("main work")
    git(repo.root, "merge", "-q", "--no-ff", "-m", "merge side", "side")
    first = [c.subject for c in store.log("main", [])]
    assert "side work" not in first and first[0] == "merge side"
    every = [c.sha for c in store.log("main", [], first_parent=False)]
    assert side in every
    assert [c.sha for c in store.log("main", ["side.txt"], first_parent=False)] == [side]


def test_ref_tips_names_branches_and_peeled_tags(repo, store, two):
    c1, c2 = two
    git(repo.root, "branch", "old", c1)
    git(repo.root, "tag", "-a", "-m", "release", "rel", c1)
    git(repo.root, "tag", "light", c2)
    tag_object = git(repo.root, "rev-parse", "rel").strip()
    assert store.ref_tips() == {c1, c2}
    assert tag_object not in store.ref_tips()


# -- the write lock --------------------------------------------------------------------
def test_write_lock_is_reentrant_and_released(repo, store):
    other = GitStore(repo.root)
    try:
        with store.write_lock(), store.write_lock():
            with store.write_lock(timeout=0):
                pass
            with pytest.raises(ConcurrentWrite):
                with other.write_lock(timeout=0.1):
                    pass
        with other.write_lock(timeout=0):  # the outermost exit released it
            pass
    finally:
        other.close()


def test_second_store_waits_then_fails_after_the_timeout(repo, store, monkeypatch):
    monkeypatch.setenv("MODELREG_LOCK_TIMEOUT", "0.3")
    other = GitStore(repo.root)
    try:
        with store.write_lock():
            started = time.monotonic()
            with pytest.raises(ConcurrentWrite, match="another modelreg command"):
                with other.write_lock():
                    pytest.fail("the lock was taken twice")
            assert time.monotonic() - started >= 0.25
    finally:
        other.close()


HOLDER = """
import sys
from modelreg.store.gitstore import GitStore
with GitStore(sys.argv[1]).write_lock():
    print("locked", flush=True)
    sys.stdin.readline()
"""


def test_another_process_holding_the_lock_blocks_us(repo, store, monkeypatch):
    monkeypatch.setenv("MODELREG_LOCK_TIMEOUT", "0.2")
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(repo.root)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(ConcurrentWrite):
            with store.write_lock():
                pass
    finally:
        holder.communicate("\n", timeout=30)
    with store.write_lock():  # the holder exited: free again
        pass


def test_a_lock_timeout_that_is_not_a_number_is_refused(store, monkeypatch):
    monkeypatch.setenv("MODELREG_LOCK_TIMEOUT", "soon")
    with pytest.raises(InvalidInput, match="MODELREG_LOCK_TIMEOUT"):
        with store.write_lock():
            pass


# -- commits ---------------------------------------------------------------------------
def test_commit_paths_commits_exactly_the_given_paths(repo, store, two):
    repo.write("a.txt", "three\n")
    repo.write("new.txt", "new\n")
    repo.write("untouched.txt", "stays out\n")
    repo.write("staged.txt", "staged elsewhere\n")
    git(repo.root, "add", "staged.txt")
    (repo.root / "dir/c.txt").unlink()
    sha = store.commit_paths(["a.txt", "new.txt", "dir/c.txt"], "three paths")
    assert sha == repo.head()
    assert sorted(git(repo.root, "show", "--name-status", "--format=", sha).split("\n")) == [
        "", "A\tnew.txt", "D\tdir/c.txt", "M\ta.txt"]
    status = git(repo.root, "status", "--porcelain").splitlines()
    assert sorted(status) == ["?? untouched.txt", "A  staged.txt"]
    assert store.dirty_paths(["a.txt", "new.txt"]) == []
    assert store.dirty_paths(["untouched.txt"]) == ["untouched.txt"]


# -- finding the repository ------------------------------------------------------------
def test_find_root_from_a_subfolder(repo):
    deep = repo.root / "x" / "y"
    deep.mkdir(parents=True)
    assert find_root(deep) == repo.root.resolve()
    assert find_root(repo.root) == repo.root.resolve()


def test_find_root_outside_a_repository(tmp_path):
    outside = tmp_path / "plain"
    outside.mkdir()
    with pytest.raises(NotFound) as caught:
        find_root(outside)
    assert caught.value.hint == "init"
    with pytest.raises(NotFound):
        GitStore(outside)


def test_a_name_with_a_line_break_is_never_sent_and_shifts_no_answer(store, two):
    """The batch protocol is a name per line: `a\\nHEAD:b` sent as is would be two requests, and
    every answer after it would belong to the file before (a hostile file name choosing which
    bytes a record is read as). Such a name reads as no file; names with spaces work as any."""
    c1, c2 = two
    hostile = f"{c1}:registry/x\n{c1}:a.txt"
    assert store.read_objects([hostile, f"{c1}:dir/b.txt", f"{c2}:no such file", f"{c1}:a.txt"]) == [
        None, b"bee\n", None, b"one\n"]
    assert store.read_objects([f"{c1}:x\r", f"{c1}:a.txt"]) == [None, b"one\n"]
