"""modelreg.load: alias -> verified files -> transformers/peft model, safely (issue 5)."""
import os
import subprocess
import sys
import weakref
from pathlib import Path

import pytest

from modelreg.core import errors
from tests.conftest import git
from tests.plugins.tiny_models import register_tiny

pytestmark = [pytest.mark.models, pytest.mark.usefixtures("fresh_loader")]

torch = pytest.importorskip("torch")


@pytest.fixture
def reg_path(tiny_registry):
    return tiny_registry[0]


@pytest.fixture
def own_registry(registry, tiny_models):
    """A writable registry holding the tiny models (for tests that change it)."""
    register_tiny(registry, tiny_models)
    return registry


def logits(loaded, text="the registry keeps"):
    loaded.activate()
    ids = loaded.tokenizer(text, return_tensors="pt")
    with torch.no_grad():
        return loaded.model(**ids).logits


def test_alias_on_main_loads_base_with_tokenizer_and_provenance(reg_path):
    from modelreg import load

    m = load("tiny@production", registry=reg_path, device="cpu")
    assert m.version == 1 and m.record["model_type"] == "base_model"
    assert len(m.commit) == 40
    assert m.sha256s["model.safetensors"] == next(
        a["sha256"] for a in m.record["artifacts"] if a["path"] == "model.safetensors")
    assert logits(m).shape[-1] == 400
    assert isinstance(m.generate("hello", max_new_tokens=3), str)


def test_same_key_is_cached_and_unload_frees_it(reg_path):
    from modelreg import load, unload
    from modelreg.loading import loader

    a = load("tiny@1", registry=reg_path, device="cpu")
    assert load("tiny@production", registry=reg_path, device="cpu") is a
    assert load("tiny@1", registry=reg_path, device="cpu", dtype="bfloat16") is not a
    ref = weakref.ref(a.model)
    assert unload("tiny@1") == 2
    del a
    import gc

    gc.collect()
    assert ref() is None and loader.loaded() == []


def test_adapter_is_loaded_on_its_registered_base_and_changes_logits(reg_path, tiny_models):
    from modelreg import load

    base = load("tiny@1", registry=reg_path, device="cpu")
    lora = load("tiny-lora@production", registry=reg_path, device="cpu")
    # adapter_config.json names a hub model that does not exist: only the registry's parent was used
    assert lora.resolved["lineage"][0]["model"] == "tiny"
    assert type(lora.model).__name__.startswith("Peft")
    assert not torch.allclose(logits(base), logits(lora), atol=1e-4)
    assert lora.tokenizer is not None  # borrowed from the base


def test_merged_equals_adapter_on_base(reg_path):
    from modelreg import load

    lora = load("tiny-lora@1", registry=reg_path, device="cpu", dtype="float32")
    merged = load("tiny-merged@1", registry=reg_path, device="cpu", dtype="float32")
    assert torch.allclose(logits(lora), logits(merged), atol=1e-4)


@pytest.mark.parametrize("ref,kind", [("tiny-ft@1", "fine_tuned"), ("tiny-small@1", "distilled"),
                                      ("tiny-merged@latest", "merged")])
def test_every_full_model_type_loads(reg_path, ref, kind):
    from modelreg import load

    m = load(ref, registry=reg_path, device="cpu")
    assert m.record["model_type"] == kind and logits(m).shape[-1] == 400


def test_load_adapters_share_one_base(reg_path):
    from modelreg import load, load_adapters

    one, two = load_adapters(["tiny-lora@1", "tiny-lora@2"], registry=reg_path, device="cpu")
    assert one.model is two.model
    l1, l2 = logits(one).clone(), logits(two).clone()
    assert not torch.allclose(l1, l2, atol=1e-4)
    alone = load("tiny-lora@2", registry=reg_path, device="cpu")
    assert torch.allclose(logits(alone), l2, atol=1e-5)


def test_adapters_on_different_bases_are_refused(reg_path):
    from modelreg import load_adapters

    with pytest.raises(errors.InvalidInput, match="adapters only"):
        load_adapters(["tiny-lora@1", "tiny@1"], registry=reg_path, device="cpu")


