"""`tag_format: gto`: the real `gto show` / `gto history` read a modelreg registry's tags (issue 10 part 5).

GTO pins old libraries, so it runs from a venv of its own: `.venv-gto` (made by `make install`),
or one this module builds for the session.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from modelreg.promotion.releases import check_ref, tag
from tests.conftest import git, write_weights

ROOT = Path(__file__).resolve().parents[2]
GTO_PIN = "gto==1.10.1"


@pytest.fixture(scope="session")
def gto(tmp_path_factory) -> Path:
    built = ROOT / ".venv-gto" / "bin" / "gto"
    if built.exists():
        return built
    venv = tmp_path_factory.mktemp("venv-gto")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    proc = subprocess.run([str(venv / "bin" / "pip"), "install", "-q", GTO_PIN], capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"could not install {GTO_PIN} into its own venv: {proc.stderr.strip()[-300:]}")
    return venv / "bin" / "gto"


def gto_json(gto: Path, *args) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    proc = subprocess.run([str(gto), *args, "--json"], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.fixture
def gto_registry(registry, tmp_path, monkeypatch):
    """bert: v1 staging -> production; v2 staging -> production (v1 archived); one move a day."""
    settings = registry.root / "registry.yaml"
    doc = yaml.safe_load(settings.read_text())
    doc["tag_format"] = "gto"
    settings.write_text(yaml.safe_dump(doc, sort_keys=False))
    git(registry.root, "commit", "-qam", "release tags GTO reads")
    day = iter(range(1, 20))

    def step(fn, *args):
        stamp = f"2026-01-{next(day):02d}T10:00:00Z"
        monkeypatch.setenv("GIT_COMMITTER_DATE", stamp)
        monkeypatch.setenv("GIT_AUTHOR_DATE", stamp)
        fn(*args)

    step(registry.register_model, "bert", "base_model")
    step(registry.create_version, "bert", write_weights(tmp_path / "w1", seed=1))
    step(registry.transition_stage, "bert", 1, "staging")
    step(registry.transition_stage, "bert", 1, "production")
    step(registry.create_version, "bert", write_weights(tmp_path / "w2", seed=2))
    step(registry.transition_stage, "bert", 2, "staging")
    step(registry.transition_stage, "bert", 2, "production")
    monkeypatch.delenv("GIT_COMMITTER_DATE")
    monkeypatch.delenv("GIT_AUTHOR_DATE")
    return registry


def test_gto_show_reads_versions_and_current_stages(gto_registry, gto):
    """issue 10 part 5: semver version tags and GTO's stage grammar: `gto show` agrees with the registry."""
    created = [t["tag"] for t in tag(gto_registry.worktree)]
    # GTO's counter runs per stage over assignments and unassignments alike
    assert created == ["bert@v1.0.0", "bert#staging#1", "bert#production#1", "bert#staging!#2",
                       "bert@alias-production#1", "bert@v2.0.0", "bert#staging#3", "bert#archived#1",
                       "bert#production!#2", "bert#production#3", "bert#staging!#4", "bert@alias-production#2"]
    shown = gto_json(gto, "show", "-r", str(gto_registry.root))
    assert shown["bert"]["version"] == "v2.0.0"
    assert shown["bert"]["stage"] == {"production": "v2.0.0", "archived": "v1.0.0"}
    assert tag(gto_registry.worktree) == []  # idempotent with the preset too


def test_gto_history_orders_events_as_they_happened(gto_registry, gto):
    """issue 10 part 5: every registration and assignment, on the version's commit, dated by its move."""
    tag(gto_registry.worktree)
    events = gto_json(gto, "history", "bert", "-r", str(gto_registry.root))
    registered = {e["version"]: e["commit"] for e in events if e["event"] == "registration"}
    assert set(registered) == {"v1.0.0", "v2.0.0"}
    assignments = sorted((e["timestamp"], e["version"], e["stage"]) for e in events if e["event"] == "assignment")
    assert [(v, s) for _, v, s in assignments] == [
        ("v1.0.0", "staging"), ("v1.0.0", "production"), ("v2.0.0", "staging"),
        ("v1.0.0", "archived"), ("v2.0.0", "production")]
    for event in events:
        assert event["commit"] == registered[event["version"]]


