"""Registry operations on a real git repo with real DVC and a local DVC remote."""
import hashlib
import os
import subprocess

import pytest

from modelreg import Registry
from modelreg.core.errors import AlreadyExists, InvalidInput, InvalidRecord, NotFound, PolicyViolation
from tests.conftest import git, write_weights


def head(path):
    return git(path, "rev-parse", "HEAD").strip()


def snapshot(path):
    """HEAD plus every file's content, ignoring DVC's internal cache and temp files."""
    files = {}
    for dirpath, dirnames, filenames in os.walk(path):
        dirnames[:] = [d for d in dirnames if d not in (".git", "cache", "tmp")]
        for name in filenames:
            full = os.path.join(dirpath, name)
            files[os.path.relpath(full, path)] = open(full, "rb").read()
    return head(path), files


def test_register_version_with_weights_is_one_commit_and_pushes_to_remote(registry, weights, tmp_path):
    registry.register_model("llama-ft", "fine_tuned", description="support bot", owners=["@acme/ml"])
    before = head(registry.root)
    record = registry.create_version("llama-ft", weights, metrics=[
        {"benchmark": "mmlu", "metric": "accuracy", "value": 0.61}])
    assert git(registry.root, "rev-list", "--count", f"{before}..HEAD").strip() == "1"
    assert record["version"] == 1 and record["stage"] == "none"
    by_path = {a["path"]: a for a in record["artifacts"]}
    assert by_path["model.safetensors"]["artifact_type"] == "weights"
    assert by_path["config.json"]["artifact_type"] == "config"
    assert by_path["tokenizer.json"]["artifact_type"] == "tokenizer"
    expected = hashlib.sha256((weights / "model.safetensors").read_bytes()).hexdigest()
    assert by_path["model.safetensors"]["sha256"] == expected
    committed = git(registry.root, "show", "--name-only", "--format=", "HEAD").split()
    assert sorted(committed) == ["registry/llama-ft/versions/1/card.yaml",
                                 "registry/llama-ft/versions/1/version.yaml",
                                 "registry/llama-ft/versions/1/weights.dvc"]
    assert git(registry.root, "status", "--porcelain").strip() == ""
    assert any((tmp_path / "remote" / "files" / "md5").rglob("*.dir"))
    # the user's folder is untouched
    assert sorted(p.name for p in weights.iterdir()) == ["config.json", "model.safetensors", "tokenizer.json"]


def test_plain_git_clone_and_dvc_pull_restore_weights(registry, weights, tmp_path):
    registry.register_model("llama-ft", "fine_tuned")
    registry.create_version("llama-ft", weights)
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(registry.root), str(clone)], check=True)
    env = dict(os.environ, DVC_NO_ANALYTICS="1")
    subprocess.run([os.path.join(os.path.dirname(os.sys.executable), "dvc"), "pull", "-q"],
                   cwd=clone, check=True, env=env)
    restored = clone / "registry/llama-ft/versions/1/weights/model.safetensors"
    assert restored.read_bytes() == (weights / "model.safetensors").read_bytes()


def test_reads_come_from_git_objects_at_any_ref(registry, weights):
    registry.register_model("llama-ft", "fine_tuned")
    registry.create_version("llama-ft", weights)
    registry.create_version("llama-ft", write_weights(weights.parent / "w2", seed=2))
    registry.transition_stage("llama-ft", 1, "staging")
    registry.transition_stage("llama-ft", 1, "production")
    first_prod = head(registry.root)
    registry.transition_stage("llama-ft", 2, "staging")
    registry.transition_stage("llama-ft", 2, "production")
    assert registry.resolve("llama-ft").version == 2
    assert registry.get_version("llama-ft", 1)["stage"] == "archived"
    assert registry.resolve("llama-ft", at=first_prod).version == 1
    # a read does not need the working tree: remove a record file, reads still work
    (registry.root / "registry/llama-ft/versions/2/version.yaml").unlink()
    assert registry.resolve("llama-ft@2").stage == "production"


