"""Tiny real models built offline once per session, and registries holding them.

The builders live in scripts/make_tiny_model.py (the demo and benchmarks use them too).
Tests using these fixtures are marked `models`.
"""
import importlib.util
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _builders():
    spec = importlib.util.spec_from_file_location("make_tiny_model", ROOT / "scripts" / "make_tiny_model.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory) -> dict[str, Path]:
    """Folders: base, fine_tuned, distilled, adapter, adapter2, merged, pickle, auto_map.

    `custom_code_marker` is the file the auto_map model's code would write if it ever ran.
    """
    root = tmp_path_factory.mktemp("tiny-models")
    marker = root / "CUSTOM_CODE_RAN"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        mp.setenv("TRANSFORMERS_OFFLINE", "1")
        folders = _builders().build_all(root / "src", marker)
    folders["custom_code_marker"] = marker
    return folders


@pytest.fixture
def fresh_loader():
    """Each model test starts with an empty process cache and forgets remote registries."""
    from modelreg.loading import loader, sources

    yield
    loader.unload()
    sources.forget()


def copy_model(src: Path, dest: Path) -> Path:
    shutil.copytree(src, dest)
    return dest


def register_tiny(reg, tiny_models, promote: bool = True) -> dict:
    """base tiny@1, adapter tiny-lora@1 on it (both in production), merged, fine-tuned, distilled."""
    reg.register_model("tiny", "base_model", description="tiny llama")
    reg.create_version("tiny", tiny_models["base"])
    reg.register_model("tiny-lora", "adapter")
    reg.create_version("tiny-lora", tiny_models["adapter"], parent="tiny@1")
    reg.create_version("tiny-lora", tiny_models["adapter2"], parent="tiny@1")
    reg.register_model("tiny-merged", "merged")
    reg.create_version("tiny-merged", tiny_models["merged"], parent="tiny-lora@1")
    reg.register_model("tiny-ft", "fine_tuned")
    reg.create_version("tiny-ft", tiny_models["fine_tuned"], parent="tiny@1")
    reg.register_model("tiny-small", "distilled")
    reg.create_version("tiny-small", tiny_models["distilled"], parent="tiny@1")
    if promote:
        for model in ("tiny", "tiny-lora"):
            reg.transition_stage(model, 1, "staging")
            reg.transition_stage(model, 1, "production")
    return {"base": "tiny@1", "adapter": "tiny-lora@1", "adapter2": "tiny-lora@2",
            "merged": "tiny-merged@1", "fine_tuned": "tiny-ft@1", "distilled": "tiny-small@1"}


@pytest.fixture(scope="session")
def tiny_registry(tiny_models, tmp_path_factory):
    """A registry (with a local DVC remote) holding every tiny model; read-only for tests."""
    from modelreg.registry import Registry, init_registry

    root = tmp_path_factory.mktemp("tiny-registry")
    with pytest.MonkeyPatch.context() as mp:
        home = root / "home"
        home.mkdir()
        mp.setenv("HOME", str(home))
        mp.setenv("GIT_CONFIG_NOSYSTEM", "1")
        for var, val in [("GIT_AUTHOR_NAME", "Test User"), ("GIT_AUTHOR_EMAIL", "test@example.com"),
                         ("GIT_COMMITTER_NAME", "Test User"), ("GIT_COMMITTER_EMAIL", "test@example.com"),
                         ("DVC_NO_ANALYTICS", "1")]:
            mp.setenv(var, val)
        (home / ".gitconfig").write_text("[user]\n\tname = Test User\n\temail = test@example.com\n"
                                         "[init]\n\tdefaultBranch = main\n")
        path = root / "reg"
        init_registry(path, remote=str(root / "remote"))
        reg = Registry(path)
        refs = register_tiny(reg, tiny_models)
        reg.close()
    return path, refs
