"""`modelreg load`, `modelreg lock`, `modelreg watch` through the real CLI entry point (issue 5)."""
import json

import pytest

from tests.plugins.tiny_models import register_tiny

pytestmark = [pytest.mark.models, pytest.mark.usefixtures("fresh_loader")]


def run(capsys, *args):
    from modelreg.cli import main

    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_load_answers_a_prompt(tiny_registry, capsys):
    path, _ = tiny_registry
    code, out, err = run(capsys, "-C", str(path), "load", "tiny-lora@production", "--device", "cpu",
                         "--prompt", "The registry", "--max-new-tokens", "4")
    assert code == 0, err
    assert out.startswith("loaded tiny-lora@1 (adapter on tiny@1) on cpu")
    assert "\nThe registry" in out


def test_load_json_and_errors(tiny_registry, capsys):
    path, _ = tiny_registry
    code, out, _ = run(capsys, "load", "tiny@1", "--registry", str(path), "-d", "cpu", "--json")
    doc = json.loads(out)
    assert code == 0 and doc["version"] == 1 and "model.safetensors" in doc["sha256"]
    code, _, err = run(capsys, "load", "tiny@1", "--registry", str(path), "-d", "tpu")
    assert code == 1 and err.startswith("error: unknown device 'tpu'")
    code, _, err = run(capsys, "load", "tiny@nowhere", "--registry", str(path), "-d", "cpu")
    assert code == 1 and "no alias 'nowhere'" in err


def test_lock_then_load_with_lock(tiny_registry, tmp_path, capsys):
    path, _ = tiny_registry
    lock = tmp_path / "models.lock"
    code, out, err = run(capsys, "-C", str(path), "lock", "tiny-lora@production", "tiny@1", "-o", str(lock))
    assert code == 0, err
    assert "tiny-lora@production -> tiny-lora@1 (3 files)" in out
    code, out, err = run(capsys, "-C", str(path), "load", "tiny-lora@production", "-d", "cpu", "--lock", str(lock))
    assert code == 0, err
    assert "loaded tiny-lora@1" in out


def test_watch_prints_swaps(registry, tiny_models, capsys, monkeypatch):
    register_tiny(registry, tiny_models)
    from modelreg.loading.serving import ServingManager

    original_poll = ServingManager.poll
    calls = []

    def poll_then_promote(self):
        calls.append(1)
        if len(calls) == 1:  # promote between the first and second poll
            registry.transition_stage("tiny-lora", 2, "staging")
            registry.transition_stage("tiny-lora", 2, "production")
        return original_poll(self)

    monkeypatch.setattr(ServingManager, "poll", poll_then_promote)
    code, out, err = run(capsys, "watch", "tiny-lora@production", "-r", str(registry.root), "-d", "cpu",
                         "--interval", "0.05", "--polls", "2")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("serving tiny-lora@1 for tiny-lora@production")
    assert lines[1].startswith("swapped tiny-lora@1 -> tiny-lora@2")
