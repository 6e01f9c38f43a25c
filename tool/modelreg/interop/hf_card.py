"""A model card exported for the Hugging Face Hub: README.md with the YAML metadata the Hub reads.

`export_hf_card(snap, chain)` takes a version's lineage (read at one commit) and the
snapshot of that commit; the card's sections follow the metadata.
"""
import re

import yaml

from ..store import reads

_SECTIONS = [("description", "Model description"), ("intended_use", "Intended use"),
             ("limitations", "Limitations"), ("training_data", "Training data"),
             ("training_procedure", "Training procedure"), ("evaluation_data", "Evaluation data"),
             ("bias_risks", "Bias, risks and limitations"), ("safety_evaluations", "Safety evaluations"),
             ("input_format", "Input format"), ("output_format", "Output format"),
             ("example_usage", "How to use")]
_RELATION = {"fine_tuned": "finetune", "adapter": "adapter", "quantized": "quantized",
             "merged": "merge", "distilled": "finetune"}
# hf://ORG/NAME[@rev] or https://huggingface.co/ORG/NAME[/...]: an upstream Hub repo
_HUB_URI = re.compile(r"(?:hf://|https://huggingface\.co/)([A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*?)(?:[@/].*)?")


# -- Hugging Face export -------------------------------------------------------------------
def export_hf_card(snap, chain) -> str:
    """README.md text for `chain[0]` (its lineage, read at `snap`): YAML metadata the Hub reads
    (base_model, library_name, pipeline_tag, tags, datasets, license, model-index), then the
    card's sections."""
    resolved = chain[0]
    card = reads.card(snap, resolved.model, resolved.version)
    meta = hf_metadata(snap, chain, card)
    lines = ["---", yaml.safe_dump(meta, sort_keys=False).rstrip(), "---", "",
             f"# {resolved.model} (version {resolved.version})", ""]
    for key, title in _SECTIONS:
        if card.get(key):
            lines += [f"## {title}", "", str(card[key]).rstrip(), ""]
    if len(chain) > 1:
        lines += ["## Lineage", "", " ← ".join(f"{r.model}@{r.version} ({r.record.get('model_type')})"
                                              for r in chain), ""]
    return "\n".join(lines)


def upstream_id(snap, chain, card: dict) -> str | None:
    """The Hub repo the lineage ends in: the card's base_model, else the root's source.uri,
    else the root's card. Never a registry ref, which the Hub cannot resolve."""
    if card.get("base_model"):
        return card["base_model"]
    root = chain[-1]
    match = _HUB_URI.fullmatch((root.record.get("source") or {}).get("uri") or "")
    if match:
        return match.group(1)
    return reads.card(snap, root.model, root.version).get("base_model")


def hf_metadata(snap, chain, card: dict) -> dict:
    record = chain[0].record
    task = card.get("pipeline_tag") or "text-generation"
    tags = [f"{k}:{v}" for k, v in sorted((record.get("tags") or {}).items())] + list(card.get("tags") or [])
    meta = {"license": card.get("license"), "library_name": _library(record), "pipeline_tag": task,
            "tags": tags or None, "datasets": card.get("datasets"), "language": card.get("language")}
    meta["base_model"] = upstream_id(snap, chain, card) if len(chain) > 1 else card.get("base_model")
    if meta["base_model"] and len(chain) == 2:  # the relation is to the direct parent only
        meta["base_model_relation"] = _RELATION[record["parent"]["relation"]]
    results = [{"task": {"type": task}, "dataset": {"name": m["benchmark"], "type": m["benchmark"]},
                "metrics": [{"type": m["metric"], "value": m["value"]}]} for m in record.get("metrics", [])]
    if results:
        meta["model-index"] = [{"name": chain[0].model, "results": results}]
    return {k: v for k, v in meta.items() if v}


def _library(record: dict) -> str:
    if record.get("model_type") == "adapter":
        return "peft"
    if any(a.get("format") == "gguf" for a in record.get("artifacts") or []):
        return "gguf"
    return "transformers"