def test_check_ref_still_reads_the_moves_commit(gto_registry):
    """issue 10 part 5: a gto stage tag points at the version's commit; check-ref names the move's."""
    tag(gto_registry.worktree)
    info = check_ref(gto_registry.worktree, "bert#production#3")
    assert (info["model"], info["version"], info["stage"]) == ("bert", 2, "production")
    assert info["commit"] == gto_registry.git.rev_parse("HEAD")
    assert git(gto_registry.root, "rev-parse", "bert#production#3^{commit}").strip() == \
        git(gto_registry.root, "rev-parse", "bert@v2.0.0^{commit}").strip()


def test_a_deploy_asks_by_the_merge_and_gets_each_of_its_tags_unassignments_included(gto_registry, run_cli):
    """A deploy workflow is told the merge's sha. GTO-format stage tags point at the version's
    commit, so `git tag --points-at SHA` misses them; `check-ref --commit SHA` does not, and
    GTO's `!` unassignment tags are valid names for check-ref."""
    tag(gto_registry.worktree)
    root, head = gto_registry.root, gto_registry.git.rev_parse("HEAD")  # v2 -> production
    ran = run_cli("-C", root, "check-ref", "--commit", head, "--json")
    assert ran.exit_code == 0, ran.stderr
    answers = {a["tag"]: a for a in json.loads(ran.stdout)}
    assert {"bert#production#3", "bert#production!#2", "bert#archived#1"} <= set(answers)
    assert all(a["commit"] == head and a["on_main"] for a in answers.values())
    assert "bert#production#3" not in git(root, "tag", "--points-at", head).split()
    out = answers["bert#production!#2"]
    assert (out["event"], out["model"], out["version"], out["stage"]) == ("unstage", "bert", 1, "production")
    one = run_cli("-C", root, "check-ref", "bert#production!#2", "--json")
    assert one.exit_code == 0 and json.loads(one.stdout)["event"] == "unstage"
    earlier = run_cli("-C", root, "check-ref", "--commit", "HEAD~1", "--json")
    assert "bert#production#3" not in {a["tag"] for a in json.loads(earlier.stdout)}


@pytest.mark.parametrize("bad", ["bert#prod!!#1", "bert#production!", "a!b#1", "-x"])
def test_a_bang_is_a_tag_name_character_only_in_gtos_grammar(registry, run_cli, bad):
    ran = run_cli("-C", registry.root, "check-ref", bad)
    assert ran.exit_code in (1, 2) and ("invalid tag name" in ran.stderr or "Usage" in ran.stderr)


def test_check_ref_wants_a_tag_or_a_commit(registry, run_cli):
    assert run_cli("-C", registry.root, "check-ref").exit_code == 2
    assert run_cli("-C", registry.root, "check-ref", "x@v1", "--commit", "HEAD").exit_code == 2
    bad = run_cli("-C", registry.root, "check-ref", "--commit", "--json")
    assert bad.exit_code in (1, 2)


def test_unknown_preset_is_refused(registry):
    """issue 10 part 5: a tag_format preset that does not exist fails the schema and `tag`."""
    from modelreg.core import schema
    from modelreg.core.errors import InvalidInput

    settings = registry.root / "registry.yaml"
    doc = yaml.safe_load(settings.read_text())
    doc["tag_format"] = "mlflow"
    settings.write_text(yaml.safe_dump(doc, sort_keys=False))
    assert [p for p, _ in schema.problems("registry", doc)] == ["/tag_format"]
    assert schema.problems("registry", dict(doc, tag_format="gto")) == []
    with pytest.raises(InvalidInput, match="unknown tag_format 'mlflow'"):
        tag(registry.worktree)
