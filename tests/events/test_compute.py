"""Issue 22, events: typed events computed from main's first-parent history (`modelreg events`)."""
import json
import subprocess
import sys

from modelreg.events.compute import main_events

from tests.conftest import git, write_weights


def kinds(found):
    return [(e["type"], e["model"], e["version"], e.get("alias"), e["before"], e["after"]) for e in found]


def test_every_event_type_from_the_real_registry_api(history):
    found = main_events(history.git, "main", since=git(history.root, "rev-list", "--max-parents=0",
                                                       "HEAD").strip())
    assert [k for k in kinds(found) if k[0] != "policy.changed"] == [
        ("model.registered", "m", None, None, None, None),
        ("version.created", "m", 1, None, None, "none"),
        ("version.created", "m", 2, None, None, "none"),
        ("stage.changed", "m", 1, None, "none", "staging"),
        ("stage.changed", "m", 1, None, "staging", "production"),
        ("alias.moved", "m", 1, "production", None, 1),
        ("alias.moved", "m", 2, "champion", None, 2),
        ("stage.changed", "m", 2, None, "none", "archived"),
        ("alias.moved", "m", None, "champion", 2, None),
        ("version.deleted", "m", 2, None, "archived", "deleted"),
    ]
    assert found[-1]["reason"] == "bad eval"
    heads = git(history.root, "rev-list", "--first-parent", "HEAD").split()
    assert all(e["commit"] in heads and e["time"] and e["clock"] == "claimed" and e["pr"] is None for e in found)
    assert len({e["id"] for e in found}) == len(found)
    assert [e["id"] for e in main_events(history.git, "main", since=found[0]["commit"] + "~1")] == \
        [e["id"] for e in found]  # ids are stable: the same event, the same id


def test_policy_changed_and_the_pr_of_a_merge_commit(history):
    root = history.root
    git(root, "checkout", "-q", "-b", "pr")
    (root / "registry.yaml").write_text((root / "registry.yaml").read_text() + "\n# reviewed\n")
    git(root, "commit", "-qam", "comment registry.yaml")
    history.transition_stage("m", 1, "archived", reason="rollback")
    git(root, "checkout", "-q", "main")
    git(root, "merge", "-q", "--no-ff", "pr", "-m", "Merge pull request #7 from acme/pr")
    found = main_events(history.git, "main", since="HEAD~1")
    assert [(e["type"], e["pr"]) for e in found] == [("stage.changed", 7), ("alias.moved", 7),
                                                     ("policy.changed", 7)]
    assert found[-1]["files"] == ["registry.yaml"] and found[0]["clock"] == "merged"
    assert main_events(history.git, "main", since="HEAD") == []


def test_events_cli_lists_and_json(history, run_cli):
    since = git(history.root, "rev-parse", "HEAD~2").strip()
    out = run_cli("-C", history.root, "events", "--since", since)
    assert out.exit_code == 0, out.output
    assert "alias.moved" in out.stdout and "removed alias m@champion (was 2)" in out.stdout
    assert "deleted m@2 (bad eval)" in out.stdout
    doc = json.loads(run_cli("-C", history.root, "events", "--since", since, "--json").stdout)
    assert [e["type"] for e in doc] == ["stage.changed", "alias.moved", "version.deleted"]
    until = run_cli("-C", history.root, "events", "--since", since, "--until", "HEAD~1", "--json")
    assert [e["type"] for e in json.loads(until.stdout)] == ["stage.changed"]


def test_a_since_off_main_is_refused_in_one_line(history, run_cli, tmp_path):
    git(history.root, "checkout", "-q", "-b", "side")
    history.create_version("m", write_weights(tmp_path / "w3", seed=3))
    git(history.root, "checkout", "-q", "main")
    out = run_cli("-C", history.root, "events", "--since", "side")
    assert out.exit_code == 1 and "is not in the history of main" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def test_events_is_read_only_and_imports_no_heavy_module(history):
    code = ("import sys\nfrom modelreg.cli import main\n"
            f"rc = main(['-C', {str(history.root)!r}, 'events', '--json'])\n"
            "heavy = [m for m in ('dvc', 'boto3', 'obstore', 'torch', 'transformers', 'standardwebhooks')"
            " if m in sys.modules]\n"
            "print(rc, heavy, file=sys.stderr)\n")
    head = git(history.root, "rev-parse", "HEAD")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stderr.strip().splitlines()[-1] == "0 []"
    assert git(history.root, "rev-parse", "HEAD") == head and git(history.root, "status", "--porcelain") == ""
