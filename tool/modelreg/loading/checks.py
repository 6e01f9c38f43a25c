"""Torch-free checks shared by `check` and `load`: what a version may hold, and what its files
may point at.

Pure rules (no I/O), each returning (JSON pointer into version.yaml, message) pairs:
- `record_problems(record)`: by the record alone, before any download: adapter files in a
  version that is not an adapter (transformers/peft would follow the base they name, from
  outside the registry), a version without any weights file (a config alone builds a
  default-sized, randomly initialised model); `adapter_weights(record)` for the loader.
- `index_problems(doc, index_path, artifact_paths)`: a sharded checkpoint's weight_map may name
  only files of the same version (no absolute paths, no `..`, no unlisted files).
- `header_problems(path, header)`: a safetensors file holding no tensors is no weights.

`adapter_problems` compares an adapter with its registered parent for `check`: it reads
adapter_config.json and the safetensors headers (8-byte length + JSON, no tensors) through
`LocalFiles` (the verified cache, else the working tree's weights folder); files not
available locally are not fetched, and the checks that need them are skipped.
"""
import json
import posixpath
import struct
from pathlib import Path

from ..core import layout, lineage
from ..core.errors import NotFound
from ..core.refs import parse_ref
from ..store import reads

MAX_HEADER = 100 << 20
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl")
WEIGHT_SUFFIXES = (".safetensors", ".gguf") + PICKLE_SUFFIXES


def _name(path: str) -> str:
    return str(path).rsplit("/", 1)[-1]


def is_adapter_file(path: str) -> bool:
    name = _name(path)
    return name == "adapter_config.json" or (name.startswith("adapter_model") and name.endswith(WEIGHT_SUFFIXES))


def record_problems(record: dict) -> list[tuple[str, str]]:
    """What the record alone says the loader must refuse (no files are read)."""
    arts = [a for a in record.get("artifacts") or [] if isinstance(a, dict)]
    if not arts:  # weights kept outside the registry (source.uri): nothing to load from here
        return []
    model_type = record.get("model_type", "base_model")
    paths = [str(a.get("path", "")) for a in arts]
    if model_type == "adapter":
        return []  # its files are judged against its parent (adapter_problems; the loader's adapter_weights)
    out = [(f"/artifacts/{i}", f"{p} is an adapter file in a {model_type} version: loading it would build the "
                               "base model it names (base_model_name_or_path) from outside the registry; "
                               "register it as an adapter version with --parent")
           for i, p in enumerate(paths) if is_adapter_file(p)]
    if not any(p.endswith(WEIGHT_SUFFIXES) and not is_adapter_file(p) for p in paths):
        out.append(("/artifacts", "no weights file (safetensors, gguf or pickle) among the artifacts: a config "
                                  "alone would build a full-size model with random weights; register the weights"))
    return out


def adapter_weights(record: dict) -> list[str]:
    """For the loader: an adapter version must hold adapter weights (peft loads nothing else)."""
    paths = [str(a.get("path", "")) for a in record.get("artifacts") or [] if isinstance(a, dict)]
    if record.get("model_type") == "adapter" and not any(is_adapter_file(p) and p.endswith(WEIGHT_SUFFIXES)
                                                         for p in paths):
        return ["an adapter version needs its adapter weights (adapter_model.safetensors) among its files"]
    return []


def index_problems(doc, index_path: str, artifact_paths) -> list[str]:
    """A sharded checkpoint's index may name only this version's own files."""
    weight_map = doc.get("weight_map") if isinstance(doc, dict) else None
    if not isinstance(weight_map, dict) or not weight_map:
        return [f"{index_path} has no weight_map; it is not a sharded checkpoint index"]
    base, known, out = posixpath.dirname(index_path), set(artifact_paths), []
    for target in sorted({str(v) for v in weight_map.values()}):
        parts = target.split("/")
        if target.startswith("/") or "\\" in target or any(p in ("", ".", "..") for p in parts):
            out.append(f"{index_path} names {target!r}, a path outside the version's folder")
        elif posixpath.join(base, target) not in known:
            out.append(f"{index_path} names {target!r}, which is not one of this version's artifacts")
    return out


