"""`modelreg gc` on a remote with 10,000 objects, against `modelreg doctor` on the same remote (issue 20).

A local-folder DVC remote is filled directly in DVC's layout (objects, folder listings), with one
registry commit of VERSIONS versions of FILES files each (VERSIONS * (FILES + 1) objects); then,
as real registry commits through the Registry: 40% of the versions deleted, 20% archived, two
aliases moved, a release tag and a branch. Policy: keep_last 5, purge deleted and archived after 0d.
Measured in process, each run on a fresh Registry (no memoised snapshots), folder listings in the
local cache as after any earlier run:
  - doctor (the baseline: reads every pointer at every tip, every listing, lists the remote)
  - gc dry run (the same walk plus the policy, the history of each candidate, the tags and locks)
  - gc --yes (the plan and its deletion), each run on a fresh hard-linked copy of the full remote.
Prints medians of REPS runs and the ratios to doctor.

Run: .venv/bin/python bench/bench_gc.py [--versions 1000 --files 9] [--reps 5]
"""
import argparse
import hashlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tool"))

from modelreg import Registry  # noqa: E402
from modelreg.artifacts.dvc import listing_bytes, object_key, pointer_text  # noqa: E402
from modelreg.core import layout  # noqa: E402
from modelreg.core.records import dump_yaml, load_yaml  # noqa: E402
from modelreg.registry import init_registry  # noqa: E402


def git(root, *args):
    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)


def put(remote: Path, md5: str, data: bytes) -> None:
    path = remote / object_key(md5)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def synth_version(root: Path, remote: Path, model: str, number: int, files: int) -> None:
    """One version written as `version create` leaves it: objects and listing in the remote,
    version.yaml and weights.dvc in the tree (not committed)."""
    pairs, artifacts = [], []
    for i in range(files):
        data = f"{model}/{number}/{i}".encode() * 64  # 1-2 KB, distinct
        md5 = hashlib.md5(data).hexdigest()
        put(remote, md5, data)
        name = f"shard-{i:03d}.safetensors"
        pairs.append((name, md5))
        artifacts.append({"path": name, "artifact_type": "weights", "format": "safetensors",
                          "size_bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()})
    listing, dir_md5 = listing_bytes(pairs)
    put(remote, dir_md5, listing)
    folder = root / layout.version_dir(model, number)
    folder.mkdir(parents=True, exist_ok=True)
    record = {"version": number, "model_type": "base_model", "stage": "none", "status": "active",
              "artifacts": artifacts, "created_at": "2026-12-01T00:00:00Z", "created_by": "bench <b@example.com>"}
    (folder / "version.yaml").write_bytes(dump_yaml(record, layout.schema_ref(layout.version_file(model, number),
                                                                               "version")))
    size = sum(a["size_bytes"] for a in artifacts)
    (folder / "weights.dvc").write_text(pointer_text(dir_md5, size, files, "weights"))


def build(work: Path, versions: int, files: int) -> tuple[Path, Path]:
    root, remote = work / "reg", work / "remote"
    init_registry(root, remote=str(remote))
    reg = Registry(root)
    reg.register_model("m", "base_model")
    for n in range(1, versions + 1):
        synth_version(root, remote, "m", n, files)
    git(root, "add", "registry")
    git(root, "commit", "-qm", f"{versions} versions")
    for n in range(1, versions // 5 + 1):  # 20% archived, the oldest
        reg.transition_stage("m", n, "archived")
    git(root, "tag", "-a", "v1.0", "-m", "release")
    reg.transition_stage("m", versions, "staging")
    reg.transition_stage("m", versions, "production")
    reg.set_alias("m", "champion", 1)
    for n in range(versions // 5 + 1, versions // 5 + 1 + versions * 2 // 5):  # 40% deleted
        reg.delete_version("m", n, "bench")
    git(root, "branch", "experiment")
    path = root / "registry.yaml"
    doc = load_yaml(path.read_bytes())
    doc["retention"] = {"keep_last": 5, "purge_deleted_after": "0d", "purge_archived_after": "0d"}
    path.write_bytes(dump_yaml(doc))
    git(root, "commit", "-qm", "retention", "--", "registry.yaml")
    reg.close()
    return root, remote


def timed(fn, reps: int, prepare=None) -> list[float]:
    times = []
    for _ in range(reps):
        if prepare:
            prepare()
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--versions", type=int, default=1000)
    parser.add_argument("--files", type=int, default=9)
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args()
    os.environ.setdefault("DVC_NO_ANALYTICS", "1")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        os.environ["MODELREG_CACHE"] = str(work / "cache")
        t0 = time.perf_counter()
        root, remote = build(work, args.versions, args.files)
        full = work / "remote-full"
        shutil.copytree(remote, full)
        objects = sum(1 for p in remote.rglob("*") if p.is_file())
        print(f"built {args.versions} versions x {args.files} files = {objects} objects, "
              f"{len(subprocess.run(['git', 'rev-list', 'HEAD'], cwd=root, capture_output=True).stdout.split())} "
              f"commits in {time.perf_counter() - t0:.1f} s")

        def restore():
            shutil.rmtree(remote)
            subprocess.run(["cp", "-al", str(full), str(remote)], check=True)

        def once(fn):
            def run():
                with Registry(root) as reg:
                    return fn(reg)
            return run

        once(lambda r: r.doctor())()  # fills the listing cache, as any earlier run would
        plan = once(lambda r: r.gc())()
        assert not plan.blocked, plan.problems
        doctor = timed(once(lambda r: r.doctor()), args.reps)
        dry = timed(once(lambda r: r.gc()), args.reps)
        applied = timed(once(lambda r: r.gc(apply=True)), args.reps, prepare=restore)
        left = sum(1 for p in remote.rglob("*") if p.is_file())
        base = statistics.median(doctor)
        print(f"plan: {len(plan.plan.purges)} versions purged, {len(plan.plan.deletions)} objects "
              f"({plan.plan.bytes / 1e6:.1f} MB), {len(plan.kept)} versions kept; {left} objects left after --yes")
        print(f"median of {args.reps} (min), in process:")
        for name, times in (("doctor (baseline)", doctor), ("gc dry run", dry), ("gc --yes", applied)):
            med = statistics.median(times)
            print(f"  {name:18} {med:7.3f} s ({min(times):.3f})   {med / base:5.2f}x doctor")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
