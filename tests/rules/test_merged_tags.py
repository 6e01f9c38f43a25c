"""Change rules (issue 20): a merged version's tags may change (`version tag`); nothing else may,
besides stage and status; metadata edits of model.yaml pass `check --base`."""
import pytest

from tests.conftest import git


@pytest.fixture
def reg(registry):
    registry.register_model("ft", "base_model", owners=["@acme/ml"])
    registry.create_version("ft", source_uri="s3://x", tags={"team": "a"},
                           metrics=[{"benchmark": "mmlu", "metric": "accuracy", "value": 0.5}])
    git(registry.root, "checkout", "-qb", "pr")
    return registry


def problems(reg):
    return [str(p) for p in reg.check(at="pr", base="main").problems]


def test_tags_of_a_merged_version_may_change(reg):
    reg.tag_version("ft", 1, {"eval": "done"}, untag=["team"])
    assert problems(reg) == []


def test_metrics_of_a_merged_version_still_may_not(reg):
    reg.tag_version("ft", 1, {"eval": "done"})
    path = reg.root / "registry/ft/versions/1/version.yaml"
    path.write_text(path.read_text().replace("value: 0.5", "value: 0.9"))
    git(reg.root, "commit", "-qam", "edit metrics")
    found = problems(reg)
    assert len(found) == 1
    assert found[0].startswith("registry/ft/versions/1/version.yaml:/metrics: a merged version may change only "
                               "stage and status (and its tags); this change edits metrics")


def test_model_metadata_edits_pass_check(reg):
    reg.update_model("ft", description="new", tags={"env": "prod"}, add_owners=["@bob"])
    reg.deprecate_model("ft", "use ft-2")
    assert problems(reg) == []


def test_a_tag_edit_cannot_carry_a_new_source(reg):
    """Attack: a `version tag` PR that also repoints where the weights come from."""
    reg.tag_version("ft", 1, {"eval": "done"})
    path = reg.root / "registry/ft/versions/1/version.yaml"
    path.write_text(path.read_text().replace("uri: s3://x", "uri: s3://attacker/x"))
    git(reg.root, "commit", "-qam", "tags (and a source)")
    found = problems(reg)
    assert len(found) == 1 and found[0].startswith("registry/ft/versions/1/version.yaml:/source: a merged version")
