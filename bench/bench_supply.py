"""What signatures cost `check`: a full check of the same registry unsigned and with every
version signed (model.sig verified against a key in the policy), medians and their ratio.

    python bench/bench_supply.py [--models 50] [--versions 20] [--runs 5]

The registry comes from gen_registry.py (same records modelreg writes). The signed commit
adds a model.sig per version (real OMS bundles from the model-signing library, built from
the records) and a `signatures` policy naming the key. Both checks run in-process on the
same commit shapes, so the ratio is what verification adds (issue 12).
"""
import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tool"))
sys.path.insert(0, str(HERE))

import gen_registry  # noqa: E402


def keypair(folder: Path) -> tuple[Path, bytes]:
    from cryptography.hazmat.primitives import serialization as s
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    private = folder / "bench.pem"
    private.write_bytes(key.private_bytes(s.Encoding.PEM, s.PrivateFormat.PKCS8, s.NoEncryption()))
    return private, key.public_key().public_bytes(s.Encoding.PEM, s.PublicFormat.SubjectPublicKeyInfo)


def sign_all(dest: Path, private: Path, public: bytes) -> int:
    """One commit on `signed`: the policy, the key, and a model.sig for every version."""
    import yaml

    from modelreg import Registry
    from modelreg.core import layout
    from modelreg.supply.signatures import sign_record

    reg = Registry(dest)
    files = {}
    for model in reg.list_models():
        for record in reg.list_versions(model["name"]):
            files[layout.signature_file(model["name"], record["version"])] = sign_record(
                record, f"{model['name']}-{record['version']}", key=private)
    settings = yaml.safe_load((dest / layout.REGISTRY_FILE).read_text())
    settings["signatures"] = {"production": {"required": True, "signers": [{"key": "keys/bench.pub"}]}}
    files[layout.REGISTRY_FILE] = yaml.safe_dump(settings, sort_keys=False).encode()
    files["keys/bench.pub"] = public
    subprocess.run(["git", "checkout", "-q", "-b", "signed"], cwd=dest, check=True)
    for path, data in files.items():
        (dest / path).parent.mkdir(parents=True, exist_ok=True)
        (dest / path).write_bytes(data)
    subprocess.run(["git", "add", "-A", "."], cwd=dest, check=True)
    subprocess.run(["git", "commit", "-qm", "sign every version"], cwd=dest, check=True)
    subprocess.run(["git", "checkout", "-q", "main"], cwd=dest, check=True)
    return len(files) - 2


def check_seconds(dest: Path, at: str, runs: int) -> tuple[float, int]:
    from modelreg import Registry
    from modelreg.store.snapshot import _memo

    samples, problems = [], 0
    for _ in range(runs):
        _memo.clear()  # a cold snapshot each run, as a fresh `modelreg check` has
        reg = Registry(dest)
        start = time.perf_counter()
        problems = len(reg.check(at=at).problems)
        samples.append(time.perf_counter() - start)
        reg.close()
    return statistics.median(samples), problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=50)
    parser.add_argument("--versions", type=int, default=20)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="modelreg-bench-supply-") as tmp:
        dest = Path(tmp) / "reg"
        gen_registry.generate(dest, args.models, args.versions)
        private, public = keypair(Path(tmp))
        signed = sign_all(dest, private, public)
        plain, p1 = check_seconds(dest, "main", args.runs)
        verified, p2 = check_seconds(dest, "signed", args.runs)
    print(json.dumps({"versions": args.models * args.versions, "signed": signed, "runs": args.runs,
                      "check_unsigned_s": round(plain, 3), "check_signed_s": round(verified, 3),
                      "ratio": round(verified / plain, 2), "per_signature_ms": round((verified - plain) / signed * 1000, 3),
                      "problems": [p1, p2]}))


if __name__ == "__main__":
    main()
