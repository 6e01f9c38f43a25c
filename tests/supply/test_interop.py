"""Issue 12 interop: modelreg's signatures and the `model_signing` CLI (OpenSSF Model Signing)
accept each other's bundles; the AI bill of materials validates against CycloneDX 1.6."""
import json
import shutil
import subprocess
import sys

import pytest

from modelreg.cli import main
from modelreg.supply import signatures
from tests.conftest import git, write_weights
from tests.supply.conftest import ec_keypair, problems, trust_key


def model_signing_cli(*args):
    return subprocess.run([sys.executable, "-m", "model_signing", *map(str, args)],
                          capture_output=True, text=True, timeout=120)


def test_modelreg_signature_verifies_with_the_model_signing_cli_on_the_pulled_folder(registry, weights, tmp_path):
    """issue 12 interop: a version signed by modelreg verifies with `model_signing verify key`."""

    private, public = ec_keypair(tmp_path / "keys")
    registry.register_model("m", "base_model")
    registry.create_version("m", weights)
    signatures.sign_version(registry.worktree, "m", 1, key=private)
    folder = registry.pull("m@1", dest=tmp_path / "pulled").path
    bundle = tmp_path / "m.sig"
    shutil.copy(registry.root / "registry/m/versions/1/model.sig", bundle)
    done = model_signing_cli("verify", "key", folder, "--signature", bundle, "--public_key", public)
    assert done.returncode == 0 and "Verification succeeded" in done.stdout, done.stdout + done.stderr
    (folder / "config.json").write_text('{"model_type": "evil"}\n')  # and the CLI notices a change
    done = model_signing_cli("verify", "key", folder, "--signature", bundle, "--public_key", public)
    assert done.returncode != 0 and "config.json" in done.stdout + done.stderr


def test_folder_signed_with_the_cli_is_accepted_by_modelreg(registry, tmp_path):
    """issue 12 interop: a folder signed with `model_signing sign key` is accepted as model.sig."""
    private, public = ec_keypair(tmp_path / "keys")
    src = write_weights(tmp_path / "release", seed=5)
    bundle = tmp_path / "release.sig"
    done = model_signing_cli("sign", "key", src, "--private_key", private, "--signature", bundle)
    assert done.returncode == 0, done.stdout + done.stderr
    trust_key(registry, public)
    registry.register_model("m", "base_model")
    registry.create_version("m", src)
    shutil.copy(bundle, registry.root / "registry/m/versions/1/model.sig")
    git(registry.root, "add", "registry/m/versions/1/model.sig")
    git(registry.root, "commit", "-qm", "add the release team's signature")
    assert problems(registry, at="main") == []
    # the same CLI signature over a different folder is refused, naming the file
    other = write_weights(tmp_path / "other", seed=6)
    registry.create_version("m", other)
    shutil.copy(bundle, registry.root / "registry/m/versions/2/model.sig")
    found = problems(registry)
    assert any(p.startswith("registry/m/versions/2/model.sig:/: config.json: signed sha256") for p in found), found


# -- the bill of materials ---------------------------------------------------------------------
@pytest.fixture
def lineage(registry, weights, tmp_path):
    registry.register_model("base", "base_model")
    registry.create_version("base", weights, card={"license": "apache-2.0", "description": "the base"})
    registry.register_model("ft", "fine_tuned")
    registry.create_version("ft", write_weights(tmp_path / "w2", seed=2), parent="base@1",
                            metrics=[{"benchmark": "mmlu", "metric": "accuracy", "value": 0.61}],
                            data_version="tickets-2026-10",
                            card={"license": "llama3-community", "intended_use": "support answers",
                                  "training_data": "- support-tickets\n- faq-pages", "limitations": "English only"})
    return registry


def strict_validate(text):
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    return JsonStrictValidator(SchemaVersion.V1_6).validate_str(text)


def test_bom_is_valid_cyclonedx_with_lineage_licences_datasets_and_metrics(lineage, tmp_path, capsys):
    """issue 12: `modelreg bom REF -o bom.json` writes CycloneDX 1.6, checked by its published schema."""
    out = tmp_path / "bom.json"
    assert main(["-C", str(lineage.root), "bom", "ft@1", "-o", str(out)]) == 0, capsys.readouterr().err
    text = out.read_text()
    assert strict_validate(text) is None
    doc = json.loads(text)
    assert doc["specVersion"] == "1.6"
    subject = doc["metadata"]["component"]
    assert subject["type"] == "machine-learning-model" and subject["name"] == "ft" and subject["version"] == "1"
    assert subject["licenses"] == [{"license": {"name": "llama3-community"}}]
    files = {c["name"]: c["hashes"][0]["content"] for c in subject["components"]}
    record = lineage.get_version("ft", 1)
    assert files == {a["path"]: a["sha256"] for a in record["artifacts"]}
    card = subject["modelCard"]
    assert card["quantitativeAnalysis"]["performanceMetrics"] == [{"type": "mmlu/accuracy", "value": "0.61"}]
    assert card["considerations"]["useCases"] == ["support answers"]
    by_ref = {c["bom-ref"]: c for c in doc["components"]}
    assert by_ref["model:base@1"]["licenses"] == [{"license": {"id": "Apache-2.0"}}]
    datasets = sorted(c["name"] for c in doc["components"] if c["type"] == "data")
    assert datasets == ["faq-pages", "mmlu", "support-tickets"]
    assert {c.get("version") for c in doc["components"] if c["name"] == "support-tickets"} == {"tickets-2026-10"}
    deps = {d["ref"]: d.get("dependsOn", []) for d in doc["dependencies"]}
    assert "model:base@1" in deps["model:ft@1"]


