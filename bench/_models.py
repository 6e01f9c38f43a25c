"""Shared by the loading benchmarks: a bf16 Llama of a chosen size, and a registry holding it."""
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def llama_config(size_gb: float):
    """A Llama config whose bf16 weights take about `size_gb` GB (hidden 1024..2048)."""
    from transformers import LlamaConfig

    hidden = 2048 if size_gb >= 0.4 else 1024
    inter, vocab = int(hidden * 2.75), 32000
    per_layer = 4 * hidden * hidden + 3 * hidden * inter
    embed = 2 * vocab * hidden
    layers = max(1, round((size_gb * 1e9 / 2 - embed) / per_layer))
    return LlamaConfig(hidden_size=hidden, intermediate_size=inter, num_hidden_layers=layers,
                       num_attention_heads=hidden // 64, num_key_value_heads=hidden // 64, vocab_size=vocab,
                       max_position_embeddings=2048, tie_word_embeddings=False, dtype="bfloat16",
                       bos_token_id=0, eos_token_id=1, pad_token_id=2)


def build_model(dest: Path, size_gb: float) -> Path:
    """Random bf16 weights written tensor by tensor (no fp32 copy of the whole model)."""
    import torch
    from safetensors.torch import save_file
    from transformers import AutoModelForCausalLM

    dest.mkdir(parents=True, exist_ok=True)
    config = llama_config(size_gb)
    with torch.device("meta"):
        shapes = {k: v.shape for k, v in AutoModelForCausalLM.from_config(config).state_dict().items()}
    gen = torch.Generator().manual_seed(0)
    tensors = {k: (torch.randn(s, generator=gen) * 0.02).to(torch.bfloat16) for k, s in shapes.items()}
    save_file(tensors, str(dest / "model.safetensors"), metadata={"format": "pt"})
    config.save_pretrained(dest)
    sys.path.insert(0, str(ROOT / "scripts"))
    from make_tiny_model import build_tokenizer

    build_tokenizer(dest)
    return dest


def register(reg_dir: Path, folders: dict[str, Path]) -> Path:
    """A fresh registry with `big` (base) and optionally `big-lora` (adapter), both in production."""
    from modelreg.registry import Registry, init_registry

    init_registry(reg_dir, remote=str(reg_dir.parent / "dvc-remote"))
    reg = Registry(reg_dir)
    reg.register_model("big", "base_model")
    reg.create_version("big", folders["base"])
    _promote(reg, "big")
    if "adapter" in folders:
        reg.register_model("big-lora", "adapter")
        reg.create_version("big-lora", folders["adapter"], parent="big@1")
        _promote(reg, "big-lora")
    reg.close()
    return reg_dir


def _promote(reg, model):
    reg.transition_stage(model, 1, "staging")
    reg.transition_stage(model, 1, "production")


def git_identity_env() -> dict:
    import os

    env = dict(os.environ)
    for k, v in [("GIT_AUTHOR_NAME", "bench"), ("GIT_AUTHOR_EMAIL", "bench@example.com"),
                 ("GIT_COMMITTER_NAME", "bench"), ("GIT_COMMITTER_EMAIL", "bench@example.com")]:
        env.setdefault(k, v)
    return env


def import_time(repeat: int = 5) -> list[float]:
    code = "import time; t = time.perf_counter(); import modelreg; print(time.perf_counter() - t)"
    return [float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                 check=True).stdout) for _ in range(repeat)]


def table(rows, headers) -> str:
    cells = [headers] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in cells)


def file_gb(folder: Path) -> float:
    return sum(p.stat().st_size for p in Path(folder).rglob("*") if p.is_file()) / 1e9


def dump(path: Path, data) -> None:
    path.write_text(json.dumps(data, indent=2))
