"""An AI bill of materials: a CycloneDX 1.6 (ECMA-424) JSON document for one version.

The version is the BOM's subject (a `machine-learning-model` component with its files as
sub-components, each with its sha256); its lineage follows as components (base models with
their hashes and licences), the datasets its card names as `data` components, and its
metrics as the model card's performance metrics. Everything comes from the records at one
commit, so the weights are never read. The document is validated against CycloneDX's
published JSON schema (cyclonedx-python-lib's strict validator) before it is returned.
"""
import hashlib
import json
import re
import uuid
from urllib.parse import quote

from ..core.errors import InvalidInput, RegistryError
from ..core.extras import missing_extra
from ..core.urls import scrub
from ..store import reads

SPEC = "1.6"
_BULLET = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s*")


def build_bom(snap, chain) -> dict:
    """The CycloneDX document (a dict) for `chain[0]` and its lineage, read at one commit (`snap`)."""
    subject, commit = chain[0], snap.commit
    cards = {(r.model, r.version): reads.card(snap, r.model, r.version) for r in chain}
    datasets = _datasets(subject.record, cards[(subject.model, subject.version)])
    models = [_model_component(r, cards[(r.model, r.version)], datasets if r is subject else [])
              for r in chain]
    doc = {
        "bomFormat": "CycloneDX", "specVersion": SPEC,
        "serialNumber": f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, f'modelreg:{commit}:{subject.model}@{subject.version}')}",
        "version": 1,
        "metadata": {"timestamp": subject.record.get("created_at"),
                     "tools": {"components": [{"type": "application", "name": "modelreg",
                                               "version": _own_version()}]},
                     "component": models[0],
                     "properties": [{"name": "modelreg:commit", "value": commit}]},
        "components": models[1:] + [d for d, _ in datasets],
        "dependencies": _dependencies(models, datasets),
    }
    doc["metadata"] = {k: v for k, v in doc["metadata"].items() if v}
    return scrub(doc)  # a URL a record or card quotes goes out without its credentials


def write_bom(snap, chain, path) -> dict:
    """Build, validate, and write the BOM to `path` (nothing is written if it is invalid)."""
    doc = build_bom(snap, chain)
    text = json.dumps(doc, indent=2) + "\n"
    problem = validate(text)
    if problem:
        raise RegistryError(f"the bill of materials for {chain[0].name} does not validate against CycloneDX "
                            f"{SPEC}: {problem}; please report this")
    try:
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(text)
    except OSError as exc:
        raise InvalidInput(f"cannot write {path}: {exc.strerror}") from exc
    return doc


def validate(text: str) -> str | None:
    """None when `text` is valid CycloneDX 1.6 JSON, else the validator's first complaint."""
    try:
        from cyclonedx.schema import SchemaVersion
        from cyclonedx.validation.json import JsonStrictValidator
    except ImportError as exc:
        raise missing_extra("supply", "writing a bill of materials", ["cyclonedx-python-lib"]) from exc
    error = JsonStrictValidator(SchemaVersion.V1_6).validate_str(text)
    return None if error is None else str(error).splitlines()[0][:300]


# -- components -------------------------------------------------------------------------------
def bom_ref(model: str, version: int) -> str:
    return f"model:{model}@{version}"


def _model_component(resolved, card: dict, datasets) -> dict:
    record = resolved.record
    artifacts = [a for a in record.get("artifacts") or [] if isinstance(a, dict)]
    component = {
        "type": "machine-learning-model", "bom-ref": bom_ref(resolved.model, resolved.version),
        "name": resolved.model, "version": str(resolved.version),
        "description": card.get("description") or record.get("description"),
        "hashes": [{"alg": "SHA-256", "content": root_digest(artifacts)}] if artifacts else None,
        "licenses": _licenses(card.get("license")),
        "properties": _properties(resolved, record),
        "components": [_file_component(resolved, a) for a in artifacts] or None,
        "modelCard": _model_card(record, card, datasets),
    }
    return {k: v for k, v in component.items() if v}


def root_digest(artifacts: list[dict]) -> str:
    """sha256 over the files' sha256s in path order: the OMS manifest's subject digest, so the
    BOM's model hash is the one a signature (model.sig) names."""
    digest = hashlib.sha256()
    for art in sorted(artifacts, key=lambda a: a["path"]):
        digest.update(bytes.fromhex(art["sha256"]))
    return digest.hexdigest()


def _file_component(resolved, art: dict) -> dict:
    return {"type": "file", "bom-ref": f"{bom_ref(resolved.model, resolved.version)}/{art['path']}",
            "name": art["path"], "hashes": [{"alg": "SHA-256", "content": art["sha256"]}],
            "properties": [{"name": "modelreg:artifact_type", "value": str(art.get("artifact_type"))},
                           {"name": "modelreg:format", "value": str(art.get("format", ""))},
                           {"name": "modelreg:size_bytes", "value": str(art.get("size_bytes"))}]}