def test_bom_carries_no_url_credentials(registry, weights, tmp_path, capsys):
    """issue 19 item 11: a card or description quoting a URL with a password or a signature is
    written to the BOM without them (and the BOM still validates)."""
    registry.register_model("base", "base_model")
    registry.create_version("base", weights, description="from https://bob:hunter2-pw@mirror.example/base",
                            card={"license": "apache-2.0", "training_data": "https://d.example/set?sig=deadbeefsig"})
    out = tmp_path / "bom.json"
    assert main(["-C", str(registry.root), "bom", "base@1", "-o", str(out)]) == 0, capsys.readouterr().err
    text = out.read_text()
    assert "https://mirror.example/base" in text and "https://d.example/set" in text
    assert "hunter2-pw" not in text and "deadbeefsig" not in text and strict_validate(text) is None


def test_bom_model_hash_is_the_signature_subject_digest(lineage, tmp_path):
    """The BOM's model hash and the OMS bundle's subject digest name the same bytes."""
    import base64

    from modelreg.supply.bom import build_bom

    private, _ = ec_keypair(tmp_path / "keys")
    signatures.sign_version(lineage.worktree, "ft", 1, key=private)
    bundle = json.loads((lineage.root / "registry/ft/versions/1/model.sig").read_text())
    subject = json.loads(base64.b64decode(bundle["dsseEnvelope"]["payload"]))["subject"][0]
    chain = lineage.lineage("ft@1")
    assert build_bom(lineage.snapshot(chain[0].commit), chain)["metadata"]["component"]["hashes"][0]["content"] == subject["digest"]["sha256"]


def test_release_cut_with_bom_writes_one_per_production_version(lineage, tmp_path, capsys):
    for stage in ("staging", "production"):
        lineage.transition_stage("ft", 1, stage)
    out = tmp_path / "boms"
    assert main(["-C", str(lineage.root), "release", "cut", "r1", "--bom", str(out)]) == 0
    assert "bill of materials:" in capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == ["ft@1.cdx.json"]
    assert strict_validate((out / "ft@1.cdx.json").read_text()) is None


def test_bom_of_an_unknown_ref_writes_nothing(lineage, tmp_path, capsys):
    out = tmp_path / "bom.json"
    assert main(["-C", str(lineage.root), "bom", "nope@1", "-o", str(out)]) == 1
    assert capsys.readouterr().err.startswith("error: no model named 'nope'")
    assert not out.exists()


def test_bom_lists_the_cards_datasets_as_data_components(registry, weights, tmp_path, capsys):
    """issue 20: the card's `datasets` (Hugging Face dataset ids) and its benchmark results'
    datasets are CycloneDX `data` components the model depends on and its card references; the
    document still validates against CycloneDX 1.6."""
    registry.register_model("ft", "fine_tuned")
    registry.create_version("ft", weights, data_version="2026-11",
                            card={"datasets": ["acme/support-tickets", "HuggingFaceH4/ultrachat_200k"],
                                  "training_data": "- acme/support-tickets",  # named twice: listed once
                                  "benchmark_results": [{"benchmark": "mmlu", "metric": "accuracy", "value": 0.6,
                                                         "dataset": "cais/mmlu"}]})
    out = tmp_path / "bom.json"
    assert main(["-C", str(registry.root), "bom", "ft@1", "-o", str(out)]) == 0, capsys.readouterr().err
    text = out.read_text()
    assert strict_validate(text) is None
    doc = json.loads(text)
    data = {(c["name"], c["data"][0]["classification"]): c for c in doc["components"] if c["type"] == "data"}
    assert sorted(data) == [("HuggingFaceH4/ultrachat_200k", "training"), ("acme/support-tickets", "training"),
                            ("cais/mmlu", "evaluation")]
    tickets = data[("acme/support-tickets", "training")]
    assert tickets["version"] == "2026-11"
    assert tickets["externalReferences"][0]["url"] == "https://huggingface.co/datasets/acme/support-tickets"
    subject = doc["metadata"]["component"]
    refs = {d["ref"] for d in subject["modelCard"]["modelParameters"]["datasets"]}
    assert refs == {c["bom-ref"] for c in data.values()}
    deps = {d["ref"]: set(d.get("dependsOn", [])) for d in doc["dependencies"]}
    assert refs <= deps["model:ft@1"]
