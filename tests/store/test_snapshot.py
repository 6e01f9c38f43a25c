"""Snapshot: memoised per commit, partial vs whole listings, parse errors, settings, the working tree."""
import pytest

from modelreg.core.errors import InvalidRecord
from modelreg.core.settings import DEFAULT_SETTINGS
from modelreg.store import snapshot as snapshots
from modelreg.store.gitstore import GitStore
from modelreg.store.snapshot import Snapshot, WorkdirSnapshot, read_blobs, record_history

V1 = "registry/a/versions/1/version.yaml"


@pytest.fixture
def filled(repo):
    """Model a (versions 1, 2 and a broken 3, aliases, a card, a pointer) and model b (version 1)."""
    repo.model("a")
    repo.version("a", 1, stage="production")
    repo.version("a", 2, stage="staging")
    repo.write("registry/a/versions/3/version.yaml", "version: [3\n")
    repo.write("registry/a/versions/1/card.yaml", "description: first\n")
    repo.write("registry/a/versions/1/weights.dvc", "outs:\n- md5: abc\n")
    repo.write("registry/a/versions/x/version.yaml", "not a version folder\n")
    repo.aliases("a", {"production": 1, "canary": 2})
    repo.model("b")
    repo.version("b", 1)
    repo.write("schemas/version.schema.json", "{}\n")
    return repo.commit("records")


def test_at_memoises_per_store_and_commit(repo, store, filled):
    assert Snapshot.at(store, filled) is Snapshot.at(store, filled)
    earlier = repo.head("HEAD")
    repo.write("x.txt", "x")
    later = repo.commit()
    assert Snapshot.at(store, later) is not Snapshot.at(store, earlier)
    other = GitStore(repo.root)
    try:
        assert Snapshot.at(other, filled) is not Snapshot.at(store, filled)
    finally:
        other.close()


def test_at_keeps_a_bounded_number_per_store(repo, store, monkeypatch):
    monkeypatch.setattr(snapshots, "MAX_SNAPSHOTS", 2)
    commits = [repo.commit(f"c{i}") for i in range(3)]
    first = Snapshot.at(store, commits[0])
    Snapshot.at(store, commits[1])
    Snapshot.at(store, commits[2])
    assert Snapshot.at(store, commits[0]) is not first, "the oldest one was dropped"


QUESTIONS = ["registry/a/model.yaml", V1, "registry/a/versions/2/card.yaml", "registry/b/versions/1/version.yaml",
             "registry/zz/model.yaml", "registry.yaml", "schemas/version.schema.json", "nowhere.txt"]


def answers(snap):
    return ([snap.versions(m) for m in ("a", "b", "zz")], [snap.has(p) for p in QUESTIONS],
            [snap.sha(p) for p in QUESTIONS])


def test_partial_listing_and_whole_index_agree(store, filled):
    partial, whole = Snapshot(store, filled), Snapshot(store, filled)
    whole.paths()
    assert [partial.versions(m) for m in ("a", "b", "zz")] == [[1, 2, 3], [1], []]
    assert [partial.has(p) for p in QUESTIONS[:5]] == [True, True, False, True, False]
    shas = [partial.sha(p) for p in QUESTIONS[:5]]
    assert partial._shas is None, "questions about models must not list the whole tree"
    assert shas == [whole.sha(p) for p in QUESTIONS[:5]] and shas[1] is not None and shas[2] is None
    assert answers(partial) == answers(whole)
    assert answers(whole)[1] == [True, True, False, True, False, True, True, False]


def test_many_models_switch_to_one_listing_with_the_same_answers(store, filled, monkeypatch):
    monkeypatch.setattr(snapshots, "PARTIAL_LISTINGS", 1)
    snap, whole = Snapshot(store, filled), Snapshot(store, filled)
    whole.paths()
    assert snap.versions("a") == [1, 2, 3]
    assert snap.versions("b") == [1]
    assert snap._shas is not None
    assert answers(snap) == answers(whole)
    assert snap.models() == ["a", "b"]


def test_malformed_yaml_reads_as_none_and_is_recorded(store, filled):
    snap = Snapshot(store, filled)
    broken = "registry/a/versions/3/version.yaml"
    assert snap.doc(broken) is None
    assert "not valid YAML" in snap.errors[broken]
    assert not snap.errors[broken].startswith(broken), "the path is the key, not part of the text"
    with pytest.raises(InvalidRecord, match="versions/3/version.yaml: not valid YAML"):
        snap.record(broken)
    assert snap.doc("registry/a/absent.yaml") is None
    assert snap.record("registry/a/absent.yaml") is None
    assert "registry/a/absent.yaml" not in snap.errors


def test_records_of_a_model(store, filled):
    snap = Snapshot(store, filled)
    assert sorted(snap.all_versions("a")) == [1, 2], "the unreadable version 3 is left out"
    assert snap.all_versions("a")[2]["stage"] == "staging"
    assert snap.version("a", 1)["stage"] == "production"
    assert snap.version("a", 9) is None
    assert snap.model("a")["name"] == "a"
    assert snap.aliases("a") == {"production": 1, "canary": 2}
    assert snap.aliases("b") == {}
    assert snap.card("a", 1) == {"description": "first"}
    assert snap.card("a", 2) is None
    assert snap.pointer("a", 1) == b"outs:\n- md5: abc\n"
    assert snap.pointer("a", 2) is None
    assert snap.models() == ["a", "b"]


