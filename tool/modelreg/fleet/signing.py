"""The feed's signatures: Ed25519 (the `cryptography` package, imported only here in fleet/).

A public key is written `ed25519:BASE64` (the 32 raw bytes), as registry.yaml lists it; a
private key is given as BASE64 of the 32-byte seed, or as a PKCS#8 PEM. What is signed is a
domain tag then the payload's exact bytes, so a signature over one kind of document never
verifies as another.
"""
import base64
import binascii

from ..core.errors import InvalidInput
from ..core.extras import missing_extra

PREFIX = "ed25519:"
DOMAIN = b"modelreg-feed-v1\n"


def _ed25519():
    try:
        from cryptography.hazmat.primitives.asymmetric import ed25519
    except ImportError as exc:
        raise missing_extra("fleet", "signing or verifying the alias feed", ["cryptography"]) from exc
    return ed25519


def keygen() -> tuple[str, str]:
    """(private key as BASE64 of the seed, public key as ed25519:BASE64)."""
    from cryptography.hazmat.primitives import serialization

    key = _ed25519().Ed25519PrivateKey.generate()
    seed = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                             serialization.NoEncryption())
    return base64.b64encode(seed).decode(), public_text(key)


def public_text(private_key) -> str:
    from cryptography.hazmat.primitives import serialization

    raw = private_key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return PREFIX + base64.b64encode(raw).decode()


def private_key(text: str, where: str):
    """The private key from its text (BASE64 seed or PEM); `where` names its source in errors."""
    ed25519 = _ed25519()
    text = text.strip()
    try:
        if text.startswith("-----BEGIN"):
            from cryptography.hazmat.primitives import serialization

            key = serialization.load_pem_private_key(text.encode(), password=None)
            if not isinstance(key, ed25519.Ed25519PrivateKey):
                raise ValueError("not an Ed25519 key")
            return key
        return ed25519.Ed25519PrivateKey.from_private_bytes(base64.b64decode(text, validate=True))
    except (ValueError, TypeError, binascii.Error) as exc:
        raise InvalidInput(f"{where} does not hold an Ed25519 private key (BASE64 of the 32-byte seed, "
                           "or a PEM)") from exc


def sign(key, payload: bytes) -> str:
    return base64.b64encode(key.sign(DOMAIN + payload)).decode()


def verifies(public: str, payload: bytes, signature: str) -> bool:
    """Whether `signature` is `public`'s over `payload` (False for anything malformed)."""
    from cryptography.exceptions import InvalidSignature

    try:
        raw = base64.b64decode(public[len(PREFIX):], validate=True)
        key = _ed25519().Ed25519PublicKey.from_public_bytes(raw)
        key.verify(base64.b64decode(signature, validate=True), DOMAIN + payload)
        return True
    except (InvalidSignature, ValueError, TypeError, binascii.Error):
        return False