def _properties(resolved, record: dict) -> list[dict]:
    pairs = [("modelreg:model_type", record.get("model_type")), ("modelreg:stage", resolved.stage),
             ("modelreg:status", resolved.status), ("modelreg:created_by", record.get("created_by"))]
    parent = record.get("parent") or {}
    if parent:
        pairs.append(("modelreg:parent", f"{parent.get('model')}@{parent.get('version')} ({parent.get('relation')})"))
    if record.get("chat_template"):
        pairs.append(("modelreg:chat_template_sha256", record["chat_template"].get("sha256")))
    return [{"name": k, "value": str(v)} for k, v in pairs if v]


def _licenses(text) -> list[dict] | None:
    if not text:
        return None
    from cyclonedx.spdx import fixup_id

    spdx = fixup_id(str(text))
    return [{"license": {"id": spdx}}] if spdx else [{"license": {"name": str(text)}}]


def _model_card(record: dict, card: dict, datasets) -> dict | None:
    metrics = [{"type": f"{m.get('benchmark')}/{m.get('metric')}", "value": f"{m.get('value'):g}"}
               for m in record.get("metrics") or [] if isinstance(m, dict) and isinstance(m.get("value"), (int, float))]
    considerations = {
        "useCases": [card["intended_use"]] if card.get("intended_use") else None,
        "technicalLimitations": [card["limitations"]] if card.get("limitations") else None,
        "ethicalConsiderations": [{"name": card["bias_risks"]}] if card.get("bias_risks") else None,
    }
    parameters = {"datasets": [{"ref": d["bom-ref"]} for d, _ in datasets] or None,
                  "task": "text-generation" if record.get("model_type") else None}
    found = {"modelParameters": {k: v for k, v in parameters.items() if v},
             "quantitativeAnalysis": {"performanceMetrics": metrics} if metrics else None,
             "considerations": {k: v for k, v in considerations.items() if v}}
    found = {k: v for k, v in found.items() if v}
    return found or None


def _datasets(record: dict, card: dict) -> list[tuple[dict, str]]:
    """(component, role) for each dataset the card names: its `datasets` (Hugging Face dataset
    ids, trained on), its training and evaluation data (one per line), the datasets of its
    benchmark results, and each benchmark the version's metrics name."""
    found, seen = [], set()
    version = (record.get("training") or {}).get("data_version")
    named = [("training", str(d), True) for d in card.get("datasets") or [] if d]
    for role, text in (("training", card.get("training_data")), ("evaluation", card.get("evaluation_data"))):
        named += [(role, _BULLET.sub("", line).strip()[:256], False) for line in str(text or "").splitlines()]
    named += [("evaluation", str(r.get("dataset")), False) for r in card.get("benchmark_results") or []
              if isinstance(r, dict) and r.get("dataset")]
    named += [("evaluation", str(m.get("benchmark")), False) for m in record.get("metrics") or []
              if isinstance(m, dict) and m.get("benchmark")]
    for role, name, hub_id in named:
        if name and (role, name) not in seen:
            seen.add((role, name))
            found.append((_dataset(name, role, version if role == "training" else None, hub_id), role))
    return found


def _dataset(name: str, role: str, version: str | None, hub_id: bool = False) -> dict:
    ref = f"data:{role}:{hashlib.sha256(name.encode()).hexdigest()[:16]}"
    component = {"type": "data", "bom-ref": ref, "name": name, "version": version,
                 "externalReferences": [{"type": "distribution", "url": "https://huggingface.co/datasets/" + quote(name, safe="/"),
                                         "comment": "the card's datasets: a Hugging Face dataset id"}]
                 if hub_id else None,
                 "data": [{"type": "dataset", "name": name, "classification": role}]}
    return {k: v for k, v in component.items() if v}


def _dependencies(models: list[dict], datasets) -> list[dict]:
    deps = []
    for child, parent in zip(models, models[1:] + [None]):
        on = ([parent["bom-ref"]] if parent else [])
        if child is models[0]:
            on += [d["bom-ref"] for d, _ in datasets]
        deps.append({"ref": child["bom-ref"], "dependsOn": on} if on else {"ref": child["bom-ref"]})
    deps += [{"ref": d["bom-ref"]} for d, _ in datasets]
    return deps


def _own_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("modelreg")
    except PackageNotFoundError:
        return "0"


def write_release_boms(snap, folder, alias: str = "production") -> list[str]:
    """One BOM per model whose `alias` is set at the snapshot's commit (a release), as
    FOLDER/MODEL@N.cdx.json."""
    from pathlib import Path

    out = Path(folder)
    written = []
    for model in reads.models(snap):
        name = model.get("name")
        if not name or alias not in reads.aliases(snap, name):
            continue
        resolved = reads.pinned(snap, name, reads.aliases(snap, name)[alias])
        out.mkdir(parents=True, exist_ok=True)
        path = out / f"{resolved.name}.cdx.json"
        write_bom(snap, reads.lineage(snap, resolved), path)
        written.append(str(path))
    return written