def test_as_of_answers_what_main_said_at_a_time(registry, weights):
    registry.register_model("m", "base_model")
    registry.create_version("m", weights)
    registry.create_version("m", weights)
    env = dict(os.environ, GIT_COMMITTER_DATE="2030-01-01T00:00:00Z", GIT_AUTHOR_DATE="2030-01-01T00:00:00Z")
    registry.transition_stage("m", 1, "staging")
    registry.transition_stage("m", 1, "production")
    # a later move, committed with a future date
    (registry.root / "registry/m/aliases.yaml").write_text("aliases:\n  production: 2\n")
    v2 = registry.root / "registry/m/versions/2/version.yaml"
    v1 = registry.root / "registry/m/versions/1/version.yaml"
    v2.write_text(v2.read_text().replace("stage: none", "stage: production"))
    v1.write_text(v1.read_text().replace("stage: production", "stage: archived"))
    subprocess.run(["git", "commit", "-qam", "move"], cwd=registry.root, check=True, env=env)
    assert registry.resolve("m", as_of="2029-06-01T00:00:00Z").version == 1
    assert registry.resolve("m", as_of="2030-06-01T00:00:00Z").version == 2
    with pytest.raises(NotFound):
        registry.resolve("m", as_of="2001-01-01T00:00:00Z")


def test_exclusive_stage_archives_previous_and_moves_production_alias(registry, weights):
    registry.register_model("m", "base_model")
    for _ in range(2):
        registry.create_version("m", weights)
    for n in (1, 2):
        registry.transition_stage("m", n, "staging")
    registry.transition_stage("m", 1, "production")
    result = registry.transition_stage("m", 2, "production")
    assert result["moved"] == {2: ["staging", "production"], 1: ["production", "archived"]}
    assert registry.aliases("m") == {"production": 2}
    assert registry.get_latest_version("m", stage="production")["version"] == 2
    with pytest.raises(PolicyViolation, match="exclusive"):
        registry.create_version("m", weights)
        registry.transition_stage("m", 3, "staging")
        registry.transition_stage("m", 3, "production", archive_existing=False)


def test_forbidden_transition_and_unknown_stage(registry, weights):
    registry.register_model("m", "base_model")
    registry.create_version("m", weights)
    before = snapshot(registry.root)
    with pytest.raises(PolicyViolation, match="does not allow none -> production"):
        registry.transition_stage("m", 1, "production")
    with pytest.raises(InvalidInput, match="unknown stage"):
        registry.transition_stage("m", 1, "prod")
    assert snapshot(registry.root) == before


def test_aliases_latest_and_deleted_versions(registry, weights):
    registry.register_model("m", "base_model")
    for _ in range(3):
        registry.create_version("m", weights)
    registry.set_alias("m", "canary", 3)
    assert registry.resolve("m@canary").version == 3
    assert registry.resolve("m@latest").version == 3
    result = registry.delete_version("m", 3, "regressed on eval")
    assert result["aliases_removed"] == ["canary"]
    assert registry.resolve("m@latest").version == 2
    assert registry.get_version("m", 3)["deleted"]["reason"] == "regressed on eval"
    before = snapshot(registry.root)
    with pytest.raises(PolicyViolation, match="deleted"):
        registry.set_alias("m", "canary", 3)
    with pytest.raises(PolicyViolation, match="protected"):
        registry.set_alias("m", "production", 2)
    with pytest.raises(NotFound):
        registry.set_alias("m", "canary", 9)
    with pytest.raises(NotFound):
        registry.resolve("m@canary")
    assert snapshot(registry.root) == before
    registry.set_alias("m", "canary", 2)
    registry.remove_alias("m", "canary")
    assert registry.aliases("m") == {}
    # numbers are never reused
    assert registry.create_version("m", weights)["version"] == 4


def test_list_models_by_tag_and_duplicates(registry):
    registry.register_model("a", "base_model", tags={"team": "nlp"})
    registry.register_model("b", "base_model", tags={"team": "vision"})
    registry.register_model("b-lora", "adapter")
    assert [m["name"] for m in registry.list_models({"team": "nlp"})] == ["a"]
    assert [m["name"] for m in registry.list_models()] == ["a", "b", "b-lora"]  # by name, not git path order
    with pytest.raises(AlreadyExists):
        registry.register_model("a", "base_model")


