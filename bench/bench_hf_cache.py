"""`pull --hf-cache` (issue 10): what laying a version out in the Hugging Face cache costs.

A version of --mb megabytes (two safetensors shards + config) in a local-folder remote is
pulled once (the modelreg cache is then warm); then, in the same run:
  - warm `pull -o DIR` (hard links into a folder)                     the baseline
  - `pull --hf-cache` into a fresh HF_HOME each rep (blobs, snapshot, refs)
  - the extra disk the HF cache takes (blocks allocated under HF_HOME)
Prints medians and the ratio against the baseline.

Run: .venv/bin/python bench/bench_hf_cache.py [--mb 500] [--reps 5]
"""
import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tool"))

MB = 1 << 20


def make_weights(folder: Path, mb: int) -> Path:
    folder.mkdir(parents=True)
    chunk = os.urandom(MB)
    for shard in (1, 2):
        with open(folder / f"model-0000{shard}-of-00002.safetensors", "wb") as fh:
            for _ in range(mb // 2):
                fh.write(chunk)
    (folder / "config.json").write_text('{"model_type": "llama"}\n')
    return folder


def disk_bytes(root: Path) -> int:
    """Blocks only this tree holds: a file hard-linked from elsewhere (nlink > 1) costs nothing."""
    total = 0
    for p in root.rglob("*"):
        st = p.lstat()
        if p.is_symlink() or p.is_dir() or st.st_nlink == 1:
            total += st.st_blocks * 512
    return total


def median_of(fn, reps: int) -> float:
    times = []
    for i in range(reps):
        start = time.perf_counter()
        fn(i)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=int, default=500)
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-hf-"))
    os.environ.update(MODELREG_CACHE=str(work / "cache"), DVC_NO_ANALYTICS="1")
    try:
        from modelreg.interop.hf_cache import pull_to_hf_cache
        from modelreg.registry import Registry, init_registry

        init_registry(work / "reg", remote=str(work / "remote"))
        reg = Registry(work / "reg")
        reg.register_model("big", "base_model")
        reg.create_version("big", make_weights(work / "src", args.mb))
        reg.pull("big@1")  # the modelreg cache is warm from here on
        folder = median_of(lambda i: reg.pull("big@1", dest=work / f"out{i}"), args.reps)
        hf = median_of(lambda i: pull_to_hf_cache(reg, "big@1", hf_home=work / f"hf{i}"), args.reps)
        extra = disk_bytes(work / "hf0")
        print(f"version: {args.mb} MB, {args.reps} reps, warm modelreg cache")
        print(f"pull -o DIR (baseline)   median {folder * 1000:8.1f} ms")
        print(f"pull --hf-cache          median {hf * 1000:8.1f} ms   ratio {hf / folder:.2f}x")
        print(f"disk taken by one HF cache: {extra / MB:.2f} MB (blobs are hard links into modelreg's cache)")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
