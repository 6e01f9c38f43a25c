"""Versions -> ready transformers/peft models, safely. The only module importing torch,
transformers and peft, and only inside functions: `import modelreg` stays fast.

    loaded = modelreg.load("llama-ft@production", registry="git@github.com:org/registry.git")
    loaded.model, loaded.tokenizer, loaded.record, loaded.resolved

One pass forward: parse and resolve the reference (a missing alias fails before torch is
imported), walk the lineage (an adapter's base is found through `parent` in the registry,
never through `base_model_name_or_path`), refuse by record (adapter files in a non-adapter
version, no weights, pickle-only weights unless allowed) before any download, then fetch
and verify every file, refuse by file contents (custom code through `auto_map`, a sharded
index naming files that are not the version's verified artifacts, safetensors without
tensors), and build. Pickle weights load only with allow_pickle=True, and then through
torch.load(weights_only=True).
"""
import contextlib
import gc
import importlib.util
import json
import logging
import os
import re
import threading
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

from ..core import lineage
from ..core.errors import (ExternalError, IntegrityError, InvalidInput, InvalidRecord, NotFound,
                           PolicyViolation)
from ..core.extras import missing_extra
from ..core.refs import ModelRef, parse_ref
from ..store import reads
from ..store.reads import Resolved
from . import checks, lockfile, sources

log = logging.getLogger(__name__)

PICKLE_SUFFIXES = checks.PICKLE_SUFFIXES
CONFIG_FILES = ("config.json", "tokenizer_config.json", "adapter_config.json", "processor_config.json",
                "preprocessor_config.json", "generation_config.json")
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "tokenizer.model", "vocab.json")
DTYPES = {"auto": "auto", "float32": "float32", "fp32": "float32", "float": "float32",
          "float16": "float16", "fp16": "float16", "half": "float16",
          "bfloat16": "bfloat16", "bf16": "bfloat16"}

_CACHE: dict[tuple, "LoadedModel"] = {}
_CACHE_LOCK = threading.RLock()


@dataclass(frozen=True)
class Origin:
    """Where a load reads from: the snapshot of the commit REF resolved at, the clone (whose
    untracked .dvc/config.local holds the remote's credentials), and the registry's name as
    recorded (a URL without credentials, or a folder)."""
    snap: object
    clone: Path
    where: str


@dataclass
class LoadedModel:
    """A model ready to use, and exactly what it is."""
    model: object
    tokenizer: object
    record: dict
    resolved: dict
    path: Path
    device: str
    dtype: str
    adapter_name: str | None = None
    key: tuple = ()

    @property
    def version(self) -> int:
        return self.resolved["version"]

    @property
    def commit(self) -> str:
        return self.resolved["commit"]

    @property
    def sha256s(self) -> dict:
        return self.resolved["sha256"]

    def activate(self) -> "LoadedModel":
        """Make this adapter the active one on a base shared with others (load_adapters)."""
        if self.adapter_name:
            self.model.set_adapter(self.adapter_name)
        return self

    def generate(self, prompt: str, max_new_tokens: int = 8) -> str:
        """A few greedy tokens after `prompt` (for smoke tests and `modelreg load --prompt`)."""
        import torch

        if self.model is None:
            raise InvalidInput("this model was unloaded; load it again")
        self.activate()
        inputs = self.tokenizer(prompt, return_tensors="pt").to(self.device)
        with torch.no_grad():
            out = self.model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False,
                                      pad_token_id=self.tokenizer.pad_token_id or self.tokenizer.eos_token_id)
        return self.tokenizer.decode(out[0][inputs["input_ids"].shape[1]:], skip_special_tokens=True)