def test_lineage_walks_to_the_base(registry, weights):
    registry.register_model("base", "base_model")
    registry.register_model("ft", "fine_tuned")
    registry.register_model("lora", "adapter")
    registry.create_version("base", weights)
    registry.create_version("ft", weights, parent="base@1")
    registry.create_version("lora", weights, parent="ft@latest")
    chain = registry.lineage("lora@1")
    assert [(r.model, r.version) for r in chain] == [("lora", 1), ("ft", 1), ("base", 1)]
    assert chain[0].record["parent"] == {"model": "ft", "version": 1, "relation": "adapter"}
    with pytest.raises(InvalidInput, match="needs a parent"):
        registry.create_version("lora", weights)
    with pytest.raises(NotFound):
        registry.create_version("ft", weights, parent="missing@1")


def test_source_uri_version_without_weights(registry):
    registry.register_model("base", "base_model")
    record = registry.create_version("base", source_uri="s3://models/llama-3-8b")
    assert record["source"] == {"uri": "s3://models/llama-3-8b"}
    assert "artifacts" not in record
    assert not (registry.root / "registry/base/versions/1/weights.dvc").exists()


@pytest.mark.parametrize("make_bad, problem", [
    (lambda src, tmp: None, "empty"),
    (lambda src, tmp: ((tmp / "secret").write_text("x"), os.symlink(tmp / "secret", src / "link")), "outside"),
])
def test_bad_weights_folders_write_nothing(registry, tmp_path, make_bad, problem):
    registry.register_model("m", "base_model")
    src = tmp_path / "src"
    src.mkdir()
    make_bad(src, tmp_path)
    before = snapshot(registry.root)
    with pytest.raises(InvalidInput, match=problem):
        registry.create_version("m", src)
    assert snapshot(registry.root) == before


def test_failed_push_leaves_no_commit_and_no_files(registry, weights, tmp_path):
    registry.register_model("m", "base_model")
    # point the remote at a path that cannot be created
    blocker = tmp_path / "blocker"
    blocker.write_text("a file, not a folder")
    config = registry.root / ".dvc" / "config"
    text = config.read_text()
    config.write_text(text.replace(str(tmp_path / "remote"), str(blocker / "remote")))
    subprocess.run(["git", "commit", "-qam", "break remote"], cwd=registry.root, check=True)
    before = snapshot(registry.root)
    with pytest.raises(Exception, match="could not push"):
        registry.create_version("m", weights)
    assert snapshot(registry.root) == before
    assert not (registry.root / "registry/m/versions/1").exists()


def test_hand_broken_yaml_is_a_clear_error(registry):
    registry.register_model("m", "base_model")
    (registry.root / "registry/m/model.yaml").write_text("name: m\nname: x\n")
    with pytest.raises(InvalidRecord, match="duplicate key"):
        registry.create_version("m", source_uri="s3://x")


def test_uncommitted_edits_block_writes_to_the_same_records(registry):
    registry.register_model("m", "base_model")
    aliases = registry.root / "registry/m/aliases.yaml"
    aliases.write_text(aliases.read_text() + "# local note\n")
    registry.create_version("m", source_uri="s3://x")  # other paths: fine
    with pytest.raises(InvalidInput, match="uncommitted changes"):
        registry.set_alias("m", "canary", 1)


def test_history_reports_who_moved_what(registry, weights):
    registry.register_model("m", "base_model")
    registry.create_version("m", weights)
    registry.transition_stage("m", 1, "staging")
    registry.transition_stage("m", 1, "production")
    events = registry.history("m")
    kinds = [(e["event"], e.get("to")) for e in events]
    assert ("alias.set", 1) in kinds and ("version.stage", "production") in kinds and ("version.stage", "staging") in kinds
    assert all(e["author"] == "Test User <test@example.com>" for e in events)
    assert events[-1]["event"] == "model.register"


def test_warm_resolve_sees_new_commits(registry, weights):
    """The per-commit cache must never serve a stale alias after main moves."""
    registry.register_model("m", "base_model")
    registry.create_version("m", weights)
    registry.create_version("m", weights)
    registry.set_alias("m", "canary", 1)
    assert registry.resolve("m@canary").version == 1
    other = Registry(registry.root)
    other.set_alias("m", "canary", 2)
    assert registry.resolve("m@canary").version == 2
    other.close()
