"""`check`'s supply-chain rules: signatures, the format policy, the chat template's text.

Each rule reads records only (no weights). With a base commit, the policy in force is the
BASE's registry.yaml (a pull request cannot loosen the rules it is judged by), keys named
by the policy are read at the base too, and the format policy applies to new versions only.
"""
from .. import layout
from ..errors import InvalidRecord
from ..records import load_yaml
from ..settings import Settings
from . import formats, signatures


def check_supply(reg, checker, base_sha: str | None, target: str, models: list[str]) -> None:
    """Add every supply-chain problem of the checked models to `checker`."""
    settings = _base_settings(reg, base_sha) if base_sha else checker.settings
    read_key = _reader(reg, base_sha or target)
    versions = list(_versions(checker, models))
    # read_many skips what is not there: no second walk of the tree
    blobs = checker.source.read_many([p for m, n, _ in versions
                                      for p in (layout.signature_file(m, n), layout.template_file(m, n))])
    for model, number, record in versions:
        before = _base_record(reg, base_sha, model, number) if base_sha else None
        for file, pointer, message in version_problems(settings, model, number, record, before, blobs,
                                                       read_key, new=base_sha is None or before is None,
                                                       changed=base_sha is not None):
            checker.add(file, pointer, message)
        if base_sha and before is not None:
            _check_kept(reg, checker, settings, base_sha, model, number, record, blobs)


def _check_kept(reg, checker, settings, base_sha, model, number, record, blobs) -> None:
    """A change may not drop the signature of a version held in a stage that requires one."""
    path = layout.signature_file(model, number)
    stage = record.get("stage")
    if path not in blobs and signatures.required(settings, stage) and reg.git.read(base_sha, path) is not None:
        checker.add(path, "/", f"removes the signature of {model}@{number}, which is in {stage} where "
                    "registry.yaml requires one")


def version_problems(settings, model, number, record, before, blobs, read_key, new: bool, changed: bool):
    """(file, pointer, message) for one version; `before` is its record at the base (or None)."""
    vpath = layout.version_file(model, number)
    if record.get("status") == "deleted":
        return []
    found = []
    bundle = blobs.get(layout.signature_file(model, number))
    if bundle is not None:
        verdict = signatures.verify_bundle(bundle, record, signatures.signers_for(settings, record.get("stage")),
                                           read_key)
        found += [(layout.signature_file(model, number), "/", p) for p in verdict.problems]
    stage = record.get("stage", settings.initial_stage)
    entering = changed and (before or {}).get("stage") != stage
    if entering and bundle is None and signatures.required(settings, stage):
        found.append((vpath, "/stage", f"{model}@{number} enters {stage}, which registry.yaml requires to be "
                      f"signed, but it has no {signatures.BUNDLE_NAME}; sign it with 'modelreg sign'"))
    if new:
        found += [(vpath, pointer, message) for pointer, message in formats.record_problems(settings, record)]
    found += _template_problems(model, number, record, blobs)
    return found


def _template_problems(model, number, record, blobs) -> list[tuple[str, str, str]]:
    import hashlib

    tpath = layout.template_file(model, number)
    info = record.get("chat_template")
    text = blobs.get(tpath)
    if not isinstance(info, dict):
        return [(tpath, "/", "a chat template without chat_template in version.yaml")] if text is not None else []
    if text is None:
        return [(layout.version_file(model, number), "/chat_template",
                 f"records a chat template, but {tpath} is missing")]
    if hashlib.sha256(text).hexdigest() != info.get("sha256"):
        return [(tpath, "/", "its sha256 is not the one version.yaml records in chat_template")]
    return []


def _versions(checker, models):
    wanted = set(models)
    for path, doc in list(checker.docs.items()):
        info = layout.classify(path)
        if info and info[0] == "version" and info[1] in wanted and isinstance(doc, dict):
            yield info[1], info[2], doc


def _base_settings(reg, base_sha: str) -> Settings:
    data = reg.git.read(base_sha, layout.REGISTRY_FILE)
    try:
        return Settings((load_yaml(data, layout.REGISTRY_FILE) if data else None) or {})
    except InvalidRecord:
        return Settings()


def _base_record(reg, base_sha: str, model: str, number: int) -> dict | None:
    path = layout.version_file(model, number)
    data = reg.git.read(base_sha, path)
    try:
        doc = load_yaml(data, path) if data is not None else None
    except InvalidRecord:
        return None
    return doc if isinstance(doc, dict) else None


def _reader(reg, commit: str):
    """Read a policy's key files at `commit`, or from the working tree for a working-tree check."""
    def read(path: str) -> bytes | None:
        if ".." in path.split("/") or path.startswith("/"):
            return None
        if commit == "working tree":
            full = reg.root / path
            return full.read_bytes() if full.is_file() else None
        return reg.git.read(commit, path)
    return read
