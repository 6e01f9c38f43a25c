"""The workflows in .github/ (issue 4): valid YAML, right triggers, and the commands the tests run."""
import re
import shlex
from pathlib import Path

import click
import yaml

from modelreg.cli import cli

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = ROOT / ".github" / "workflows"


def load(name: str) -> dict:
    doc = yaml.safe_load((WORKFLOWS / name).read_text())
    return {("on" if k is True else k): v for k, v in doc.items()}  # YAML 1.1 reads `on` as True


def modelreg_calls(doc: dict) -> list[list[str]]:
    calls = []
    for job in doc["jobs"].values():
        for step in job["steps"]:
            env = {k: "1" for k in step.get("env", {})}
            for line in str(step.get("run", "")).splitlines():
                if line.strip().startswith("modelreg "):
                    expanded = re.sub(r"\$(\w+)", lambda m: env.get(m.group(1), "UNSET"), line)
                    calls.append(shlex.split(expanded)[1:])
    return calls


def parses(args: list[str]) -> None:
    """Parse with the real CLI: an unknown command or option fails here, not in CI."""
    with click.Context(cli) as ctx:
        command = cli.get_command(ctx, args[0])
        assert command is not None, f"modelreg has no command {args[0]!r}"
        command.make_context(args[0], args[1:], parent=ctx)


def test_check_workflow():
    doc = load("modelreg-check.yml")
    assert set(doc["on"]) == {"pull_request", "pull_request_review"}
    calls = modelreg_calls(doc)
    assert ["codeowners", "--check"] in calls
    assert ["check", "--base", "origin/1", "--pr", "1", "--comment"] in calls
    for call in calls:
        parses(call)
    steps = doc["jobs"]["check"]["steps"]
    assert any(s.get("with", {}).get("fetch-depth") == 0 for s in steps)
    installs = [s["run"] for s in steps if "install" in str(s.get("run", ""))]
    assert installs and all(re.match(r"(pip|make) ", i) for i in installs)
    # no ${{ }} expansion inside scripts: PR data reaches them only through env
    assert not any("${{" in str(s.get("run", "")) for s in steps)


def test_tag_workflow():
    doc = load("modelreg-tag.yml")
    assert doc["on"] == {"push": {"branches": ["main"]}}
    assert doc["permissions"] == {} and doc["jobs"]["tag"]["permissions"] == {"contents": "write", "pull-requests": "read"}
    calls = modelreg_calls(doc)
    assert calls == [["tag", "--push", "--observe"], ["events", "--send"],  # issue 13 item 5: the clock;
                     ["feed", "publish", "--if-configured"]]  # issue 22: the alias feed for serving fleets
    for call in calls:  # issue 22: events to webhooks, after the clock's notes are written
        parses(call)
    sending = [s for s in doc["jobs"]["tag"]["steps"] if s.get("run") == "modelreg events --send"][0]
    assert sending["continue-on-error"] is True and "${{" not in sending["run"]
    tagging = [s for s in doc["jobs"]["tag"]["steps"] if s.get("run") == "modelreg tag --push --observe"][0]
    assert tagging["env"]["GITHUB_TOKEN"].startswith("${{ secrets.MODELREG_GITHUB_TOKEN")  # reads the reviews


def test_every_workflow_is_valid_yaml_with_jobs():
    found = sorted(WORKFLOWS.glob("*.yml"))
    assert len(found) >= 4, found  # check, tag, deploy, site (and this project's own CI)
    for path in found:
        doc = load(path.name)
        assert doc.get("name") and doc.get("on") and doc.get("jobs"), path
