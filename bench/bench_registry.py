"""Registry read/check speed at 10,000 versions (or 100,000 with --big), with same-run baselines.

    python bench/bench_registry.py [--models 500] [--versions 20] [--runs 11]
    python bench/bench_registry.py --big [--keep /tmp/bench-registries]   # 5,000 models x 20 (issue 23)

Baselines measured in the same run: `python -c pass` and `python -S -c pass` (the interpreter's
own start-up, with and without site-packages: the floor for any fresh-process CLI) and a bare
`git cat-file --batch` reading one blob / `git for-each-ref` (the floor for a Git-native read).
A fresh `resolve` is one Python start plus one git process: the bench prints the gap to that
floor. Medians and fastest of each. Targets: issues 2 and 8 (whole check <= 4 s at 10,000
versions, one-model PR <= 0.5 s, a PR that edits registry.yaml no slower than the whole check)
and issue 23 at 100,000 (whole check <= 30 s, cold resolve <= 50 ms); competitor figures from
shared/reference/ANCHORS.md. `--keep DIR` keeps the generated registries in DIR for the next run.
"""
import argparse
import os
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


FASTEST = {}  # id(median figure) -> fastest sample, for the table


def timed(cmd, cwd, runs, stdin: bytes | None = None, before=None) -> float:
    samples = []
    for _ in range(runs):
        if before:
            before()
        start = time.perf_counter()
        subprocess.run(cmd, cwd=cwd, check=False, input=stdin, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        samples.append(time.perf_counter() - start)
    median = statistics.median(samples)
    FASTEST[median] = min(samples)
    return median


def warm_resolve_us(path: Path, ref: str, n: int = 20000) -> float:
    from modelreg import Registry

    reg = Registry(path)
    reg.resolve(ref)
    samples = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(n):
            reg.resolve(ref)
        samples.append((time.perf_counter() - start) / n * 1e6)
    reg.close()
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", type=int, default=None)
    parser.add_argument("--versions", type=int, default=20)
    parser.add_argument("--runs", type=int, default=None)
    parser.add_argument("--big", action="store_true", help="5,000 models (100,000 versions), fewer check runs")
    parser.add_argument("--keep", type=Path, help="keep (and reuse) the generated registries in this folder")
    args = parser.parse_args()
    gen_registry.compile_package()
    args.models = args.models or (5000 if args.big else 500)
    args.runs = args.runs or (7 if args.big else 11)
    modelreg = [sys.executable, "-m", "modelreg"]
    exe = Path(sys.executable).with_name("modelreg")
    if exe.exists():
        modelreg = [str(exe)]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        home = args.keep or Path(tmp)
        big, small = home / f"reg-{args.models}x{args.versions}", home / f"reg-5x{args.versions}"
        gen_s = gen_registry.reuse_or_generate(big, args.models, args.versions)
        gen_registry.reuse_or_generate(small, 5, args.versions)
        total = args.models * args.versions
        size = f"{total:,} versions"
        if gen_s is not None:
            rows.append(("generate registry", size, gen_s, 60.0 if total <= 10_000 else None, None))
        blob = subprocess.run(["git", "rev-parse", "main:registry.yaml"], cwd=big, check=True, capture_output=True,
                              text=True).stdout.strip().encode() + b"\n"
        py = timed([sys.executable, "-c", "pass"], big, args.runs * 2)
        py_s = timed([sys.executable, "-S", "-c", "pass"], big, args.runs * 2)
        cat = timed(["git", "cat-file", "--batch"], big, args.runs * 2, stdin=blob)
        refs = timed(["git", "for-each-ref"], big, args.runs)
        fresh = timed(modelreg + ["resolve", "model-0042@production", "--json"], big, args.runs * 2)
        fresh_small = timed(modelreg + ["resolve", "model-0002@production", "--json"], small, args.runs * 2)
        rows.append(("baseline: python -c pass", "", py, None, None))
        rows.append(("baseline: python -S -c pass (no site-packages)", "", py_s, None, None))
        rows.append(("baseline: git cat-file --batch (one blob)", "", cat, None, None))
        rows.append(("baseline: git for-each-ref", "", refs, None, None))
        rows.append(("resolve NAME@production --json (fresh process)", size, fresh,
                     0.05 if total > 10_000 else 0.2, 2.33))
        rows.append(("resolve NAME@production --json (fresh process)", f"{5 * args.versions} versions",
                     fresh_small, None, None))
        warm = warm_resolve_us(big, "model-0042@production")
        warm_small = warm_resolve_us(small, "model-0002@production")
        rows.append(("Registry.resolve warm, in process", size, warm / 1e6, 1e-4, 1.25e-3))
        rows.append(("Registry.resolve warm, in process", f"{5 * args.versions} versions", warm_small / 1e6, 1e-4, None))
        check_runs = max(3, args.runs // 4)

        def forget_verdicts():  # the clone's first whole check: no schema pass remembered (store/verdicts.py)
            for path in (big / ".git" / "modelreg").glob("verdicts-*"):
                path.unlink()
        first = timed(modelreg + ["check", "--at", "main"], big, check_runs, before=forget_verdicts)
        full = timed(modelreg + ["check", "--at", "main"], big, check_runs)
        scoped = timed(modelreg + ["check", "--at", "promote", "--base", "main"], big, args.runs)
        policy = timed(modelreg + ["check", "--at", "policy", "--base", "main"], big, check_runs)
        rows.append(("check (whole registry), the clone's first", size, first, 30.0 if total > 10_000 else 4.0, None))
        rows.append(("check (whole registry), again (passes remembered)", size, full, 30.0 if total > 10_000 else 4.0,
                     None))
        rows.append(("check --base (one model changed)", size, scoped, 0.5, None))
        rows.append(("check --base (PR edits registry.yaml)", size, policy, full, None))
    print(f"{total:,} versions ({args.models} models); load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"{'operation':52} {'size':>16} {'median':>9} {'fastest':>9} {'target':>7} {'vs target':>9} {'vs MLflow':>11}")
    for name, size, seconds, target, mlflow in rows:
        ratio = f"{seconds / target:.2f}x" if target else ""
        versus = f"{mlflow / seconds:.0f}x faster" if mlflow else ""
        goal = "" if target is None else f"{target:.3g}"
        print(f"{name:52} {size:>16} {_shown(seconds):>9} {_shown(FASTEST.get(seconds, seconds)):>9} {goal:>7} "
              f"{ratio:>9} {versus:>11}")
    floor = py + cat
    print(f"\nfresh resolve {fresh * 1000:.0f} ms; its floor, python -c pass + git cat-file (same run): "
          f"{floor * 1000:.0f} ms; the gap {(fresh - floor) * 1000:.0f} ms (python -S -c pass: {py_s * 1000:.0f} ms); "
          f"size dependence {total:,}/{5 * args.versions} versions: fresh {fresh / fresh_small:.2f}x, "
          f"warm {warm / warm_small:.2f}x")
    print(f"check --base, PR edits registry.yaml / whole check (same run): {policy / full:.2f}x "
          "(target <= 1.00x); one-model PR minus interpreter start-up: "
          f"{(scoped - py) * 1000:.0f} ms")


def _shown(seconds: float) -> str:
    return f"{seconds * 1e6:.1f} us" if seconds < 1e-3 else f"{seconds * 1000:.0f} ms" if seconds < 10 else f"{seconds:.1f} s"


if __name__ == "__main__":
    os.environ.setdefault("DVC_NO_ANALYTICS", "1")
    main()
