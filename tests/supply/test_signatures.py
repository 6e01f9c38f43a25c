"""Issue 12: supply-chain trust. Real signatures made by the real `model-signing` library, real
picklescan verdicts, real git repositories; no mocks."""
import base64
import json

import pytest
import yaml

from modelreg.cli import main
from modelreg.core import errors
from modelreg.supply import signatures
from tests.conftest import git
from tests.supply.conftest import ec_keypair, problems, set_policy, trust_key
from tests.test_registry import snapshot

# -- keys and policy ---------------------------------------------------------------------------


SIG = "registry/llm/versions/1/model.sig"


# -- signing and check without the weights -------------------------------------------------
def test_sign_commits_bundle_and_check_verifies_it_without_weights(reg, keys, capsys):
    """issue 12: `sign` writes model.sig beside version.yaml in one commit; `check` verifies the
    signature, the signer and the manifest against the record, with the weights folder gone."""
    private, public = keys
    trust_key(reg, public)
    assert main(["-C", str(reg.root), "sign", "llm@1", "--key", str(private)]) == 0
    assert "signed llm@1 (3 file(s))" in capsys.readouterr().out
    assert "modelreg: sign llm@1" in git(reg.root, "log", "-1", "--format=%B")
    assert git(reg.root, "status", "--porcelain", "registry") == ""
    import shutil
    shutil.rmtree(reg.root / "registry/llm/versions/1/weights")  # nothing below reads the weights
    assert problems(reg) == []
    assert problems(reg, at="main") == []
    payload = json.loads(base64.b64decode(json.loads((reg.root / SIG).read_text())["dsseEnvelope"]["payload"]))
    record = yaml.safe_load((reg.root / "registry/llm/versions/1/version.yaml").read_text())
    assert {r["name"]: r["digest"] for r in payload["predicate"]["resources"]} == \
        {a["path"]: a["sha256"] for a in record["artifacts"]}


def test_history_shows_who_signed(reg, keys):
    from modelreg.store.history import describe

    signatures.sign_version(reg.worktree, "llm", 1, key=keys[0])
    latest = reg.history("llm")[0]
    assert latest["event"] == "version.sign" and describe(latest) == "signed llm@1"
    assert latest["author"].startswith("Test User")


def tamper_digest(reg, path=SIG):
    doc = json.loads((reg.root / path).read_text())
    payload = json.loads(base64.b64decode(doc["dsseEnvelope"]["payload"]))
    payload["predicate"]["resources"][0]["digest"] = "0" * 64
    doc["dsseEnvelope"]["payload"] = base64.b64encode(json.dumps(payload).encode()).decode()
    (reg.root / path).write_text(json.dumps(doc))


def test_tampered_bundle_is_refused(reg, keys, capsys):
    """issue 12 bad input: a tampered signature bundle: exit 1, the file and the reason named."""
    private, public = keys
    trust_key(reg, public)
    signatures.sign_version(reg.worktree, "llm", 1, key=private)
    tamper_digest(reg)
    assert main(["-C", str(reg.root), "check"]) == 1
    out = capsys.readouterr().out
    assert f"{SIG}:/: the signature does not verify with key keys/release.pub: the bundle was altered" in out


def test_bundle_signed_by_a_key_not_in_policy_is_refused(reg, keys, tmp_path):
    """issue 12 bad input: a bundle signed by a key that registry.yaml does not trust."""
    _, public = keys
    other_private, _ = ec_keypair(tmp_path / "other", "intruder")
    trust_key(reg, public)
    signatures.sign_version(reg.worktree, "llm", 1, key=other_private)
    found = problems(reg)
    assert len(found) == 1 and found[0].startswith(f"{SIG}:/: signed by a key that is not in registry.yaml's signers")


def resign_over(reg, private, edit_artifacts):
    """A bundle signed with a trusted key over a manifest that is NOT the record."""
    record = yaml.safe_load((reg.root / "registry/llm/versions/1/version.yaml").read_text())
    record["artifacts"] = edit_artifacts([dict(a) for a in record["artifacts"]])
    (reg.root / SIG).write_bytes(signatures.sign_record(record, "llm-1", key=private))


