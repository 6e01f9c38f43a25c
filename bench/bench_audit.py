"""What `modelreg audit` and the approval records cost (issue 22).

A registry with one model whose production moves P times (two versions taking turns, one
commit each, an hour apart), every move observed by the tag workflow with an approval record
(PR, author, merger, two approvals) in its note. Medians of R fresh processes, alternating:
- baseline: `history MODEL --json` with the notes holding observations only;
- `history MODEL --json` with the approval records (what reading them adds);
- `audit --json` and `audit --csv` over the whole window (every move re-checked: gates, signature).

    python bench/bench_audit.py --moves 200 --repeat 5
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

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tool"))

from modelreg import Registry  # noqa: E402
from modelreg.core.clock import NOTES_REF, iso  # noqa: E402
from modelreg.promotion.releases import observe_main  # noqa: E402
from modelreg.registry import init_registry  # noqa: E402

START = 1767225600  # 2026-01-01T00:00:00Z
RECORD = ("Modelreg-PR: {n}\nModelreg-PR-Author: alice\nModelreg-Merged-By: maintainer\n"
          "Modelreg-Approval: lead 2026-01-01T00:00:00Z production/1=@org/ml-leads\n"
          "Modelreg-Approval: tester 2026-01-01T00:00:00Z production/2=@org/qa\n")


def at(hour: int) -> None:
    stamp = iso(START + 3600 * hour)
    os.environ["GIT_AUTHOR_DATE"] = os.environ["GIT_COMMITTER_DATE"] = stamp


def build(root: Path, moves: int) -> Path:
    at(0)
    path = root / "reg"
    init_registry(path, remote=str(root / "remote"))
    reg = Registry(path)
    reg.register_model("m", "base_model")
    for seed in (1, 2):
        folder = root / f"w{seed}"
        folder.mkdir()
        (folder / "model.safetensors").write_bytes(bytes([seed]) * 4096)
        reg.create_version("m", folder, metrics=[{"benchmark": "mmlu", "metric": "accuracy", "value": 0.6 + seed / 100}])
        reg.transition_stage("m", seed, "staging")
    counter = {"n": 0}

    def record(_sha):
        counter["n"] += 1
        return RECORD.format(n=counter["n"])
    for hour in range(1, moves + 1):
        at(hour)
        reg.transition_stage("m", 1 + hour % 2, "production")
        observe_main(reg.worktree, now=iso(START + 3600 * hour + 1800), record=record)
    reg.close()
    return path


def strip_records(path: Path) -> None:
    """Keep each note's observation, drop its record: the baseline's notes."""
    out = subprocess.run(["git", "notes", f"--ref={NOTES_REF}", "list"], cwd=path, capture_output=True,
                         text=True, check=True).stdout
    for line in out.splitlines():
        commit = line.split()[1]
        note = subprocess.run(["git", "notes", f"--ref={NOTES_REF}", "show", commit], cwd=path, capture_output=True,
                              text=True, check=True).stdout
        kept = "".join(n + "\n" for n in note.splitlines() if n.startswith(("Modelreg-Observed", "Modelreg-Branch")))
        subprocess.run(["git", "notes", f"--ref={NOTES_REF}", "add", "-f", "-m", kept, commit], cwd=path, check=True,
                       capture_output=True)


def medians(runs: list[tuple[list[str], Path]], repeat: int) -> list[float]:
    """Median wall time of each (args, registry) in fresh processes, the runs alternating."""
    times = [[] for _ in runs]
    for _ in range(repeat):
        for i, (args, path) in enumerate(runs):
            began = time.perf_counter()
            subprocess.run([sys.executable, "-m", "modelreg", "-C", str(path), *args], check=True,
                           stdout=subprocess.DEVNULL)
            times[i].append(time.perf_counter() - began)
    return [statistics.median(t) for t in times]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--moves", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        began = time.perf_counter()
        path = build(Path(tmp), args.moves)
        print(f"built {args.moves} observed moves in {time.perf_counter() - began:.1f}s")
        bare = Path(tmp) / "bare"
        shutil.copytree(path, bare, symlinks=True)
        strip_records(bare)
        window = ["--from", "2025-12-31", "--to", "2027-01-01"]
        history = ["history", "m", "--json", "-n", str(args.moves + 20)]
        names = ["baseline: history m --json (notes without records)", "history m --json (with approval records)",
                 "audit --json (whole window)", "audit --csv (whole window)"]
        found = medians([(history, bare), (history, path), (["audit", *window, "--json"], path),
                         (["audit", *window, "--csv"], path)], args.repeat)
        print(f"| operation ({args.moves} production moves) | median | vs baseline |\n| --- | --- | --- |")
        for name, value in zip(names, found):
            print(f"| {name} | {value * 1000:.0f} ms | {value / found[0]:.2f}x |")

if __name__ == "__main__":
    main()
