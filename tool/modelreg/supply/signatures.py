"""Signed versions through OpenSSF Model Signing (the `model-signing` library).

A signature is a Sigstore bundle whose DSSE payload is an in-toto statement listing every
file as (name, sha256). version.yaml already records each file's sha256, so:
- `sign_record` builds that manifest from the record alone (the weights were hashed when
  they entered the registry, and `pull` verifies every byte against the same sha256s);
- `verify_bundle` checks a bundle WITHOUT the weights: the signature over the payload, the
  signer against registry.yaml's `signatures` policy, and the manifest against the record.
The bundle is `model.sig` beside version.yaml, and the same bundle verifies with the
`model_signing` CLI on a pulled folder.

Policy: `signatures: {production: {required: true, signers: [...]}}` where a signer is
`{key: keys/release.pub}` (an EC public key: a file in the registry or inline PEM),
`{certificate_chain: keys/ca.pem, identity: NAME}` (a certificate issued under that chain;
identity, when given, must be the certificate's subject CN or one of its SAN values), or
`{sigstore: {identity: ..., issuer: ...}}` (keyless signing in GitHub Actions: wired through
the library, but it needs the public Sigstore services, so it is not tested offline).
"""
import base64
import functools
import hashlib
import json
import logging
from pathlib import Path, PurePosixPath

from ..core.errors import IntegrityError, InvalidInput, PolicyViolation
from ..core.values import field, value

log = logging.getLogger(__name__)

BUNDLE_NAME = "model.sig"
GIT_IGNORED = [".git", ".gitattributes", ".github", ".gitignore"]  # what the library's CLI ignores


@value(frozen=False)
class Verdict:
    """What a bundle says and whether it holds: `problems` empty means verified."""
    signer: str | None = None
    files: dict[str, str] = field(default_factory=dict)  # path -> sha256 as signed
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


# -- signing -------------------------------------------------------------------------------
def sign_record(record: dict, name: str, *, key=None, password: str | None = None, cert=None,
                chain=(), sigstore: bool = False) -> bytes:
    """A Sigstore bundle (JSON bytes) over the (path, sha256) pairs of a version record."""
    from model_signing._signing import signing as oms

    artifacts = record.get("artifacts") or []
    if not artifacts:
        raise InvalidInput(f"{name} has no artifacts to sign (a version kept elsewhere has no files)")
    signer = _signer(key, password, cert, chain, sigstore)
    try:
        signature = signer.sign(oms.Payload(_manifest(name, artifacts)))
    except Exception as exc:  # the library raises ValueError and crypto errors alike
        raise InvalidInput(f"signing {name} failed: {exc}") from exc
    return signature.bundle.to_json().encode()


