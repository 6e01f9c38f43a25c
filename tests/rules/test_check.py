"""`modelreg check`: every problem reported as FILE:JSON_POINTER: message, and the change rules."""
import pytest
import yaml

from modelreg.cli import main
from tests.conftest import git, write_weights


@pytest.fixture
def reg(registry, weights):
    registry.register_model("base", "base_model", owners=["@acme/ml"])
    registry.register_model("ft", "fine_tuned")
    registry.create_version("base", weights)
    registry.create_version("ft", write_weights(weights.parent / "w2", seed=3), parent="base@1",
                            metrics=[{"benchmark": "mmlu", "metric": "accuracy", "value": 0.5}])
    registry.transition_stage("ft", 1, "staging")
    registry.transition_stage("ft", 1, "production")
    return registry


def edit(reg, path, old, new):
    full = reg.root / path
    text = full.read_text()
    assert old in text, text
    full.write_text(text.replace(old, new))


def problems(reg, **kw):
    return [str(p) for p in reg.check(**kw).problems]


def test_clean_registry_passes(reg):
    assert problems(reg) == []
    assert problems(reg, at="main") == []


def test_every_problem_is_reported_with_file_and_pointer(reg):
    edit(reg, "registry/ft/versions/1/version.yaml", "stage: production", "stage: shipped")
    edit(reg, "registry/ft/model.yaml", "name: ft", "name: other\nextra_field: 1")
    edit(reg, "registry/base/aliases.yaml", "aliases: {}", "aliases:\n  canary: 7")
    (reg.root / "registry/base/versions/1/card.yaml").write_text("license: mit\nlicense: x\n")
    (reg.root / "registry/base/notes.txt").write_text("hi")
    found = problems(reg)
    expected = [
        "registry/ft/versions/1/version.yaml:/stage: 'shipped' is not one of",
        "registry/ft/model.yaml:/: unknown field(s)",
        "registry/ft/model.yaml:/name: name 'other' does not match its folder 'ft'",
        "registry/base/aliases.yaml:/aliases/canary: points at version 7, which does not exist",
        "registry/base/versions/1/card.yaml:/: line 2: duplicate key 'license'",
        "registry/base/notes.txt:/: unexpected file",
        "registry/ft/aliases.yaml:/aliases/production: points at version 1, which is not in production",
    ]
    for item in expected:
        assert any(p.startswith(item) for p in found), (item, found)


def test_production_rules_and_pointer_agreement(reg):
    edit(reg, "registry/base/versions/1/version.yaml", "stage: none", "stage: production")
    edit(reg, "registry/ft/versions/1/weights.dvc", "nfiles: 3", "nfiles: 4")
    found = problems(reg)
    assert any("registry/base/aliases.yaml:/aliases/production: must point at version 1" in p for p in found)
    assert any(p.startswith("registry/ft/versions/1/weights.dvc:/outs/0/nfiles: 4 files, but version.yaml lists 3") for p in found)


def test_lineage_cycle_and_missing_parent(reg):
    edit(reg, "registry/base/versions/1/version.yaml", "model_type: base_model",
         "model_type: base_model\nparent:\n  model: ft\n  version: 1\n  relation: merged")
    reg.register_model("orphan", "fine_tuned")
    reg.create_version("orphan", source_uri="s3://x", parent="base@1")
    edit(reg, "registry/orphan/versions/1/version.yaml", "model: base", "model: gone")
    found = problems(reg)
    assert any("registry/base/versions/1/version.yaml:/parent: lineage cycle" in p for p in found)
    assert any("registry/orphan/versions/1/version.yaml:/parent: parent gone@1 does not exist" in p for p in found)


def test_cli_check_prints_all_and_exits_1(reg, capsys):
    edit(reg, "registry/ft/versions/1/version.yaml", "status: active", "status: gone")
    edit(reg, "registry/base/model.yaml", "model_type: base_model", "model_type: huge")
    assert main(["-C", str(reg.root), "check"]) == 1
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 2 and all(":/" in line for line in out)
    assert main(["-C", str(reg.root), "check", "--json"]) == 1
    import json
    data = json.loads(capsys.readouterr().out)
    assert data["ok"] is False and len(data["problems"]) == 2


