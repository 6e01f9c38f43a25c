"""Query speed at 10,000 versions (issue 20: <= 0.5 s), with a same-run baseline. Prints medians.

    python bench/bench_query.py [--models 500] [--versions 20] [--runs 11]
    python bench/bench_query.py --big [--keep /tmp/bench-registries]   # 100,000 versions (issue 23)

Every command is a fresh process, as `resolve` is benchmarked in bench_registry.py: "warm" means
its query cache exists (store/summaries.py: rows per blob and a table per commit, in .git), as it
does after the first query of a clone. The baseline, in the same run on the same registry, is
`version list MODEL --json` (one model, 20 versions, the command before queries existed), and
`python -c pass`. Also timed: the first query of a clone (nothing cached: every record parsed),
and the first after a new commit (`--at promote`: one model changed, its table not yet made).
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

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tool"))
sys.path.insert(0, str(HERE))

import gen_registry  # noqa: E402

WHERE = "mmlu/accuracy >= 0.6 and stage == staging"


FASTEST = {}  # median -> fastest sample of the same command


def timed(cmd, cwd, runs, before=None) -> float:
    samples = []
    for _ in range(runs):
        if before:
            before()
        start = time.perf_counter()
        done = subprocess.run(cmd, cwd=cwd, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        samples.append(time.perf_counter() - start)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed: {done.stderr.decode()}")
    median = statistics.median(samples)
    FASTEST[median] = min(samples)
    return median


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", type=int, default=None)
    parser.add_argument("--versions", type=int, default=20)
    parser.add_argument("--runs", type=int, default=11)
    parser.add_argument("--big", action="store_true", help="5,000 models (100,000 versions)")
    parser.add_argument("--keep", type=Path, help="keep (and reuse) the generated registry in this folder")
    args = parser.parse_args()
    gen_registry.compile_package()
    args.models = args.models or (5000 if args.big else 500)
    exe = Path(sys.executable).with_name("modelreg")
    modelreg = [str(exe)] if exe.exists() else [sys.executable, "-m", "modelreg"]
    total = args.models * args.versions
    with tempfile.TemporaryDirectory() as tmp:
        big = (args.keep or Path(tmp)) / f"reg-{args.models}x{args.versions}"
        gen_registry.reuse_or_generate(big, args.models, args.versions)
        cache = big / ".git" / "modelreg"
        promote = subprocess.run(["git", "rev-parse", "promote"], cwd=big, check=True, capture_output=True,
                                 text=True).stdout.strip()

        def drop_all():
            shutil.rmtree(cache, ignore_errors=True)

        def drop_promote_table():
            for path in cache.rglob(f"commit-{promote}.*"):
                path.unlink()

        query = ["version", "list", "--all-models", "--where", WHERE, "--sort", "-mmlu/accuracy", "--limit", "5"]
        cold_runs = max(3, args.runs // 4)
        cold = timed(modelreg + query, big, cold_runs, before=drop_all)
        timed(modelreg + query, big, 1)  # the clone's first query: the cache now exists
        new_commit = timed(modelreg + query + ["--at", "promote"], big, cold_runs, before=drop_promote_table)
        rows = [
            ("baseline: python -c pass", timed([sys.executable, "-c", "pass"], big, args.runs), None),
            ("baseline: version list MODEL --json", timed(modelreg + ["version", "list", "model-0042", "--json"],
                                                          big, args.runs), None),
            ("version list --all-models --where --sort --limit 5", timed(modelreg + query, big, args.runs), 0.5),
            ("  the same, --json", timed(modelreg + query + ["--json"], big, args.runs), 0.5),
            ("best --all-models --metric mmlu/accuracy",
             timed(modelreg + ["best", "--all-models", "--metric", "mmlu/accuracy"], big, args.runs), 0.5),
            ("best --all-models ... --where 'tags.team == t3'",
             timed(modelreg + ["best", "--all-models", "--metric", "mmlu/accuracy", "--where", "tags.team == t3"],
                   big, args.runs), 0.5),
            ("best MODEL --metric mmlu/accuracy",
             timed(modelreg + ["best", "model-0042", "--metric", "mmlu/accuracy"], big, args.runs), 0.5),
            ("version list MODEL --where --sort --json",
             timed(modelreg + ["version", "list", "model-0042", "--where", WHERE, "--sort", "-mmlu/accuracy",
                               "--json"], big, args.runs), 0.5),
            ("diff MODEL@19 MODEL@20", timed(modelreg + ["diff", "model-0042@19", "model-0042@20"], big, args.runs),
             0.5),
            ("first query after a new commit (blobs cached)", new_commit, None),
            ("first query of a clone (nothing cached)", cold, None),
        ]
    base = rows[1][1]
    print(f"{total} versions ({args.models} models); medians of {args.runs} fresh processes "
          f"({cold_runs} for the first-query rows)")
    print(f"{'operation':52} {'median':>9} {'fastest':>9} {'target':>7} {'vs target':>9} {'vs baseline':>11}")
    for name, seconds, target in rows:
        goal = f"{target:.2f}" if target else ""
        ratio = f"{seconds / target:.2f}x" if target else ""
        fastest = FASTEST.get(seconds, seconds)
        print(f"{name:52} {seconds * 1000:6.0f} ms {fastest * 1000:6.0f} ms {goal:>7} {ratio:>9} {seconds / base:10.2f}x")


if __name__ == "__main__":
    os.environ.setdefault("DVC_NO_ANALYTICS", "1")
    main()
