"""Worktree reads and the Write transaction: refusals, validation, rollback, one commit with trailers."""
import pytest

from modelreg.core.errors import ConcurrentWrite, ExternalError, InvalidInput, InvalidRecord, NotFound
from modelreg.store.gitstore import GitStore
from modelreg.store.worktree import Worktree

from tests.conftest import git

MODEL = {"name": "m", "model_type": "base_model", "created_at": "2026-01-01T00:00:00Z"}
VERSION = {"version": 2, "model_type": "base_model", "stage": "none", "status": "active",
           "created_at": "2026-01-01T00:00:00Z"}


@pytest.fixture
def tree(repo, store):
    """m@1 committed, with an alias."""
    repo.model("m")
    repo.version("m", 1)
    repo.aliases("m", {"champion": 1})
    repo.commit("m@1")
    return Worktree(repo.root, store)


def staged(repo) -> str:
    return git(repo.root, "diff", "--cached", "--name-only")


def test_reads_include_uncommitted_edits(repo, tree):
    repo.version("m", 1, stage="staging")
    repo.version("m", 4)
    repo.aliases("m", {"champion": 4})
    assert tree.model("m")["name"] == "m"
    assert tree.version("m", 1)["stage"] == "staging"
    assert tree.aliases("m") == {"champion": 4}
    assert tree.version_numbers("m") == [1, 4]


def test_unknown_model_and_version(tree):
    with pytest.raises(NotFound) as model:
        tree.model("nope")
    assert model.value.hint == "register"
    with pytest.raises(NotFound) as version:
        tree.version("m", 7)
    assert (version.value.hint, version.value.hint_args) == ("versions", {"model": "m"})
    with pytest.raises(InvalidInput):
        tree.model("../m")
    assert tree.aliases("nope") == {} and tree.version_numbers("nope") == []


def test_version_numbers_ignore_weights_only_and_odd_folders(repo, tree):
    repo.write("registry/m/versions/2/weights/model.safetensors", b"\0")
    repo.write("registry/m/versions/notes/version.yaml", "version: 1\n")
    assert tree.version_numbers("m") == [1]


def test_a_record_that_is_not_a_mapping(repo, tree):
    repo.write("registry/m/versions/1/version.yaml", "- 1\n")
    with pytest.raises(InvalidRecord, match="expected a mapping"):
        tree.version("m", 1)


def test_settings_and_main_branch_from_the_working_tree(repo, tree):
    repo.write("registry.yaml", "version: 1\nmain_branch: trunk\n")
    assert tree.settings.main_branch == "trunk" and tree.main_branch == "trunk"
    repo.write("registry.yaml", "version: 1\nstages: production\n")
    with pytest.raises(InvalidRecord, match="/stages"):
        tree.settings


def test_begin_write_refuses_a_repository_that_is_not_a_registry(repo, tree):
    repo.remove("registry.yaml")
    with pytest.raises(NotFound) as caught:
        tree.begin_write(["registry/m"])
    assert caught.value.hint == "init"


def test_begin_write_refuses_dirty_paths(repo, tree):
    repo.version("m", 1, stage="staging")
    with pytest.raises(InvalidInput, match="uncommitted changes in registry/m/versions/1/version.yaml"):
        tree.begin_write(["registry/m"])
    git(repo.root, "checkout", "--", ".")
    repo.write("registry/m/stray.txt", "untracked")
    with pytest.raises(InvalidInput, match="stray.txt"):
        tree.begin_write(["registry/m"])
    assert tree.begin_write(["registry/other"]).paths == [], "other paths may be dirty"


def test_a_write_that_raises_before_commit_leaves_nothing(repo, tree):
    before = (repo.root / "registry/m/aliases.yaml").read_bytes()
    with pytest.raises(RuntimeError):
        with tree.begin_write(["registry/m"]) as write:
            write.put("registry/m/versions/2/version.yaml", "version", VERSION)
            pointer = write.track("registry/m/versions/2/weights.dvc")
            pointer.parent.mkdir(parents=True)
            pointer.write_text("outs: []\n")
            write.track("registry/m/aliases.yaml").write_text("aliases: {champion: 2}\n")
            git(repo.root, "add", "registry/m")
            raise RuntimeError("boom")
    assert not (repo.root / "registry/m/versions/2").exists()
    assert (repo.root / "registry/m/aliases.yaml").read_bytes() == before
    assert staged(repo) == ""
    assert git(repo.root, "status", "--porcelain") == ""


