#!/usr/bin/env bash
# The README's tour of the CLI, runnable end to end: it creates everything it uses (checkpoints,
# a registry, a bare `origin`, a release tag) under WORKDIR (default: a new temporary folder).
# The test suite runs it (tests/cli/test_tour.py), and README.md shows the lines between the
# "tour" markers verbatim, so the README cannot drift from what works.
#   bash scripts/tour.sh [WORKDIR]           run every line of the tour in WORKDIR
#   bash scripts/tour.sh --setup WORKDIR     only make the checkpoints the tour registers, to type the lines yourself
set -euo pipefail
SETUP_ONLY=
if [ "${1:-}" = "--setup" ]; then SETUP_ONLY=1; shift; fi
if [ -n "${1:-}" ]; then mkdir -p "$1" && WORK=$(cd "$1" && pwd); else WORK=$(mktemp -d); fi
# `modelreg` from PATH, else from this checkout's venv (what `make demo` made): the README's set-up.
if ! command -v modelreg >/dev/null 2>&1; then
  VENV_BIN="$(cd "$(dirname "$0")/.." && pwd)/.venv/bin"
  if [ ! -x "$VENV_BIN/modelreg" ]; then
    echo "error: modelreg is not on PATH: run 'make demo' (or 'make install') in the checkout, then" \
         "'source .venv/bin/activate'; or install it as a tool (README, 'Install')" >&2
    exit 1
  fi
  echo "note: modelreg is not on PATH; using $VENV_BIN/modelreg ('source .venv/bin/activate' puts it there)" >&2
  export PATH="$VENV_BIN:$PATH"
fi
export DVC_NO_ANALYTICS=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
git config user.name >/dev/null 2>&1 || export GIT_AUTHOR_NAME="modelreg tour" GIT_COMMITTER_NAME="modelreg tour"
git config user.email >/dev/null 2>&1 || export GIT_AUTHOR_EMAIL="tour@example.com" GIT_COMMITTER_EMAIL="tour@example.com"
cd "$WORK"
set -x

# Checkpoints to register: small files named like a real model folder, and a LoRA adapter.
python3 - <<'PY'
import json, os
for name, seed in (("base", 3), ("checkpoint", 7), ("checkpoint-2", 11), ("lora", 13)):
    os.makedirs(name)
    weights = "adapter_model.safetensors" if name == "lora" else "model.safetensors"
    with open(os.path.join(name, weights), "wb") as f:
        f.write(bytes((i * seed) % 251 for i in range(64 * 1024)))
    config = "adapter_config.json" if name == "lora" else "config.json"
    body = {"peft_type": "LORA", "r": 8, "target_modules": ["q_proj", "v_proj"]} if name == "lora" \
        else {"model_type": "llama", "seed": seed}
    with open(os.path.join(name, config), "w") as f:
        json.dump(body, f)
PY
if [ -n "$SETUP_ONLY" ]; then
  set +x
  echo "checkpoints ready in $WORK (base, checkpoint, checkpoint-2, lora): cd $WORK and type the tour's lines"
  exit 0
fi

# --- tour ---
modelreg init myreg --remote ./dvc-remote            # git, DVC, registry.yaml, schemas, CI, CODEOWNERS: one commit
cd myreg
git init -q --bare -b main ../origin.git && git remote add origin ../origin.git   # where the team pushes
modelreg model register llama-base --type base_model --description "upstream Llama"
modelreg version create llama-base ../base --source-uri hf://meta-llama/Llama-3.2-1B
modelreg model register llama-ft --type fine_tuned --owner @acme/ml-leads --tag team=support
modelreg version create llama-ft ../checkpoint --parent llama-base@1 \
    --metric mmlu/accuracy=0.61 --param lr=2e-5 --run-id r1
modelreg version create llama-ft ../checkpoint-2 --parent llama-base@1 --metric mmlu/accuracy=0.66
modelreg model register support-lora --type adapter
modelreg version create support-lora ../lora --parent llama-ft@1
modelreg stage set llama-ft 1 staging
modelreg stage set llama-ft 1 production             # archives the previous production version, moves @production
modelreg alias set llama-ft canary 2
modelreg release cut v1.4.0                           # tag the whole registry state
git push -q origin main v1.4.0
modelreg resolve llama-ft --json                      # NAME means NAME@production
modelreg resolve llama-ft@canary --at v1.4.0          # any branch, tag or commit
modelreg resolve llama-ft --as-of "$(date -u +%FT%TZ)"  # what main said at that time (a bare date means 00:00 UTC)
modelreg version list llama-ft --stage production --json
modelreg version delete llama-ft@2 --reason "regressed on eval"   # soft delete, aliases removed
modelreg resolve llama-ft@2                           # still readable, with a warning that it is deleted
modelreg lineage support-lora@1                       # walk parents to the base model
modelreg history llama-ft                             # who moved what, when, through which PR
modelreg codeowners --check                           # CODEOWNERS follows the model owners
modelreg check                                        # every problem as FILE:JSON_POINTER: message
modelreg check --base origin/main                     # plus the rules about change, as CI runs on a PR
modelreg card set llama-ft@1 --field license=apache-2.0 --field intended_use="support chat" \
    --field datasets=tatsu-lab/alpaca
modelreg card export llama-ft@1 -o ../llama-ft-README.md   # a Hugging Face model card
modelreg model set llama-ft --description "support chat" --add-owner @acme/qa   # metadata: one commit each
modelreg version tag llama-ft@1 eval=passed
modelreg version list --all-models --where 'mmlu/accuracy >= 0.6' --sort -mmlu/accuracy --limit 5
modelreg best llama-ft --metric mmlu/accuracy         # the active version with the highest value
modelreg diff llama-ft@1 llama-ft@2                   # metrics, parameters, files, lineage, card
modelreg model deprecate llama-base --reason "moving to Llama 3"   # still resolves, with a warning
modelreg gc                                           # dry run: the weights registry.yaml's retention would free
# --- end of tour ---

set +x
grep -q "base_model: meta-llama/Llama-3.2-1B" ../llama-ft-README.md
echo "tour ok: $WORK"