# -- public API ---------------------------------------------------------------------------
def load(ref: str, registry=None, device: str = "auto", dtype=None, at: str | None = None,
         as_of: str | None = None, lock: str | os.PathLike | None = None,
         allow_pickle: bool = False, verify_signature: bool = False, progress=None) -> LoadedModel:
    """Resolve REF (NAME@ALIAS, NAME@N, NAME@latest) on main, fetch, verify and load it.

    `verify_signature=True` refuses a version (or its base) without a valid model.sig, as
    a stage whose registry.yaml policy requires signatures always does. `progress`: a
    callback for downloads (artifacts/progress.py)."""
    _refuse_unsafe_env()
    dtype_name = _dtype_name(dtype)
    origin, steps, pinned = _plan(ref, registry, at, as_of, lock)
    _refuse_by_record(steps, allow_pickle)
    dev = _device(device, steps)
    key = _key(steps, dev, dtype_name)
    # before the in-process cache too: a model loaded without asking is not thereby verified
    _verify_signatures(origin, steps, verify_signature)
    with _CACHE_LOCK:
        hit = _CACHE.get(key)
    if hit is not None and hit.model is not None:
        _check_pinned(pinned, steps, hit.resolved, lock)
        return hit
    folders = _fetch_all(origin, steps, progress)
    _refuse_by_contents(steps, folders)
    with _quiet_hf():
        model, tok = _build(steps, folders, dev, dtype_name, allow_pickle)
    loaded = LoadedModel(model, tok, steps[0].record, _resolved(origin, ref, steps), folders[0],
                         dev, dtype_name, key=key)
    _check_pinned(pinned, steps, loaded.resolved, lock)
    with _CACHE_LOCK:
        existing = _CACHE.get(key)
        if existing is not None and existing.model is not None:
            return existing  # another thread loaded it meanwhile: keep one copy
        _CACHE[key] = loaded
        return loaded


def load_adapters(refs: list[str], registry=None, device: str = "auto", dtype=None, at: str | None = None,
                  allow_pickle: bool = False, progress=None) -> list[LoadedModel]:
    """Several adapters on ONE copy of their common base; call .activate() to switch."""
    _refuse_unsafe_env()
    if not refs:
        raise InvalidInput("give at least one adapter reference")
    dtype_name = _dtype_name(dtype)
    plans = [_plan(r, registry, at, None, None)[:2] for r in refs]
    bases = {tuple(s.name for s in steps[1:]) for _, steps in plans}
    if any(steps[0].model_type != "adapter" for _, steps in plans):
        raise InvalidInput("load_adapters takes adapters only; load other models with load()")
    if len(bases) != 1:
        raise InvalidInput("these adapters stand on different bases: " + "; ".join(
            f"{r} on {p[1][1].name}" for r, p in zip(refs, plans)))
    for _, steps in plans:
        _refuse_by_record(steps, allow_pickle)
    dev = _device(device, plans[0][1])
    for origin, steps in plans:
        _verify_signatures(origin, steps, False)  # a stage's policy may require signatures
    folders = [_fetch_all(origin, steps, progress) for origin, steps in plans]
    for (_, steps), fl in zip(plans, folders):
        _refuse_by_contents(steps, fl)
    out = []
    with _quiet_hf():
        base_steps, base_folders = plans[0][1][1:], folders[0][1:]
        base, tok = _build(base_steps, base_folders, dev, dtype_name, allow_pickle)
        shared = None
        for ref, (origin, steps), fl in zip(refs, plans, folders):
            name = _adapter_name(steps[0])
            shared = _attach(base if shared is None else shared, fl[0], name, allow_pickle, first=shared is None)
            key = _key(steps, dev, dtype_name) + ("shared", _key(base_steps, dev, dtype_name))
            out.append(LoadedModel(shared, _tokenizer(steps[:1], [fl[0]]) or tok, steps[0].record,
                                   _resolved(origin, ref, steps), fl[0], dev, dtype_name, name, key))
    with _CACHE_LOCK:
        for item in out:
            _CACHE[item.key] = item
    return out


def unload(target=None, empty: bool = True) -> int:
    """Drop loaded models from the process cache and free their memory (GPU included).

    `target`: a LoadedModel, "NAME@N" / "NAME", or None for everything. Returns how many
    cache entries went. Objects the caller still holds are emptied (model=None), unless
    `empty` is False: then they keep working and their memory goes with the last reference
    (serving swaps use this: a request that took the old model finishes on it).
    """
    with _CACHE_LOCK:
        keys = [k for k, v in _CACHE.items() if _matches(k, v, target)]
        gone = [_CACHE.pop(k) for k in keys]
    if isinstance(target, LoadedModel) and target not in gone:
        gone.append(target)
    for item in gone if empty else ():
        item.model = item.tokenizer = None
    gone.clear()
    gc.collect()
    _empty_cuda_cache()
    return len(keys)


