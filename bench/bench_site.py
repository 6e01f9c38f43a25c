"""`modelreg site build` at 10,000 versions (issue 11: <= 30 s, index page <= 1 MB). Prints medians.

    python bench/bench_site.py [--models 500] [--versions 20] [--runs 3]
    python bench/bench_site.py --big [--keep /tmp/bench-registries]   # 100,000 versions, one run (issue 23)

Each figure is a fresh `modelreg site build` process on the synthetic registry of
bench/gen_registry.py: a cold build into an empty folder, a rebuild of the same commit (every
page kept), and an incremental build of the `promote` branch (one model changed). The same-run
baseline is `modelreg check` on the same registry, which a build runs once inside.
"""
import argparse
import json
import os
import resource
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


CPU = []  # CPU seconds (user + system) of every timed command, in order: robust to a busy machine


def run(cmd, cwd) -> tuple[float, str]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    CPU.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    if done.returncode not in (0, 1):  # check exits 1 when it finds problems; a crash is 3
        raise SystemExit(f"{' '.join(cmd)} failed ({done.returncode}): {done.stderr.strip()}")
    return seconds, done.stdout


def median_of(runs: int, step) -> tuple[float, float]:
    """(median wall seconds, median CPU seconds) of `runs` calls of step."""
    walls, cpus = [], []
    for _ in range(runs):
        walls.append(step())
        cpus.append(CPU[-1])
    return statistics.median(walls), statistics.median(cpus)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", type=int, default=None)
    parser.add_argument("--versions", type=int, default=20)
    parser.add_argument("--runs", type=int, default=None)
    parser.add_argument("--big", action="store_true", help="5,000 models (100,000 versions), one run")
    parser.add_argument("--keep", type=Path, help="keep (and reuse) the generated registry in this folder")
    args = parser.parse_args()
    gen_registry.compile_package()
    args.models = args.models or (5000 if args.big else 500)
    args.runs = args.runs or (1 if args.big else 3)
    exe = Path(sys.executable).with_name("modelreg")
    modelreg = [str(exe)] if exe.exists() else [sys.executable, "-m", "modelreg"]
    with tempfile.TemporaryDirectory() as tmp:
        reg, out = (args.keep or Path(tmp)) / f"reg-{args.models}x{args.versions}", Path(tmp) / "site"
        gen_registry.reuse_or_generate(reg, args.models, args.versions)
        build = [*modelreg, "site", "build", "-o", str(out), "--json"]

        def cold():
            shutil.rmtree(out, ignore_errors=True)
            return run(build, reg)[0]

        check, check_cpu = median_of(args.runs, lambda: run([*modelreg, "check"], reg)[0])
        cold_s, cold_cpu = median_of(args.runs, cold)
        same_s, same_cpu = median_of(args.runs, lambda: run(build, reg)[0])
        outputs = []

        def incremental_step():
            run(build, reg)  # back to main (untimed), then one model changes
            seconds, text = run([*build, "--at", "promote"], reg)
            outputs.append(json.loads(text))
            return seconds

        seconds, incr_cpu = median_of(args.runs, incremental_step)
        incremental = outputs[-1]
        index_bytes = (out / "index.html").stat().st_size
        pages = sum(1 for p in out.rglob("*") if p.is_file())
        site_bytes = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    versions = args.models * args.versions
    rows = [
        ("baseline: `modelreg check`", f"{check:.1f} s", f"{check_cpu:.1f} s", "", ""),
        ("`modelreg site build`, cold (empty folder)", f"{cold_s:.1f} s", f"{cold_cpu:.1f} s", "<= 30 s",
         f"{cold_s / check:.2f}x check"),
        ("rebuild, same commit (every page kept)", f"{same_s:.2f} s", f"{same_cpu:.2f} s", "", ""),
        ("incremental: `--at promote` (one model changed)", f"{seconds:.1f} s", f"{incr_cpu:.1f} s", "",
         f"{incremental['written']} written, {incremental['kept']} kept"),
        ("index.html", f"{index_bytes / 1e6:.2f} MB", "", "<= 1 MB", ""),
        ("whole site", f"{site_bytes / 1e6:.0f} MB", "", "", f"{pages} files"),
    ]
    print(f"site build, {args.models} models x {args.versions} versions = {versions:,} versions "
          f"(medians of {args.runs}; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")
    print(f"{'what':<48}  {'wall':>8}  {'CPU':>8}  {'target':>8}  note")
    for name, value, cpu, target, note in rows:
        print(f"{name:<48}  {value:>8}  {cpu:>8}  {target:>8}  {note}")


if __name__ == "__main__":
    main()