def header_problems(path: str, header) -> list[str]:
    """A safetensors header (as parsed JSON) that holds no tensors is not weights."""
    if not isinstance(header, dict):
        return [f"{path} is not a safetensors file (unreadable header)"]
    if not any(k != "__metadata__" for k in header):
        return [f"{path} holds no tensors: loading it would build a full-size model with random weights"]
    return []


class LocalFiles:
    """Where a version's files are on this machine, without fetching anything: the verified
    cache (by sha256 and size), else the working tree's weights folder under `root`."""

    def __init__(self, root: Path | None = None, cache=None):
        self.root, self._cache = root, cache

    @property
    def cache(self):
        if self._cache is None:
            from ..artifacts.cache import Cache

            self._cache = Cache()
        return self._cache

    def path(self, model: str, version: int, artifact: dict) -> Path | None:
        sha, size = artifact.get("sha256"), artifact.get("size_bytes")
        if sha and size is not None:
            hit = self.cache.lookup(sha, int(size))
            if hit is not None:
                return hit
        if self.root is None:
            return None
        local = Path(self.root) / layout.weights_dir(model, version) / artifact["path"]
        return local if local.is_file() else None


def adapter_problems(snap, model: str, version: int, files: LocalFiles) -> list[tuple[str, str]]:
    """(JSON pointer into version.yaml, message) for each disagreement; [] when all agree."""
    record = reads.pinned(snap, model, version).record
    if record.get("model_type") != "adapter":
        return []
    parent = record.get("parent")
    if not parent:
        return [("/parent", "an adapter needs a parent: the registered base model it applies to")]
    try:
        base = reads.pinned(snap, parent["model"], int(parent["version"]))
    except NotFound:
        return [("/parent", f"parent {parent['model']}@{parent['version']} is not in the registry")]
    problems = []
    if base.status == "deleted":
        problems.append(("/parent", f"parent {base.name} is deleted; the adapter cannot load"))
    if parent.get("relation") not in (None, "adapter"):
        problems.append(("/parent/relation", "an adapter's parent relation must be 'adapter'"))
    arts = record.get("artifacts") or []
    if not arts:  # weights kept outside the registry (source.uri): nothing local to compare
        return problems
    index = {a.get("path"): i for i, a in enumerate(arts)}
    if "adapter_config.json" not in index:
        return problems + [("/artifacts", "an adapter version needs adapter_config.json among its files")]
    pointer = f"/artifacts/{index['adapter_config.json']}"
    cfg_path = files.path(model, version, arts[index["adapter_config.json"]])
    if cfg_path is None:
        return problems
    try:
        config = json.loads(cfg_path.read_text())
    except ValueError:
        return problems + [(pointer, "adapter_config.json is not valid JSON")]
    problems += _config_problems(snap, config, base, pointer)
    problems += _shape_problems(files, record, applies_to(snap, base), config, model, version, pointer)
    return problems


def applies_to(snap, base):
    """The version whose modules an adapter on `base` changes: `base`, or for an adapter on an
    adapter, the first non-adapter below (the loader merges the chain on the way). Where the
    chain is broken, the last version it reaches (check reports the break itself)."""
    chain, _ = lineage.walk(reads.lookup(snap), lineage.Link(base.model, base.version, base.record),
                            lineage.adapters_only)
    last = chain[-1]
    return base if len(chain) == 1 else reads.pinned(snap, last.model, last.version)


def _config_problems(snap, config, base, pointer) -> list[tuple[str, str]]:
    out = []
    if not isinstance(config, dict) or not config.get("peft_type"):
        return [(pointer, "adapter_config.json has no peft_type; it is not a PEFT adapter config")]
    if config.get("auto_map"):
        out.append((pointer, "adapter_config.json declares auto_map (custom code); the loader refuses it"))
    named = config.get("base_model_name_or_path")
    claimed = _registry_ref(snap, named)
    if claimed and claimed != (base.model, base.version) and not (claimed[1] is None and claimed[0] == base.model):
        shown = f"{claimed[0]}@{claimed[1]}" if claimed[1] else claimed[0]
        out.append((pointer, f"adapter_config.json names base {shown}, but the registered parent is "
                             f"{base.model}@{base.version}"))
    return out


