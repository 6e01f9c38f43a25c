"""Registry read/check speed at 10,000 versions, with same-run baselines. Prints medians.

    python bench/bench_registry.py [--models 500] [--versions 20] [--runs 11]

Baselines measured in the same run: `python -c pass` (the interpreter's own start-up, the
floor for any fresh-process CLI) and `git for-each-ref` / `git cat-file` (the floor for a
Git-native read). Targets come from issues 2 and 8 (whole check <= 4 s, one-model PR <= 0.5 s, a PR that
edits registry.yaml no slower than the whole check); competitor figures from
shared/reference/ANCHORS.md.
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


def timed(cmd, cwd, runs) -> float:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, cwd=cwd, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


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
    parser.add_argument("--models", type=int, default=500)
    parser.add_argument("--versions", type=int, default=20)
    parser.add_argument("--runs", type=int, default=11)
    args = parser.parse_args()
    modelreg = [sys.executable, "-m", "modelreg"]
    exe = Path(sys.executable).with_name("modelreg")
    if exe.exists():
        modelreg = [str(exe)]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        big, small = Path(tmp, "big"), Path(tmp, "small")
        gen_s = gen_registry.generate(big, args.models, args.versions)
        gen_registry.generate(small, 5, args.versions)
        total = args.models * args.versions
        rows.append(("generate registry", f"{total} versions", gen_s, 60.0, None))
        py = timed([sys.executable, "-c", "pass"], big, args.runs)
        refs = timed(["git", "for-each-ref"], big, args.runs)
        fresh = timed(modelreg + ["resolve", "model-0042@production", "--json"], big, args.runs)
        fresh_small = timed(modelreg + ["resolve", "model-0002@production", "--json"], small, args.runs)
        rows.append(("baseline: python -c pass", "", py, None, None))
        rows.append(("baseline: git for-each-ref", "", refs, None, None))
        rows.append(("resolve NAME@production --json (fresh process)", f"{total} versions", fresh, 0.2, 2.33))
        rows.append(("resolve NAME@production --json (fresh process)", f"{5 * args.versions} versions",
                     fresh_small, 0.2, None))
        warm = warm_resolve_us(big, "model-0042@production")
        warm_small = warm_resolve_us(small, "model-0002@production")
        rows.append(("Registry.resolve warm, in process", f"{total} versions", warm / 1e6, 1e-4, 1.25e-3))
        rows.append(("Registry.resolve warm, in process", f"{5 * args.versions} versions", warm_small / 1e6, 1e-4, None))
        check_runs = max(3, args.runs // 4)
        full = timed(modelreg + ["check", "--at", "main"], big, check_runs)
        scoped = timed(modelreg + ["check", "--at", "promote", "--base", "main"], big, args.runs)
        policy = timed(modelreg + ["check", "--at", "policy", "--base", "main"], big, check_runs)
        rows.append(("check (whole registry)", f"{total} versions", full, 4.0, None))
        rows.append(("check --base (one model changed)", f"{total} versions", scoped, 0.5, None))
        rows.append(("check --base (PR edits registry.yaml)", f"{total} versions", policy, full, None))
    print(f"{'operation':52} {'size':>16} {'median':>11} {'target':>9} {'vs target':>9} {'vs MLflow':>9}")
    for name, size, seconds, target, mlflow in rows:
        shown = f"{seconds * 1e6:.1f} us" if seconds < 1e-3 else f"{seconds * 1000:.0f} ms" if seconds < 10 else f"{seconds:.1f} s"
        ratio = f"{seconds / target:.2f}x" if target else ""
        versus = f"{mlflow / seconds:.0f}x faster" if mlflow else ""
        goal = "" if target is None else f"{target:.3g}"
        print(f"{name:52} {size:>16} {shown:>11} {goal:>9} {ratio:>9} {versus:>9}")
    print(f"\nfresh-process resolve minus interpreter start-up: {(fresh - py) * 1000:.0f} ms; "
          f"size dependence 10k/100 versions: fresh {fresh / fresh_small:.2f}x, warm {warm / warm_small:.2f}x")
    print(f"check --base, PR edits registry.yaml / whole check (same run): {policy / full:.2f}x "
          "(target <= 1.00x); one-model PR minus interpreter start-up: "
          f"{(scoped - py) * 1000:.0f} ms")


if __name__ == "__main__":
    os.environ.setdefault("DVC_NO_ANALYTICS", "1")
    main()