def loaded() -> list[LoadedModel]:
    with _CACHE_LOCK:
        return list(_CACHE.values())


def lock_refs(refs: list[str], registry=None, at: str | None = None) -> dict:
    """The lock document pinning REFs as resolved now (one commit for all of them)."""
    reg = sources.open_registry(registry)
    commit = reg.commit_of(at)
    entries = {ref: lockfile.plan_entry(_plan(ref, reg, commit, None, None)[1]) for ref in refs}
    return lockfile.make_lock(entries, sources.where(reg), commit)


# -- planning: everything the records can tell, before any weight is read ------------------
def _plan(ref, registry, at, as_of, lock):
    """(origin, steps, pinned lock entry or None): the target, then each base under an adapter.

    The one visit to the Registry: REF is resolved once; everything after reads the snapshot
    of the commit it resolved at."""
    if lock is not None:
        return _plan_locked(ref, registry, lock)
    target = parse_ref(ref) if isinstance(ref, str) else ref
    reg = sources.open_registry(registry)
    resolved = reg.resolve(target, at=at, as_of=as_of)
    reg.require_on_main(resolved.commit, at)
    if resolved.status == "deleted":
        raise NotFound(f"{resolved.name} is deleted; load another version")
    origin = Origin(reg.snapshot(resolved.commit), reg.root, sources.where(reg))
    steps = _walk(origin.snap, resolved)
    reg.require_on_main(resolved.commit, at, [(step.model, step.version) for step in steps])
    return origin, steps, None


def _plan_locked(ref, registry, lock):
    doc = lockfile.read_lock(lock)
    entry = lockfile.entry_for(doc, str(ref), lock)
    reg = sources.open_registry(registry or doc.get("registry"))
    commit = doc["commit"]
    sources.refresh(reg)  # a URL registry: see main as it is now (a force push drops commits)
    main = reg.commit_of(None)
    if not _has_commit(reg, commit) or not reg.git.is_ancestor(commit, main):
        raise IntegrityError(f"{lock} pins commit {commit[:10]}, which is not on {reg.main_branch} of this "
                             "registry (history rewritten, or another registry); lock it again", hint="lock")
    locked = reg.snapshot(commit)
    lockfile.check_against(locked, reg.snapshot(main), entry, lock)
    origin = Origin(locked, reg.root, sources.where(reg))
    return origin, _walk(locked, reads.pinned(locked, entry["model"], int(entry["version"]))), entry


def _has_commit(reg, commit: str) -> bool:
    try:
        reg.git.rev_parse(commit)
        return True
    except NotFound:
        return False


def _walk(snap, head) -> list:
    """The target, then for an adapter its parent, recursively, until full weights."""
    chain, broken = lineage.walk(reads.lookup(snap), lineage.Link(head.model, head.version, head.record),
                                 lineage.adapters_only)
    if broken is not None and broken.kind == "cycle":
        path = " -> ".join([link.name for link in chain] + [broken.parent_name])
        raise PolicyViolation(f"lineage cycle: {path}; fix the parent fields")
    if broken is not None:
        raise NotFound(f"adapter {broken.child.name} needs base {broken.parent_name}, which is not in the "
                       f"registry at {snap.commit[:10]}; register the base or fix the parent")
    if chain[-1].model_type == "adapter":
        raise InvalidRecord(f"adapter {chain[-1].name} has no parent in version.yaml; "
                            "an adapter needs its registered base model")
    steps = [head] + [reads.pinned(snap, link.model, link.version) for link in chain[1:]]
    for child, base in zip(steps, steps[1:]):
        if base.status == "deleted":
            reason = (base.record.get("deleted") or {}).get("reason", "no reason given")
            raise NotFound(f"adapter {child.name} needs base {base.name}, which was deleted "
                           f"({reason}); re-register the adapter on a live base")
    return steps