def test_manifest_listing_a_file_the_version_lacks_is_refused(reg, keys):
    """issue 12 bad input: a manifest that lists a file the version does not have."""
    private, public = keys
    trust_key(reg, public)
    resign_over(reg, private, lambda arts: arts + [{"path": "extra.safetensors", "sha256": "1" * 64}])
    assert problems(reg) == [f"{SIG}:/: extra.safetensors: the signature lists a file the version does not have"]


def test_manifest_with_another_sha256_is_refused(reg, keys):
    """issue 12 bad input: a manifest whose sha256 for a file differs from version.yaml's."""
    private, public = keys
    trust_key(reg, public)

    def swap(arts):
        arts[0]["sha256"] = "2" * 64
        return arts
    resign_over(reg, private, swap)
    found = problems(reg)
    assert len(found) == 1 and "config.json: signed sha256 222222222222… but version.yaml records" in found[0]


def test_unreadable_bundle_is_reported(reg, keys):
    _, public = keys
    trust_key(reg, public)
    (reg.root / SIG).write_text("{}")
    assert problems(reg) == [f"{SIG}:/: not a readable Sigstore bundle ('verificationMaterial'); sign the version again"]


# -- the stage requirement, judged by the base's policy -------------------------------------
def promote_on_branch(reg):
    git(reg.root, "checkout", "-qb", "pr")
    reg.transition_stage("llm", 1, "production")


def test_unsigned_promotion_into_a_required_stage_is_refused(reg, keys):
    """issue 12 bad input: a missing bundle where the base's policy requires one (check --base)."""
    _, public = keys
    trust_key(reg, public)
    promote_on_branch(reg)
    found = problems(reg, at="pr", base="main")
    assert found == ["registry/llm/versions/1/version.yaml:/stage: llm@1 enters production, which registry.yaml "
                     "requires to be signed, but it has no model.sig; sign it with 'modelreg sign'"]
    assert main(["-C", str(reg.root), "check", "--at", "pr", "--base", "main"]) == 1


def test_signed_promotion_passes(reg, keys):
    private, public = keys
    trust_key(reg, public)
    signatures.sign_version(reg.worktree, "llm", 1, key=private)  # signed on main
    promote_on_branch(reg)
    assert problems(reg, at="pr", base="main") == []


def test_a_pull_request_cannot_drop_the_requirement_it_is_judged_by(reg, keys):
    """issue 12: the stage-entry requirement uses the BASE commit's settings."""
    _, public = keys
    trust_key(reg, public)
    promote_on_branch(reg)
    set_policy(reg, signatures={})
    assert any("requires to be signed" in p for p in problems(reg, at="pr", base="main"))


def test_signature_added_on_the_promotion_branch_counts(reg, keys):
    private, public = keys
    trust_key(reg, public)
    promote_on_branch(reg)
    signatures.sign_version(reg.worktree, "llm", 1, key=private)
    assert problems(reg, at="pr", base="main") == []


def test_a_pull_request_cannot_remove_a_required_signature(reg, keys):
    private, public = keys
    trust_key(reg, public)
    signatures.sign_version(reg.worktree, "llm", 1, key=private)
    promote_on_branch(reg)
    git(reg.root, "checkout", "-q", "main")
    git(reg.root, "checkout", "-qb", "drop")
    git(reg.root, "merge", "-q", "pr")
    git(reg.root, "checkout", "-q", "main")
    git(reg.root, "merge", "-q", "pr")  # production now holds a signed version
    git(reg.root, "checkout", "-q", "drop")
    git(reg.root, "rm", "-q", SIG)
    git(reg.root, "commit", "-qm", "drop the signature")
    assert problems(reg, at="drop", base="main") == [
        f"{SIG}:/: removes the signature of llm@1, which is in production where registry.yaml requires one"]


def test_a_misspelt_stage_in_the_signature_policy_is_reported(reg, keys):
    """A typo would make `required: true` apply to nothing: check names it."""
    set_policy(reg, signatures={"prodution": {"required": True, "signers": [{"key": "keys/x.pub"}]}})
    assert "registry.yaml:/signatures/prodution: unknown stage 'prodution'" in problems(reg)


