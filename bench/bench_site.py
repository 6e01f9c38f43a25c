"""`modelreg site build` at 10,000 versions (issue 11: <= 30 s, index page <= 1 MB). Prints medians.

    python bench/bench_site.py [--models 500] [--versions 20] [--runs 3]

Each figure is a fresh `modelreg site build` process on the synthetic registry of
bench/gen_registry.py: a cold build into an empty folder, a rebuild of the same commit (every
page kept), and an incremental build of the `promote` branch (one model changed). The same-run
baseline is `modelreg check` on the same registry, which a build runs once inside.
"""
import argparse
import json
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


def run(cmd, cwd) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode not in (0, 1):  # check exits 1 when it finds problems; a crash is 3
        raise SystemExit(f"{' '.join(cmd)} failed ({done.returncode}): {done.stderr.strip()}")
    return seconds, done.stdout


def median_of(runs: int, step) -> float:
    return statistics.median(step() for _ in range(runs))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", type=int, default=500)
    parser.add_argument("--versions", type=int, default=20)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    exe = Path(sys.executable).with_name("modelreg")
    modelreg = [str(exe)] if exe.exists() else [sys.executable, "-m", "modelreg"]
    with tempfile.TemporaryDirectory() as tmp:
        reg, out = Path(tmp) / "reg", Path(tmp) / "site"
        gen_registry.generate(reg, args.models, args.versions)
        build = [*modelreg, "site", "build", "-o", str(out), "--json"]

        def cold():
            shutil.rmtree(out, ignore_errors=True)
            return run(build, reg)[0]

        check = median_of(args.runs, lambda: run([*modelreg, "check"], reg)[0])
        cold_s = median_of(args.runs, cold)
        same_s = median_of(args.runs, lambda: run(build, reg)[0])
        seconds, text = run([*build, "--at", "promote"], reg)
        incremental = json.loads(text)
        index_bytes = (out / "index.html").stat().st_size
        pages = sum(1 for p in out.rglob("*") if p.is_file())
        site_bytes = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    versions = args.models * args.versions
    rows = [
        ("baseline: `modelreg check`", f"{check:.1f} s", "", ""),
        ("`modelreg site build`, cold (empty folder)", f"{cold_s:.1f} s", "<= 30 s", f"{cold_s / check:.2f}x check"),
        ("rebuild, same commit (every page kept)", f"{same_s:.1f} s", "", f"{same_s / check:.2f}x check"),
        ("incremental: `--at promote` (one model changed)", f"{seconds:.1f} s", "",
         f"{incremental['written']} written, {incremental['kept']} kept"),
        ("index.html", f"{index_bytes / 1e6:.2f} MB", "<= 1 MB", ""),
        ("whole site", f"{site_bytes / 1e6:.0f} MB in {pages} files", "", ""),
    ]
    print(f"site build, {args.models} models x {args.versions} versions = {versions:,} versions "
          f"(medians of {args.runs})")
    width = max(len(r[0]) for r in rows)
    for name, value, target, note in rows:
        print(f"{name:<{width}}  {value:>22}  {target:>8}  {note}")


if __name__ == "__main__":
    main()
