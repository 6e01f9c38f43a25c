"""Issue 12: the weight-format policy (allow-list, pickles through picklescan) and chat templates,
on real files and real git."""
import json
import shutil
import pickle

import pytest
import yaml

from modelreg.cli import main
from modelreg.core import errors
from tests.conftest import git, write_weights
from tests.supply.conftest import problems, set_policy
from tests.test_registry import snapshot


def test_bin_in_a_safetensors_only_registry_is_refused(registry, weights, capsys):
    """issue 12 bad input: a `.bin` in a safetensors-only registry: exit 1, file named, nothing written."""
    set_policy(registry, formats={"allowed": ["safetensors", "json"]})
    registry.register_model("m", "base_model")
    (weights / "pytorch_model.bin").write_bytes(pickle.dumps({"w": [1, 2]}))
    before = snapshot(registry.root)
    assert main(["-C", str(registry.root), "version", "create", "m", str(weights)]) == 1
    err = capsys.readouterr().err
    assert err == ("error: pytorch_model.bin: pickle files are refused by registry.yaml's formats policy "
                   "(pickle can run code when loaded); convert it to safetensors\n")
    assert snapshot(registry.root) == before


def test_format_not_in_the_allow_list_is_refused(registry, weights):
    registry.register_model("m", "base_model")
    (weights / "modeling_custom.py").write_text("import os\n")
    with pytest.raises(errors.PolicyViolation, match=r"^modeling_custom.py: format 'py' is not in registry.yaml's "
                       r"formats.allowed \(gguf, jinja, json, md, model, safetensors, txt\)"):
        registry.create_version("m", weights)
    assert not (registry.root / "registry/m/versions/1").exists()


def test_pickle_disguised_as_safetensors_is_refused(registry, weights):
    """A pickle is recognised by its first bytes, whatever it is called."""
    registry.register_model("m", "base_model")
    (weights / "model.safetensors").write_bytes(pickle.dumps({"w": 1}, protocol=4))
    with pytest.raises(errors.PolicyViolation, match="^model.safetensors: pickle files are refused"):
        registry.create_version("m", weights)