def test_a_signer_must_name_exactly_one_kind(reg):
    set_policy(reg, signatures={"production": {"signers": [{"name": "nothing"},
                                                           {"key": "a.pub", "certificate_chain": "b.pem"}]}})
    found = problems(reg)
    assert "registry.yaml:/signatures/production/signers/0: name exactly one of key, certificate_chain " \
           "or sigstore" in found
    assert any(p.startswith("registry.yaml:/signatures/production/signers/1: name exactly one") for p in found)


@pytest.mark.parametrize("policy", [
    {"production": {"required": True}},
    {"production": {"required": True, "signers": []}},
    {"production": {"required": True}, "staging": {"signers": [{"key": "keys/x.pub"}]}},
])
def test_a_required_signature_with_no_signer_is_a_schema_problem(reg, policy):
    """issue 19.6: `required: true` on a stage that names no signer of its own is a schema error
    in registry.yaml (a signer listed for another stage does not make it one)."""
    set_policy(reg, signatures=policy)
    assert problems(reg) == ["registry.yaml:/signatures/production: a required signature needs at least one "
                             "signer in signers (a key, a certificate chain or a sigstore identity)"]


def test_a_pull_request_bundle_is_accepted_only_verified_against_a_named_signer(reg, tmp_path):
    """issue 19.6: with no signer on the base, a bundle the PR brings (signed by any key at all)
    is not accepted as a signature: check --base refuses it."""
    private, _ = ec_keypair(tmp_path / "mallory")
    git(reg.root, "checkout", "-q", "-b", "pr")
    signatures.sign_version(reg.worktree, "llm", 1, key=private)
    git(reg.root, "checkout", "-q", "main")
    assert problems(reg, at="pr", base="main") == [
        f"{SIG}:/: cannot be verified: registry.yaml on the base names no signer; add one under signatures, "
        "or leave the version unsigned"]


def test_sign_with_pr_commits_on_a_branch(reg, keys, capsys):
    private, public = keys
    assert main(["-C", str(reg.root), "sign", "llm@1", "--key", str(private), "--pr"]) == 0
    out = capsys.readouterr().out
    assert "modelreg/llm-sign-1" in out
    assert git(reg.root, "rev-parse", "--abbrev-ref", "HEAD").strip() == "main"
    assert not (reg.root / SIG).exists()
    assert "model.sig" in git(reg.root, "show", "--stat", "modelreg/llm-sign-1")


