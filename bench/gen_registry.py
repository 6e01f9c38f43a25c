"""Generate a synthetic registry (default 500 models x 20 versions = 10,000 versions).

The records are what modelreg itself writes (same serializer, schema-valid), committed
in one go through `git fast-import`, so 10,000 versions take seconds, not minutes.
A second commit on a branch `promote` promotes one model, and one on a branch `policy` edits
registry.yaml (a gate), for the two `check --base` benchmarks.

    python bench/gen_registry.py DEST [--models 500] [--versions 20]
"""
import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tool"))

from modelreg.core import layout, schema  # noqa: E402
from modelreg.core.records import dump_yaml  # noqa: E402
from modelreg.core.settings import DEFAULT_SETTINGS  # noqa: E402

WHEN = "2026-11-01T12:00:00Z"
WHO = "Bench Bot <bench@example.com>"


def record(kind: str, relpath: str, data: dict) -> bytes:
    return dump_yaml(data, layout.schema_ref(relpath, kind), schema.key_order(kind))


def model_files(i: int, versions: int) -> dict[str, bytes]:
    name = f"model-{i:04d}"
    files = {layout.model_file(name): record("model", layout.model_file(name), {
        "name": name, "description": f"synthetic model {i}", "model_type": "fine_tuned",
        "owners": [f"@acme/team-{i % 7}"], "tags": {"team": f"t{i % 7}", "task": "chat"},
        "created_at": WHEN, "created_by": WHO})}
    production, staging = versions - 1, versions
    for n in range(1, versions + 1):
        stage = {production: "production", staging: "staging"}.get(n, "archived")
        blob = hashlib.sha256(f"{name}/{n}".encode()).hexdigest()
        artifacts = [
            {"path": "model.safetensors", "artifact_type": "weights", "format": "safetensors",
             "size_bytes": 1_000_000 + n, "sha256": blob},
            {"path": "config.json", "artifact_type": "config", "format": "json", "size_bytes": 600,
             "sha256": hashlib.sha256(blob.encode()).hexdigest()}]
        vfile = layout.version_file(name, n)
        files[vfile] = record("version", vfile, {
            "version": n, "model_type": "fine_tuned", "stage": stage, "status": "active",
            "artifacts": artifacts, "source": {"run_id": f"run-{i}-{n}"},
            "parameters": {"lr": 1e-5, "epochs": 3},
            "metrics": [{"benchmark": "mmlu", "metric": "accuracy", "value": round(0.5 + n / 100, 3)}],
            "tags": {"data": "v1"}, "created_at": WHEN, "created_by": WHO})
        files[layout.card_file(name, n)] = record("card", layout.card_file(name, n), {
            "description": f"version {n} of {name}", "intended_use": "benchmarks", "license": "apache-2.0"})
        files[layout.pointer_file(name, n)] = (
            f"outs:\n- md5: {blob[:32]}.dir\n  size: {1_000_600 + n}\n  nfiles: 2\n  hash: md5\n"
            "  path: weights\n").encode()
    files[layout.aliases_file(name)] = record("aliases", layout.aliases_file(name), {
        "aliases": {"canary": staging, "production": production}})
    return files


def fast_import(dest: Path, commits: list[tuple[str, str, dict[str, bytes]]]) -> None:
    proc = subprocess.Popen(["git", "fast-import", "--quiet"], cwd=dest, stdin=subprocess.PIPE)
    write = proc.stdin.write
    for mark, (branch, message, files) in enumerate(commits, start=1):
        msg = message.encode()
        write(f"commit refs/heads/{branch}\nmark :{mark}\n"
              f"committer Bench Bot <bench@example.com> 1793000000 +0000\ndata {len(msg)}\n".encode() + msg + b"\n")
        if mark > 1:
            write(b"from :1\n")
        for path, data in files.items():
            write(f"M 100644 inline {path}\ndata {len(data)}\n".encode() + data + b"\n")
    proc.stdin.close()
    if proc.wait() != 0:
        raise SystemExit("git fast-import failed")


def generate(dest: Path, models: int, versions: int) -> float:
    start = time.perf_counter()
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=dest, check=True)
    files = {layout.REGISTRY_FILE: record("registry", layout.REGISTRY_FILE, DEFAULT_SETTINGS)}
    for kind in schema.KINDS:
        files[f"schemas/{kind}.schema.json"] = (schema.schema_dir() / f"{kind}.schema.json").read_bytes()
    for i in range(models):
        files.update(model_files(i, versions))
    # the branch promotes model-0000's staging version to production (archiving the old one)
    name = "model-0000"
    promo = {}
    for n, stage in ((versions, "production"), (versions - 1, "archived")):
        path = layout.version_file(name, n)
        promo[path] = files[path].replace(b"stage: staging", b"stage: production").replace(
            b"stage: production", b"stage: " + stage.encode(), 1)
    promo[layout.aliases_file(name)] = record("aliases", layout.aliases_file(name), {
        "aliases": {"canary": versions, "production": versions}})
    policy = {layout.REGISTRY_FILE: record("registry", layout.REGISTRY_FILE, {
        **DEFAULT_SETTINGS, "gates": {"production": {"metrics": ["mmlu/accuracy >= 0.5"]}}})}
    fast_import(dest, [("main", "synthetic registry", files), ("promote", f"promote {name}", promo),
                       ("policy", "gate production on mmlu", policy)])
    subprocess.run(["git", "checkout", "-q", "main"], cwd=dest, check=True)
    return time.perf_counter() - start


def compile_package() -> None:
    """Write modelreg's .pyc files first, as an install does: a session that sets
    PYTHONDONTWRITEBYTECODE would otherwise time every fresh process compiling the sources
    it changed (~10 ms of a 40 ms resolve)."""
    import compileall

    compileall.compile_dir(str(Path(__file__).resolve().parents[1] / "tool" / "modelreg"), quiet=1)


def reuse_or_generate(dest: Path, models: int, versions: int) -> float | None:
    """The registry at `dest`, generated unless a previous bench run left the same one there
    (`--keep DIR`: the 100,000-version registry takes minutes to generate). Returns the seconds
    spent generating, or None when it was reused."""
    marker = dest / ".git" / "bench-registry.json"
    wanted = {"models": models, "versions": versions, "generator": hashlib.sha256(Path(__file__).read_bytes()).hexdigest()}
    try:
        if json.loads(marker.read_text()) == wanted:
            subprocess.run(["git", "checkout", "-q", "-f", "main"], cwd=dest, check=True)
            return None
    except (OSError, ValueError):
        pass
    seconds = generate(dest, models, versions)
    marker.write_text(json.dumps(wanted))
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dest", type=Path)
    parser.add_argument("--models", type=int, default=500)
    parser.add_argument("--versions", type=int, default=20)
    args = parser.parse_args()
    seconds = generate(args.dest, args.models, args.versions)
    print(json.dumps({"dest": str(args.dest), "models": args.models,
                      "versions": args.models * args.versions, "seconds": round(seconds, 2)}))


if __name__ == "__main__":
    main()