def commit_all(reg, message="edit"):
    git(reg.root, "commit", "-qam", message)
    return git(reg.root, "rev-parse", "HEAD").strip()


def branch_from_main(reg):
    git(reg.root, "checkout", "-qb", "pr")


def test_base_rule_merged_version_is_immutable(reg):
    branch_from_main(reg)
    edit(reg, "registry/ft/versions/1/version.yaml", "value: 0.5", "value: 0.9")
    commit_all(reg)
    found = problems(reg, at="pr", base="main")
    assert any("registry/ft/versions/1/version.yaml:/metrics: a merged version may change only stage and status" in p
               for p in found)


def test_base_rule_weights_of_merged_version_cannot_change(reg):
    branch_from_main(reg)
    edit(reg, "registry/ft/versions/1/weights.dvc", "md5: ", "md5: 0")
    commit_all(reg)
    assert any("weights.dvc:/: the weights of merged version 1 cannot change" in p
               for p in problems(reg, at="pr", base="main"))


def test_base_rule_stage_skip_is_refused(reg):
    reg.create_version("base", source_uri="s3://x")
    branch_from_main(reg)
    edit(reg, "registry/base/versions/2/version.yaml", "stage: none", "stage: production")
    edit(reg, "registry/base/aliases.yaml", "aliases: {}", "aliases:\n  production: 2")
    commit_all(reg)
    found = problems(reg, at="pr", base="main")
    assert len(found) == 1, found
    assert found[0].startswith("registry/base/versions/2/version.yaml:/stage: none -> production is not "
                               "allowed by registry.yaml's transitions")


def test_base_rule_allowed_promotion_passes_and_is_scoped(reg):
    """Production only from a version that is in staging on main: a PR cannot do both steps."""
    reg.create_version("ft", source_uri="s3://x", parent="base@1")
    reg.transition_stage("ft", 2, "staging")
    branch_from_main(reg)
    reg.transition_stage("ft", 2, "production")
    result = reg.check(at="pr", base="main")
    assert result.ok, result.problems
    assert result.models == ["ft"]


def test_base_rule_removed_version_and_reused_number(reg):
    branch_from_main(reg)
    git(reg.root, "rm", "-rq", "registry/base/versions/1")
    commit_all(reg)
    found = problems(reg, at="pr", base="main")
    assert any("registry/base/versions/1/version.yaml:/: merged version 1 was removed" in p for p in found)


def test_check_reads_workdir_by_default_and_commit_with_at(reg):
    edit(reg, "registry/ft/versions/1/version.yaml", "status: active", "status: nope")
    assert problems(reg) and not problems(reg, at="HEAD")


def test_credentials_in_tracked_files_fail_check(reg):
    config = reg.root / ".dvc" / "config"
    config.write_text(config.read_text() + "    access_key_id = AKIAABCDEFGHIJKLMNOP\n")
    edit(reg, "registry/ft/model.yaml", "model_type: fine_tuned",
         "model_type: fine_tuned\ndescription: 'aws_secret_access_key=abcd1234efgh5678ijkl'")
    found = problems(reg)
    assert any(p.startswith(".dvc/config:/: line") and "access key id" in p for p in found), found
    assert any(p.startswith("registry/ft/model.yaml:/: line") and "secret access key" in p for p in found), found
    assert not any("AKIAABCDEFGHIJKLMNOP" in p or "abcd1234efgh5678ijkl" in p for p in found)
    git(reg.root, "checkout", "-qb", "leak")
    commit_all(reg, "leak")
    scoped = problems(reg, at="leak", base="main")
    assert any(p.startswith(".dvc/config:/") for p in scoped) and any(p.startswith("registry/ft/model.yaml:/") for p in scoped)


