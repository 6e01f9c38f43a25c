"""`check`'s supply-chain rules (issue 12): signatures, the format policy, the chat template.

Each rule reads records only (no weights), through the snapshots in `ctx`. With a base, the
policy in force (`ctx.settings`) is the BASE's registry.yaml, the keys it names are read at
the base too, and the format policy applies to new versions only: a pull request cannot
loosen the rules it is judged by, and tightening a policy does not re-judge merged versions.
"""
import hashlib

from ..core import layout
from ..rules.context import Problem
from . import formats, signatures


def signature(ctx, model, number, record):
    """A model.sig that is present verifies: signature, signer, and manifest against the record."""
    path = layout.signature_file(model, number)
    if record.get("status") == "deleted" or not ctx.head.has(path):
        return []
    policy_commit = ctx.base or ctx.head
    signers = signatures.signers_for(ctx.settings, record.get("stage"))
    if not signers and ctx.change is not None and path in ctx.change.paths:
        # a pull request's bundle is accepted only once verified against a signer main trusts (19.6)
        return [Problem(path, "/", "cannot be verified: registry.yaml on the base names no signer; add one "
                        "under signatures, or leave the version unsigned")]
    verdict = signatures.verify_bundle(ctx.head.read(path), record, signers,
                                       lambda key: _read_key(policy_commit, key))
    return [Problem(path, "/", message) for message in verdict.problems]


def weight_formats(ctx, model, number, record):
    """The files a new version lists are allowed by the format policy (issue 12)."""
    # "New" is a question about paths, not records: parsing every base version.yaml one
    # blob at a time doubled a policy-editing PR's check (5.8 s vs 3.2 s at 10,000 versions).
    if record.get("status") == "deleted" or (ctx.base is not None and ctx.base.has(layout.version_file(model, number))):
        return []
    return [Problem(layout.version_file(model, number), pointer, message)
            for pointer, message in formats.record_problems(ctx.settings, record)]


def chat_template(ctx, model, number, record):
    """chat_template.jinja beside version.yaml is the text whose sha256 version.yaml records,
    and that is the template in the weights: the file a reviewer read is the one served (19.4)."""
    tpath = layout.template_file(model, number)
    info = record.get("chat_template")
    text = ctx.head.read(tpath) if ctx.head.has(tpath) else None
    found = _weights_templates(ctx, model, number, record, info if isinstance(info, dict) else {})
    if not isinstance(info, dict):
        if text is not None:
            found.append(Problem(tpath, "/", "a chat template without chat_template in version.yaml"))
        return found
    if text is None:
        return found + [Problem(layout.version_file(model, number), "/chat_template",
                                f"records a chat template, but {tpath} is missing")]
    if hashlib.sha256(text).hexdigest() != info.get("sha256"):
        found.append(Problem(tpath, "/", "its sha256 is not the one version.yaml records in chat_template"))
    return found


def _weights_templates(ctx, model, number, record, info: dict) -> list[Problem]:
    """The templates among the version's files: named ones are refused; chat_template.jinja's
    bytes are the template text, so its artifact sha256 must be the recorded one; where the
    files are on this machine, every template they carry is read and compared."""
    vpath = layout.version_file(model, number)
    found, local = [], []
    for i, art in enumerate(record.get("artifacts") or []):
        rel = art.get("path") if isinstance(art, dict) else None
        if not isinstance(rel, str):
            continue
        if rel.startswith(formats.NAMED_TEMPLATES):
            found.append(Problem(vpath, f"/artifacts/{i}/path", f"{rel}: named chat templates are not recorded "
                                 "or reviewed; register the version without them"))
        elif rel == "chat_template.jinja" and art.get("sha256") != info.get("sha256"):
            found.append(Problem(vpath, f"/artifacts/{i}/sha256", "chat_template.jinja in the weights is not the "
                                 "template version.yaml records (and chat_template.jinja beside it shows)"))
        if formats.carries_template(rel) and ctx.files is not None:
            path = ctx.files.path(model, number, art)
            if path is not None:
                local.append((rel, path))
    found += [Problem(vpath, "/chat_template", m) for m in formats.unrecorded_templates(local, record)]
    return sorted(set(found))


def signature_required(ctx):
    """A version entering a stage whose (base) policy requires a signature carries model.sig."""
    found = []
    for move in ctx.change.moves:
        if move.kind not in ("version", "stage") or move.after is None:
            continue
        record = ctx.change.models[move.model].after.get(move.version) or {}
        if record.get("status") == "deleted" or not signatures.required(ctx.settings, move.after):
            continue
        if not ctx.head.has(layout.signature_file(move.model, move.version)):
            found.append(Problem(layout.version_file(move.model, move.version), "/stage",
                                 f"{move.model}@{move.version} enters {move.after}, which registry.yaml requires "
                                 f"to be signed, but it has no {signatures.BUNDLE_NAME}; sign it with 'modelreg sign'"))
    return found


def signature_kept(ctx):
    """A change may not drop the signature of a version held in a stage that requires one."""
    found = []
    for model, mc in ctx.change.models.items():
        for number, record in mc.after.items():
            path = layout.signature_file(model, number)
            stage = record.get("stage")
            if number in mc.before and signatures.required(ctx.settings, stage) \
                    and ctx.base.has(path) and not ctx.head.has(path):
                found.append(Problem(path, "/", f"removes the signature of {model}@{number}, which is in "
                                     f"{stage} where registry.yaml requires one"))
    return found


def _read_key(snapshot, path: str) -> bytes | None:
    """A key or chain file the policy names, at the commit whose policy is in force."""
    if ".." in path.split("/") or path.startswith("/"):
        return None
    return snapshot.read(path)  # a working-tree snapshot indexes registry/ only, so no has() here