def test_aliases_of_a_wrong_shape_read_as_none(repo, store):
    repo.model("a")
    repo.write("registry/a/aliases.yaml", "aliases: [production]\n")
    assert Snapshot(store, repo.commit()).aliases("a") == {}


def test_settings_of_a_committed_registry_yaml(repo, store):
    repo.write("registry.yaml", "version: 1\nmain_branch: trunk\n")
    snap = Snapshot(store, repo.commit())
    assert snap.settings.main_branch == "trunk"
    assert snap.settings_in_force.main_branch == "trunk"


def test_mistyped_registry_yaml_falls_back_for_readers_but_not_for_rules(repo, store):
    repo.write("registry.yaml", "version: 1\nmain_branch: trunk\nstages: production\n")
    snap = Snapshot(store, repo.commit())
    assert snap.settings.stages == DEFAULT_SETTINGS["stages"]
    assert snap.settings.main_branch == "main", "the whole file is set aside, not just the bad key"
    with pytest.raises(InvalidRecord, match="registry.yaml:/stages: must be a list"):
        snap.settings_in_force


def test_unreadable_registry_yaml(repo, store):
    repo.write("registry.yaml", "stages: [none\n")
    snap = Snapshot(store, repo.commit())
    assert snap.settings.stages == DEFAULT_SETTINGS["stages"]
    with pytest.raises(InvalidRecord, match="registry.yaml: not valid YAML"):
        snap.settings_in_force


def test_no_registry_yaml_is_the_defaults(repo, store):
    (repo.root / "registry.yaml").unlink()
    snap = Snapshot(store, repo.commit())
    assert snap.settings_in_force.stages == DEFAULT_SETTINGS["stages"]


def test_workdir_snapshot_sees_uncommitted_edits_and_skips_weights(repo, filled):
    repo.version("a", 1, stage="archived")
    repo.version("b", 2)
    repo.write("registry/a/versions/1/weights/model.safetensors", b"\0" * 16)
    repo.write("registry/a/versions/1/weights/version.yaml", "version: 99\n")
    repo.write("registry/a/versions/4/version.yaml.tmp", "half written")
    (repo.root / "registry/b/model.yaml").unlink()
    work = WorkdirSnapshot(repo.root)
    assert work.version("a", 1)["stage"] == "archived"
    assert work.versions("b") == [1, 2]
    assert work.versions("a") == [1, 2, 3]
    assert not any("/weights/" in p or p.endswith(".tmp") for p in work.paths())
    assert not work.has("registry/b/model.yaml")
    assert work.has("registry.yaml") and work.has("schemas/version.schema.json")
    assert work.sha(V1) is None
    assert sorted(work.model_paths("b")) == ["registry/b/versions/1/version.yaml", "registry/b/versions/2/version.yaml"]


def test_record_history_reads_one_path_through_commits(repo, store):
    before = repo.commit("no record yet")
    repo.model("a")
    repo.version("a", 1, stage="staging")
    c1 = repo.commit()
    repo.write(V1, "version: [\n")
    c2 = repo.commit()
    repo.version("a", 1, stage="production")
    c3 = repo.commit()
    empty = repo.commit()
    history = record_history(store, [c1, c2, c3, empty, before], V1)
    assert [d and d["stage"] for d in history] == ["staging", None, "production", "production", None]


def test_read_blobs_by_id(store, filled):
    snap = Snapshot(store, filled)
    ids = [snap.sha("registry/a/versions/1/card.yaml"), "f" * 40, snap.sha("registry/a/versions/1/weights.dvc")]
    assert read_blobs(store, ids) == [b"description: first\n", None, b"outs:\n- md5: abc\n"]


def test_snapshot_records_parse_errors_instead_of_raising(registry):
    """issue 8 hole 11: a malformed record is recorded for check; the Registry's read still raises."""
    from modelreg.core.errors import InvalidRecord

    registry.register_model("m", "base_model")
    (registry.root / "registry/m/model.yaml").write_text("name: [oops\n")
    from tests.conftest import git
    git(registry.root, "commit", "-q", "-am", "break")
    snap = registry.snapshot(registry.git.rev_parse("HEAD"))
    assert snap.model("m") is None and "not valid YAML" in snap.errors["registry/m/model.yaml"]
    with pytest.raises(InvalidRecord):
        registry.get_model("m")


def test_a_commit_reads_what_a_neighbour_parsed_by_blob_id_and_a_working_tree_never(repo, store, filled,
                                                                                    monkeypatch):
    """issue 23: records are parsed once per blob id across the snapshots of a process (a site
    build's history reads the commit below the one it checked); the same errors come back; a
    working tree (no blob ids) always reads its files."""
    monkeypatch.setattr(snapshots, "_parsed", {})
    first = Snapshot.at(store, filled)
    first.load(first.paths())
    repo.write("registry/b/versions/1/card.yaml", "description: new\n")
    second = Snapshot.at(store, repo.commit("a card"))
    parsed = []
    real = snapshots.load_yaml
    monkeypatch.setattr(snapshots, "load_yaml", lambda data, path: parsed.append(path) or real(data, path))
    second.load(second.paths())
    assert parsed == ["registry/b/versions/1/card.yaml"]  # the only new blob
    assert second.version("a", 1) == first.version("a", 1) and second.doc(V1) is first.doc(V1)
    broken = "registry/a/versions/3/version.yaml"
    assert second.doc(broken) is None and second.errors[broken] == first.errors[broken]
    tree = WorkdirSnapshot(repo.root)
    repo.write(V1, "version: 1\nstage: archived\n")
    assert tree.doc(V1) == {"version": 1, "stage": "archived"} and V1 in parsed