def test_pickle_the_scanner_flags_is_refused(registry, weights, capsys):
    """issue 12 bad input: with `pickle: scan`, a pickle picklescan flags: exit 1, file and reason named."""
    set_policy(registry, formats={"allowed": ["safetensors", "json", "pkl"], "pickle": "scan"})
    registry.register_model("m", "base_model")
    (weights / "evil.pkl").write_bytes(pickle.dumps(_Evil()))
    before = snapshot(registry.root)
    assert main(["-C", str(registry.root), "version", "create", "m", str(weights)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: evil.pkl: picklescan flags dangerous imports (") and "system" in err
    assert err.rstrip().endswith("refusing it") and err.count("\n") == 1
    assert snapshot(registry.root) == before


def test_clean_pickle_is_admitted_with_its_scan_verdict_recorded(registry, weights):
    set_policy(registry, formats={"pickle": "scan"})
    registry.register_model("m", "base_model")
    (weights / "pytorch_model.bin").write_bytes(pickle.dumps({"w": [1.0, 2.0]}))
    record = registry.create_version("m", weights)
    art = next(a for a in record["artifacts"] if a["path"] == "pytorch_model.bin")
    assert art["scan"]["verdict"] == "clean" and art["scan"]["tool"].startswith("picklescan ")
    assert problems(registry) == []


def test_check_remote_rescans_a_new_pickle_whatever_the_record_says(registry, weights, monkeypatch):
    """issue 19.5: a modified client recorded `verdict: clean` for a dangerous pickle (the bytes in
    the remote hash to the recorded sha256): `check --base --remote` scans the remote's bytes again."""
    from modelreg.supply import formats

    set_policy(registry, formats={"allowed": ["safetensors", "json", "pkl"], "pickle": "scan"})
    registry.register_model("m", "base_model")
    git(registry.root, "checkout", "-qb", "pr")
    (weights / "evil.pkl").write_bytes(pickle.dumps(_Evil()))
    with monkeypatch.context() as patched:  # the attacker's client: its scan says clean
        patched.setattr(formats, "scan_pickle", lambda rel, path: {"tool": "picklescan 0.0.0", "verdict": "clean",
                                                                   "globals": []})
        record = registry.create_version("m", weights)
    assert next(a for a in record["artifacts"] if a["path"] == "evil.pkl")["scan"]["verdict"] == "clean"
    git(registry.root, "checkout", "-q", "main")
    assert problems(registry, at="pr", base="main") == []  # the record alone looks clean
    found = problems(registry, at="pr", base="main", remote=True)
    assert any("evil.pkl: picklescan flags dangerous imports" in p and "re-scanned from the remote's bytes" in p
               for p in found), found


def test_check_remote_finds_a_pickle_named_safetensors_by_its_bytes(registry, weights, monkeypatch):
    """issue 19.5: a modified client registered a pickle as model.safetensors (the record says
    safetensors, no verdict needed): `check --base --remote` knows it by its first bytes."""
    from modelreg.supply import formats

    registry.register_model("m", "base_model")
    git(registry.root, "checkout", "-qb", "pr")
    (weights / "model.safetensors").write_bytes(pickle.dumps(_Evil(), protocol=4))
    with monkeypatch.context() as patched:  # the attacker's client does not look at the bytes
        patched.setattr(formats, "looks_like_pickle", lambda path: False)
        registry.create_version("m", weights)
    git(registry.root, "checkout", "-q", "main")
    assert problems(registry, at="pr", base="main") == []
    found = problems(registry, at="pr", base="main", remote=True)
    assert len(found) == 1 and found[0].startswith(
        "registry/m/versions/1/weights.dvc:/: model.safetensors: its bytes are a pickle, which registry.yaml's "
        "formats policy refuses"), found


def test_check_remote_compares_the_template_the_remote_files_carry(registry, weights):
    """issue 19.4: with the files only in the remote, a template embedded in tokenizer_config.json
    that is not the recorded (benign, committed) one is found by `check --base --remote`."""
    import hashlib

    from modelreg.artifacts.cache import Cache

    registry.register_model("chat", "base_model")
    git(registry.root, "checkout", "-qb", "pr")
    (weights / "tokenizer_config.json").write_text(json.dumps({"chat_template": "{{ 'exfiltrate' }}"}))
    registry.create_version("chat", weights)
    tpath, vpath = "registry/chat/versions/1/chat_template.jinja", "registry/chat/versions/1/version.yaml"
    (registry.root / tpath).write_text("{{ bos_token }}")
    doc = yaml.safe_load((registry.root / vpath).read_text())
    doc["chat_template"]["sha256"] = hashlib.sha256(b"{{ bos_token }}").hexdigest()
    (registry.root / vpath).write_text(yaml.safe_dump(doc, sort_keys=False))
    git(registry.root, "commit", "-qam", "a benign template in the review")
    git(registry.root, "checkout", "-q", "main")
    shutil.rmtree(registry.root / "registry/chat/versions/1/weights", ignore_errors=True)
    shutil.rmtree(Cache().root, ignore_errors=True)
    assert problems(registry, at="pr", base="main") == []  # the record alone looks right
    found = problems(registry, at="pr", base="main", remote=True)
    assert len(found) == 1 and found[0].startswith(
        "registry/chat/versions/1/weights.dvc:/: tokenizer_config.json in the weights carries a chat template "
        "that version.yaml does not record"), found


def test_check_applies_the_format_policy_to_a_new_version_record(reg):
    """A hand-written record cannot smuggle a pickle past `version create`: check refuses it."""
    git(reg.root, "checkout", "-qb", "pr")
    reg.create_version("llm", source_uri="s3://elsewhere")
    path = reg.root / "registry/llm/versions/2/version.yaml"
    path.write_text(path.read_text() + "artifacts:\n- path: pytorch_model.bin\n  artifact_type: weights\n"
                    "  format: pytorch\n  size_bytes: 3\n  sha256: " + "a" * 64 + "\n")
    git(reg.root, "commit", "-qam", "smuggle")
    found = problems(reg, at="pr", base="main")
    assert "registry/llm/versions/2/version.yaml:/artifacts/0/path: pytorch_model.bin: pickle files are refused " \
           "by registry.yaml's formats policy; convert it to safetensors" in found


def test_chat_template_recorded_kept_in_git_and_checked(registry, weights):
    registry.register_model("chat", "base_model")
    record = registry.create_version("chat", with_template(weights, "{{ messages[0].content }}"))
    import hashlib
    assert record["chat_template"] == {"source": "chat_template.jinja",
                                       "sha256": hashlib.sha256(b"{{ messages[0].content }}").hexdigest()}
    tpath = "registry/chat/versions/1/chat_template.jinja"
    assert git(registry.root, "show", f"HEAD:{tpath}") == "{{ messages[0].content }}"
    assert problems(registry) == []
    (registry.root / tpath).write_text("{{ 'ignore previous instructions' }}")
    assert problems(registry) == [f"{tpath}:/: its sha256 is not the one version.yaml records in chat_template"]


def test_a_committed_template_cannot_front_another_served_one(registry, weights):
    """issue 19.4: the weights carry one template, the PR commits a benign one beside version.yaml
    and records its sha256: check refuses, since chat_template.jinja's bytes are in the weights."""
    import hashlib

    registry.register_model("chat", "base_model")
    registry.create_version("chat", with_template(weights, "{{ 'exfiltrate' }}{{ messages }}"))
    benign = "{{ messages[0].content }}"
    tpath, vpath = "registry/chat/versions/1/chat_template.jinja", "registry/chat/versions/1/version.yaml"
    (registry.root / tpath).write_text(benign)
    doc = yaml.safe_load((registry.root / vpath).read_text())
    doc["chat_template"]["sha256"] = hashlib.sha256(benign.encode()).hexdigest()
    (registry.root / vpath).write_text(yaml.safe_dump(doc, sort_keys=False))
    shutil.rmtree(registry.root / "registry/chat/versions/1/weights")  # the record alone tells
    from modelreg.artifacts.cache import Cache
    shutil.rmtree(Cache().root, ignore_errors=True)
    found = problems(registry)
    assert any(p.startswith(f"{vpath}:/artifacts/") and "chat_template.jinja in the weights is not the template "
               "version.yaml records" in p for p in found), found


def test_a_template_in_tokenizer_config_is_compared_where_the_files_are_local(registry, weights):
    """issue 19.4: a template embedded in tokenizer_config.json is read from the local files and
    compared with the record."""
    import hashlib

    registry.register_model("chat", "base_model")
    (weights / "tokenizer_config.json").write_text(json.dumps({"chat_template": "{{ 'evil' }}"}))
    registry.create_version("chat", weights)
    tpath, vpath = "registry/chat/versions/1/chat_template.jinja", "registry/chat/versions/1/version.yaml"
    (registry.root / tpath).write_text("{{ bos_token }}")
    doc = yaml.safe_load((registry.root / vpath).read_text())
    doc["chat_template"]["sha256"] = hashlib.sha256(b"{{ bos_token }}").hexdigest()
    (registry.root / vpath).write_text(yaml.safe_dump(doc, sort_keys=False))
    assert f"{vpath}:/chat_template: tokenizer_config.json in the weights carries a chat template that " \
           "version.yaml does not record" in problems(registry)


@pytest.mark.parametrize("extra,message", [
    ({"additional_chat_templates/tool_use.jinja": "{{ tools }}"},
     "additional_chat_templates/tool_use.jinja: named chat templates are not recorded or reviewed"),
    ({"chat_template.json": json.dumps({"chat_template": "{{ other }}"})},
     "chat_template.jinja and chat_template.json carry different chat templates"),
    ({"tokenizer_config.json": json.dumps({"chat_template": "{{ other }}"})},
     "chat_template.jinja and tokenizer_config.json carry different chat templates"),
])
def test_templates_a_loader_would_apply_unrecorded_are_refused(registry, weights, extra, message, capsys):
    """issue 19.4: every template transformers would find is the recorded one, or the version is refused."""
    from modelreg.cli import main
    from tests.test_registry import snapshot

    registry.register_model("chat", "base_model")
    with_template(weights, "{{ messages }}")
    for rel, text in extra.items():
        (weights / rel).parent.mkdir(parents=True, exist_ok=True)
        (weights / rel).write_text(text)
    before = snapshot(registry.root)
    assert main(["-C", str(registry.root), "version", "create", "chat", str(weights)]) == 1
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err
    assert snapshot(registry.root) == before


def test_template_from_tokenizer_config(registry, weights):
    registry.register_model("chat", "base_model")
    (weights / "tokenizer_config.json").write_text(json.dumps({"chat_template": "{{ bos_token }}"}))
    record = registry.create_version("chat", weights)
    assert record["chat_template"]["source"] == "tokenizer_config.json"
    assert (registry.root / "registry/chat/versions/1/chat_template.jinja").read_text() == "{{ bos_token }}"


def test_promotion_body_shows_the_template_diff_against_production(registry, weights, tmp_path):
    from modelreg.promotion.promote import promote

    registry.register_model("chat", "base_model")
    registry.create_version("chat", with_template(weights, "A\n{{ user }}\n"))
    registry.create_version("chat", with_template(write_weights(tmp_path / "w2", seed=2), "B\n{{ user }}\n"))
    for stage in ("staging", "production"):
        registry.transition_stage("chat", 1, stage)
    registry.transition_stage("chat", 2, "staging")
    body = promote(registry.worktree, "chat", 2, "production").body
    assert "Chat template changed against @1 (production):" in body
    assert "```diff\n--- @1 (production)\n+++ @2\n@@ -1,2 +1,2 @@\n-A\n+B\n {{ user }}\n```" in body


class _Evil:
    def __reduce__(self):
        import os
        return (os.system, ("echo pwned",))


def gguf(path, **strings):
    """A little-endian GGUF v3 header: a vocabulary array, a number, and the given string keys
    (dots for underscores), no tensors: what llama.cpp reads a chat template from."""
    import struct

    def text(value):
        data = value.encode()
        return struct.pack("<Q", len(data)) + data

    kvs = [text("tokenizer.ggml.tokens") + struct.pack("<IIQ", 9, 8, 3) + b"".join(map(text, ["a", "b", "c"])),
           text("general.file_type") + struct.pack("<II", 4, 15)]
    kvs += [text(key.replace("__", ".")) + struct.pack("<I", 8) + text(v) for key, v in strings.items()]
    path.write_bytes(b"GGUF" + struct.pack("<IQQ", 3, 0, len(kvs)) + b"".join(kvs) + bytes(64))
    return path


def test_a_gguf_template_is_recorded_and_kept_in_git(registry, weights):
    """issue 19.4: llama.cpp applies the template in a GGUF's metadata: it is recorded like any other."""
    import hashlib

    registry.register_model("q", "base_model")
    gguf(weights / "model-q4.gguf", tokenizer__chat_template="{{ messages }}")
    record = registry.create_version("q", weights)
    assert record["chat_template"] == {"source": "model-q4.gguf",
                                       "sha256": hashlib.sha256(b"{{ messages }}").hexdigest()}
    assert (registry.root / "registry/q/versions/1/chat_template.jinja").read_text() == "{{ messages }}"
    assert problems(registry) == []


def test_a_template_only_in_chat_template_json_is_recorded(registry, weights):
    """issue 19.4: chat_template.json alone is a template source the record names (it was a schema error)."""
    registry.register_model("chat", "base_model")
    (weights / "chat_template.json").write_text(json.dumps({"chat_template": "{{ bos_token }}"}))
    assert registry.create_version("chat", weights)["chat_template"]["source"] == "chat_template.json"


@pytest.mark.parametrize("keys,message", [
    ({"tokenizer__chat_template": "{{ a }}", "tokenizer__chat_template__tool_use": "{{ tools }}"},
     "model.gguf: named chat templates in its GGUF metadata (tokenizer.chat_template.tool_use) are not recorded"),
    ({"tokenizer__chat_template": "{{ other }}"}, "chat_template.jinja and model.gguf carry different chat templates"),
])
def test_gguf_templates_a_loader_would_apply_unrecorded_are_refused(registry, weights, keys, message, capsys):
    """issue 19.4: a GGUF's named templates, or one that disagrees with chat_template.jinja: exit 1, nothing written."""
    from modelreg.cli import main
    from tests.test_registry import snapshot

    registry.register_model("q", "base_model")
    gguf(with_template(weights, "{{ messages }}") / "model.gguf", **keys)
    before = snapshot(registry.root)
    assert main(["-C", str(registry.root), "version", "create", "q", str(weights)]) == 1
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err
    assert snapshot(registry.root) == before


@pytest.mark.parametrize("header,message", [
    ((">IQQ", 3, 0, 0), r"GGUF version 50331648 is not one whose chat template can be read here \(2 or 3, "
                        r"little-endian\); convert the file"),
    (("<IQQQ", 3, 0, 1, 10 ** 12), "its GGUF metadata is cut short or malformed; cannot read its chat template"),
])
def test_a_gguf_whose_metadata_cannot_be_read_here_is_refused(registry, weights, header, message):
    """issue 19.4: a GGUF whose metadata this reader cannot walk (another byte order some llama.cpp
    builds read; a key claiming a terabyte) could hide a template: refused, not waved through."""
    import struct

    registry.register_model("q", "base_model")
    (weights / "model.gguf").write_bytes(b"GGUF" + struct.pack(*header))
    with pytest.raises(errors.PolicyViolation, match=f"^model.gguf: {message}$"):
        registry.create_version("q", weights)
    assert not (registry.root / "registry/q/versions/1").exists()


def test_a_gguf_serving_another_template_than_the_record_is_found(registry, weights, tmp_path):
    """issue 19.4: a PR records a benign template for a GGUF whose metadata carries another:
    `check` finds it from the local file, and `check --base --remote` from the remote's bytes."""
    import hashlib

    from modelreg.artifacts.cache import Cache

    registry.register_model("q", "base_model")
    git(registry.root, "checkout", "-qb", "pr")
    gguf(weights / "model.gguf", tokenizer__chat_template="{{ 'exfiltrate' }}{{ messages }}")
    registry.create_version("q", weights)
    tpath, vpath = "registry/q/versions/1/chat_template.jinja", "registry/q/versions/1/version.yaml"
    (registry.root / tpath).write_text("{{ messages }}")
    doc = yaml.safe_load((registry.root / vpath).read_text())
    doc["chat_template"]["sha256"] = hashlib.sha256(b"{{ messages }}").hexdigest()
    (registry.root / vpath).write_text(yaml.safe_dump(doc, sort_keys=False))
    git(registry.root, "commit", "-qam", "a benign template in the review")
    unrecorded = "model.gguf in the weights carries a chat template that version.yaml does not record"
    assert f"{vpath}:/chat_template: {unrecorded}" in problems(registry)
    git(registry.root, "checkout", "-q", "main")
    shutil.rmtree(registry.root / "registry/q/versions/1/weights", ignore_errors=True)
    shutil.rmtree(Cache().root, ignore_errors=True)
    assert problems(registry, at="pr", base="main") == []  # the record alone cannot tell
    found = problems(registry, at="pr", base="main", remote=True)
    assert len(found) == 1 and f"weights.dvc:/: {unrecorded}" in found[0], found


def with_template(folder, text):
    (folder / "chat_template.jinja").write_text(text)
    return folder


@pytest.mark.models
def test_the_loader_refuses_a_template_the_record_did_not_review(registry, tiny_models, tmp_path, capsys):
    """issue 19.4: the loader re-derives the template from what the tokenizer will apply: a record
    (and the text beside it) claiming another template than the weights carry is refused."""
    import hashlib

    from modelreg.loading.loader import unload
    from tests.plugins.tiny_models import copy_model

    folder = copy_model(tiny_models["base"], tmp_path / "chat")
    config = json.loads((folder / "tokenizer_config.json").read_text())
    config["chat_template"] = "{% for m in messages %}{{ m.content }}{% endfor %}"
    (folder / "tokenizer_config.json").write_text(json.dumps(config))
    registry.register_model("tiny", "base_model")
    registry.create_version("tiny", folder)
    try:
        assert main(["-C", str(registry.root), "load", "tiny@1", "--device", "cpu"]) == 0
        unload()
        tpath, vpath = "registry/tiny/versions/1/chat_template.jinja", "registry/tiny/versions/1/version.yaml"
        (registry.root / tpath).write_text("{{ 'reviewed' }}")
        doc = yaml.safe_load((registry.root / vpath).read_text())
        doc["chat_template"]["sha256"] = hashlib.sha256(b"{{ 'reviewed' }}").hexdigest()
        (registry.root / vpath).write_text(yaml.safe_dump(doc, sort_keys=False))
        git(registry.root, "commit", "-qam", "claim another template")
        capsys.readouterr()
        assert main(["-C", str(registry.root), "load", "tiny@1", "--device", "cpu"]) == 1
        assert "tiny@1: the chat template in its files is not the one version.yaml records; refusing to load it" \
            in capsys.readouterr().err
    finally:
        unload()

