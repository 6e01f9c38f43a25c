"""`import mlflow` speed (issue 21): a first import, and a re-import with nothing new, which reads
every imported version's files to compare their sha256 with the records. Prints medians.

    python bench/bench_mlflow_import.py [--versions 10] [--mb 16] [--runs 3]

An MLflow sqlite registry (in a temporary folder, never the registry's) holds one model of
VERSIONS versions, each a folder of one MB-sized weights file and two small JSON files. Timed,
each a fresh process: `import mlflow -q` into a fresh registry (download, hash, DVC, one commit),
the re-import (nothing new: the bytes check reads VERSIONS x MB in place), and, as the same-run
baseline for that check, `sha256sum` of the same files and MLflow's own client listing the
model's versions from a fresh process (what any import pays before it reads a byte).
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tool"))


def timed(cmd, runs, before=None, **kwargs) -> float:
    samples = []
    for _ in range(runs):
        if before:
            before()
        start = time.perf_counter()
        done = subprocess.run(cmd, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, **kwargs)
        samples.append(time.perf_counter() - start)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(map(str, cmd))} failed: {done.stderr.decode()[-2000:]}")
    return statistics.median(samples)


def populate(root: Path, versions: int, mb: int) -> tuple[str, list[Path]]:
    from mlflow import MlflowClient

    uri = f"sqlite:///{root / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    experiment = client.create_experiment("bench", artifact_location=(root / "artifacts").as_uri())
    client.create_registered_model("bench-model")
    files = []
    for n in range(versions):
        folder = root / f"ckpt-{n}"
        folder.mkdir()
        (folder / "model.safetensors").write_bytes(os.urandom(mb << 20))
        (folder / "config.json").write_text(f'{{"seed": {n}}}\n')
        (folder / "tokenizer.json").write_text('{"version": "1.0"}\n')
        run = client.create_run(experiment)
        client.log_artifacts(run.info.run_id, str(folder), "model")
        client.create_model_version("bench-model", f"{run.info.artifact_uri}/model", run.info.run_id)
        files.append(Path(urlparse(run.info.artifact_uri).path) / "model" / "model.safetensors")
    return uri, files


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--versions", type=int, default=10)
    parser.add_argument("--mb", type=int, default=16)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    exe = Path(sys.executable).with_name("modelreg")
    modelreg = [str(exe)] if exe.exists() else [sys.executable, "-m", "modelreg"]
    from modelreg.registry import init_registry

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        env = dict(os.environ, MLFLOW_TRACKING_URI=f"sqlite:///{tmp / 'tracking.db'}", DVC_NO_ANALYTICS="1")
        uri, files = populate(tmp / "mlflow", args.versions, args.mb)
        reg = tmp / "reg"

        def fresh():
            shutil.rmtree(reg, ignore_errors=True)
            shutil.rmtree(tmp / "remote", ignore_errors=True)
            init_registry(reg, remote=str(tmp / "remote"))

        cmd = modelreg + ["-C", str(reg), "import", "mlflow", "--tracking-uri", uri, "-q"]
        first = timed(cmd, args.runs, before=fresh, env=env)
        again = timed(cmd, args.runs, env=env)
        hashing = timed(["sha256sum", *files], args.runs)
        start = timed([sys.executable, "-c", f"from mlflow import MlflowClient; MlflowClient(tracking_uri={uri!r}, "
                       f"registry_uri={uri!r}).search_model_versions(\"name = 'bench-model'\")"], args.runs, env=env)
    total = args.versions * args.mb
    print(f"{args.versions} versions x {args.mb} MB ({total} MB), medians of {args.runs}:")
    print(f"  first import           {first:6.2f} s")
    print(f"  re-import, nothing new {again:6.2f} s   (bytes of every version compared)")
    print(f"  sha256sum of the same  {hashing:6.2f} s")
    print(f"  MLflow's client: start, list the versions {start:6.2f} s")
    print(f"  re-import minus that: {max(again - start, 0):.2f} s for {total} MB "
          f"({total / max(again - start, 1e-9):.0f} MB/s; sha256sum {total / hashing:.0f} MB/s)")


if __name__ == "__main__":
    main()