def test_alias_pointing_nowhere(reg_path):
    from modelreg import load
    from modelreg.loading import loader

    with pytest.raises(errors.NotFound, match="no alias 'staging'"):
        load("tiny@staging", registry=reg_path, device="cpu")
    with pytest.raises(errors.NotFound, match="no model named"):
        load("nothere@production", registry=reg_path, device="cpu")
    assert loader.loaded() == []


def test_nonexistent_device_is_refused_before_anything_loads(reg_path, isolated_env):
    from modelreg import load

    bad = "cuda:64" if torch.cuda.is_available() else "cuda"
    for device in (bad, "tpu", "cuda:x"):
        with pytest.raises(errors.InvalidInput, match="device"):
            load("tiny@1", registry=reg_path, device=device)
    assert not (isolated_env / "modelreg-cache").exists()  # nothing fetched


def test_unknown_dtype(reg_path):
    from modelreg import load

    with pytest.raises(errors.InvalidInput, match="dtype"):
        load("tiny@1", registry=reg_path, device="cpu", dtype="int3")


def test_adapter_whose_base_is_deleted(own_registry):
    from modelreg import load

    reg = own_registry
    reg.transition_stage("tiny", 1, "archived")
    with pytest.raises(errors.PolicyViolation, match="tiny@1 is the parent of tiny-lora@1"):
        reg.delete_version("tiny", 1, reason="license problem")  # issue 19.13
    _delete_by_hand(reg, "tiny", 1, "license problem")
    with pytest.raises(errors.NotFound, match="deleted .license problem"):
        load("tiny-lora@1", registry=reg.root, device="cpu")


def _delete_by_hand(reg, model, version, reason):
    """A soft delete the registry refuses (a live adapter stands on it), made by a hand edit."""
    import yaml

    path = reg.root / "registry" / model / "versions" / str(version) / "version.yaml"
    doc = yaml.safe_load(path.read_text())
    doc.update(status="deleted", deleted={"reason": reason, "at": "2026-01-01T00:00:00Z", "by": "someone"})
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    git(reg.root, "commit", "-qam", "hand delete")


def _rewrite_parent(reg, model, version, parent_model, parent_version):
    """Edit a record by hand, as a careless commit could (bypassing the registry's checks)."""
    path = reg.root / "registry" / model / "versions" / str(version) / "version.yaml"
    text = path.read_text()
    import re

    text = re.sub(r"parent:\n  model: \S+\n  version: \d+",
                  f"parent:\n  model: {parent_model}\n  version: {parent_version}", text)
    path.write_text(text)
    git(reg.root, "commit", "-qam", "hand edit")


def test_adapter_whose_base_is_missing(own_registry):
    from modelreg import load

    _rewrite_parent(own_registry, "tiny-lora", 1, "tiny", 7)
    with pytest.raises(errors.NotFound, match="needs base tiny@7, which is not in the registry"):
        load("tiny-lora@1", registry=own_registry.root, device="cpu")


def test_lineage_cycle(own_registry):
    from modelreg import load

    reg = own_registry
    _rewrite_parent(reg, "tiny-lora", 1, "tiny-lora", 2)
    _rewrite_parent(reg, "tiny-lora", 2, "tiny-lora", 1)
    with pytest.raises(errors.PolicyViolation, match="lineage cycle"):
        load("tiny-lora@1", registry=reg.root, device="cpu")


def test_pickle_only_weights_refused_unless_opted_in(registry, tiny_models):
    from modelreg import load

    from tests.supply.conftest import set_policy

    set_policy(registry, formats={"pickle": "scan"})  # issue 12: admitted after a clean scan, still not loaded
    registry.register_model("pickled", "base_model")
    registry.create_version("pickled", tiny_models["pickle"])
    with pytest.raises(errors.PolicyViolation, match="only pickle weights"):
        load("pickled@1", registry=registry.root, device="cpu")
    m = load("pickled@1", registry=registry.root, device="cpu", allow_pickle=True)
    assert logits(m).shape[-1] == 400


def test_weights_only_override_in_environment_is_refused(reg_path, monkeypatch):
    from modelreg import load

    monkeypatch.setenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")
    with pytest.raises(errors.PolicyViolation, match="TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD"):
        load("tiny@1", registry=reg_path, device="cpu")