def test_check_remote_finds_objects_missing_from_the_remote(reg, tmp_path, capsys):
    assert problems(reg, remote=True) == []
    objects = [p for p in (tmp_path / "remote" / "files" / "md5").rglob("*") if p.is_file() and not p.name.endswith(".dir")]
    objects[0].unlink()
    found = problems(reg, remote=True)
    assert found and all("weights.dvc:/" in p for p in found), found
    assert main(["-C", str(reg.root), "check", "--remote"]) == 1
    assert "weights.dvc:/" in capsys.readouterr().out


@pytest.mark.models
def test_soft_deleted_adapter_is_inert_in_check(registry, tiny_models, tmp_path, capsys):
    """issue 14.9: an adapter that does not fit its parent stops failing check once soft-deleted."""
    from modelreg.cli import main
    from tests.plugins.tiny_models import _builders

    b = _builders()
    wrong = b.build_adapter(tmp_path / "wrong", b.build_base(tmp_path / "narrow", hidden=32))
    registry.register_model("tiny", "base_model")
    registry.create_version("tiny", tiny_models["base"])
    registry.register_model("tiny-lora", "adapter")
    registry.create_version("tiny-lora", wrong, parent="tiny@1")
    assert main(["-C", str(registry.root), "check"]) == 1
    assert "does not fit" in capsys.readouterr().out
    registry.delete_version("tiny-lora", 1, reason="does not fit its parent")
    assert main(["-C", str(registry.root), "check"]) == 0, capsys.readouterr().out


def test_check_of_a_valid_registry_never_imports_jsonschema(registry, weights):
    """issue 8 speed: valid records are decided by fastschema; jsonschema's import (lark grammars,
    about a second) is paid only when something is wrong."""
    import subprocess
    import sys

    registry.register_model("m", "base_model")
    registry.create_version("m", weights)
    code = ("import sys; from modelreg import Registry; r = Registry(sys.argv[1]); "
            "res = r.check(at='HEAD'); print(res.ok, 'jsonschema' in sys.modules)")
    ran = subprocess.run([sys.executable, "-c", code, str(registry.root)], capture_output=True, text=True)
    assert ran.stdout.split() == ["True", "False"], ran.stdout + ran.stderr


def test_a_whole_check_remembers_schema_passes_per_blob_and_never_a_stale_one(reg, monkeypatch):
    """issue 23: store/verdicts.py keeps "blob B fits schema K" for whole checks of a commit; a blob
    that changes is validated again, a problem is never remembered, the working tree keeps none."""
    from modelreg.core import schema
    from modelreg.rules import records
    from modelreg.store import verdicts

    folder = reg.git.common_dir / "modelreg"
    assert problems(reg) == [] and not list(folder.glob("verdicts-*"))  # the working tree: nothing kept
    assert problems(reg, at="main") == []
    (saved,) = folder.glob("verdicts-*.marshal")
    assert verdicts.fingerprint() in saved.name and len(verdicts.Verdicts(reg.git.common_dir).known) >= 6
    calls, real = [], schema.problems
    monkeypatch.setattr(records.schema, "problems", lambda kind, doc: calls.append(kind) or real(kind, doc))
    assert problems(reg, at="main") == [] and calls == []  # every record passed before
    edit(reg, "registry/ft/model.yaml", "name: ft", "name: ft\nextra_field: 1")
    git(reg.root, "commit", "-qam", "an unknown field")
    found = problems(reg, at="main")
    assert calls == ["model"] and any("extra_field" in p for p in found)
    assert problems(reg, at="main") == found and calls == ["model", "model"]  # a problem is never kept


