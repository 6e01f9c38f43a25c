"""`modelreg gc`: retention of weights in the DVC remote (issue 20, Retention).

`doctor --gc` freed nothing after versions were deleted: a deleted version keeps its weights.dvc,
so its objects stay referenced. gc judges versions by registry.yaml's retention and never deletes
what an alias, a stage, a branch, a release tag, a lock file, keep_last or an adapter still needs.
"""
import json
import time
from pathlib import Path

import pytest

from modelreg.artifacts.dvc import object_key
from modelreg.core.clock import iso
from modelreg.core.records import dump_yaml, load_yaml
from tests.conftest import git, write_weights

DAY = 86400


def set_policy(reg, **retention):
    path = reg.root / "registry.yaml"
    doc = load_yaml(path.read_bytes())
    doc["retention"] = retention
    path.write_bytes(dump_yaml(doc))
    git(reg.root, "commit", "-qm", "retention policy", "--", "registry.yaml")


def remote_files(root: Path) -> dict[str, int]:
    return {p.relative_to(root).as_posix(): p.stat().st_size for p in root.rglob("*") if p.is_file()}


def later(days: float) -> str:
    return iso(int(time.time() + days * DAY))


def versions(reg, n, model="m", seed=0):
    reg.register_model(model, "base_model")
    for i in range(n):
        reg.create_version(model, write_weights(reg.root.parent / f"w-{model}-{i}", seed=seed + i))


def purged(result) -> list[str]:
    return [p.name for p in result.plan.purges]


def reasons(result) -> dict[str, str]:
    return {v.name: v.reason for v in result.kept}


@pytest.fixture
def remote(registry_dir) -> Path:
    return registry_dir.parent / "remote"


def test_dry_run_deletes_nothing_and_yes_purges_only_the_deleted_version(registry, remote, run_cli):
    versions(registry, 3)
    registry.delete_version("m", 1, "bad eval")
    set_policy(registry, purge_deleted_after="0d")
    head, before = git(registry.root, "rev-parse", "HEAD"), remote_files(remote)
    res = run_cli("-C", registry.root, "gc")
    assert res.exit_code == 0, res.output
    assert "purge m@1 (deleted since" in res.stdout and "re-run with --yes" in res.stderr
    assert "m@2" not in res.stdout  # active versions are summarised, not listed
    assert remote_files(remote) == before  # a dry run deletes nothing
    res = run_cli("-C", registry.root, "gc", "--yes", "--json")
    out = json.loads(res.stdout)
    assert res.exit_code == 0 and out["applied"] and out["deleted"] == 3  # listing, weights, config
    assert [p["version"] for p in out["purge"]] == [1]
    after = remote_files(remote)
    assert len(before) - len(after) == 3
    assert registry.verify("m@2", deep=True).ok and registry.verify("m@3", deep=True).ok
    # the records stay: history is the audit log
    assert git(registry.root, "rev-parse", "HEAD") == head and not git(registry.root, "status", "--porcelain")
    assert registry.get_version("m", 1)["status"] == "deleted"
    again = json.loads(run_cli("-C", registry.root, "gc", "--json").stdout)
    assert again["objects"] == 0 and again["purged_before"] == ["m@1"]


def test_no_policy_keeps_everything(registry, remote):
    versions(registry, 2)
    registry.delete_version("m", 1, "bad")
    result = registry.gc(apply=True, now=later(10000))
    assert result.plan.deletions == [] and result.deleted == 0
    assert "sets no retention.purge_deleted_after" in reasons(result)["m@1"]


def test_deleted_weights_go_only_after_the_window(registry, remote):
    versions(registry, 2)
    registry.delete_version("m", 1, "bad")
    set_policy(registry, purge_deleted_after="30d")
    before = remote_files(remote)
    early = registry.gc(apply=True, now=later(29))
    assert purged(early) == [] and early.deleted == 0 and remote_files(remote) == before
    assert "within purge_deleted_after, until" in reasons(early)["m@1"]
    done = registry.gc(apply=True, now=later(31))
    assert purged(done) == ["m@1"] and done.deleted == 3
    assert registry.verify("m@2").ok


def test_since_comes_from_main_history_not_the_records_claim(registry):
    """`deleted.at` is what the deleting machine said; an edit back-dating it buys nothing."""
    versions(registry, 2)
    registry.delete_version("m", 1, "bad")
    path = registry.root / "registry/m/versions/1/version.yaml"
    doc = load_yaml(path.read_bytes())
    doc["deleted"]["at"] = "2001-01-01T00:00:00Z"
    path.write_bytes(dump_yaml(doc))
    git(registry.root, "commit", "-qam", "back-date the deletion")
    set_policy(registry, purge_deleted_after="30d")
    assert purged(registry.gc(now=later(1))) == []
    assert purged(registry.gc(now=later(31))) == ["m@1"]


