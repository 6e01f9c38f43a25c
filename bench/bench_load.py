"""load() to CPU vs plain from_pretrained on the same folder, with the weights already cached.

    python bench/bench_load.py [--size-gb 0.85] [--repeat 5] [--workdir .bench/load]

Builds a bf16 Llama of about SIZE GB locally (random weights), registers it, loads it once
(cold: fetch + verify into the cache), then alternates in one process, imports already paid:
  modelreg.load("big@production", device="cpu") + unload()
  AutoModelForCausalLM.from_pretrained(folder, dtype=bfloat16) + AutoTokenizer.from_pretrained(folder)
and prints medians and their ratio (the issue's target: <= 1.1x), plus `import modelreg` time.
"""
import argparse
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _models  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-gb", type=float, default=0.85)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--workdir", type=Path, default=_models.ROOT / ".bench" / "load")
    args = parser.parse_args()
    os.environ.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", DVC_NO_ANALYTICS="1")
    os.environ.update({k: v for k, v in _models.git_identity_env().items() if k.startswith("GIT_")})
    work = args.workdir
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    os.environ["MODELREG_CACHE"] = str(work / "cache")

    t = time.perf_counter()
    src = _models.build_model(work / "src", args.size_gb)
    print(f"built {_models.file_gb(src):.2f} GB bf16 model in {time.perf_counter() - t:.1f}s", flush=True)
    t = time.perf_counter()
    reg_dir = _models.register(work / "registry", {"base": src})
    print(f"registered (hash, dvc add, push) in {time.perf_counter() - t:.1f}s", flush=True)

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # for both sides: bars cost time and clutter the table

    import modelreg

    t = time.perf_counter()
    first = modelreg.load("big@production", registry=reg_dir, device="cpu")
    folder = first.path
    print(f"cold load (fetch + verify into the cache, imports) {time.perf_counter() - t:.2f}s", flush=True)
    modelreg.unload()
    del first

    ours, plain = [], []
    for _ in range(args.repeat):
        t = time.perf_counter()
        m = modelreg.load("big@production", registry=reg_dir, device="cpu")
        ours.append(time.perf_counter() - t)
        del m
        modelreg.unload()
        t = time.perf_counter()
        model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.bfloat16)
        tok = AutoTokenizer.from_pretrained(folder)
        plain.append(time.perf_counter() - t)
        del model, tok
    imports = _models.import_time()
    missing = missing_alias_time(reg_dir)
    mo, mp = statistics.median(ours), statistics.median(plain)
    rows = [["modelreg.load (warm cache)", f"{mo:.3f}", f"{min(ours):.3f}"],
            ["from_pretrained + tokenizer", f"{mp:.3f}", f"{min(plain):.3f}"],
            ["ratio load / from_pretrained", f"{mo / mp:.2f}x", ""],
            ["import modelreg", f"{statistics.median(imports):.3f}", f"{min(imports):.3f}"],
            ["load of a missing alias, new process (target <= 0.15)", f"{statistics.median(missing):.3f}",
             f"{min(missing):.3f}"]]
    print(f"\nweights {_models.file_gb(folder):.2f} GB bf16, CPU, {args.repeat} runs each, seconds")
    print(_models.table(rows, ["what", "median", "min"]))
    _models.dump(work / "result.json", {"load": ours, "from_pretrained": plain, "import": imports,
                                        "missing_alias": missing, "size_gb": _models.file_gb(folder)})
    return 0


def missing_alias_time(reg_dir, repeat: int = 5) -> list[float]:
    """Seconds from a fresh interpreter's start to NotFound for an alias that does not exist
    (the interpreter's own start-up, ~20 ms, included)."""
    import subprocess

    code = ("import time, sys; t = time.perf_counter(); import modelreg\n"
            f"try:\n    modelreg.load('big@nowhere', registry={str(reg_dir)!r})\n"
            "except modelreg.core.errors.NotFound:\n    print(time.perf_counter() - t, 'torch' in sys.modules)\n")
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        line = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
        assert line.split()[1] == "False", "torch was imported before NotFound"
        out.append(time.perf_counter() - t)
    return out


if __name__ == "__main__":
    sys.exit(main())