def test_sign_folder_must_be_exactly_the_record(reg, keys, weights, capsys):
    """`sign --folder`: the signer's copy is hashed first; a changed file refuses, nothing written."""
    private, _ = keys
    (weights / "config.json").write_text('{"model_type": "other"}\n')
    before = snapshot(reg.root)
    assert main(["-C", str(reg.root), "sign", "llm@1", "--key", str(private), "--folder", str(weights)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: {weights} is not llm@1: config.json: sha256 ") and err.count("\n") == 1
    assert snapshot(reg.root) == before
    assert main(["-C", str(reg.root), "sign", "llm@1", "--key", str(private),
                 "--folder", str(reg.root / "registry/llm/versions/1/weights")]) == 0


def test_sign_with_an_rsa_key_is_refused_clearly(reg, tmp_path, capsys):
    """issue 19.14: an RSA key was exit 3 (a traceback from inside model-signing); it is one line,
    exit 1, naming the key kinds that sign, and nothing is written."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    path = tmp_path / "rsa.pem"
    path.write_bytes(rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    before = snapshot(reg.root)
    assert main(["-C", str(reg.root), "sign", "llm@1", "--key", str(path)]) == 1
    err = capsys.readouterr().err
    assert err == f"error: {path}: RSA keys cannot sign a version; signatures use elliptic-curve keys " \
                  "(P-256, P-384 or P-521), e.g. 'openssl ecparam -name prime256v1 -genkey -noout'\n"
    assert snapshot(reg.root) == before


def test_sign_with_a_missing_key_writes_nothing(reg, tmp_path, capsys):
    before = snapshot(reg.root)
    assert main(["-C", str(reg.root), "sign", "llm@1", "--key", str(tmp_path / "nope.pem")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: cannot read") and "nope.pem" in err and err.count("\n") == 1
    assert snapshot(reg.root) == before


# -- certificates ----------------------------------------------------------------------------
def make_ca(folder, name):
    """A CA certificate and a leaf signing certificate (CN=name) under it."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    folder.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=5)
    ca_key, leaf_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{folder.name} CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    leaf = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(ca_name).public_key(leaf_key.public_key()).serial_number(2)
            .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    (folder / "ca.pem").write_bytes(ca.public_bytes(pem))
    (folder / "leaf.pem").write_bytes(leaf.public_bytes(pem))
    (folder / "leaf.key").write_bytes(leaf_key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                                             serialization.NoEncryption()))
    return folder


def test_certificate_signature_checked_against_chain_and_identity(reg, tmp_path, capsys):
    """issue 12: `sign --cert --chain`; the policy trusts a CA and, optionally, an identity."""
    ca = make_ca(tmp_path / "acme", "release-bot@acme.example")
    (reg.root / "keys").mkdir()
    (reg.root / "keys/acme-ca.pem").write_bytes((ca / "ca.pem").read_bytes())
    set_policy(reg, signatures={"production": {"required": True, "signers": [
        {"certificate_chain": "keys/acme-ca.pem", "identity": "release-bot@acme.example"}]}})
    assert main(["-C", str(reg.root), "sign", "llm@1", "--key", str(ca / "leaf.key"),
                 "--cert", str(ca / "leaf.pem"), "--chain", str(ca / "ca.pem")]) == 0, capsys.readouterr().err
    assert problems(reg) == []
    set_policy(reg, signatures={"production": {"signers": [
        {"certificate_chain": "keys/acme-ca.pem", "identity": "someone-else"}]}})
    assert problems(reg) == [f"{SIG}:/: the certificate (release-bot@acme.example) is not 'someone-else', "
                             "the identity certificate chain keys/acme-ca.pem requires"]


def test_certificate_from_another_ca_is_refused(reg, tmp_path):
    trusted, rogue = make_ca(tmp_path / "acme", "bot"), make_ca(tmp_path / "rogue", "bot")
    set_policy(reg, signatures={"production": {"signers": [
        {"certificate_chain": (trusted / "ca.pem").read_text()}]}})  # inline PEM
    signatures.sign_version(reg.worktree, "llm", 1, key=rogue / "leaf.key", cert=rogue / "leaf.pem",
                            chain=[rogue / "ca.pem"])
    found = problems(reg)
    assert len(found) == 1 and found[0].startswith(f"{SIG}:/: the certificate is not trusted by inline certificate chain")


# -- pull and load ---------------------------------------------------------------------------
def test_pull_refuses_an_unsigned_version_where_policy_requires_one(reg, keys, tmp_path):
    """issue 12: pull verifies the signature when the policy asks, before any byte is fetched."""

    private, public = keys
    trust_key(reg, public, stage="staging")
    with pytest.raises(errors.PolicyViolation, match="llm@1 has no signature .* requires one for staging"):
        reg.pull("llm@1", dest=tmp_path / "out")
    assert not (tmp_path / "out").exists()
    signatures.sign_version(reg.worktree, "llm", 1, key=private)
    assert (reg.pull("llm@1", dest=tmp_path / "out").path / "model.safetensors").is_file()


def test_pull_verify_signature_flag_refuses_a_tampered_bundle(reg, keys, tmp_path, capsys):
    private, public = keys
    trust_key(reg, public, required=False)
    signatures.sign_version(reg.worktree, "llm", 1, key=private)
    tamper_digest(reg)
    git(reg.root, "commit", "-qam", "tamper")
    assert main(["-C", str(reg.root), "pull", "llm@1", "-o", str(tmp_path / "o1")]) == 0  # not asked
    capsys.readouterr()
    assert main(["-C", str(reg.root), "pull", "llm@1", "--verify-signature", "-o", str(tmp_path / "o2")]) == 1
    err = capsys.readouterr().err
    assert "llm@1: signature check failed: the signature does not verify" in err
    assert not (tmp_path / "o2").exists()


def test_load_verify_signature_refuses_an_unsigned_version(reg):
    """issue 12: load(verify_signature=True) refuses before fetching or importing torch."""
    from modelreg.loading.loader import load

    with pytest.raises(errors.PolicyViolation, match="llm@1 has no signature"):
        load("llm@1", registry=reg.root, device="cpu", verify_signature=True)


# -- the format policy -----------------------------------------------------------------------


# -- chat template ---------------------------------------------------------------------------


@pytest.mark.models
def test_load_verifies_a_signed_adapter_and_its_base(registry, tiny_models, keys, capsys):
    """issue 12: `load --verify-signature` loads when the adapter and its base both verify, and
    refuses when the base is unsigned (every version the load needs is checked)."""
    from modelreg.artifacts.cache import Cache
    from modelreg.loading.loader import unload

    private, public = keys
    trust_key(registry, public, required=False)
    registry.register_model("tiny", "base_model")
    registry.create_version("tiny", tiny_models["base"])
    registry.register_model("tiny-lora", "adapter")
    registry.create_version("tiny-lora", tiny_models["adapter"], parent="tiny@1")
    signatures.sign_version(registry.worktree, "tiny-lora", 1, key=private)
    try:
        assert main(["-C", str(registry.root), "load", "tiny-lora@1", "--device", "cpu", "--verify-signature"]) == 1
        assert "tiny@1 has no signature" in capsys.readouterr().err
        assert not (Cache().root / "trees").exists()  # refused before fetching even the adapter
        signatures.sign_version(registry.worktree, "tiny", 1, key=private)
        assert main(["-C", str(registry.root), "load", "tiny-lora@1", "--device", "cpu", "--verify-signature"]) == 0
        assert "loaded tiny-lora@1 (adapter on tiny@1)" in capsys.readouterr().out
    finally:
        unload()


@pytest.mark.models
def test_a_production_adapter_under_a_signature_policy_needs_its_base_signed(registry, tiny_models, keys, capsys):
    """issue 19.7: the policy of the stage asked for covers what loads: a signed production adapter
    on an unsigned base (in a stage of its own with no policy) is refused, without any flag."""
    from modelreg.artifacts.cache import Cache
    from modelreg.loading.loader import unload

    private, public = keys
    registry.register_model("tiny", "base_model")
    registry.create_version("tiny", tiny_models["base"])
    registry.register_model("tiny-lora", "adapter")
    registry.create_version("tiny-lora", tiny_models["adapter"], parent="tiny@1")
    registry.transition_stage("tiny-lora", 1, "staging")
    registry.transition_stage("tiny-lora", 1, "production")
    trust_key(registry, public, required=True)
    signatures.sign_version(registry.worktree, "tiny-lora", 1, key=private)
    try:
        assert main(["-C", str(registry.root), "load", "tiny-lora@production", "--device", "cpu"]) == 1
        err = capsys.readouterr().err
        assert "tiny@1 has no signature (model.sig); refusing it because registry.yaml requires one for " \
               "production" in err, err
        assert not (Cache().root / "trees").exists()  # refused before any byte of either is fetched
        signatures.sign_version(registry.worktree, "tiny", 1, key=private)
        assert main(["-C", str(registry.root), "load", "tiny-lora@production", "--device", "cpu"]) == 0
    finally:
        unload()


@pytest.mark.models
def test_verify_signature_holds_on_an_in_process_cache_hit(registry, tiny_models):
    """issue 19.7: a model first loaded without asking is not thereby verified: asking on the next
    load of the same thing (an in-process cache hit) still refuses an unsigned version."""
    from modelreg.loading.loader import load, unload

    registry.register_model("tiny", "base_model")
    registry.create_version("tiny", tiny_models["base"])
    try:
        first = load("tiny@1", registry=registry.root, device="cpu")
        assert load("tiny@1", registry=registry.root, device="cpu") is first  # the cache hit
        with pytest.raises(errors.PolicyViolation, match="tiny@1 has no signature"):
            load("tiny@1", registry=registry.root, device="cpu", verify_signature=True)
    finally:
        unload()