def _require_ec(path: Path, password: str | None) -> None:
    """model-signing signs with elliptic-curve keys only; any other kind is refused by name here
    (the library fails on an RSA key with an AttributeError)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password.encode() if password else None)
    except (ValueError, TypeError):
        return  # not a readable PEM: the library's own message says why
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        kind = type(key).__name__.replace("_", "").replace("PrivateKey", "") or "this"
        raise InvalidInput(f"{path}: {kind} keys cannot sign a version; signatures use elliptic-curve keys "
                           "(P-256, P-384 or P-521), e.g. 'openssl ecparam -name prime256v1 -genkey -noout'")


def _manifest(name: str, artifacts: list[dict]):
    from model_signing import manifest
    from model_signing._hashing import hashing

    serialization = manifest._FileSerialization("sha256", allow_symlinks=False, ignore_paths=GIT_IGNORED)
    items = [manifest.FileManifestItem(path=PurePosixPath(a["path"]),
                                       digest=hashing.Digest("sha256", bytes.fromhex(a["sha256"])))
             for a in artifacts]
    return manifest.Manifest(name, items, serialization)


def _signer(key, password, cert, chain, sigstore):
    from model_signing._signing import sign_certificate, sign_ec_key

    try:
        if sigstore:
            from model_signing._signing import sign_sigstore

            # GitHub Actions: the workflow's OIDC token is the identity (id-token: write).
            return sign_sigstore.Signer(use_ambient_credentials=True)
        if key is None:
            raise InvalidInput("give a private key, or a certificate with its key and chain, or sign "
                               "keylessly with Sigstore in GitHub Actions", hint="signer")
        _require_ec(Path(key), password)
        if cert is not None:
            return sign_certificate.Signer(Path(key), Path(cert), [Path(c) for c in chain])
        return sign_ec_key.Signer(Path(key), password.encode() if password else None)
    except InvalidInput:
        raise
    except FileNotFoundError as exc:
        raise InvalidInput(f"cannot read {exc.filename}: no such file") from exc
    except (ValueError, TypeError) as exc:
        raise InvalidInput(f"unusable signing key or certificate: {exc}") from exc


# -- verifying -----------------------------------------------------------------------------
def verify_bundle(data: bytes, record: dict, signers: list[dict], read_file) -> Verdict:
    """Check a bundle against the policy's signers and the record, without any weights.

    `read_file(path) -> bytes | None` reads a key or chain file named by the policy (at the
    commit whose policy is in force). With no signers configured only the manifest is
    compared with the record, and the signature stays unverified (said in the verdict).
    """
    verdict = Verdict()
    try:
        bundle = _parse(data)
    except ValueError as exc:
        verdict.problems.append(f"not a readable Sigstore bundle ({exc}); sign the version again")
        return verdict
    if not signers:
        verdict.signer = None
        manifest = _unverified_manifest(bundle, verdict)
    else:
        manifest = _verified_manifest(bundle, signers, read_file, verdict)
    if manifest is not None:
        _compare(manifest, record, verdict)
    return verdict


def _parse(data: bytes):
    from model_signing._signing import sign_sigstore_pb
    from sigstore_models.bundle import v1 as bundle_pb

    try:
        doc = json.loads(data)
        material = doc["verificationMaterial"]
        material.setdefault("tlogEntries", [])
        if "publicKey" in material:
            material["publicKey"].setdefault("hint", None)
        return sign_sigstore_pb.Signature(bundle_pb.Bundle.from_dict(doc))
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ValueError(str(exc).splitlines()[0][:200] or type(exc).__name__) from exc


def _kind(bundle) -> str:
    material = bundle.bundle.verification_material
    if material.public_key is not None and material.public_key.hint is not None:
        return "key"
    if material.x509_certificate_chain is not None:
        return "certificate"
    return "sigstore"


def _unverified_manifest(bundle, verdict: Verdict):
    from model_signing._signing import signing as oms

    try:
        payload = json.loads(base64.b64decode(bundle.bundle.dsse_envelope.payload)
                             if isinstance(bundle.bundle.dsse_envelope.payload, str)
                             else bundle.bundle.dsse_envelope.payload)
        return oms.dsse_payload_to_manifest(payload)
    except Exception as exc:
        verdict.problems.append(f"the bundle's payload is not an OMS manifest ({exc})")
        return None


def _verified_manifest(bundle, signers, read_file, verdict: Verdict):
    kind = _kind(bundle)
    candidates = [s for s in signers if _signer_kind(s) == kind]
    if not candidates:
        verdict.problems.append(f"signed with a {kind}, but registry.yaml's signers accept none of that kind")
        return None
    if kind == "key":
        return _verify_with_key(bundle, candidates, read_file, verdict)
    if kind == "certificate":
        return _verify_with_chain(bundle, candidates, read_file, verdict)
    return _verify_sigstore(bundle, candidates, verdict)


def _signer_kind(signer: dict) -> str:
    if "key" in signer:
        return "key"
    return "certificate" if "certificate_chain" in signer else "sigstore"


def _verify_with_key(bundle, candidates, read_file, verdict: Verdict):
    hint = bundle.bundle.verification_material.public_key.hint
    for signer in candidates:
        pem = _material(signer["key"], read_file, verdict)
        if pem is None or _key_hint(pem) != hint:
            continue
        verdict.signer = _name(signer, "key")
        try:
            return _key_verifier(pem).verify(bundle)
        except Exception:
            verdict.problems.append(f"the signature does not verify with {verdict.signer}: the bundle "
                                    "was altered after signing")
            return None
    if not verdict.problems:
        verdict.problems.append(f"signed by a key that is not in registry.yaml's signers (key hint {hint[:16]}…)")
    return None


@functools.lru_cache(maxsize=64)
def _key_verifier(pem: bytes):
    """One verifier per trusted key: it holds only the key (a check verifies many bundles)."""
    from model_signing._signing import sign_ec_key

    with _temp(pem) as path:
        return sign_ec_key.Verifier(path)


def _verify_with_chain(bundle, candidates, read_file, verdict: Verdict):
    from cryptography.exceptions import InvalidSignature
    from model_signing._signing import sign_certificate

    reasons = []
    for signer in candidates:
        pem = _material(signer["certificate_chain"], read_file, verdict)
        if pem is None:
            continue
        name = _name(signer, "certificate chain")
        try:
            with _temp(pem) as path:
                manifest = sign_certificate.Verifier([path]).verify(bundle)
        except InvalidSignature:
            reasons.append("the signature does not verify with its certificate: the bundle was altered")
            continue
        except Exception as exc:
            reasons.append(f"the certificate is not trusted by {name} ({_first_line(exc)})")
            continue
        identities = _certificate_identities(bundle)
        if signer.get("identity") and signer["identity"] not in identities:
            reasons.append(f"the certificate ({', '.join(sorted(identities)) or 'no identity'}) is not "
                           f"{signer['identity']!r}, the identity {name} requires")
            continue
        verdict.signer = f"{name} ({', '.join(sorted(identities))})"
        return manifest
    verdict.problems.extend(reasons[-1:] or ["no certificate chain in registry.yaml's signers could be read"])
    return None


def _verify_sigstore(bundle, candidates, verdict: Verdict):
    """Keyless (Fulcio certificate + Rekor entry): needs the public Sigstore trust root."""
    from model_signing._signing import sign_sigstore
    from sigstore.models import Bundle

    raw = bundle.bundle.to_json()
    for signer in candidates:
        spec = signer.get("sigstore") or {}
        try:
            verifier = sign_sigstore.Verifier(identity=spec["identity"], oidc_issuer=spec["issuer"])
            verdict.signer = f"sigstore {spec['identity']}"
            return verifier.verify(sign_sigstore.Signature(Bundle.from_json(raw)))
        except Exception as exc:
            log.debug("sigstore verification with %s failed: %s", spec, exc)
    verdict.signer = None
    verdict.problems.append("the keyless signature matches no sigstore identity in registry.yaml's signers")
    return None


def _compare(manifest, record: dict, verdict: Verdict) -> None:
    method = manifest.serialization_type.get("method")
    if method != "files":
        verdict.problems.append(f"the manifest is serialized by {method!r}; sign per file (the default)")
        return
    for rd in manifest.resource_descriptors():
        if rd.digest.algorithm != "sha256":
            verdict.problems.append(f"{rd.identifier}: signed with {rd.digest.algorithm}; "
                                    "the registry records sha256, so sign with sha256")
        verdict.files[rd.identifier] = rd.digest.digest_hex
    recorded = {a.get("path"): a.get("sha256") for a in record.get("artifacts") or [] if isinstance(a, dict)}
    for path in sorted(set(verdict.files) - set(recorded)):
        verdict.problems.append(f"{path}: the signature lists a file the version does not have")
    for path in sorted(set(recorded) - set(verdict.files)):
        verdict.problems.append(f"{path}: the version has a file the signature does not cover")
    for path in sorted(set(recorded) & set(verdict.files)):
        if recorded[path] != verdict.files[path]:
            verdict.problems.append(f"{path}: signed sha256 {verdict.files[path][:12]}… but version.yaml "
                                    f"records {str(recorded[path])[:12]}…")


# -- small helpers -------------------------------------------------------------------------
def _material(ref: str, read_file, verdict: Verdict) -> bytes | None:
    """A PEM given inline in registry.yaml, or read from the registry at the policy's commit."""
    if ref.lstrip().startswith("-----BEGIN"):
        return ref.encode()
    data = read_file(ref)
    if data is None:
        verdict.problems.append(f"registry.yaml's signers name {ref}, which is not in the registry")
    return data


