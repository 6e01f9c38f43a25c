"""Where records live in a registry repository. Every path is built from a checked name."""
import re

from .names import check_name

REGISTRY_FILE = "registry.yaml"
ROOT = "registry"
SCHEMA_DIR = "schemas"

_VERSION_PATH = re.compile(r"registry/([^/]+)/versions/([1-9][0-9]*)/([^/]+)")
_MODEL_PATH = re.compile(r"registry/([^/]+)/([^/]+)")


def model_dir(model: str) -> str:
    return f"{ROOT}/{check_name(model)}"


def model_file(model: str) -> str:
    return f"{model_dir(model)}/model.yaml"


def aliases_file(model: str) -> str:
    return f"{model_dir(model)}/aliases.yaml"


def versions_dir(model: str) -> str:
    return f"{model_dir(model)}/versions"


def version_dir(model: str, version: int) -> str:
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ValueError(f"bad version number {version!r}")
    return f"{versions_dir(model)}/{version}"


def version_file(model: str, version: int) -> str:
    return f"{version_dir(model, version)}/version.yaml"


def card_file(model: str, version: int) -> str:
    return f"{version_dir(model, version)}/card.yaml"


def pointer_file(model: str, version: int) -> str:
    return f"{version_dir(model, version)}/weights.dvc"


def signature_file(model: str, version: int) -> str:
    """The OpenSSF Model Signing bundle over the version's (path, sha256) pairs."""
    return f"{version_dir(model, version)}/model.sig"


def template_file(model: str, version: int) -> str:
    """The chat template's text, kept in Git so reviews see it (sha256 in version.yaml)."""
    return f"{version_dir(model, version)}/chat_template.jinja"


def weights_dir(model: str, version: int) -> str:
    return f"{version_dir(model, version)}/weights"


def schema_ref(relpath: str, kind: str) -> str:
    """The relative path from a record to its schema, for the yaml-language-server comment."""
    depth = relpath.count("/")
    return "../" * depth + f"{SCHEMA_DIR}/{kind}.schema.json"


def classify(path: str):
    """What a path under registry/ is: (kind, model, version) or None for an unknown file.

    kind is one of model, aliases, version, card, pointer, signature, template.
    """
    match = _VERSION_PATH.fullmatch(path)
    if match:
        model, number, leaf = match.groups()
        kind = {"version.yaml": "version", "card.yaml": "card", "weights.dvc": "pointer",
                "model.sig": "signature", "chat_template.jinja": "template"}.get(leaf)
        return (kind, model, int(number)) if kind else None
    match = _MODEL_PATH.fullmatch(path)
    if match:
        model, leaf = match.groups()
        kind = {"model.yaml": "model", "aliases.yaml": "aliases"}.get(leaf)
        return (kind, model, None) if kind else None
    return None


def model_of(path: str) -> str | None:
    parts = path.split("/")
    return parts[1] if len(parts) > 2 and parts[0] == ROOT else None