def test_auto_map_is_refused_and_never_executed(registry, tiny_models):
    from modelreg import load

    from tests.supply.conftest import set_policy

    set_policy(registry, formats={"allowed": ["safetensors", "json", "md", "py"]})  # issue 12 refuses .py by default
    registry.register_model("custom", "base_model")
    registry.create_version("custom", tiny_models["auto_map"])
    with pytest.raises(errors.PolicyViolation, match="auto_map"):
        load("custom@1", registry=registry.root, device="cpu")
    assert not tiny_models["custom_code_marker"].exists()


def test_gguf_without_the_extra_names_what_to_install(registry, tmp_path):
    from modelreg import load

    try:
        import gguf  # noqa: F401
        pytest.skip("gguf is installed here")
    except ImportError:
        pass
    folder = tmp_path / "q"
    folder.mkdir()
    (folder / "model-q4.gguf").write_bytes(b"GGUF" + (3).to_bytes(4, "little") + bytes(56))  # v3, no metadata
    registry.register_model("tiny-q", "quantized")
    registry.create_version("tiny-q", folder)
    with pytest.raises(errors.ExternalError, match="needs gguf, from modelreg's gguf extra") as raised:
        load("tiny-q@1", registry=registry.root, device="cpu")
    assert raised.value.hint == "extra" and raised.value.hint_args["extra"] == "gguf"
    assert raised.value.hint_args["install"].endswith("[gguf]'")  # the CLI prints this installation's pip line


def _cached_weights(home) -> Path:
    found = [p for p in (home / "modelreg-cache").rglob("model.safetensors") if "trees" in p.parts]
    assert len(found) == 1
    return found[0]


def test_corrupt_file_in_cache_is_never_loaded(reg_path, isolated_env):
    """A cached file whose bytes changed is re-hashed, dropped and fetched again: same logits."""
    from modelreg import load, unload

    first = logits(load("tiny@1", registry=reg_path, device="cpu")).clone()
    unload()
    cached = _cached_weights(isolated_env)
    os.chmod(cached, 0o644)
    data = bytearray(cached.read_bytes())
    data[-10] ^= 0xFF
    cached.write_bytes(bytes(data))
    again = load("tiny@1", registry=reg_path, device="cpu")
    assert torch.equal(logits(again), first)


def test_corrupt_object_in_remote_is_refused(own_registry):
    from modelreg import load
    from modelreg.loading import loader

    remote = Path(own_registry.root / ".dvc" / "config").read_text().split("url = ")[1].split()[0]
    objects = [p for p in Path(remote).rglob("*") if p.is_file() and p.stat().st_size == 503144]
    for obj in objects:
        os.chmod(obj, 0o644)
        obj.write_bytes(bytes(503144))
    with pytest.raises(errors.IntegrityError, match="model.safetensors: sha256 mismatch"):
        load("tiny@1", registry=own_registry.root, device="cpu")
    assert loader.loaded() == []


def test_warm_load_does_not_rehash(reg_path, monkeypatch):
    from modelreg import load, unload
    from modelreg.artifacts import cache

    load("tiny@1", registry=reg_path, device="cpu")
    unload()
    monkeypatch.setattr(cache, "sha256_file", lambda p: pytest.fail(f"re-hashed {p}"))
    assert load("tiny@1", registry=reg_path, device="cpu").model is not None


def test_lock_pins_and_loads_exactly_that(own_registry, tmp_path):
    from modelreg import load
    from modelreg.loading import loader, lockfile

    reg = own_registry
    lock = tmp_path / "models.lock"
    lockfile.write_lock(loader.lock_refs(["tiny-lora@production"], registry=reg.root), lock)
    pinned = lockfile.read_lock(lock)
    assert pinned["models"]["tiny-lora@production"]["version"] == 1
    reg.set_alias("tiny-lora", "candidate", 2)
    reg.transition_stage("tiny-lora", 2, "staging")
    reg.transition_stage("tiny-lora", 2, "production")  # the alias moves: the lock still says 1
    m = load("tiny-lora@production", registry=reg.root, device="cpu", lock=lock)
    assert m.version == 1 and m.commit == pinned["commit"]


def test_stale_lock_is_refused(own_registry, tmp_path):
    from modelreg import load
    from modelreg.loading import loader, lockfile

    reg = own_registry
    lock = tmp_path / "models.lock"
    lockfile.write_lock(loader.lock_refs(["tiny-lora@1"], registry=reg.root), lock)
    reg.transition_stage("tiny", 1, "archived")
    _delete_by_hand(reg, "tiny", 1, "recalled")
    with pytest.raises(errors.IntegrityError, match="no longer matches.*tiny@1 was deleted"):
        load("tiny-lora@1", registry=reg.root, device="cpu", lock=lock)


