"""Local weights folders: safe scanning and classification of model files."""
import os
from pathlib import Path

from ..core.errors import InvalidInput

_TOKENIZER_FILES = {
    "tokenizer.json": "json", "tokenizer_config.json": "json", "special_tokens_map.json": "json",
    "added_tokens.json": "json", "vocab.json": "json", "vocab.txt": "text", "merges.txt": "text",
    "tokenizer.model": "sentencepiece", "chat_template.jinja": "jinja",
}
_WEIGHT_FORMATS = {".safetensors": "safetensors", ".bin": "pytorch", ".pt": "pytorch",
                   ".pth": "pytorch", ".gguf": "gguf"}


def classify(relpath: str) -> tuple[str, str]:
    """(artifact_type, format) of a file in a model folder, by the names HF tools write."""
    name = relpath.rsplit("/", 1)[-1]
    suffix = os.path.splitext(name)[1].lower()
    if name == "adapter_config.json":
        return "adapter_config", "json"
    if name in _TOKENIZER_FILES:
        return "tokenizer", _TOKENIZER_FILES[name]
    if suffix in _WEIGHT_FORMATS:
        return ("adapter" if name.startswith("adapter_") else "weights"), _WEIGHT_FORMATS[suffix]
    if name.endswith(".index.json") or name in ("config.json", "generation_config.json"):
        return "config", "json"
    if suffix == ".model":
        return "tokenizer", "sentencepiece"
    return "other", (suffix.lstrip(".") or "binary")


def scan_folder(src: str | os.PathLike) -> list[tuple[str, Path]]:
    """Every regular file under `src` as (posix relpath, path to read), refusing anything unsafe.

    A symlink is followed only if it stays inside the folder, or, for a snapshot folder of the
    Hugging Face hub cache (models--ORG--NAME/snapshots/REV), inside that repo's blobs/, where
    huggingface_hub keeps the bytes its snapshot links name. A link pointing anywhere else
    would let a registered version capture arbitrary files of the machine. The path returned
    for a link is its target as checked, so what is read is what was allowed; the cache is
    only read, never changed.
    """
    root = Path(src)
    if not root.is_dir():
        raise InvalidInput(f"weights folder {src} does not exist or is not a folder")
    real_root = root.resolve()
    blobs = hf_blobs(real_root)
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in (".git", ".dvc"))
        for name in sorted(filenames) + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]:
            path = Path(dirpath, name)
            rel = path.relative_to(root).as_posix()
            if "\\" in rel or "\n" in rel or "\0" in rel:
                raise InvalidInput(f"weights folder {src}: unsupported file name {rel!r}; rename it")
            if path.is_symlink():
                path = _link_target(src, rel, path, real_root, blobs)
            if not path.is_file():
                raise InvalidInput(f"weights folder {src}: {rel} is not a regular file")
            found.append((rel, path))
    if not found:
        raise InvalidInput(f"weights folder {src} is empty; point at a folder holding the model files")
    return found


def hf_blobs(folder: Path) -> Path | None:
    """models--ORG--NAME/blobs when `folder` (resolved) is, or is inside, one of that repo's
    snapshots in the Hugging Face hub cache; else None."""
    for snapshot in (folder, *folder.parents):
        repo = snapshot.parent.parent
        if snapshot.parent.name == "snapshots" and repo.name.startswith("models--"):
            return repo / "blobs"
    return None


def _link_target(src, rel: str, path: Path, real_root: Path, blobs: Path | None) -> Path:
    target = path.resolve()
    if not (target.is_relative_to(real_root) or (blobs is not None and target.is_relative_to(blobs))):
        where = f"outside the folder and {blobs}" if blobs is not None else "outside the folder"
        raise InvalidInput(f"weights folder {src}: {rel} is a symlink to {target}, {where}; "
                           "copy the file in instead")
    if target.is_dir():
        raise InvalidInput(f"weights folder {src}: {rel} is a symlink to a folder; use a real folder")
    return target
