"""reads over a Snapshot: resolve, NotFound hints, deleted versions, lineage, models, versions, cards."""
import pytest

from modelreg.core.errors import InvalidRecord, NotFound, PolicyViolation
from modelreg.core.refs import ModelRef, parse_ref
from modelreg.store import reads
from modelreg.store.snapshot import Snapshot


@pytest.fixture
def snap(repo, store):
    """a@1 production, a@2 staging (alias champion), a@3 deleted and last; b fine-tuned from a@1; c from b@1."""
    repo.model("a", tags={"team": "nlp", "size": "small"})
    repo.version("a", 1, stage="production")
    repo.version("a", 2, stage="staging")
    repo.version("a", 3, status="deleted")
    repo.aliases("a", {"production": 1, "champion": 2, "stale": 3})
    repo.write("registry/a/versions/2/card.yaml", "description: the second\n")
    repo.model("b", tags={"team": "vision"})
    repo.version("b", 1, parent=("a", 1), model_type="fine_tuned")
    repo.model("c", tags={"team": "nlp"})
    repo.version("c", 1, parent=("b", 1), model_type="fine_tuned")
    repo.write("registry/orphan/versions/1/version.yaml", "version: 1\n")  # no model.yaml
    return Snapshot.at(store, repo.commit("records"))


def resolve(snap, text):
    return reads.resolve(snap, parse_ref(text))


def test_resolve_by_number_alias_and_default(snap):
    two = resolve(snap, "a@2")
    assert (two.version, two.stage, two.status, two.aliases) == (2, "staging", "active", ("champion",))
    assert (two.commit, two.ref, two.name) == (snap.commit, "a@2", "a@2")
    assert resolve(snap, "a@champion").version == 2
    default = resolve(snap, "a")
    assert (default.version, default.ref, default.aliases) == (1, "a@production", ("production",))


def test_latest_skips_deleted_versions(snap):
    assert resolve(snap, "a@latest").version == 2


def test_latest_with_nothing_active(repo, store):
    repo.model("m")
    repo.version("m", 1, status="deleted")
    with pytest.raises(NotFound, match="no active version"):
        resolve(Snapshot.at(store, repo.commit()), "m@latest")


def test_unknown_model_alias_and_version(snap):
    with pytest.raises(NotFound) as model:
        resolve(snap, "nope@1")
    assert model.value.hint == "models"
    with pytest.raises(NotFound, match="no alias 'canary'.*champion, production, stale"):
        resolve(snap, "a@canary")
    with pytest.raises(NotFound) as version:
        resolve(snap, "a@9")
    assert (version.value.hint, version.value.hint_args) == ("versions", {"model": "a"})


def test_a_model_folder_without_model_yaml_is_unknown(snap):
    with pytest.raises(NotFound) as caught:
        resolve(snap, "orphan@1")
    assert caught.value.hint == "models"


def test_deleted_version_by_alias_is_not_found_by_number_is_deleted(snap):
    with pytest.raises(NotFound, match="deleted"):
        resolve(snap, "a@stale")
    three = resolve(snap, "a@3")
    assert (three.status, three.aliases) == ("deleted", ("stale",))


def test_pinned_is_resolve_by_number(snap):
    assert reads.pinned(snap, "a", 2) == reads.resolve(snap, ModelRef("a", version=2))


def test_lineage_walks_the_parents(snap):
    chain = reads.lineage(snap, resolve(snap, "c@1"))
    assert [r.name for r in chain] == ["c@1", "b@1", "a@1"]
    assert chain[-1].stage == "production" and chain[0].model_type == "fine_tuned"
    assert [r.name for r in reads.lineage(snap, resolve(snap, "a@1"))] == ["a@1"]


def test_lineage_with_a_missing_parent(repo, store):
    repo.model("m")
    repo.version("m", 1, parent=("gone", 4), model_type="fine_tuned")
    snap = Snapshot.at(store, repo.commit())
    with pytest.raises(NotFound, match="m@1 names parent gone@4"):
        reads.lineage(snap, resolve(snap, "m@1"))


def test_lineage_cycle_is_a_policy_violation(repo, store):
    repo.model("m")
    repo.version("m", 1, parent=("m", 2), model_type="fine_tuned")
    repo.version("m", 2, parent=("m", 1), model_type="fine_tuned")
    snap = Snapshot.at(store, repo.commit())
    with pytest.raises(PolicyViolation, match="m@1 -> m@2 -> m@1"):
        reads.lineage(snap, resolve(snap, "m@1"))


def test_lineage_through_a_malformed_parent_says_so(repo, store):
    repo.model("m")
    repo.version("m", 1)
    repo.version("m", 2, parent=("m", 1), model_type="fine_tuned")
    repo.write("registry/m/versions/1/version.yaml", "version: [1\n")
    snap = Snapshot.at(store, repo.commit())
    with pytest.raises(InvalidRecord, match="versions/1/version.yaml"):
        reads.lineage(snap, resolve(snap, "m@2"))


def test_a_model_record_that_is_not_a_mapping_is_invalid_not_a_crash(repo, store):
    repo.model("a")
    repo.write("registry/b/model.yaml", "- just\n- a list\n")
    snap = Snapshot.at(store, repo.commit())
    with pytest.raises(InvalidRecord, match="registry/b/model.yaml: expected a mapping"):
        reads.models(snap)


def test_models_with_tag_filter(snap):
    assert [m["name"] for m in reads.models(snap)] == ["a", "b", "c"]
    assert [m["name"] for m in reads.models(snap, {"team": "nlp"})] == ["a", "c"]
    assert [m["name"] for m in reads.models(snap, {"team": "nlp", "size": "small"})] == ["a"]
    assert reads.models(snap, {"team": "none"}) == []


def test_versions_stage_filter_and_deleted(snap):
    assert [v["version"] for v in reads.versions(snap, "a")] == [1, 2]
    assert [v["version"] for v in reads.versions(snap, "a", include_deleted=True)] == [1, 2, 3]
    assert [v["version"] for v in reads.versions(snap, "a", stage="staging")] == [2]
    assert reads.versions(snap, "a", stage="archived") == []
    with pytest.raises(NotFound):
        reads.versions(snap, "nope")


def test_cards_and_aliases(snap):
    assert reads.card(snap, "a", 2) == {"description": "the second"}
    assert reads.card(snap, "a", 1) == {}
    assert reads.aliases(snap, "b") == {}
    with pytest.raises(NotFound):
        reads.aliases(snap, "nope")


def test_malformed_and_mis_shaped_records(repo, store):
    repo.model("m")
    repo.write("registry/m/versions/1/version.yaml", "version: [1\n")
    repo.write("registry/m/versions/2/version.yaml", "- a list\n")
    snap = Snapshot.at(store, repo.commit())
    with pytest.raises(InvalidRecord, match="not valid YAML"):
        reads.version(snap, "m", 1)
    with pytest.raises(InvalidRecord, match="expected a mapping"):
        reads.version(snap, "m", 2)
