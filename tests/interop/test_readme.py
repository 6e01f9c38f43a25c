"""The README's "Coming from MLflow" and "Serving" examples, run as written (issue 10: done means)."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import git, write_weights
from tests.plugins.mlflow_env import fresh_db

ROOT = Path(__file__).resolve().parents[2]


def blocks(section: str) -> list[tuple[str, str]]:
    """(language, code) of the bash and python blocks in README's `## section`."""
    text = (ROOT / "README.md").read_text()
    match = re.search(rf"^## {re.escape(section)}\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert match, f"README has no '## {section}' section"
    return re.findall(r"```(bash|python)\n(.*?)```", match.group(1), re.S)


def shell_env(tmp_path: Path, pythonpath: str | None = None, **extra) -> dict:
    """The environment a reader has: `modelreg` on PATH (this checkout), offline HF."""
    shim = tmp_path / "bin"
    shim.mkdir(exist_ok=True)
    for name, args in (("modelreg", "-m modelreg "), ("python", "")):
        (shim / name).write_text(f'#!/bin/sh\nexec "{sys.executable}" {args}"$@"\n')
        (shim / name).chmod(0o755)
    env = dict(os.environ, PATH=f"{shim}{os.pathsep}{os.environ['PATH']}", TMPDIR=str(tmp_path),
               PYTHONPATH=pythonpath or str(ROOT / "tool"), **extra)
    return env


def run_blocks(section: str, cwd: Path, env: dict) -> str:
    output = []
    for lang, code in blocks(section):
        cmd = ["bash", "-e", "-o", "pipefail", "-c", code] if lang == "bash" else [sys.executable, "-c", code]
        proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, f"{lang} block failed:\n{code}\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
        output.append(proc.stdout)
    return "\n".join(output)


@pytest.mark.mlflow
def test_coming_from_mlflow_runs_as_written(registry, tmp_path, mlflow_plugins, mlflow_template_db):
    """issue 10 done-means: import from MLflow, then the same MLflow client code reads the Git registry."""
    from mlflow import MlflowClient

    uri = fresh_db(mlflow_template_db, tmp_path / "mlflow.db")
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    experiment = client.create_experiment("support", artifact_location=(tmp_path / "artifacts").as_uri())
    client.create_registered_model("llama-ft", tags={"team": "support"})
    run = client.create_run(experiment)
    client.log_artifacts(run.info.run_id, str(write_weights(tmp_path / "ckpt", seed=4)), "model")
    mv = client.create_model_version("llama-ft", f"{run.info.artifact_uri}/model", run.info.run_id,
                                     tags={"data": "v7"})
    client.transition_model_version_stage("llama-ft", mv.version, "Production")
    client.set_registered_model_alias("llama-ft", "champion", mv.version)
    git(registry.root, "commit", "--allow-empty", "-qm", "start")
    env = shell_env(tmp_path, mlflow_plugins["pythonpath"], MLFLOW_TRACKING_URI=uri,
                    CHECKPOINT=str(write_weights(tmp_path / "ckpt-8", seed=8)))
    out = run_blocks("Coming from MLflow", registry.root, env)
    assert out.rstrip().endswith("Staging")  # issue 21: the write path, as written
    assert registry.aliases("support-ranker") == {"champion": 1}
    assert "version 1: Production -> production" in out and "dry run: nothing was written" in out
    assert "1 Production {'data': 'v7', 'mlflow.version': '1', 'mlflow.stage': 'Production'}" in out  # no mlflow.synced
    assert "['llama-ft']" in out and "['config.json', 'model.safetensors', 'tokenizer.json']" in out
    # issue 21: the snippet (run in the registry's folder) leaves no MLflow database or run folder there
    assert not (registry.root / "mlflow.db").exists() and not (registry.root / "mlruns").exists()


@pytest.mark.models
def test_serving_runs_as_written(registry, tiny_models, tmp_path):
    """issue 10 done-means: HF cache by repo id offline, and the KServe fetch-into line."""
    registry.register_model("llama-ft", "base_model")
    registry.create_version("llama-ft", tiny_models["base"])
    registry.transition_stage("llama-ft", 1, "staging")
    registry.transition_stage("llama-ft", 1, "production")
    forge = tmp_path / "forge"
    bare = forge / "acme" / "model-registry.git"
    bare.parent.mkdir(parents=True)
    git(tmp_path, "clone", "-q", "--bare", str(registry.root), str(bare))
    git(bare, "config", "uploadpack.allowFilter", "true")
    env = shell_env(tmp_path, MODELREG_GIT_BASE=f"file://{forge}")
    out = run_blocks("Serving", registry.root, env)
    assert "LlamaForCausalLM" in out and "model.safetensors" in out
    assert (registry.root / "hf" / "hub" / "models--acme--llama-ft" / "refs" / "production").exists()