def _refuse_by_record(steps, allow_pickle: bool) -> None:
    """What the records alone say must not load: refused before anything is downloaded."""
    for step in steps:
        if not step.record.get("artifacts"):
            raise InvalidRecord(f"{step.name} has no artifacts in the registry (its weights are kept "
                                "elsewhere); there is nothing to load")
        problems = [m for _, m in checks.record_problems(step.record)]
        problems += checks.adapter_weights(step.record)
        if problems:
            raise PolicyViolation(f"{step.name}: {problems[0]}")
        _weights_kind(step, allow_pickle)


def _key(steps, device: str, dtype_name: str) -> tuple:
    """What the bytes are: every file's sha256 along the lineage, in order, and how they are built."""
    content = tuple((s.model_type, tuple(sorted(lockfile.file_hashes(s.record).items()))) for s in steps)
    return (steps[0].model, steps[0].version, content, device, dtype_name)


def _check_pinned(pinned, steps, resolved: dict, lock) -> None:
    """A load by lock returns exactly the files the lock pins, along the whole lineage."""
    if pinned is None:
        return
    got = [resolved["sha256"]] + [b["sha256"] for b in resolved["lineage"]]
    want = [r[1] for r in lockfile.pinned_refs(pinned)]
    if got != want:
        raise IntegrityError(f"{lock}: {steps[0].name} loaded other files than the lock pins; "
                             "refusing it; lock it again if the registry changed on purpose", hint="lock")


# -- fetching and checking the files --------------------------------------------------------
def _verify_signatures(origin: Origin, steps, force: bool) -> None:
    """Every signature the load needs, before any byte is fetched (issue 12): the version asked
    for and each version under it, all by the policy of the asked-for version's stage (19.7)."""
    from ..supply.signatures import verify_version

    for step in steps:
        if verify_version(origin.snap, step, force=force, stage=steps[0].stage) is None and step is not steps[0]:
            verify_version(origin.snap, step)  # a base in a stage of its own that requires one


def _fetch_all(origin: Origin, steps, progress=None) -> list[Path]:
    return [_fetch(origin, s, progress) for s in steps]


def _fetch(origin: Origin, step, progress=None) -> Path:
    """The verified local folder of one version: hashes are checked when files enter the
    cache, and a warm fetch only compares stat() (no re-hashing of big files)."""
    from . import weights

    return weights.fetch(weights.locate(origin.snap, step, origin.clone), progress=progress).path


def _refuse_by_contents(steps, folders) -> None:
    """What only the (verified) files can tell: checked before transformers or peft opens them."""
    for step, folder in zip(steps, folders):
        _refuse_custom_code(step, folder)
        paths = [a["path"] for a in step.record.get("artifacts") or []]
        for rel in paths:
            if rel.endswith(".index.json"):
                problems = checks.index_problems(_json(step, folder / rel, rel), rel, paths)
            elif rel.endswith(".safetensors"):
                problems = checks.header_problems(rel, checks.safetensors_header(folder / rel))
            else:
                continue
            if problems:
                raise PolicyViolation(f"{step.name}: {problems[0]}; refusing to load it")


def _json(step: Resolved, path: Path, rel: str):
    try:
        return json.loads(path.read_text())
    except ValueError as exc:
        raise InvalidRecord(f"{step.name}: {rel} is not valid JSON") from exc


def _refuse_custom_code(step: Resolved, folder: Path) -> None:
    for name in CONFIG_FILES:
        path = folder / name
        if not path.exists():
            continue
        doc = _json(step, path, name)
        # (peft's `auto_mapping` only names the base class; PeftModel.from_pretrained ignores it)
        if isinstance(doc, dict) and doc.get("auto_map"):
            raise PolicyViolation(f"{step.name}: {name} declares auto_map (custom Python code); modelreg never "
                                  "runs code shipped with weights. Register a version that uses a "
                                  "transformers architecture")


def _weights_kind(step: Resolved, allow_pickle: bool) -> str:
    """safetensors, gguf or pickle, by the record; pickle-only versions are refused unless allowed."""
    names = [a["path"] for a in step.record.get("artifacts") or []]
    if any(n.endswith(".safetensors") for n in names):
        return "safetensors"
    if any(n.endswith(".gguf") for n in names):
        return "gguf"
    pickles = [n for n in names if n.endswith(PICKLE_SUFFIXES)]
    if pickles and not allow_pickle:
        raise PolicyViolation(f"{step.name} has only pickle weights ({pickles[0]}); unpickling can run "
                              "code. Convert them to safetensors, or allow pickle (allow_pickle=True) "
                              "if you trust this file", hint="allow_pickle")
    if pickles:
        return "pickle"
    raise InvalidRecord(f"{step.name} has no weights file (safetensors, gguf or pickle) among its artifacts")


