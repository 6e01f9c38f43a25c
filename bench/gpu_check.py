"""One short GPU check (< 5 min): alias -> model on CUDA, against plain from_pretrained.

    python bench/gpu_check.py [--size-gb 0.85] [--repeat 3]

Builds a bf16 Llama of about SIZE GB and a LoRA adapter for it, registers both (local DVC
remote), then measures on cuda:
  cold  modelreg.load("big@production", device="cuda")  (fetch + verify into an empty cache)
  warm  the same after unload() (files cached; imports paid)
  plain AutoModelForCausalLM.from_pretrained(same folder, device_map="cuda")
peak GPU memory of each against the weights' size, host RSS, time to first forward,
tokens/s, adapter attach time (load of big-lora@production on a warm cache, and
PeftModel.from_pretrained on a base already on the GPU), merge_and_unload, and the bf16
logit agreement of adapter-on-base vs merged. Prints one table. On a machine without CUDA
it exits with status 2 and says so (--allow-cpu runs the same steps on CPU, for a smoke test).
"""
import argparse
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _models  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-gb", type=float, default=0.85)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--allow-cpu", action="store_true", help="smoke-test the script without a GPU")
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    import torch

    if not torch.cuda.is_available() and not args.allow_cpu:
        print("gpu_check: no CUDA GPU on this machine (torch.cuda.is_available() is False); "
              "run it on a GPU host, or pass --allow-cpu for a smoke test", file=sys.stderr)
        return 2
    device = "cuda" if torch.cuda.is_available() else "cpu"
    os.environ.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", DVC_NO_ANALYTICS="1")
    os.environ.update({k: v for k, v in _models.git_identity_env().items() if k.startswith("GIT_")})
    work = args.workdir or Path(tempfile.mkdtemp(prefix="modelreg-gpu-"))
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    os.environ["MODELREG_CACHE"] = str(work / "cache")
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    rows = []
    try:
        rows = run(args, work, device, torch)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"\ndevice {device}" + (f" ({torch.cuda.get_device_name(0)})" if device == "cuda" else ""))
    print(_models.table(rows, ["measure", "value", "note"]))
    return 0


def run(args, work, device, torch):
    from peft import LoraConfig, PeftModel, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    import modelreg

    src = _models.build_model(work / "src", args.size_gb)
    gb = _models.file_gb(src)
    base_cpu = AutoModelForCausalLM.from_pretrained(src, dtype=torch.bfloat16)
    torch.manual_seed(1)
    cfg = LoraConfig(r=16, lora_alpha=32, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    get_peft_model(base_cpu, cfg).save_pretrained(work / "adapter")
    del base_cpu
    reg = _models.register(work / "registry", {"base": src, "adapter": work / "adapter"})
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)

    def timed(fn):
        reset_peak(torch, device)
        t = time.perf_counter()
        out = fn()
        sync()
        return out, time.perf_counter() - t, peak_gb(torch, device)

    rows = []
    m, cold, cold_peak = timed(lambda: modelreg.load("big@production", registry=reg, device=device))
    folder = m.path
    ids = m.tokenizer("The registry keeps every model", return_tensors="pt").to(m.device)
    _, first_fwd, _ = timed(lambda: m.model(**ids))
    n = 32
    _, gen_s, _ = timed(lambda: m.model.generate(**ids, max_new_tokens=n, min_new_tokens=n, do_sample=False))
    del m
    modelreg.unload()
    warm, warm_peaks = [], []
    for _ in range(args.repeat):
        m, s, p = timed(lambda: modelreg.load("big@production", registry=reg, device=device))
        warm.append(s)
        warm_peaks.append(p)
        del m
        modelreg.unload()
    plain = []
    kw = {"device_map": device} if device == "cuda" else {}
    for _ in range(args.repeat):
        model, s, p_plain = timed(lambda: (AutoModelForCausalLM.from_pretrained(folder, dtype=torch.bfloat16, **kw),
                                           AutoTokenizer.from_pretrained(folder)))
        plain.append(s)
        del model
        empty(torch, device)
    rows += [["weights", f"{gb:.2f} GB", "bf16 safetensors"],
             ["cold load (alias -> model)", f"{cold:.2f} s", "empty cache: fetch + sha256 + load, imports"],
             ["warm load", f"{statistics.median(warm):.2f} s", f"median of {args.repeat}"],
             ["plain from_pretrained", f"{statistics.median(plain):.2f} s", f"device_map={device!r} + tokenizer, median"],
             ["warm / plain", f"{statistics.median(warm) / statistics.median(plain):.2f}x", ""],
             ["peak GPU memory, load", f"{max(warm_peaks + [cold_peak]):.2f} GB", f"weights {gb:.2f} GB"],
             ["peak GPU memory, plain", f"{p_plain:.2f} GB", ""],
             ["first forward", f"{first_fwd * 1000:.0f} ms", "after load (weights paged in)"],
             ["generate", f"{n / gen_s:.1f} tok/s", f"greedy, {n} tokens, batch 1"],
             ["host peak RSS", f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6:.2f} GB", "whole run"]]
    a, attach, _ = timed(lambda: modelreg.load("big-lora@production", registry=reg, device=device))
    base = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.bfloat16, **kw)
    _, peft_attach, _ = timed(lambda: PeftModel.from_pretrained(base, str(a.path)))
    with torch.no_grad():
        ids = a.tokenizer("The registry keeps every model", return_tensors="pt").to(a.device)
        with_adapter = a.model(**ids).logits.float()
        merged, merge_s, _ = timed(lambda: a.model.merge_and_unload())
        diff = (merged(**ids).logits.float() - with_adapter).abs().max().item()
    rows += [["adapter load (alias, warm base files)", f"{attach:.2f} s", "base + adapter"],
             ["adapter attach (PeftModel on GPU base)", f"{peft_attach * 1000:.0f} ms", ""],
             ["merge_and_unload", f"{merge_s * 1000:.0f} ms", ""],
             ["merged vs adapter logits", f"{diff:.3g}", "max abs diff, bf16"]]
    return rows


def reset_peak(torch, device):
    if device == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


def peak_gb(torch, device) -> float:
    return torch.cuda.max_memory_allocated() / 1e9 if device == "cuda" else 0.0


def empty(torch, device):
    import gc

    gc.collect()
    if device == "cuda":
        torch.cuda.empty_cache()


if __name__ == "__main__":
    sys.exit(main())
