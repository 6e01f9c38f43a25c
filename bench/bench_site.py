"""`modelreg site build` at 10,000 versions (issue 11: <= 30 s, index page <= 1 MB). Prints medians.

    python bench/bench_site.py [--models 500] [--versions 20] [--runs 3]
    python bench/bench_site.py --big [--keep /tmp/bench-registries]   # 100,000 versions (issue 23)

Each figure is a fresh `modelreg site build` process on the synthetic registry of
bench/gen_registry.py: a cold build into an empty folder, a rebuild of the same commit (every
page kept), and incremental builds after one PR each (issue 23: <= 5 s at 100,000 versions):
a branch `bench-pr` starts at main, and each run commits one more PR on it (a model's staging
version promoted to production, its aliases moved, as the `promote` branch does) and builds it.
The same-run baseline is `modelreg check` on the same registry, which a full build runs once
inside. `--big` runs the cold build and the check once, the incremental build `--incremental-runs`
times (default 5); medians, fastest in brackets.
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
from modelreg.core import layout  # noqa: E402


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


def median_of(runs: int, step, fastest: list | None = None) -> tuple[float, float]:
    """(median wall seconds, median CPU seconds) of `runs` calls of step (the fastest wall is
    appended to `fastest` when given)."""
    walls, cpus = [], []
    for _ in range(runs):
        walls.append(step())
        cpus.append(CPU[-1])
    if fastest is not None:
        fastest.append(min(walls))
    return statistics.median(walls), statistics.median(cpus)


def commit_pr(reg: Path, branch: str, number: int, versions: int) -> None:
    """One more commit on `branch`: model-NNNN's staging version to production, the production
    one archived, the aliases moved (what `modelreg promote` merges)."""
    name = f"model-{number:04d}"
    files = {}
    for n, old, new in ((versions, b"stage: staging", b"stage: production"),
                        (versions - 1, b"stage: production", b"stage: archived")):
        path = layout.version_file(name, n)
        files[path] = subprocess.run(["git", "show", f"{branch}:{path}"], cwd=reg, check=True,
                                     capture_output=True).stdout.replace(old, new)
    path = layout.aliases_file(name)
    files[path] = subprocess.run(["git", "show", f"{branch}:{path}"], cwd=reg, check=True,
                                 capture_output=True).stdout.replace(f"production: {versions - 1}".encode(),
                                                                     f"production: {versions}".encode())
    message = f"Merge pull request #{number} from acme/promote-{name}".encode()
    stream = (f"commit refs/heads/{branch}\ncommitter Bench Bot <bench@example.com> {1793000000 + number} +0000\n"
              f"data {len(message)}\n").encode() + message + f"\nfrom refs/heads/{branch}^0\n".encode()
    for path, data in files.items():
        stream += f"M 100644 inline {path}\ndata {len(data)}\n".encode() + data + b"\n"
    subprocess.run(["git", "fast-import", "--quiet", "--force"], cwd=reg, input=stream, check=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", type=int, default=None)
    parser.add_argument("--versions", type=int, default=20)
    parser.add_argument("--runs", type=int, default=None)
    parser.add_argument("--big", action="store_true", help="5,000 models (100,000 versions), one run")
    parser.add_argument("--keep", type=Path, help="keep (and reuse) the generated registry in this folder")
    parser.add_argument("--incremental-runs", type=int, default=None, help="incremental builds (default: 5, or --runs)")
    args = parser.parse_args()
    gen_registry.compile_package()
    args.models = args.models or (5000 if args.big else 500)
    args.runs = args.runs or (1 if args.big else 3)
    args.incremental_runs = args.incremental_runs or max(args.runs, 5)
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
        outputs, fastest = [], []
        subprocess.run(["git", "branch", "-f", "bench-pr", "main"], cwd=reg, check=True)
        run([*build, "--at", "bench-pr"], reg)  # the same commit as main: nothing to do

        def incremental_step():
            commit_pr(reg, "bench-pr", len(outputs) + 1, args.versions)  # untimed: the PR merges
            seconds, text = run([*build, "--at", "bench-pr"], reg)
            outputs.append(json.loads(text))
            return seconds

        seconds, incr_cpu = median_of(args.incremental_runs, incremental_step, fastest)
        incremental = outputs[-1]
        if any(o["mode"] != "incremental" for o in outputs):
            raise SystemExit(f"a rebuild after one PR was not incremental: {outputs}")
        index_bytes = (out / "index.html").stat().st_size
        pages = sum(1 for p in out.rglob("*") if p.is_file())
        site_bytes = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    versions = args.models * args.versions
    rows = [
        ("baseline: `modelreg check`", f"{check:.1f} s", f"{check_cpu:.1f} s", "", ""),
        ("`modelreg site build`, cold (empty folder)", f"{cold_s:.1f} s", f"{cold_cpu:.1f} s", "<= 30 s",
         f"{cold_s / check:.2f}x check"),
        ("rebuild, same commit (every page kept)", f"{same_s:.2f} s", f"{same_cpu:.2f} s", "", ""),
        (f"incremental: one PR (median of {args.incremental_runs})", f"{seconds:.2f} s", f"{incr_cpu:.2f} s",
         "<= 5 s", f"fastest {fastest[0]:.2f} s; {incremental['written']} written, {incremental['kept']} kept"),
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