def test_alias_and_keep_last_keep_archived_versions(registry):
    versions(registry, 5)
    for n in (1, 2, 3, 4):
        registry.transition_stage("m", n, "archived")
    registry.set_alias("m", "champion", 1)
    registry.delete_version("m", 5, "bad")
    set_policy(registry, keep_last=2, purge_archived_after="0d")
    result = registry.gc()
    assert purged(result) == ["m@2"]
    kept = reasons(result)
    assert kept["m@1"] == "alias champion"
    # the newest two not deleted are 3 and 4 (5 is deleted and does not count)
    assert "keep_last" in kept["m@3"] and "keep_last" in kept["m@4"]
    assert "sets no retention.purge_deleted_after" in kept["m@5"]


def test_stage_holders_are_never_candidates(registry):
    versions(registry, 2)
    registry.transition_stage("m", 1, "staging")
    registry.transition_stage("m", 1, "production")
    set_policy(registry, purge_archived_after="0d", purge_deleted_after="0d")
    result = registry.gc()
    assert purged(result) == [] and reasons(result)["m@1"] == "active (stage production)"


def test_branch_and_remote_tracking_tips_keep_what_they_have_active(registry, tmp_path):
    versions(registry, 2)
    git(registry.root, "branch", "experiment")  # m@1 active there
    registry.delete_version("m", 1, "bad")
    set_policy(registry, purge_deleted_after="0d")
    assert reasons(registry.gc())["m@1"] == "branch experiment: active (stage none)"
    git(tmp_path, "init", "-q", "--bare", "origin.git")
    git(registry.root, "remote", "add", "origin", str(tmp_path / "origin.git"))
    git(registry.root, "push", "-q", "origin", "experiment")
    git(registry.root, "branch", "-q", "-D", "experiment")
    assert reasons(registry.gc())["m@1"] == "branch origin/experiment: active (stage none)"
    git(registry.root, "branch", "-q", "-r", "-d", "origin/experiment")
    git(registry.root, "branch", "gone-too")  # a branch where it is deleted as well releases it
    assert purged(registry.gc(apply=True)) == ["m@1"]


def test_release_tag_keeps_what_it_released_but_not_every_version_it_saw(registry):
    versions(registry, 3)
    registry.transition_stage("m", 1, "staging")
    registry.transition_stage("m", 1, "production")
    git(registry.root, "tag", "-a", "v1.0", "-m", "release")  # m@1 production, m@2 merely registered
    registry.transition_stage("m", 3, "staging")
    registry.transition_stage("m", 3, "production")  # archives m@1
    registry.delete_version("m", 2, "bad")
    set_policy(registry, purge_archived_after="0d", purge_deleted_after="0d")
    result = registry.gc(apply=True)
    assert purged(result) == ["m@2"]
    assert reasons(result)["m@1"].startswith("release tag v1.0: ")
    assert registry.verify("m@1").ok


def test_lock_files_keep_what_they_pin(registry, tmp_path, run_cli):
    versions(registry, 3)
    commit = git(registry.root, "rev-parse", "HEAD").strip()
    lock = {"lock_version": 1, "registry": ".", "commit": commit,
            "models": {"m@1": {"model": "m", "version": 1, "sha256": {}, "lineage": []}}}
    (registry.root / "deploy").mkdir()
    (registry.root / "deploy" / "models.lock").write_bytes(dump_yaml(lock))  # untracked, in the working tree
    outside = tmp_path / "elsewhere" / "serving.lock.json"
    outside.parent.mkdir()
    outside.write_text(json.dumps(dict(lock, models={"m@2": {"model": "m", "version": 2}})))
    for n in (1, 2):
        registry.delete_version("m", n, "bad")
    set_policy(registry, purge_deleted_after="0d")
    kept = reasons(registry.gc(locks=[outside]))
    assert kept["m@1"].startswith("lock file ") and kept["m@1"].endswith("deploy/models.lock")
    assert kept["m@2"] == f"lock file {outside}"
    git(registry.root, "checkout", "-q", "-b", "deploy-branch")  # committed on a branch counts too
    git(registry.root, "add", "deploy/models.lock")
    git(registry.root, "commit", "-qm", "lock")
    git(registry.root, "checkout", "-q", "main")
    assert not (registry.root / "deploy" / "models.lock").exists()
    assert reasons(registry.gc())["m@1"] == "lock file deploy/models.lock at deploy-branch"
    res = run_cli("-C", registry.root, "gc", "--yes", "--lock", outside)
    assert res.exit_code == 0 and "nothing to delete" in res.stderr


def test_an_unreadable_lock_file_blocks_every_deletion(registry, remote, run_cli):
    versions(registry, 2)
    registry.delete_version("m", 1, "bad")
    set_policy(registry, purge_deleted_after="0d")
    (registry.root / "models.lock").write_text("lock_version: 1\nmodels: [oops]\n")
    before = remote_files(remote)
    res = run_cli("-C", registry.root, "gc", "--yes")
    assert res.exit_code == 1 and "models.lock: a lock file that cannot be read" in res.stderr
    assert "nothing deleted" in res.stderr and remote_files(remote) == before
    (registry.root / "poetry.lock").write_text('[[package]]\nname = "x"\n')  # not ours: ignored
    (registry.root / "models.lock").unlink()
    assert run_cli("-C", registry.root, "gc", "--yes").exit_code == 0
    assert len(remote_files(remote)) < len(before)