@functools.lru_cache(maxsize=64)
def _key_hint(pem: bytes) -> str | None:
    """The hint the library writes into a bundle: sha256 of the key's canonical PEM."""
    from cryptography.hazmat.primitives import serialization

    try:
        key = serialization.load_pem_public_key(pem)
    except ValueError:
        return None
    raw = key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(raw).hexdigest()


def _certificate_identities(bundle) -> set[str]:
    from cryptography import x509

    chain = bundle.bundle.verification_material.x509_certificate_chain
    cert = x509.load_der_x509_certificate(chain.certificates[0].raw_bytes)
    found = {a.value for a in cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)}
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        found |= {str(v) for v in san.get_values_for_type(x509.RFC822Name)}
        found |= {str(v) for v in san.get_values_for_type(x509.UniformResourceIdentifier)}
        found |= {str(v) for v in san.get_values_for_type(x509.DNSName)}
    except x509.ExtensionNotFound:
        pass
    return found


def _name(signer: dict, what: str) -> str:
    ref = str(signer.get("key") or signer.get("certificate_chain") or "")
    return signer.get("name") or (f"inline {what}" if ref.lstrip().startswith("-----") else f"{what} {ref}")


def _first_line(exc) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]


class _temp:
    """A PEM in a temporary file: the library's verifiers read keys from paths only."""

    def __init__(self, data: bytes):
        self.data = data

    def __enter__(self) -> Path:
        import tempfile  # here: a pull imports this module for its policy check, and rarely needs a key file

        self.dir = tempfile.TemporaryDirectory(prefix="modelreg-key-")
        path = Path(self.dir.name) / "key.pem"
        path.write_bytes(self.data)
        return path

    def __exit__(self, *exc):
        self.dir.cleanup()


