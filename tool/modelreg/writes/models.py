"""`model register`: a new model.yaml and aliases.yaml, and CODEOWNERS kept current, in one commit."""
from ..core import clock, layout
from ..core.errors import AlreadyExists, InvalidInput
from ..core.names import check_name, check_tag_key
from ..core.records import prune

MODEL_TYPES = ("base_model", "fine_tuned", "adapter", "quantized", "distilled", "merged")


def check_model_type(model_type: str) -> str:
    if model_type not in MODEL_TYPES:
        raise InvalidInput(f"unknown model type {model_type!r}: use one of {', '.join(MODEL_TYPES)}")
    return model_type


def tags(given: dict | None) -> dict | None:
    """Tags as records keep them: checked keys, text values."""
    if not given:
        return None
    return {check_tag_key(str(k)): str(v) for k, v in given.items()}


def register_model(tree, name: str, model_type: str, description: str | None = None,
                   owners=(), tags_: dict | None = None) -> dict:
    with tree.write_lock():
        check_name(name)
        check_model_type(model_type)
        if (tree.root / layout.model_dir(name)).exists():
            raise AlreadyExists(f"model {name!r} is already registered")
        record = prune({"name": name, "description": description, "model_type": model_type,
                        "owners": list(owners) or None, "tags": tags(tags_), "created_at": clock.now(),
                        "created_by": tree.identity()})
        write = tree.begin_write([layout.model_dir(name)])
        write.put(layout.model_file(name), "model", record)
        write.put(layout.aliases_file(name), "aliases", {"aliases": {}})
        keep_codeowners(tree, write, {name: list(owners)})
        write.commit(f"register model {name}", {"Action": "model.register", "Model": name})
        return record


def keep_codeowners(tree, write, pending: dict) -> None:
    """A registry that has a generated CODEOWNERS keeps it current in the same commit
    (`pending`: models about to be written, name -> owners)."""
    from ..promotion import codeowners

    if codeowners.is_generated(tree.root):
        if tree.git.dirty_paths([codeowners.PATH]):
            raise InvalidInput(f"uncommitted changes in {codeowners.PATH}; commit or discard them first")
        write.put_raw(codeowners.PATH, codeowners.render_text(tree.root, tree.settings.raw, pending).encode())