@pytest.mark.parametrize("where", ["commit", "working tree", "policy PR"])
def test_a_whole_check_split_across_workers_says_exactly_what_one_process_says(reg, monkeypatch, where):
    """issue 23: a check of every model in a big registry (a whole check, or a PR that edits the
    policy) runs its record and version rules over shares of the models in forked workers, and the
    change rules once. Problems of every reach (one record, one folder, a loose file, across models
    along the lineage, a lineage cycle, credentials, the registry-wide settings, the change's own)
    must come out the same."""
    from modelreg.rules import check as check_module

    for name in ("m1", "m2", "m3", "m4", "m5"):
        reg.register_model(name, "fine_tuned")
        reg.create_version(name, source_uri="s3://x", parent="base@1")
    reg.transition_stage("m3", 1, "staging")
    if where == "policy PR":  # a policy without staging strands m3@1: the change rules' problem
        branch_from_main(reg)
        policy = yaml.safe_load((reg.root / "registry.yaml").read_text())
        policy["stages"].remove("staging")
        policy["transitions"] = {k: [s for s in v if s != "staging"] for k, v in policy["transitions"].items()
                                 if k != "staging"}
        policy["gates"] = {"production": {"metrics": ["mmlu/accuracy >= 0.9"]}}  # ft@1 (0.5) fails it
        (reg.root / "registry.yaml").write_text(yaml.safe_dump(policy, sort_keys=False))
    edit(reg, "registry/m1/versions/1/version.yaml", "model: base", "model: gone")  # a missing parent
    edit(reg, "registry/m2/model.yaml", "name: m2", "name: m2\nextra_field: 1")  # one record
    (reg.root / "registry/m3/notes.txt").write_text("hi")  # a file in a model's folder
    (reg.root / "registry/loose.txt").write_text("hi")  # a file in no model's folder
    edit(reg, "registry/base/versions/1/version.yaml", "model_type: base_model",  # a cycle across models
         "model_type: base_model\nparent:\n  model: m4\n  version: 1\n  relation: merged")
    edit(reg, "registry/m5/versions/1/version.yaml", "uri: s3://x", "uri: https://bot:hunter2hunter2@example.com/x")
    edit(reg, "registry.yaml", "main_branch: main", "main_branch: main\nunknown_setting: 1")
    if where != "working tree":
        git(reg.root, "add", "-A")
        git(reg.root, "commit", "-qm", "problems everywhere")
    kw = {"at": "main"} if where == "commit" else {"at": "pr", "base": "main"} if where == "policy PR" else {}
    monkeypatch.setattr(check_module, "SPLIT_MIN_MODELS", 10**9)
    alone = problems(reg, **kw)
    monkeypatch.setattr(check_module, "SPLIT_MIN_MODELS", 1)
    monkeypatch.setattr("os.cpu_count", lambda: 3)
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0, 1, 2}, raising=False)
    monkeypatch.setattr("threading.active_count", lambda: 1)  # as in the CLI; pytest runs other threads
    splits = []
    real = check_module._run_split
    monkeypatch.setattr(check_module, "_run_split", lambda ctx, root: splits.append(len(ctx.models)) or real(ctx, root))
    assert problems(reg, **kw) == alone
    assert splits == [7] and check_module._split_workers(check_module.Context(None, None, ["a"] * 7)) == 3
    monkeypatch.setattr("threading.active_count", lambda: 2)  # a server's threads: no fork under them
    assert check_module._split_workers(check_module.Context(None, None, ["a"] * 7)) == 1
    for text in ("gone@1 does not exist", "unknown field", "notes.txt:/: unexpected file", "loose.txt",
                 "lineage cycle", "registry.yaml", "password") + (("leave out 'staging'", "new gates of production fail") if where == "policy PR" else ()):
        assert any(text in p for p in alone), (text, alone)


def test_a_split_check_whose_worker_dies_fails_instead_of_hanging(reg, monkeypatch):
    """A worker killed under the check (the kernel's OOM killer) must end the check with an error."""
    from concurrent.futures.process import BrokenProcessPool

    from modelreg.rules import check as check_module

    monkeypatch.setattr(check_module, "SPLIT_MIN_MODELS", 1)
    monkeypatch.setattr("threading.active_count", lambda: 1)
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0, 1}, raising=False)
    monkeypatch.setattr(check_module, "_check_share", _killed_worker)
    with pytest.raises(BrokenProcessPool):
        reg.check(at="main")


def _killed_worker(index: int):
    import os

    os._exit(9)