def test_lock_with_unknown_commit_is_refused(own_registry, tmp_path):
    from modelreg import load
    from modelreg.loading import loader, lockfile

    doc = loader.lock_refs(["tiny@1"], registry=own_registry.root)
    doc["commit"] = "0" * 40
    lock = tmp_path / "models.lock.json"
    lockfile.write_lock(doc, lock)
    with pytest.raises(errors.IntegrityError, match="is not on main"):
        load("tiny@1", registry=own_registry.root, device="cpu", lock=lock)


def test_remote_registry_is_a_blobless_clone(own_registry, tmp_path, monkeypatch):
    """Reading an alias from a URL fetches only the blobs it needs, never the history's."""
    from modelreg import load
    from modelreg.loading import sources

    bare = tmp_path / "origin.git"
    git(tmp_path, "clone", "-q", "--bare", str(own_registry.root), str(bare))
    git(bare, "config", "uploadpack.allowFilter", "true")
    git(bare, "config", "uploadpack.allowAnySHA1InWant", "true")
    url = f"file://{bare}"
    old_blob = git(bare, "rev-parse", "HEAD~3:registry/tiny/aliases.yaml").strip()
    m = load("tiny-lora@production", registry=url, device="cpu")
    assert m.version == 1 and m.resolved["registry"] == url
    clone = sources.clone_path(url)
    missing = git(clone, "rev-list", "--objects", "--missing=print", "--all")
    assert f"?{old_blob}" in missing.split()  # history blob not downloaded
    assert not (clone / "registry").exists()  # no checkout


def test_import_modelreg_stays_light():
    code = "import sys, modelreg; modelreg.Registry; print(sorted(m for m in ('torch','transformers','peft','dvc') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_load_and_unload_frees_memory(reg_path):
    from modelreg import load, unload

    m = load("tiny-lora@production", registry=reg_path, device="cuda")
    assert next(m.model.parameters()).device.type == "cuda"
    before = torch.cuda.memory_allocated()
    del m
    unload()
    assert torch.cuda.memory_allocated() < before


def test_adapter_on_adapter_is_merged_on_the_way(registry, tiny_models):
    """Lineage of any depth: tiny-lora2@1 -> tiny-lora@1 -> tiny@1."""
    from modelreg import load

    register_tiny(registry, tiny_models, promote=False)
    registry.register_model("tiny-lora2", "adapter")
    registry.create_version("tiny-lora2", tiny_models["adapter2"], parent="tiny-lora@1")
    deep = load("tiny-lora2@1", registry=registry.root, device="cpu", dtype="float32")
    assert [b["model"] for b in deep.resolved["lineage"]] == ["tiny-lora", "tiny"]
    one = load("tiny-lora@1", registry=registry.root, device="cpu", dtype="float32")
    assert not torch.allclose(logits(deep), logits(one), atol=1e-4)


def test_quantized_type_with_safetensors_loads_through_transformers(registry, tiny_models):
    from modelreg import load

    registry.register_model("tiny-q", "quantized")
    registry.create_version("tiny-q", tiny_models["base"])
    m = load("tiny-q@1", registry=registry.root, device="cpu")
    assert m.record["model_type"] == "quantized" and logits(m).shape[-1] == 400


@pytest.mark.s3
def test_adapter_from_s3_remote_through_a_url_registry(s3_registry, tiny_models, tmp_path):
    """Weights pushed to the S3 test server, records read from a blobless clone of the registry."""
    from modelreg import load

    register_tiny(s3_registry, tiny_models)
    bare = tmp_path / "origin.git"
    git(tmp_path, "clone", "-q", "--bare", str(s3_registry.root), str(bare))
    git(bare, "config", "uploadpack.allowFilter", "true")
    lora = load("tiny-lora@production", registry=f"file://{bare}", device="cpu", dtype="float32")
    merged = load("tiny-merged@1", registry=f"file://{bare}", device="cpu", dtype="float32")
    assert lora.resolved["lineage"][0]["model"] == "tiny"
    assert torch.allclose(logits(lora), logits(merged), atol=1e-4)
