"""What the registry's clock costs: `--as-of` (clock.commit_before) against the walk it replaced
(`git rev-list -1 --first-parent --before=T`), on a main with N first-parent commits, every
tenth one observed by the tag workflow (a git note). Medians of R runs, cold (a new GitStore:
what a CLI call pays) and warm (the same GitStore: a long-lived process).

    python bench/bench_clock.py --commits 10000 --repeat 7
"""
import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tool"))

from modelreg.core.clock import NOTES_REF, commit_before  # noqa: E402
from modelreg.store.gitstore import GitStore  # noqa: E402


def make_history(root: Path, commits: int) -> None:
    """N commits on main through fast-import (one a minute from 2020-01-01), notes on every tenth."""
    subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True)
    start, lines = 1577836800, []
    for i in range(commits):
        when = start + 60 * i
        lines += [f"commit refs/heads/main", f"mark :{i + 1}",
                  f"committer Bench <bench@example.com> {when} +0000", "data 4", f"c{i:03d}"[:4]]
        lines += [f"M 644 inline f", "data 4", f"{i % 1000:04d}", ""]
    for i in range(0, commits, 10):
        text = f"Modelreg-Observed: {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(start + 60 * i + 30))}\n"
        lines += [f"commit {NOTES_REF}", f"committer Bench <bench@example.com> {start} +0000", "data 4", "note",
                  f"N inline :{i + 1}", f"data {len(text)}", text, ""]
    subprocess.run(["git", "fast-import", "--quiet"], cwd=root, input="\n".join(lines) + "\n", text=True, check=True)


def median(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--commits", type=int, default=10000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "repo"
        make_history(root, args.commits)
        when = "2020-01-02T00:00:00Z"
        old = median(lambda: subprocess.run(["git", "rev-list", "-1", "--first-parent", f"--before={when}", "main"],
                                            cwd=root, capture_output=True, check=True), args.repeat)
        cold = median(lambda: commit_before(GitStore(root), "main", when), args.repeat)
        warm_store = GitStore(root)
        commit_before(warm_store, "main", when)
        warm = median(lambda: commit_before(warm_store, "main", when), args.repeat)
    print(f"{args.commits} commits on main, median of {args.repeat}")
    print(f"| rev-list --before (old walk, a new git process) | {old * 1000:.1f} ms |")
    print(f"| clock.commit_before, cold (new GitStore)        | {cold * 1000:.1f} ms | {cold / old:.1f}x |")
    print(f"| clock.commit_before, warm (same GitStore)       | {warm * 1000:.1f} ms | {warm / old:.2f}x |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