def _refuse_unsafe_env() -> None:
    if os.environ.get("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD"):
        raise PolicyViolation("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD is set: it makes torch.load run pickled code; "
                              "unset it before loading models")


# -- devices and dtypes ---------------------------------------------------------------------
def _require_hf(steps) -> None:
    """torch and transformers (and peft under an adapter) must be installed: say which extra."""
    needed = ["torch", "transformers"] + (["peft"] if any(s.model_type == "adapter" for s in steps) else [])
    missing = [name for name in needed if importlib.util.find_spec(name) is None]
    if missing:
        raise missing_extra("hf", "loading models", missing)


def _device(device, steps=()) -> str:
    _require_hf(steps)
    import torch

    text = str(device or "auto")
    if text == "auto":
        return "cuda:0" if torch.cuda.is_available() else "cpu"
    if text == "cpu":
        return "cpu"
    match = re.fullmatch(r"cuda(?::(\d+))?", text)
    if match:
        if not torch.cuda.is_available():
            raise InvalidInput(f"device {text!r} does not exist: this machine has no usable CUDA GPU; "
                               "use device='cpu'")
        index, count = int(match.group(1) or 0), torch.cuda.device_count()
        if index >= count:
            raise InvalidInput(f"device {text!r} does not exist: this machine has {count} GPU(s), "
                               f"cuda:0..cuda:{count - 1}")
        return f"cuda:{index}"
    if text == "mps":
        if not torch.backends.mps.is_available():
            raise InvalidInput("device 'mps' does not exist on this machine; use 'cpu'")
        return "mps"
    raise InvalidInput(f"unknown device {text!r}: use auto, cpu, cuda or cuda:N")


def _dtype_name(dtype) -> str:
    if dtype is None:
        return "auto"
    text = str(dtype).removeprefix("torch.")
    if text not in DTYPES:
        raise InvalidInput(f"unknown dtype {dtype!r}: use auto, float32, float16 or bfloat16")
    return DTYPES[text]


def _torch_dtype(name: str):
    import torch

    return "auto" if name == "auto" else getattr(torch, name)


# -- building models ------------------------------------------------------------------------
def _build(steps, folders, device, dtype_name, allow_pickle):
    """Full weights at the bottom, adapters applied upwards; returns (model, tokenizer)."""
    model = _load_full(steps[-1], folders[-1], device, dtype_name, allow_pickle)
    for i in range(len(steps) - 2, -1, -1):
        model = _attach(model, folders[i], _adapter_name(steps[i]), allow_pickle, first=True)
        if i > 0:  # an adapter under another adapter: the upper one was trained on it merged
            model = model.merge_and_unload()
    model.eval()
    tok = _tokenizer(steps, folders)
    return model, tok


def _load_full(step: Resolved, folder: Path, device: str, dtype_name: str, allow_pickle: bool):
    from transformers import AutoModelForCausalLM

    kind = _weights_kind(step, allow_pickle)
    kwargs = dict(dtype=_torch_dtype(dtype_name), trust_remote_code=False, local_files_only=True,
                  weights_only=True, use_safetensors=(kind == "safetensors") if kind != "gguf" else None)
    if kind == "gguf":
        kwargs["gguf_file"] = _gguf_file(step)
    if device.startswith("cuda"):
        kwargs["device_map"] = device
    try:
        model = AutoModelForCausalLM.from_pretrained(str(folder), **kwargs)
    except ImportError as exc:
        raise ExternalError(f"{step.name} needs a package that is not installed: {exc}") from exc
    except (OSError, ValueError) as exc:
        raise InvalidRecord(f"{step.name}: transformers cannot load these files: {_first_line(exc)}") from exc
    if device != "cpu" and not device.startswith("cuda"):
        model = model.to(device)
    return model