def test_a_commit_that_fails_removes_the_files_it_wrote(repo, tree):
    head = repo.head()
    (repo.root / ".git/index.lock").write_text("")  # another git command is busy
    try:
        with pytest.raises(ExternalError, match="git add failed"):
            with tree.begin_write(["registry/m"]) as write:
                write.put("registry/m/versions/2/version.yaml", "version", VERSION)
                write.commit("register m@2", {"Model": "m"})
    finally:
        (repo.root / ".git/index.lock").unlink()
    assert not (repo.root / "registry/m/versions/2").exists()
    assert repo.head() == head and staged(repo) == ""


def test_put_validates_against_the_schema_and_writes_nothing(repo, tree):
    with tree.begin_write(["registry/m"]) as write:
        with pytest.raises(InvalidRecord, match="registry/m/versions/2/version.yaml:.*stage"):
            write.put("registry/m/versions/2/version.yaml", "version", {**VERSION, "stage": "limbo"})
        with pytest.raises(InvalidRecord, match="created_at"):
            write.put("registry/n/model.yaml", "model", {"name": "n", "model_type": "base_model"})
        assert write.pending == {}
    assert not (repo.root / "registry/m/versions/2").exists() and not (repo.root / "registry/n").exists()


def test_put_writes_only_at_commit(repo, tree):
    with tree.begin_write(["registry/m"]) as write:
        write.put("registry/m/versions/2/version.yaml", "version", VERSION)
        assert not (repo.root / "registry/m/versions/2").exists()
        write.rollback()


def test_commit_makes_one_commit_with_the_trailers(repo, tree):
    count = int(git(repo.root, "rev-list", "--count", "HEAD"))
    repo.write("unrelated.txt", "not ours\n")
    with tree.begin_write(["registry/m"]) as write:
        write.put("registry/m/versions/2/version.yaml", "version", VERSION)
        write.put_raw("registry/m/versions/2/chat_template.jinja", b"{{ messages }}")
        sha = write.commit("register m@2", {"Model": "m", "Version": 2}, body="Why: testing.")
    assert sha == repo.head() and int(git(repo.root, "rev-list", "--count", "HEAD")) == count + 1
    message = git(repo.root, "log", "-1", "--format=%B").strip()
    assert message == "modelreg: register m@2\n\nWhy: testing.\n\nModelreg-Model: m\nModelreg-Version: 2"
    trailers = git(repo.root, "log", "-1", "--format=%(trailers:key=Modelreg-Version,valueonly)").strip()
    assert trailers == "2"
    assert sorted(git(repo.root, "show", "--name-only", "--format=", sha).split()) == [
        "registry/m/versions/2/chat_template.jinja", "registry/m/versions/2/version.yaml"]
    text = (repo.root / "registry/m/versions/2/version.yaml").read_text()
    assert text.startswith("# yaml-language-server: $schema=../../../../schemas/version.schema.json\nversion: 2\n")
    assert git(repo.root, "status", "--porcelain") == "?? unrelated.txt\n"
    assert tree.version_numbers("m") == [1, 2]


def test_commit_while_another_store_writes(repo, tree, monkeypatch):
    monkeypatch.setenv("MODELREG_LOCK_TIMEOUT", "0.1")
    other = GitStore(repo.root)
    try:
        with other.write_lock():
            with pytest.raises(ConcurrentWrite):
                with tree.begin_write(["registry/m"]) as write:
                    write.put("registry/m/versions/2/version.yaml", "version", VERSION)
                    write.commit("register m@2", {"Model": "m"})
    finally:
        other.close()
    assert not (repo.root / "registry/m/versions/2").exists()


def test_drop_branch_leftovers_removes_weights_only_folders(repo, tree):
    repo.write("registry/m/versions/2/weights/model.safetensors", b"\0")
    (repo.root / "registry/m/versions/3").mkdir()
    repo.write("registry/m/versions/notes/weights/x", "kept: not a number")
    repo.write("registry/m/versions/5", "a file, not a folder")
    assert tree.drop_branch_leftovers("m") == [2, 3]
    left = sorted(p.name for p in (repo.root / "registry/m/versions").iterdir())
    assert left == ["1", "5", "notes"]
    assert tree.drop_branch_leftovers("m") == []
    assert tree.drop_branch_leftovers("unknown") == []
