"""Model cards: read and edit a version's card.yaml (one commit per edit, validated by the schema).

The Hugging Face export of a card lives in interop/hf_card.py."""
from ..core import layout, schema
from ..core.errors import InvalidInput, InvalidRecord
from ..core.names import check_name
from ..core.records import load_yaml, prune
from ..core.refs import parse_ref, parse_version
from ..store import reads


# -- editing ------------------------------------------------------------------------------
def target(tree, ref: str) -> tuple[str, int]:
    """(model, version) of REF on the branch being written to."""
    parsed = parse_ref(ref)
    if parsed.version is not None:
        return parsed.model, parsed.version
    resolved = reads.resolve(tree.snapshot("HEAD"), parsed)
    return resolved.model, resolved.version


def current(tree, model: str, version: int) -> dict:
    tree.version(model, version)  # a clear error for a missing model or version
    return tree.record(layout.card_file(model, version)) or {}


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
            fields[key] = load_yaml(text.encode(), f"card field {key}")
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


def update(tree, ref: str, fields: dict | None = None, unset=(), replace: dict | None = None) -> dict:
    """Set fields (or replace the whole card), validate, and commit; returns the new card."""
    with tree.write_lock():
        model, version = target(tree, ref)
        card = dict(replace) if replace is not None else current(tree, model, version)
        card.update(fields or {})
        for key in unset:
            card.pop(key, None)
        if card == current(tree, model, version):
            raise InvalidInput(f"the card of {model}@{version} already says that; nothing to commit")
        return set_card(tree, model, version, card)


def set_card(tree, model: str, version, card: dict) -> dict:
    """Replace the card of model@version (one commit)."""
    with tree.write_lock():
        number = parse_version(version)
        tree.version(check_name(model), number)
        write = tree.begin_write([layout.card_file(model, number)])
        write.put(layout.card_file(model, number), "card", prune(card))
        write.commit(f"update card of {model}@{number}", {"Action": "card.set", "Model": model,
                                                          "Version": str(number)})
        return card


def as_yaml(card: dict) -> str:
    import yaml  # here, not at the top: a read-only command never imports PyYAML (issue 23)

    ordered = {k: card[k] for k in schema.key_order("card") if k in card}
    return yaml.safe_dump(ordered, sort_keys=False, allow_unicode=True) if ordered else ""