def test_an_object_shared_with_a_kept_version_survives(registry, remote):
    registry.register_model("m", "base_model")
    registry.create_version("m", write_weights(registry.root.parent / "w1", seed=1))
    src = write_weights(registry.root.parent / "w2", seed=1)
    (src / "config.json").write_text('{"model_type": "llama", "note": "retrained head"}\n')
    registry.create_version("m", src)  # same model.safetensors and tokenizer, another config
    registry.delete_version("m", 1, "superseded")
    set_policy(registry, purge_deleted_after="0d")
    result = registry.gc(apply=True)
    [purge] = result.plan.purges
    assert (purge.objects, purge.shared) == (2, 2)  # its listing and its config go; the shared two stay
    assert result.deleted == 2
    assert registry.verify("m@2", deep=True).ok


def test_an_adapter_keeps_the_base_it_loads_on(registry):
    versions(registry, 2, model="base")
    registry.register_model("lora", "adapter")
    registry.create_version("lora", write_weights(registry.root.parent / "lw", seed=9), parent="base@1")
    registry.transition_stage("base", 1, "archived")
    set_policy(registry, purge_archived_after="0d")
    result = registry.gc()
    assert purged(result) == [] and reasons(result)["base@1"] == "base of lora@1 (an adapter loads on it)"


@pytest.mark.parametrize("retention, message", [
    ("  purge_deleted_after: 30 days\n", "/retention/purge_deleted_after: '30 days' is not a duration"),
    ("  keep_last: -1\n", "/retention/keep_last: must be a whole number"),
    ("  purge_after: 30d\n", "/retention/purge_after: unknown retention setting"),
])
def test_a_bad_policy_is_one_error_and_nothing_is_deleted(registry, remote, run_cli, retention, message):
    versions(registry, 2)
    registry.delete_version("m", 1, "bad")
    path = registry.root / "registry.yaml"
    path.write_text(path.read_text() + "retention:\n  purge_archived_after: 0d\n" + retention)
    git(registry.root, "commit", "-qam", "a bad policy")
    before = remote_files(remote)
    res = run_cli("-C", registry.root, "gc", "--yes")
    assert res.exit_code == 1 and message in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1 and remote_files(remote) == before
    check = run_cli("-C", registry.root, "check")  # a pull request changing it is refused too
    assert check.exit_code == 1 and "registry.yaml:/retention" in check.output


def test_orphans_are_opt_in_and_now_is_for_dry_runs(registry, remote, run_cli):
    versions(registry, 2)
    registry.delete_version("m", 1, "bad")
    set_policy(registry, purge_deleted_after="0d")
    orphan = remote / object_key("ab" + "c" * 30)  # e.g. an upload whose version was never committed
    orphan.parent.mkdir(parents=True, exist_ok=True)
    orphan.write_bytes(b"x" * 100)
    res = run_cli("-C", registry.root, "gc", "--yes")
    assert res.exit_code == 0 and "1 object(s), 100 B no weights.dvc names (add --orphans" in res.stderr
    assert orphan.exists()
    out = json.loads(run_cli("-C", registry.root, "gc", "--orphans", "--yes", "--json").stdout)
    assert out["deleted"] == 1 and not orphan.exists() and registry.verify("m@2").ok
    assert run_cli("-C", registry.root, "gc", "--yes", "--now", "2030-01-01").exit_code == 2
    assert "modelreg gc" in run_cli("-C", registry.root, "doctor", "--help").stdout


@pytest.mark.s3
def test_gc_on_s3(s3_registry, s3_env, s3_bucket, run_cli):
    def keys():
        pages = s3_env.client().get_paginator("list_objects_v2").paginate(Bucket=s3_bucket)
        return {o["Key"] for p in pages for o in p.get("Contents", [])}

    versions(s3_registry, 3)
    s3_registry.transition_stage("m", 1, "archived")
    s3_registry.delete_version("m", 2, "bad")
    set_policy(s3_registry, purge_deleted_after="0d", purge_archived_after="90d")
    before = keys()
    res = run_cli("-C", s3_registry.root, "gc")
    assert res.exit_code == 0 and "purge m@2" in res.stdout and "keep  m@1 (archived)" in res.stdout
    assert keys() == before
    out = json.loads(run_cli("-C", s3_registry.root, "gc", "--yes", "--json").stdout)
    assert out["deleted"] == 3 and [p["version"] for p in out["purge"]] == [2]
    assert len(before - keys()) == 3
    assert s3_registry.verify("m@1", deep=True).ok and s3_registry.verify("m@3", deep=True).ok
