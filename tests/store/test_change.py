"""Change between commits: registrations, stage/alias moves, policy files, deletions, exact vs full, since the fork."""
import pytest

from modelreg.store.change import Change, Move, compute, entered, is_policy_file
from modelreg.store.snapshot import Snapshot

from tests.conftest import git


@pytest.fixture
def pair(repo, store):
    """(base, head) commits: head registers a@2, stages a@1, soft-deletes a@3, moves aliases, drops model b,
    edits policy files and leaves model c alone."""
    repo.model("a")
    repo.version("a", 1)
    repo.version("a", 3, stage="staging")
    repo.aliases("a", {"production": 1, "old": 1})
    repo.model("b")
    repo.version("b", 1)
    repo.model("c")
    repo.version("c", 1)
    base = repo.commit("base")
    repo.version("a", 1, stage="staging")
    repo.version("a", 2)
    repo.version("a", 3, stage="staging", status="deleted")
    repo.aliases("a", {"production": 2, "canary": 1})
    repo.remove("registry/b")
    repo.write("registry.yaml", (repo.root / "registry.yaml").read_text() + "exclusive_stages: [production]\n")
    repo.write(".github/workflows/ci.yml", "on: push\n")
    repo.write("schemas/version.schema.json", "{}\n")
    repo.write("docs/notes.md", "not policy\n")
    return base, repo.commit("head")


EXPECTED_MOVES = [
    Move("stage", "a", 1, "none", "staging"),
    Move("version", "a", 2, None, "none"),
    Move("alias", "a", 1, None, 1, "canary"),
    Move("alias", "a", None, 1, None, "old"),
    Move("alias", "a", 2, 1, 2, "production"),
]


def snaps(store, pair):
    return Snapshot.at(store, pair[0]), Snapshot.at(store, pair[1])


def test_moves_between_a_commit_and_its_parent(store, pair):
    change = Change.between(*snaps(store, pair))
    assert change.moves == EXPECTED_MOVES
    assert sorted(change.models) == ["a", "b"], "model c did not change"
    assert [m.describe() for m in entered(change.moves)] == ["a@1: none -> staging", "register a@2 (enters none)"]


def test_policy_files_and_deletions(store, pair):
    change = Change.between(*snaps(store, pair))
    assert change.policy_files == [".github/workflows/ci.yml", "registry.yaml", "schemas/version.schema.json"]
    assert change.deleted_models == ["b"]
    assert change.deleted_versions == [("a", 3), ("b", 1)]
    assert change.removed == {"registry/b/model.yaml", "registry/b/versions/1/version.yaml"}
    assert "docs/notes.md" in change.paths


def test_exact_and_full_comparisons_agree(store, pair):
    base, head = snaps(store, pair)
    exact = Change.between(base, head, changed=store.changed_paths(*pair), exact=True)
    full = Change.between(base, head, fork=base)
    computed = compute(store, *pair)
    for change in (exact, full, computed):
        assert change.moves == EXPECTED_MOVES
        assert change.changed == exact.changed
        assert change.deleted_versions == [("a", 3), ("b", 1)]
    assert not full.models["a"].exact and exact.models["a"].exact


def test_compute_on_the_same_commit_changes_nothing(store, pair):
    change = compute(store, pair[1], "main")
    assert (change.changed, change.moves, change.models) == ([], [], {})


def test_compute_counts_changes_since_the_fork_only(repo, store, pair):
    _, head = pair
    git(repo.root, "checkout", "-q", "-b", "pr")
    repo.version("c", 1, stage="staging")
    pr = repo.commit("pr stages c@1")
    git(repo.root, "checkout", "-q", "main")
    repo.model("d")
    repo.version("d", 1)
    repo.version("a", 2, stage="staging")
    repo.commit("main moves on")
    change = compute(store, "main", "pr")
    assert change.changed == [("M", "registry/c/versions/1/version.yaml")]
    assert list(change.models) == ["c"]
    assert change.moves == [Move("stage", "c", 1, "none", "staging")]
    assert change.base.commit == repo.head("main") and change.head.commit == pr
    assert change.base.version("a", 2)["stage"] == "staging", "records before come from the base's tip"


def test_a_malformed_record_on_the_head_does_not_crash(repo, store, pair):
    repo.write("registry/a/versions/4/version.yaml", "version: [4\n")
    repo.write("registry/a/aliases.yaml", "aliases: {production: 2\n")
    head = repo.commit("broken")
    change = compute(store, pair[1], head)
    assert [m for m in change.moves if m.kind != "alias"] == []
    assert "registry/a/versions/4/version.yaml" in change.head.errors
    assert "registry/a/aliases.yaml" in change.head.errors
    assert change.deleted_versions == []


def test_registering_a_first_model_from_an_empty_registry(repo, store):
    base = repo.commit("empty registry")
    repo.model("m")
    repo.version("m", 1)
    repo.aliases("m", {"champion": 1})
    change = compute(store, base, repo.commit("register"))
    assert change.moves == [Move("version", "m", 1, None, "none"), Move("alias", "m", 1, None, 1, "champion")]
    assert change.deleted_models == [] and change.policy_files == []


def test_move_descriptions():
    assert Move("alias", "m", None, 2, None, "canary").describe() == "m@canary: 2 removed"
    assert Move("alias", "m", 3, None, 3, "canary").describe() == "m@canary: -> 3"
    assert Move("stage", "m", 1, "staging", "production").describe() == "m@1: staging -> production"


@pytest.mark.parametrize("path,policy", [
    ("registry.yaml", True), ("schemas/card.schema.json", True), (".dvc/config", True),
    (".dvc/config.local", True), (".github/workflows/check.yml", True), ("CODEOWNERS", True),
    ("registry/m/model.yaml", False), ("README.md", False),
])
def test_policy_files(path, policy):
    assert is_policy_file(path) is policy


def test_snapshot_is_memoised_and_change_is_computed_from_blob_ids(registry, weights):
    from modelreg.store.change import Change
    from modelreg.store.snapshot import Snapshot

    registry.register_model("m", "base_model")
    base = registry.git.rev_parse("HEAD")
    registry.create_version("m", weights)
    head = registry.git.rev_parse("HEAD")
    assert Snapshot.at(registry.git, head) is Snapshot.at(registry.git, head)
    change = Change.between(Snapshot.at(registry.git, base), Snapshot.at(registry.git, head))
    assert [m.describe() for m in change.moves] == ["register m@1 (enters none)"]
    assert change.policy_files == [] and set(change.models) == {"m"}
    snap = Snapshot.at(registry.git, head)
    assert snap.versions("m") == [1] and snap.version("m", 1)["version"] == 1
    assert snap.settings.initial_stage == "none" and snap.pointer("m", 1).startswith(b"outs:")
