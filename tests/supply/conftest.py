"""Fixtures and helpers of the supply-chain tests: real EC keys, a policy committed to registry.yaml."""
import pytest
import yaml

from tests.conftest import git


def ec_keypair(folder, name="release"):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    folder.mkdir(parents=True, exist_ok=True)
    private = folder / f"{name}.pem"
    public = folder / f"{name}.pub"
    private.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    public.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                     serialization.PublicFormat.SubjectPublicKeyInfo))
    return private, public


@pytest.fixture
def keys(tmp_path):
    return ec_keypair(tmp_path / "keys")


def set_policy(reg, message="policy", **sections):
    """Edit registry.yaml on the current branch and commit it."""
    path = reg.root / "registry.yaml"
    doc = yaml.safe_load(path.read_text())
    doc.update(sections)
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    git(reg.root, "add", "-A", "registry.yaml", *(["keys"] if (reg.root / "keys").exists() else []))
    git(reg.root, "commit", "-qm", message)


def trust_key(reg, public, required=True, stage="production"):
    """Put the public key in the registry (keys/) and name it in the policy."""
    (reg.root / "keys").mkdir(exist_ok=True)
    (reg.root / "keys" / public.name).write_bytes(public.read_bytes())
    set_policy(reg, signatures={stage: {"required": required, "signers": [{"key": f"keys/{public.name}"}]}})


@pytest.fixture
def reg(registry, weights):
    registry.register_model("llm", "fine_tuned")
    registry.create_version("llm", weights)
    registry.transition_stage("llm", 1, "staging")
    return registry


def problems(reg, **kw):
    return [str(p) for p in reg.check(**kw).problems]