def _registry_ref(snap, named):
    """(model, version or None) when base_model_name_or_path names a model of this registry."""
    if not isinstance(named, str) or not named or "/" in named:
        return None
    try:
        ref = parse_ref(named)
        reads.model(snap, ref.model)
    except Exception:  # not a registry name: a hub id or a path, which the loader ignores anyway
        return None
    return ref.model, ref.version if "@" in named else None


def _shape_problems(files, record, base, config, model, version, pointer) -> list[tuple[str, str]]:
    adapter = _headers(files, model, version, record, prefix="adapter_")
    parent = _headers(files, base.model, base.version, base.record, prefix="")
    if parent is None:
        return []
    out = _target_problems(config, parent, base, pointer)
    for key, shape in sorted((adapter or {}).items()):
        problem = _lora_fit(key, shape, parent, config)
        if problem:
            out.append((pointer, f"{problem} (parent {base.model}@{base.version})"))
            break  # one shape mismatch says it all; the rest would repeat it
    return out


def _target_problems(config: dict, parent: dict, base, pointer: str) -> list[tuple[str, str]]:
    targets = config.get("target_modules") or []
    if isinstance(targets, str):
        targets = []  # a regex: checked through the tensors
    leaves = {name.rsplit(".", 2)[-2] for name in parent if name.endswith(".weight") and name.count(".") >= 1}
    return [(pointer, f"target module {t!r} does not exist in parent {base.model}@{base.version}")
            for t in targets if t not in leaves]


def missing_targets(files: LocalFiles, folder: Path, base) -> list[str]:
    """For `version create`: the adapter in `folder` targets modules its parent `base` (a
    Resolved) lacks. [] when the config is unreadable (check reports that) or the parent's
    weights are not local."""
    try:
        config = json.loads((Path(folder) / "adapter_config.json").read_text())
    except (OSError, ValueError):
        return []
    parent = _headers(files, base.model, base.version, base.record, prefix="")
    if parent is None or not isinstance(config, dict):
        return []
    return [message for _, message in _target_problems(config, parent, base, "")]


def _lora_fit(key: str, shape, parent: dict, config: dict) -> str | None:
    for part, axis in ((".lora_A.", 1), (".lora_B.", 0)):
        if part in key:
            module = key.removeprefix("base_model.model.").split(part)[0]
            base_shape = parent.get(module + ".weight")
            if base_shape is None:
                return f"adapter tensor {key} targets {module}, which the parent does not have"
            if len(shape) < 2 or len(base_shape) < 2 or shape[axis] != base_shape[axis]:
                return f"adapter tensor {key} has shape {shape}, which does not fit {module} {base_shape}"
    return None


def _headers(files: LocalFiles, model, version, record, prefix: str) -> dict | None:
    """{tensor name: shape} over the version's safetensors files, or None if not all are local."""
    arts = [a for a in record.get("artifacts") or []
            if a.get("path", "").endswith(".safetensors") and a["path"].rsplit("/", 1)[-1].startswith(prefix)]
    if not arts:
        return None
    shapes = {}
    for art in arts:
        path = files.path(model, version, art)
        if path is None:
            return None
        header = safetensors_header(path)
        if header is None:
            return None
        shapes.update({k: v.get("shape") for k, v in header.items() if isinstance(v, dict)})
    return shapes


def safetensors_header(path: Path) -> dict | None:
    with open(path, "rb") as fh:
        raw = fh.read(8)
        if len(raw) != 8:
            return None
        (size,) = struct.unpack("<Q", raw)
        if size > MAX_HEADER:
            return None
        try:
            return json.loads(fh.read(size))
        except ValueError:
            return None


def local_file_problems(files: LocalFiles, model: str, version: int, record: dict) -> list[tuple[str, str]]:
    """For `check`: the content rules on whichever of the version's files are available
    locally (cache or working tree); nothing is fetched."""
    arts = [a for a in record.get("artifacts") or [] if isinstance(a, dict) and isinstance(a.get("path"), str)]
    paths = [a["path"] for a in arts]
    out = []
    for i, art in enumerate(arts):
        local = files.path(model, version, art) if art["path"].endswith(".index.json") else None
        if local is None:
            continue
        try:
            doc = json.loads(local.read_text())
        except ValueError:
            out.append((f"/artifacts/{i}", f"{art['path']} is not valid JSON"))
            continue
        out += [(f"/artifacts/{i}", message) for message in index_problems(doc, art["path"], paths)]
    return out
