"""Model cards: export a version's card.yaml as a Hugging Face README.md."""
import yaml

from . import layout

_SECTIONS = [("description", "Model description"), ("intended_use", "Intended use"),
             ("limitations", "Limitations"), ("training_data", "Training data"),
             ("training_procedure", "Training procedure"), ("evaluation_data", "Evaluation data"),
             ("bias_risks", "Bias, risks and limitations"), ("safety_evaluations", "Safety evaluations"),
             ("input_format", "Input format"), ("output_format", "Output format"),
             ("example_usage", "How to use")]


def export_hf_card(registry, ref: str, at: str | None = None) -> str:
    """README.md text: YAML metadata (license, base_model, relation, tags, model-index) + sections."""
    resolved = registry.resolve(ref, at=at)
    card = registry._read(resolved.commit, layout.card_file(resolved.model, resolved.version)) or {}
    record = resolved.record
    meta = {"license": card.get("license"), "tags": sorted((record.get("tags") or {}).keys()) or None,
            "language": card.get("language")}
    parent = record.get("parent")
    if parent:
        meta["base_model"] = f"{parent['model']}@{parent['version']}"
        meta["base_model_relation"] = {"fine_tuned": "finetune", "adapter": "adapter",
                                       "quantized": "quantized", "merged": "merge",
                                       "distilled": "finetune"}[parent["relation"]]
    results = [{"task": {"type": "text-generation"}, "dataset": {"name": m["benchmark"], "type": m["benchmark"]},
                "metrics": [{"type": m["metric"], "value": m["value"]}]} for m in record.get("metrics", [])]
    if results:
        meta["model-index"] = [{"name": resolved.model, "results": results}]
    meta = {k: v for k, v in meta.items() if v}
    lines = ["---", yaml.safe_dump(meta, sort_keys=False).rstrip(), "---", "",
             f"# {resolved.model} (version {resolved.version})", ""]
    for key, title in _SECTIONS:
        if card.get(key):
            lines += [f"## {title}", "", str(card[key]).rstrip(), ""]
    return "\n".join(lines)

