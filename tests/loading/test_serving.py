"""ServingManager: follow an alias on main, swap in the background, keep the old on failure (issue 5)."""
import time

import pytest

from modelreg.core import errors
from tests.conftest import git
from tests.plugins.tiny_models import register_tiny

pytestmark = [pytest.mark.models, pytest.mark.usefixtures("fresh_loader")]


@pytest.fixture
def served(registry, tiny_models):
    register_tiny(registry, tiny_models)
    return registry


def promote(reg, model, version):
    reg.transition_stage(model, version, "staging")
    reg.transition_stage(model, version, "production")


def wait_for(predicate, timeout=60.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_promotion_is_swapped_in_then_a_broken_version_keeps_the_old(served, tiny_models, tmp_path):
    from modelreg.loading.serving import ServingManager

    seen = []
    manager = ServingManager("tiny-lora@production", registry=served.root, device="cpu", interval=0.1,
                             on_event=lambda e: seen.append(e.line())).start()
    try:
        first = manager.current
        assert first.version == 1 and seen[0].startswith("serving tiny-lora@1")
        promote(served, "tiny-lora", 2)
        assert wait_for(lambda: manager.current.version == 2)
        assert manager.swaps[-1].old == "tiny-lora@1" and manager.swaps[-1].new == "tiny-lora@2"
        from modelreg.loading import loader
        assert first not in loader.loaded()  # the old one left the cache...
        assert first.model is not None  # ...but is not emptied under a request still holding it (issue 13)
        assert manager.current.generate("hello", 2) is not None
        # a broken version: a full custom-code model registered as an adapter; the loader refuses
        # it by its record (no adapter weights) before downloading anything (issue 9)
        registry = served
        from tests.supply.conftest import set_policy

        set_policy(registry, formats={"allowed": ["safetensors", "json", "md", "py"]})  # issue 12: .py is opt-in
        registry.create_version("tiny-lora", tiny_models["auto_map"], parent="tiny@1")
        promote(registry, "tiny-lora", 3)
        assert wait_for(lambda: manager.last_error is not None)
        assert "adapter weights" in manager.last_error
        assert manager.current.version == 2 and manager.current.model is not None
        assert any(line.startswith("kept tiny-lora@2: could not load tiny-lora@3") for line in seen)
    finally:
        manager.stop()
    assert not tiny_models["custom_code_marker"].exists()


def test_poll_without_a_move_does_nothing(served):
    from modelreg.loading.serving import ServingManager

    manager = ServingManager("tiny@production", registry=served.root, device="cpu").start(background=False)
    assert manager.poll() is False
    served.set_alias("tiny-lora", "canary", 2)  # main moves, but not tiny@production
    assert manager.poll() is False and manager.current.version == 1
    manager.stop()
    assert manager.current is None


def test_alias_removed_keeps_serving(served):
    from modelreg.loading.serving import ServingManager

    served.set_alias("tiny-lora", "canary", 2)
    manager = ServingManager("tiny-lora@canary", registry=served.root, device="cpu").start(background=False)
    served.remove_alias("tiny-lora", "canary")
    assert manager.poll() is False
    assert "no alias 'canary'" in manager.last_error and manager.current.version == 2
    manager.stop()


def test_remote_registry_is_polled_with_ls_remote(served, tmp_path):
    from modelreg.loading.serving import ServingManager

    bare = tmp_path / "origin.git"
    git(tmp_path, "clone", "-q", "--bare", str(served.root), str(bare))
    git(bare, "config", "uploadpack.allowFilter", "true")
    git(served.root, "remote", "add", "origin", str(bare))
    manager = ServingManager("tiny-lora@production", registry=f"file://{bare}", device="cpu").start(background=False)
    assert manager.poll() is False
    promote(served, "tiny-lora", 2)
    git(served.root, "push", "-q", "origin", "main")
    assert manager.poll() is True and manager.current.version == 2
    manager.stop()


def test_first_load_failure_raises(served):
    from modelreg.loading.serving import ServingManager

    with pytest.raises(errors.NotFound):
        ServingManager("tiny@staging", registry=served.root, device="cpu").start()