def _gguf_file(step: Resolved) -> str:
    try:
        import gguf  # noqa: F401  (transformers reads GGUF through it)
    except ImportError as exc:
        raise missing_extra("gguf", f"{step.name}, a GGUF model,", ["gguf"]) from exc
    return next(a["path"] for a in step.record["artifacts"] if a["path"].endswith(".gguf"))


def _attach(model, folder: Path, name: str, allow_pickle: bool, first: bool):
    """Put the adapter in `folder` on `model` (a new PeftModel, or one more adapter on it)."""
    from peft import PeftModel

    if not (folder / "adapter_config.json").exists():
        raise InvalidRecord(f"{folder}: an adapter version needs adapter_config.json among its files")
    kwargs = dict(adapter_name=name, is_trainable=False)
    if not any(folder.glob("adapter_model.safetensors")) and not allow_pickle:
        raise PolicyViolation(f"{name}: adapter weights are not safetensors; pass allow_pickle=True to load them")
    try:
        if first:
            return PeftModel.from_pretrained(model, str(folder), **kwargs)
        model.load_adapter(str(folder), **kwargs)
        return model
    except (OSError, ValueError, RuntimeError, KeyError) as exc:
        raise InvalidRecord(f"adapter {name} does not fit its base: {_first_line(exc)}") from exc


def _tokenizer(steps, folders):
    """The tokenizer from the first folder that has one (an adapter usually borrows its base's),
    refused when the chat template it would apply is not the one that version's record reviewed
    (whatever file it came from: chat_template.jinja/.json, tokenizer_config.json, named ones)."""
    from transformers import AutoTokenizer

    from ..supply.formats import applied_template_problem

    for step, folder in zip(steps, folders):
        if any((folder / n).exists() for n in TOKENIZER_FILES):
            try:
                tok = AutoTokenizer.from_pretrained(str(folder), trust_remote_code=False, local_files_only=True)
            except (OSError, ValueError) as exc:
                raise InvalidRecord(f"{folder}: tokenizer cannot be loaded: {_first_line(exc)}") from exc
            problem = applied_template_problem(step.record, getattr(tok, "chat_template", None))
            if problem:
                raise PolicyViolation(f"{step.name}: {problem}; refusing to load it")
            return tok
    return None


def _adapter_name(step: Resolved) -> str:
    return re.sub(r"\W", "_", f"{step.model}_v{step.version}")


def _resolved(origin: Origin, ref, steps) -> dict:
    head = steps[0]
    return {"ref": str(ref), "registry": origin.where, "commit": head.commit,
            "model": head.model, "version": head.version, "model_type": head.model_type,
            "sha256": lockfile.file_hashes(head.record), "deprecated": head.deprecated,
            "lineage": [{"model": s.model, "version": s.version, "sha256": lockfile.file_hashes(s.record)}
                        for s in steps[1:]]}


def _matches(key, item, target) -> bool:
    if target is None:
        return True
    if isinstance(target, LoadedModel):
        return item is target or (target.adapter_name is None and key == target.key)
    ref = parse_ref(target) if "@" in str(target) else ModelRef(str(target))
    return item.resolved["model"] == ref.model and (ref.version is None or item.resolved["version"] == ref.version)


def _empty_cuda_cache() -> None:
    import sys

    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.empty_cache()


def _first_line(exc) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


@contextlib.contextmanager
def _quiet_hf():
    """Hub offline, no progress bars, while the model is built: the core never prints and never
    reaches the network. The environment and the hub's flag are put back as they were."""
    saved = {name: os.environ.get(name) for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    os.environ.update(dict.fromkeys(saved, "1"))
    import huggingface_hub.constants as hub_constants
    from transformers.utils import logging as hf_logging

    offline, hub_constants.HF_HUB_OFFLINE = hub_constants.HF_HUB_OFFLINE, True
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    started = time.perf_counter()
    try:
        with warnings.catch_warnings():
            # peft calls a transformers method deprecated in v5; not the user's concern
            warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing", category=FutureWarning)
            yield
    finally:
        hub_constants.HF_HUB_OFFLINE = offline
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        if bars:
            hf_logging.enable_progress_bar()
        log.debug("model built in %.2fs", time.perf_counter() - started)
