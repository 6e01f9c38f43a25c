"""Model cards: edit a version's card.yaml, export it as a Hugging Face README.md."""
import re

import yaml

from ..core import layout, schema
from ..core.errors import InvalidInput, InvalidRecord
from ..core.records import load_yaml
from ..core.refs import parse_ref

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


# -- editing ------------------------------------------------------------------------------
def target(registry, ref: str) -> tuple[str, int]:
    """(model, version) of REF on the branch being written to."""
    parsed = parse_ref(ref)
    if parsed.version is not None:
        return parsed.model, parsed.version
    resolved = registry.resolve(parsed, at="HEAD")
    return resolved.model, resolved.version


def current(registry, model: str, version: int) -> dict:
    registry.working_version(model, version)  # a clear error for a missing model or version
    return registry._workdir_record(layout.card_file(model, version)) or {}


def parse_fields(pairs: dict[str, str]) -> dict:
    """KEY=VALUE strings typed by the card schema: lists split on commas, mappings as YAML."""
    props = schema.load_schema("card")["properties"]
    fields = {}
    for key, text in pairs.items():
        if key not in props:
            raise InvalidInput(f"unknown card field {key!r}: use one of {', '.join(props)}")
        kind = props[key].get("type")
        if kind == "array":
            fields[key] = [item.strip() for item in text.split(",") if item.strip()]
        elif kind == "object":
            fields[key] = load_yaml(text.encode(), f"--field {key}")
        else:
            fields[key] = text
    return fields


def parse_card(text: str, where: str) -> dict:
    """A whole card from YAML (a file or an editor buffer), checked against the schema."""
    doc = load_yaml(text.encode(), where)
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise InvalidRecord(f"{where}: a card is a mapping of fields")
    schema.validate("card", doc, where)
    return doc


def update(registry, ref: str, fields: dict | None = None, unset=(), replace: dict | None = None) -> dict:
    """Set fields (or replace the whole card), validate, and commit; returns the new card."""
    model, version = target(registry, ref)
    card = dict(replace) if replace is not None else current(registry, model, version)
    card.update(fields or {})
    for key in unset:
        card.pop(key, None)
    if card == current(registry, model, version):
        raise InvalidInput(f"the card of {model}@{version} already says that; nothing to commit")
    return registry.set_card(model, version, card)


def read_at(registry, resolved) -> dict:
    """The card of a resolved version, at the commit it was resolved at."""
    return registry._read(resolved.commit, layout.card_file(resolved.model, resolved.version)) or {}


def as_yaml(card: dict) -> str:
    ordered = {k: card[k] for k in schema.key_order("card") if k in card}
    return yaml.safe_dump(ordered, sort_keys=False, allow_unicode=True) if ordered else ""


# -- Hugging Face export -------------------------------------------------------------------
def export_hf_card(registry, ref: str, at: str | None = None) -> str:
    """README.md text: YAML metadata the Hub reads (base_model, library_name, pipeline_tag,
    tags, datasets, license, model-index), then the card's sections."""
    chain = registry.lineage(ref, at=at)
    resolved = chain[0]
    card = read_at(registry, resolved)
    meta = hf_metadata(registry, chain, card)
    lines = ["---", yaml.safe_dump(meta, sort_keys=False).rstrip(), "---", "",
             f"# {resolved.model} (version {resolved.version})", ""]
    for key, title in _SECTIONS:
        if card.get(key):
            lines += [f"## {title}", "", str(card[key]).rstrip(), ""]
    if len(chain) > 1:
        lines += ["## Lineage", "", " ← ".join(f"{r.model}@{r.version} ({r.record.get('model_type')})"
                                              for r in chain), ""]
    return "\n".join(lines)


def upstream_id(registry, chain, card: dict) -> str | None:
    """The Hub repo the lineage ends in: the card's base_model, else the root's source.uri,
    else the root's card. Never a registry ref, which the Hub cannot resolve."""
    if card.get("base_model"):
        return card["base_model"]
    root = chain[-1]
    match = _HUB_URI.fullmatch((root.record.get("source") or {}).get("uri") or "")
    if match:
        return match.group(1)
    return read_at(registry, root).get("base_model")


def hf_metadata(registry, chain, card: dict) -> dict:
    record = chain[0].record
    task = card.get("pipeline_tag") or "text-generation"
    tags = [f"{k}:{v}" for k, v in sorted((record.get("tags") or {}).items())] + list(card.get("tags") or [])
    meta = {"license": card.get("license"), "library_name": _library(record), "pipeline_tag": task,
            "tags": tags or None, "datasets": card.get("datasets"), "language": card.get("language")}
    meta["base_model"] = upstream_id(registry, chain, card) if len(chain) > 1 else card.get("base_model")
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

