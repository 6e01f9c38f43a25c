#!/usr/bin/env bash
# The whole modelreg flow on the embedded default: a local Git registry and a local DVC remote.
# Run by `make demo`; everything lands under .demo/ (git-ignored) and is rebuilt each run.
set -euo pipefail
cd "$(dirname "$0")/.."
export DVC_NO_ANALYTICS=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
# A fresh machine may have no git identity; the demo commits as a demo user then.
git config user.name >/dev/null 2>&1 || export GIT_AUTHOR_NAME="modelreg demo" GIT_COMMITTER_NAME="modelreg demo"
git config user.email >/dev/null 2>&1 || export GIT_AUTHOR_EMAIL="demo@example.com" GIT_COMMITTER_EMAIL="demo@example.com"

DEMO=$PWD/.demo
rm -rf "$DEMO" && mkdir -p "$DEMO"
step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }
mr() { step modelreg -C "$DEMO/registry" "$@"; }

# Two checkpoints with real (small) safetensors-named weights, config and tokenizer files.
python - "$DEMO" <<'PY'
import json, os, sys
root = sys.argv[1]
for n, seed in ((1, 7), (2, 11)):
    d = os.path.join(root, f"checkpoint-{n}")
    os.makedirs(d)
    with open(os.path.join(d, "model.safetensors"), "wb") as f:
        f.write(bytes((i * seed) % 256 for i in range(256 * 1024)))
    json.dump({"model_type": "llama", "hidden_size": 64, "seed": seed}, open(os.path.join(d, "config.json"), "w"))
    json.dump({"version": "1.0", "model": {"type": "BPE"}}, open(os.path.join(d, "tokenizer.json"), "w"))
PY

step modelreg init "$DEMO/registry" --remote "$DEMO/dvc-remote"
mr model register llama-ft --type fine_tuned --description "Llama fine-tuned on support tickets" \
   --owner @acme/ml-leads --tag team=support
mr version create llama-ft "$DEMO/checkpoint-1" --metric mmlu/accuracy=0.61 --param lr=2e-5 --run-id run-1
mr version create llama-ft "$DEMO/checkpoint-2" --metric mmlu/accuracy=0.66 --param lr=1e-5 --run-id run-2
mr stage set llama-ft 1 staging
mr stage set llama-ft 1 production
mr alias set llama-ft canary 2
mr resolve llama-ft
mr stage set llama-ft 2 staging
mr stage set llama-ft 2 production
mr resolve llama-ft@production --json
mr version list llama-ft
mr history llama-ft
mr check
step git -C "$DEMO/registry" log --oneline
echo
echo "A plain clone restores the weights with DVC alone:"
step git clone -q "$DEMO/registry" "$DEMO/clone"
(cd "$DEMO/clone" && step dvc pull -q && ls -l registry/llama-ft/versions/2/weights)

echo
echo "A real tiny Llama and a LoRA adapter, registered; the adapter loads by alias on its base:"
step python scripts/make_tiny_model.py "$DEMO/tiny-base" --kind base
step python scripts/make_tiny_model.py "$DEMO/tiny-lora" --kind adapter --base "$DEMO/tiny-base"
mr model register tiny-llama --type base_model --description "2-layer Llama built offline for the demo"
mr version create tiny-llama "$DEMO/tiny-base"
mr model register tiny-llama-lora --type adapter --description "LoRA adapter on tiny-llama"
mr version create tiny-llama-lora "$DEMO/tiny-lora" --parent tiny-llama@1
mr stage set tiny-llama-lora 1 staging
mr stage set tiny-llama-lora 1 production
mr lock tiny-llama-lora@production -o "$DEMO/models.lock"
mr load tiny-llama-lora@production --device cpu --lock "$DEMO/models.lock" --prompt "The registry keeps" \
   --max-new-tokens 8

echo
echo "Supply chain (issue 12): production needs a signature from the release key; check refuses"
echo "an unsigned promotion, verifies a signed one without downloading weights, and a bill of"
echo "materials describes what is in production."
python - "$DEMO/registry" "$DEMO/release.pem" <<'PY'
import sys, pathlib, yaml
from cryptography.hazmat.primitives import serialization as s
from cryptography.hazmat.primitives.asymmetric import ec
reg, private = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
key = ec.generate_private_key(ec.SECP256R1())
private.write_bytes(key.private_bytes(s.Encoding.PEM, s.PrivateFormat.PKCS8, s.NoEncryption()))
(reg / "keys").mkdir(exist_ok=True)
(reg / "keys/release.pub").write_bytes(key.public_key().public_bytes(s.Encoding.PEM, s.PublicFormat.SubjectPublicKeyInfo))
doc = yaml.safe_load((reg / "registry.yaml").read_text())
doc["signatures"] = {"production": {"required": True, "signers": [{"name": "release key", "key": "keys/release.pub"}]}}
(reg / "registry.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
PY
step git -C "$DEMO/registry" add registry.yaml keys/release.pub
step git -C "$DEMO/registry" commit -qm "policy: production needs a signature by the release key"
mr sign llama-ft@production --key "$DEMO/release.pem"
mr check
python - "$DEMO" <<'PY'
import os, sys
d = os.path.join(sys.argv[1], "checkpoint-3"); os.makedirs(d)
open(os.path.join(d, "model.safetensors"), "wb").write(bytes((i * 13) % 256 for i in range(256 * 1024)))
open(os.path.join(d, "config.json"), "w").write('{"model_type": "llama", "seed": 13}')
open(os.path.join(d, "chat_template.jinja"), "w").write("{% for m in messages %}<|{{ m.role }}|>{{ m.content }}{% endfor %}")
PY
mr version create llama-ft "$DEMO/checkpoint-3" --metric mmlu/accuracy=0.68 --run-id run-3
mr stage set llama-ft 3 staging
mr promote llama-ft 3 --to production
if mr check --at modelreg/llama-ft-promote-1 --base main; then
  echo "expected check to refuse the unsigned promotion" >&2; exit 1
fi
echo "(refused as it should be: llama-ft@3 is not signed)"
step git -C "$DEMO/registry" checkout -q modelreg/llama-ft-promote-1
mr sign llama-ft@3 --key "$DEMO/release.pem"
step git -C "$DEMO/registry" checkout -q main
mr check --at modelreg/llama-ft-promote-1 --base main
mr bom llama-ft@production -o "$DEMO/bom.json"
step python -c "import json,sys; d=json.load(open(sys.argv[1])); c=d['metadata']['component']; print(d['specVersion'], c['type'], c['name'], c['version'], c['hashes'][0]['content'])" "$DEMO/bom.json"

echo
echo "The registry as a static catalog site (plain files: open it in a browser, no server needed):"
mr site build -o "$DEMO/site"
echo "Open file://$DEMO/site/index.html"

echo
echo "Next: 'source .venv/bin/activate' puts modelreg on PATH in this shell; then 'bash scripts/tour.sh /tmp/tour'"
echo "walks the README's tour (README, 'Install', for a pinned install as a tool)."
