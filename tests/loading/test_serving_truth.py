"""Issue 13 item 8: serving keeps a working model under every request, through swaps and through
versions that cannot be built. Real tiny transformers/peft models, real threads."""
import shutil
import threading
import time

import pytest

from tests.plugins.tiny_models import register_tiny

from tests.promotion.test_promote import run_cli

pytestmark = [pytest.mark.models, pytest.mark.usefixtures("fresh_loader")]


@pytest.fixture
def served(registry, tiny_models):
    register_tiny(registry, tiny_models)
    registry.set_alias("tiny-lora", "live", 1)
    return registry


def flip(reg, manager):
    """Move tiny-lora@live to the other version and let the manager swap to it."""
    target = 2 if manager.current.version == 1 else 1
    reg.set_alias("tiny-lora", "live", target)
    assert manager.poll() is True and manager.current.version == target


def broken_adapter(tiny_models, tmp_path):
    """Files that exist and hash correctly but cannot be built: a corrupt safetensors file."""
    folder = shutil.copytree(tiny_models["adapter2"], tmp_path / "corrupt")
    weights = next(folder.glob("*.safetensors"))
    weights.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all" + b"\x00" * 64)
    return folder


def test_a_request_that_took_the_model_finishes_on_it(served):
    """issue 13 item 8: a swap never empties the LoadedModel a request is using."""
    from modelreg.loading.serving import ServingManager

    manager = ServingManager("tiny-lora@live", registry=served.root, device="cpu").start(background=False)
    took, swapped, results = threading.Event(), threading.Event(), {}

    def request(name, leased):
        try:
            if leased:
                with manager.use() as loaded:
                    took.set()
                    swapped.wait(60)
                    results[name] = (loaded.version, loaded.generate("hello", 2))
            else:
                loaded = manager.current  # the documented pattern: take it once per request
                took.set()
                swapped.wait(60)
                results[name] = (loaded.version, loaded.generate("hello", 2))
        except Exception as exc:  # noqa: BLE001 - the test reports what a request saw
            results[name] = exc

    try:
        threads = [threading.Thread(target=request, args=(n, n == "leased")) for n in ("plain", "leased")]
        for thread in threads:
            thread.start()
        took.wait(60)
        time.sleep(0.1)
        flip(served, manager)
        swapped.set()
        for thread in threads:
            thread.join(60)
        assert {k: v[0] if isinstance(v, tuple) else v for k, v in results.items()} == {"plain": 1, "leased": 1}
        assert manager.current.version == 2 and manager.current.generate("hello", 2) is not None
    finally:
        manager.stop()


def test_requests_during_repeated_swaps_never_fail(served):
    """issue 13 item 8: the concurrency test: requests run all through six swaps, none fails."""
    from modelreg.loading.serving import ServingManager

    manager = ServingManager("tiny-lora@live", registry=served.root, device="cpu").start(background=False)
    stop, done, failures = threading.Event(), [], []

    def requests():
        while not stop.is_set():
            try:
                loaded = manager.current
                loaded.generate("hi", 3)
                done.append(loaded.version)
            except Exception as exc:  # noqa: BLE001
                failures.append(repr(exc))

    workers = [threading.Thread(target=requests) for _ in range(4)]
    try:
        for worker in workers:
            worker.start()
        for _ in range(6):
            flip(served, manager)
            time.sleep(0.05)
    finally:
        stop.set()
        for worker in workers:
            worker.join(60)
        manager.stop()
    assert len(manager.swaps) == 6
    assert failures == [], failures[:3]
    assert set(done) == {1, 2}


def test_a_version_that_cannot_be_built_keeps_the_old_one(served, tiny_models, tmp_path):
    """issue 13 item 8: corrupt weights make a failed event, not an exception; the old model serves."""
    from modelreg.loading.serving import ServingManager

    seen = []
    served.create_version("tiny-lora", broken_adapter(tiny_models, tmp_path), parent="tiny@1")
    manager = ServingManager("tiny-lora@live", registry=served.root, device="cpu",
                             on_event=lambda e: seen.append(e)).start(background=False)
    try:
        served.set_alias("tiny-lora", "live", 3)
        assert manager.poll() is False
        assert seen[-1].kind == "failed" and seen[-1].new == "tiny-lora@3"
        assert manager.current.version == 1 and manager.current.generate("hello", 2) is not None
        assert manager.last_error
    finally:
        manager.stop()


def test_watch_does_not_exit_3_on_a_version_that_cannot_be_built(served, tiny_models, tmp_path):
    """issue 13 item 8: `modelreg watch` reports the failure and keeps serving (exit 0, not 3)."""
    from modelreg.loading import loader

    served.create_version("tiny-lora", broken_adapter(tiny_models, tmp_path), parent="tiny@1")
    ran = {}
    thread = threading.Thread(target=lambda: ran.update(out=run_cli(
        served.root, "watch", "tiny-lora@live", "--device", "cpu", "--interval", "0.1", "--polls", "30")))
    thread.start()
    end = time.monotonic() + 60
    while not loader.loaded() and time.monotonic() < end:
        time.sleep(0.05)
    served.set_alias("tiny-lora", "live", 3)
    thread.join(120)
    out = ran["out"]
    assert out.exit_code == 0, out.output
    assert "kept tiny-lora@1: could not load tiny-lora@3" in out.output