# -- policy --------------------------------------------------------------------------------
def stage_policy(settings, stage: str) -> dict:
    return ((settings.get("signatures") or {}).get(stage)) or {}


def signers_for(settings, stage: str | None) -> list[dict]:
    """The stage's signers; for a stage without its own list, every signer the policy names."""
    policy = settings.get("signatures") or {}
    own = (policy.get(stage) or {}).get("signers") if stage else None
    if own:
        return list(own)
    merged = []
    for rule in policy.values():
        merged += [s for s in (rule or {}).get("signers") or [] if s not in merged]
    return merged


def required(settings, stage: str) -> bool:
    return bool(stage_policy(settings, stage).get("required"))


def refuse(verdict: Verdict, what: str) -> None:
    """Raise for a failed verdict (pull, load): the first reason, and how many more."""
    if verdict.ok:
        return
    more = f" (and {len(verdict.problems) - 1} more)" if len(verdict.problems) > 1 else ""
    raise IntegrityError(f"{what}: signature check failed: {verdict.problems[0]}{more}")


# -- the registry operations ----------------------------------------------------------------
def sign_version(tree, model: str, number: int, folder=None, **signer) -> dict:
    """Sign a version of the working tree's branch: write model.sig beside version.yaml, one commit.

    With `folder`, the signer's own copy of the files is hashed first (by the library, as its
    CLI would) and must be exactly the record: sign what you hold, not only what the record says.
    """
    from ..core import layout

    record = tree.version(model, number)
    if record.get("status") == "deleted":
        raise PolicyViolation(f"{model}@{number} is deleted; it cannot be signed")
    if folder is not None:
        check_folder(folder, record, f"{model}@{number}")
    bundle = sign_record(record, f"{model}-{number}", **signer)
    path = layout.signature_file(model, number)
    write = tree.begin_write([path])
    write.put_raw(path, bundle)
    sha = write.commit(f"sign {model}@{number}", {"Action": "version.sign", "Model": model,
                                                   "Version": str(number)})
    return {"model": model, "version": number, "path": path, "commit": sha,
            "files": len(record.get("artifacts") or [])}


def check_folder(folder, record: dict, what: str) -> None:
    """The folder holds exactly the record's files with the record's sha256s, or InvalidInput."""
    from model_signing import hashing

    root = Path(folder)
    if not root.is_dir():
        raise InvalidInput(f"{folder} is not a folder")
    try:
        manifest = hashing.Config().use_file_serialization(hashing_algorithm="sha256").hash(root)
    except (ValueError, OSError) as exc:
        raise InvalidInput(f"cannot hash {folder}: {exc}") from exc
    held = Verdict()
    _compare(manifest, record, held)
    if held.problems:
        raise InvalidInput(f"{folder} is not {what}: " + "; ".join(
            p.replace("the signature lists a file the version does not have", "a file the version does not have")
             .replace("the version has a file the signature does not cover", "missing from the folder")
             .replace("signed sha256", "sha256") for p in held.problems[:3]))


def verify_version(snap, resolved, force: bool = False, stage: str | None = None) -> Verdict | None:
    """Before a pull or load: verify the version's bundle when the policy of `stage` (default:
    its own; at the resolved commit, `snap` being its snapshot) requires a signature or `force`
    asks. None when nothing asked. A load passes the stage of the version asked for, so an
    adapter's base is held to the adapter's policy: what loads is what was signed.

    Raises on a missing bundle, an untrusted signer, or a manifest that is not the record.
    """
    from ..core import layout

    settings = snap.settings_in_force
    stage = stage or resolved.stage
    what = f"{resolved.model}@{resolved.version}"
    if not (force or required(settings, stage)):
        return None
    bundle = snap.read(layout.signature_file(resolved.model, resolved.version))
    if bundle is None:
        raise PolicyViolation(f"{what} has no signature ({BUNDLE_NAME}); refusing it because "
                              + ("a verified signature was asked for" if force else
                                 f"registry.yaml requires one for {stage}"))
    signers = signers_for(settings, stage)
    if not signers:
        raise PolicyViolation(f"{what}: registry.yaml names no signers to verify its signature against; "
                              "add signatures.<stage>.signers")
    verdict = verify_bundle(bundle, resolved.record, signers, snap.read)
    refuse(verdict, what)
    return verdict
