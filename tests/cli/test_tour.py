"""The README tour is one runnable script (issue 14 item 12): the suite runs it end to end,
and README.md shows exactly its lines, so neither can drift from what works."""
import os
import stat
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TOUR = ROOT / "scripts" / "tour.sh"
START, END = "# --- tour ---\n", "# --- end of tour ---\n"


def tour_lines() -> str:
    text = TOUR.read_text()
    return text[text.index(START) + len(START):text.index(END)]


def test_readme_shows_the_tour_script_verbatim():
    """issue 14 item 12: the README's tour block is the script's tour, line for line."""
    readme = (ROOT / "README.md").read_text()
    assert f"```sh\n{tour_lines()}```" in readme
    assert "scripts/tour.sh" in readme


def test_tour_script_runs_end_to_end(tmp_path):
    """issue 14 item 12: every name the tour uses (llama-base, support-lora, v1.4.0,
    origin/main) is created by the tour itself; it runs from an empty folder."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "modelreg"  # this interpreter's modelreg (the checkout under test)
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m modelreg "$@"\n')
    shim.chmod(shim.stat().st_mode | stat.S_IEXEC)
    env = dict(os.environ, PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    ran = subprocess.run(["bash", str(TOUR), str(tmp_path / "tour")], env=env, capture_output=True,
                         text=True, timeout=600)
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
    assert f"tour ok: {tmp_path / 'tour'}" in ran.stdout
    assert "warning: llama-ft@2 is deleted" in ran.stderr
    assert (tmp_path / "tour" / "llama-ft-README.md").exists()
    # issue 20: metadata, queries, diff and retention, as the README shows them
    assert "llama-ft@1 0.61\n" in ran.stdout  # best: the deleted @2 (0.66) never wins
    assert "mmlu/accuracy  0.61  0.66  +0.05" in ran.stdout  # diff
    assert "Deprecated model llama-base (moving to Llama 3)" in ran.stdout
    assert "keep  llama-ft@2 (deleted)" in ran.stdout and "nothing to delete" in ran.stdout + ran.stderr
