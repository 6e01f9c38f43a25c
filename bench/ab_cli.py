"""A/B: the read and check commands of an older modelreg tree against this one, on one registry.

    git worktree add /tmp/old OLD_COMMIT          # or: git archive OLD_COMMIT tool schemas | tar -x -C /tmp/old
    python bench/ab_cli.py /tmp/old/tool [--runs 5] [--models 500] [--versions 20]

Both trees run as fresh `python -m modelreg` processes (PYTHONPATH picks the tree), alternating
which goes first, on the same synthetic registry (bench/gen_registry.py). Prints medians, the
new/old ratio, and whether both printed the same output: a refactor should show ~1.00x and
"same" everywhere (the site build compares the list of files written).
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
CASES = {
    "resolve NAME@production": ["resolve", "model-0042@production", "--json"],
    "lineage": ["lineage", "model-0042@1", "--json"],
    "check (whole registry)": ["check", "--at", "main"],
    "check --base (one model)": ["check", "--at", "promote", "--base", "main"],
    "check --base (registry.yaml)": ["check", "--at", "policy", "--base", "main"],
    "history -n 50": ["history", "-n", "50", "--json"],
    "history MODEL": ["history", "model-0042", "--json"],
    "site build (cold)": ["site", "build", "-o", "{out}", "--json"],
}


def run(tree: str, args: list[str], cwd: Path) -> tuple[float, str]:
    env = {**os.environ, "PYTHONPATH": tree, "DVC_NO_ANALYTICS": "1"}
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "modelreg", *args], cwd=cwd, env=env, capture_output=True, text=True)
    return time.perf_counter() - start, f"{proc.returncode}\n{proc.stdout}"


def site_files(folder: Path) -> str:
    return "\n".join(sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*")))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("old", help="the older tree's tool/ folder")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--models", type=int, default=500)
    parser.add_argument("--versions", type=int, default=20)
    opts = parser.parse_args()
    trees = {"old": str(Path(opts.old).resolve()), "new": str(HERE.parent / "tool")}
    sys.path.insert(0, str(HERE))
    import gen_registry

    work = Path(tempfile.mkdtemp(prefix="ab-cli-"))
    registry = work / "registry"
    gen_registry.generate(registry, opts.models, opts.versions)
    times = {(case, tree): [] for case in CASES for tree in trees}
    outputs = {}
    for i in range(opts.runs):
        for case, args in CASES.items():
            for tree in (list(trees) if i % 2 == 0 else list(trees)[::-1]):
                out = work / f"site-{tree}-{i}"
                seconds, printed = run(trees[tree], [a.format(out=out) for a in args], registry)
                if case.startswith("site"):
                    printed = site_files(out)
                times[(case, tree)].append(seconds)
                outputs.setdefault((case, tree), printed)
    print(f"{'command':32} {'old':>9} {'new':>9} {'new/old':>8}  output")
    for case in CASES:
        old, new = (statistics.median(times[(case, t)]) for t in ("old", "new"))
        same = "same" if outputs[(case, "old")] == outputs[(case, "new")] else "DIFFERS"
        print(f"{case:32} {old * 1000:7.0f}ms {new * 1000:7.0f}ms {new / old:7.2f}x  {same}")


if __name__ == "__main__":
    main()
