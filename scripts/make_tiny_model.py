"""Build tiny, real transformers/peft model folders offline (tests, demo, benchmarks).

    python scripts/make_tiny_model.py DEST [--kind base|adapter|...]

Every folder is what a training job would hand to `modelreg version create`: a byte-level
BPE tokenizer, a 2-layer Llama (hidden 64, vocab ~400) in safetensors, and variants: a LoRA
adapter that really changes the logits (init_lora_weights=False), a fine-tuned and a
distilled model, the adapter merged into the base, a pickle-only folder, and one whose
config.json carries auto_map (custom code that must never run).
"""
import argparse
import json
import shutil
import sys
from pathlib import Path

SENTENCES = [
    "The registry keeps every model version in git.",
    "An alias such as production points at one version.",
    "Adapters are loaded on their registered base model.",
    "Weights live in a remote and are verified by sha256.",
    "A serving host follows the alias when a promotion merges.",
    "hello world, the quick brown fox jumps over the lazy dog 0123456789",
] * 4


def build_tokenizer(dest: Path, vocab_size: int = 400) -> Path:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=["<s>", "</s>", "<pad>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(SENTENCES, trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", pad_token="<pad>")
    fast.save_pretrained(dest)
    return dest


def llama(seed: int = 0, layers: int = 2, hidden: int = 64, vocab: int = 400):
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(hidden_size=hidden, intermediate_size=hidden * 2, num_hidden_layers=layers,
                         num_attention_heads=4, num_key_value_heads=2, vocab_size=vocab,
                         max_position_embeddings=128, bos_token_id=0, eos_token_id=1, pad_token_id=2)
    return LlamaForCausalLM(config).eval()


def build_base(dest: Path, seed: int = 0, layers: int = 2, hidden: int = 64) -> Path:
    llama(seed, layers, hidden).save_pretrained(dest)
    build_tokenizer(dest)
    return dest


def lora(base_dir: Path, seed: int = 1):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(base_dir, use_safetensors=True, trust_remote_code=False,
                                                local_files_only=True)
    torch.manual_seed(seed)
    cfg = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    return get_peft_model(base, cfg)


def build_adapter(dest: Path, base_dir: Path, seed: int = 1) -> Path:
    model = lora(base_dir, seed)
    model.save_pretrained(dest)
    # A training script records wherever the base happened to be: the loader must ignore it.
    cfg_path = dest / "adapter_config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["base_model_name_or_path"] = "some-org/not-a-real-hub-model"
    cfg_path.write_text(json.dumps(cfg, indent=2))
    return dest


def build_merged(dest: Path, base_dir: Path, seed: int = 1) -> Path:
    lora(base_dir, seed).merge_and_unload().save_pretrained(dest)
    build_tokenizer(dest)
    return dest


def build_pickle_only(dest: Path, seed: int = 3) -> Path:
    import torch

    model = llama(seed)
    model.config.save_pretrained(dest)
    torch.save(model.state_dict(), dest / "pytorch_model.bin")
    build_tokenizer(dest)
    return dest


def build_auto_map(dest: Path, marker: Path, seed: int = 4) -> Path:
    """A model whose config asks for custom code that would drop `marker` if it ever ran."""
    build_base(dest, seed)
    cfg = json.loads((dest / "config.json").read_text())
    cfg["auto_map"] = {"AutoModelForCausalLM": "modeling_evil.EvilForCausalLM",
                       "AutoConfig": "modeling_evil.EvilConfig"}
    (dest / "config.json").write_text(json.dumps(cfg, indent=2))
    (dest / "modeling_evil.py").write_text(
        f"from pathlib import Path\nPath({str(marker)!r}).write_text('custom code ran')\n")
    return dest


def build_all(root: Path, marker: Path | None = None) -> dict[str, Path]:
    root = Path(root)
    base = build_base(root / "base", seed=0)
    out = {
        "base": base,
        "fine_tuned": build_base(root / "fine_tuned", seed=5),
        "distilled": build_base(root / "distilled", seed=6, layers=1),
        "adapter": build_adapter(root / "adapter", base, seed=1),
        "adapter2": build_adapter(root / "adapter2", base, seed=2),
        "merged": build_merged(root / "merged", base, seed=1),
        "pickle": build_pickle_only(root / "pickle"),
        "auto_map": build_auto_map(root / "auto_map", marker or root / "CUSTOM_CODE_RAN"),
    }
    return out


BUILDERS = {"base": lambda d, base: build_base(d), "adapter": lambda d, base: build_adapter(d, base),
            "merged": lambda d, base: build_merged(d, base)}


def main(argv=None) -> int:
    import warnings

    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    warnings.filterwarnings("ignore", category=FutureWarning)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dest", type=Path)
    parser.add_argument("--kind", choices=["all", *BUILDERS], default="all")
    parser.add_argument("--base", type=Path, help="base model folder (for adapter/merged)")
    args = parser.parse_args(argv)
    if args.kind == "all":
        for name, path in build_all(args.dest).items():
            print(f"{name}: {path}")
        return 0
    if args.dest.exists():
        shutil.rmtree(args.dest)
    BUILDERS[args.kind](args.dest, args.base)
    print(args.dest)
    return 0


if __name__ == "__main__":
    sys.exit(main())
