"""Rules about the records at the head: schemas, layout, names, pointers, aliases, lineage."""
import posixpath
import re

from ..core import layout
from ..core import lineage as walks
from ..core import schema
from ..core.names import check_name
from .context import Problem

IGNORED_FILES = {"registry/.gitkeep", "registry/.gitignore"}
DVC_CONFIG, DVC_LOCAL = ".dvc/config", ".dvc/config.local"
_KIND_OF_LEAF = {"model.yaml": "model", "aliases.yaml": "aliases", "version.yaml": "version",
                 "card.yaml": "card", "weights.dvc": "pointer"}


def parsed(ctx, path: str, kind: str | None):
    """Parse problems and schema problems of one file; records are parsed once per snapshot."""
    if kind in ("signature", "template"):
        return None, []  # not YAML: supply/rules.py checks them against version.yaml
    doc = ctx.head.doc(path)
    if path in ctx.head.errors:
        return doc, [Problem(path, "/", ctx.head.errors[path])]
    if doc is None or kind in (None, "pointer"):
        return doc, []
    verdicts = ctx.verdicts
    sha = ctx.head.sha(path) if verdicts is not None else None
    if sha is not None and verdicts.passed(kind, sha):
        return doc, []  # this blob fitted this schema before (store/verdicts.py: the key names both)
    found = [Problem(path, p, m) for p, m in schema.problems(kind, doc)]
    if not found and sha is not None:
        verdicts.add(kind, sha)
    return doc, found


# -- registry.yaml ------------------------------------------------------------------------------
def settings_file(ctx):
    """registry.yaml exists, parses, fits its schema and is consistent (issue 8 hole 2)."""
    path = layout.REGISTRY_FILE
    if not ctx.head.has(path):
        return [Problem(path, "/", "missing; run 'modelreg init' to create it")]
    doc, found = parsed(ctx, path, "registry")
    if found or not isinstance(doc, dict):
        return found or [Problem(path, "/", "must be a mapping of settings")]
    return [Problem(path, p, m) for p, m in ctx.head.settings.problems()]


# -- layout -----------------------------------------------------------------------------------
def layout_files(ctx):
    """Anything under registry/ that is not a record, or sits in a badly named folder."""
    found = []
    # with a change, only what it adds or edits: the rest was judged when it was merged
    if ctx.paths is not None:
        paths = ctx.paths
    else:
        paths = ctx.head.paths() if ctx.change is None else [p for s, p in ctx.change.changed if s != "D"]
    for path in paths:
        if not path.startswith(layout.ROOT + "/") or path in IGNORED_FILES:
            continue
        model = layout.model_of(path)
        if layout.classify(path) is None or model is None:
            if not path.endswith("/.gitignore"):
                found.append(Problem(path, "/", "unexpected file in the registry; records are model.yaml, "
                                     "aliases.yaml, versions/<N>/{version.yaml,card.yaml,weights.dvc,"
                                     "model.sig,chat_template.jinja}"))
            continue
        try:
            check_name(model)
        except Exception as exc:
            found.append(Problem(path, "/", str(exc)))
    return found


def valid_models(ctx) -> list[str]:
    out = []
    for model in ctx.models:
        try:
            check_name(model)
        except Exception:
            continue  # layout_files reports it
        out.append(model)
    return out


# -- per model --------------------------------------------------------------------------------
def models(ctx):
    """Every record of every model in scope: schema, names, versions, pointers, aliases."""
    scope = valid_models(ctx)
    ctx.head.load(p for m in scope for p in ctx.head.model_paths(m) if layout.classify(p))
    found = []
    for model in scope:
        found += model_records(ctx, model)
    return found


def model_records(ctx, model: str) -> list[Problem]:
    paths = set(ctx.head.model_paths(model))
    found = []
    for path in sorted(paths):
        info = layout.classify(path)
        if info:
            found += parsed(ctx, path, info[0])[1]
    model_path = layout.model_file(model)
    doc = ctx.head.doc(model_path)
    if model_path not in paths:
        found.append(Problem(model_path, "/", "missing: every model folder needs a model.yaml"))
    elif isinstance(doc, dict) and doc.get("name") != model:
        found.append(Problem(model_path, "/name", f"name {doc.get('name')!r} does not match its folder {model!r}"))
    versions = {}
    for path in paths:
        info = layout.classify(path)
        if info and info[0] == "version":
            doc = ctx.head.doc(path)
            versions[info[2]] = doc if isinstance(doc, dict) else {}
        elif info and info[2] is not None and layout.version_file(model, info[2]) not in paths:
            found.append(Problem(path, "/", "no version.yaml beside this file"))
    versions = dict(sorted(versions.items()))
    for number, record in versions.items():
        found += version_record(ctx, model, number, record, paths)
    found += aliases(ctx, model, versions)
    found += exclusive(ctx, model, versions)
    return found


def version_record(ctx, model, number, record, paths) -> list[Problem]:
    path = layout.version_file(model, number)
    found = []
    if record.get("version") not in (None, number):
        found.append(Problem(path, "/version", f"{record.get('version')} does not match its folder {number}"))
    if "stage" in record and record["stage"] not in ctx.settings.stages:
        found.append(Problem(path, "/stage", f"stage {record['stage']!r} is not in registry.yaml's stages"))
    if record.get("model_type") == "adapter" and not record.get("parent"):
        found.append(Problem(path, "/parent", "an adapter must name its base model in parent"))
    if record.get("status") != "deleted":  # what `load` would refuse by the record (issue 9)
        from ..loading.checks import record_problems

        found += [Problem(path, p, m) for p, m in record_problems(record)]
    return found + pointer(ctx, model, number, record, paths)


def pointer(ctx, model, number, record, paths) -> list[Problem]:
    path = layout.pointer_file(model, number)
    artifacts = [a for a in record.get("artifacts") or [] if isinstance(a, dict)]
    if path not in paths:
        if artifacts:
            return [Problem(path, "/", "missing: the version lists artifacts but has no DVC pointer")]
        return []
    doc = ctx.head.doc(path)
    outs = doc.get("outs") if isinstance(doc, dict) else None
    if not isinstance(outs, list) or len(outs) != 1 or not isinstance(outs[0], dict):
        return [Problem(path, "/outs", "not a DVC pointer with exactly one output")]
    out, found = outs[0], []
    if out.get("path") != "weights":
        found.append(Problem(path, "/outs/0/path",
                             f"must be 'weights' (the version's own folder), not {out.get('path')!r}"))
    if not str(out.get("md5", "")).endswith(".dir"):
        found.append(Problem(path, "/outs/0/md5", "must point at a folder listing (<md5>.dir)"))
    size = sum(a.get("size_bytes", 0) for a in artifacts if isinstance(a.get("size_bytes", 0), int))
    if out.get("size") != size:
        found.append(Problem(path, "/outs/0/size",
                             f"{out.get('size')} bytes, but version.yaml's artifacts add up to {size}"))
    if out.get("nfiles") != len(artifacts):
        found.append(Problem(path, "/outs/0/nfiles",
                             f"{out.get('nfiles')} files, but version.yaml lists {len(artifacts)}"))
    return found


def aliases(ctx, model: str, versions: dict[int, dict]) -> list[Problem]:
    path = layout.aliases_file(model)
    doc = ctx.head.doc(path)
    held = doc.get("aliases") if isinstance(doc, dict) else None
    held = held if isinstance(held, dict) else {}
    found = []
    for alias, number in held.items():
        target = versions.get(number) if isinstance(number, int) else None
        if target is None:
            found.append(Problem(path, f"/aliases/{alias}", f"points at version {number}, which does not exist"))
        elif target.get("status") == "deleted":
            found.append(Problem(path, f"/aliases/{alias}", f"points at version {number}, which is deleted"))
    for stage, alias in ctx.settings.stage_aliases.items():
        holders = [n for n, v in versions.items() if v.get("stage") == stage and v.get("status") != "deleted"]
        if holders and held.get(alias) != holders[0]:
            found.append(Problem(path, f"/aliases/{alias}", f"must point at version {holders[0]}, the {stage} version"))
        if not holders and alias in held:
            found.append(Problem(path, f"/aliases/{alias}", f"points at version {held[alias]}, which is not in {stage}"))
    return found


def exclusive(ctx, model: str, versions: dict[int, dict]) -> list[Problem]:
    found = []
    for stage in ctx.settings.exclusive_stages:
        holders = [n for n, v in versions.items() if v.get("stage") == stage and v.get("status") != "deleted"]
        for extra in holders[1:]:
            found.append(Problem(layout.version_file(model, extra), "/stage",
                                 f"{stage} is exclusive but versions {', '.join(map(str, holders))} are all in it"))
    return found


# -- credentials ------------------------------------------------------------------------------
def credentials(ctx):
    """No tracked file may hold a credential; .dvc/config.local may not be tracked at all (hole 8)."""
    from ..artifacts.secrets import find_credentials, may_hold_credentials

    found = []
    if ctx.head.has(DVC_LOCAL):
        found.append(Problem(DVC_LOCAL, "/", "is tracked by git, but DVC reads credentials from it: "
                             "run 'git rm --cached .dvc/config.local', keep it git-ignored, and rotate "
                             "any key it held"))
    for path, data in _scannable(ctx):
        if not may_hold_credentials(data):
            continue  # the cheap whole-file test: most records cannot match any pattern
        for where, message in find_credentials(path, data.decode("utf-8", "replace")):
            found.append(Problem(path, "/", f"{where}: {message}"))
    return found


def gates_held(ctx):
    """Without a base, every version in a gated stage meets that stage's gates: a move committed
    past the pull request's check (a hand edit, a push to main) is caught by the next check."""
    from .gates import check_gates

    if ctx.change is not None or not ctx.settings.get("gates"):
        return []  # with a base, the change's gates are judged on what it moves (pull.py)
    found = []
    for model in valid_models(ctx):
        for number, record in ctx.head.all_versions(model).items():
            stage = record.get("stage")
            if record.get("status") == "deleted" or stage not in (ctx.settings.get("gates") or {}):
                continue
            for gate in check_gates(ctx.settings, stage, model, number, record, ctx.head.card(model, number) or {}):
                if not gate.ok:
                    found.append(Problem(gate.file, gate.pointer, f"{model}@{number} is in {stage} but fails its "
                                         f"gate {gate.condition} ({gate.detail})"))
    return found


CODEOWNERS_FILES = (".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS")  # the order GitHub reads them


def policy_owners(ctx):
    """With approval groups, every policy path and every file the policy names has an owner in a
    hand-written CODEOWNERS file GitHub reads: GitHub requests a review only from a file's owners
    (19.1). A generated file covers them all; `codeowners --check` in the check workflow keeps it
    current."""
    from ..promotion.codeowners import approvers, is_generated_text, owners_in, policy_samples

    path = next((p for p in CODEOWNERS_FILES if ctx.head.has(p)), None)
    if path is None or not approvers(ctx.settings):
        return []  # no CODEOWNERS, or no one named to own the policy: approvals alone decide
    text = (ctx.head.read(path) or b"").decode("utf-8", "replace")
    if is_generated_text(text):
        return []
    missing = [p for p in policy_samples(ctx.settings) if not owners_in(text, p)]
    if not missing:
        return []
    return [Problem(path, "/", f"no owner for the policy files {', '.join(missing)}: every policy file "
                    "needs a line naming the approvers: run 'modelreg codeowners' or add the lines")]


_CREDENTIAL_OPTIONS = re.compile(r"^\s*(credentialpath|configpath|keyfile|key_path|cert_path|kerb_ticket|"
                                 r"gdrive_user_credentials_file|gdrive_service_account_json_file_path)"
                                 r"\s*=\s*(.+?)\s*$", re.M)


def credential_files(ctx):
    """Files the DVC config points at for credentials may not be tracked either (hole 8)."""
    found = []
    for config in (DVC_CONFIG, DVC_LOCAL):
        data = ctx.head.read(config) if ctx.head.has(config) else None
        for option, value in _CREDENTIAL_OPTIONS.findall((data or b"").decode("utf-8", "replace")):
            target = posixpath.normpath(posixpath.join(".dvc", value.strip("'\"")))
            if not value.startswith(("/", "~")) and ctx.head.has(target):
                found.append(Problem(target, "/", f"is tracked by git, but {config} names it as {option} "
                                     "(DVC reads credentials from it): run 'git rm --cached "
                                     f"{target}', keep it outside the repository, and rotate what it held"))
    return found


def _scannable(ctx):
    if ctx.paths is not None:
        wanted = [p for p in ctx.paths if _is_scanned(p)]
    elif ctx.change is not None:
        wanted = [p for s, p in ctx.change.changed if s != "D" and _is_scanned(p)]
    else:
        wanted = [p for p in ctx.head.paths() if _is_scanned(p)]
    ctx.head.prefetch(wanted)
    for path in wanted:
        data = ctx.head.read(path)
        if data is not None:
            yield path, data


def _is_scanned(path: str) -> bool:
    return path.startswith(layout.ROOT + "/") or path in (layout.REGISTRY_FILE, DVC_CONFIG, DVC_LOCAL) \
        or path.startswith(".dvc/")


# -- lineage ----------------------------------------------------------------------------------
def lineage(ctx):
    """Parents exist and lineage has no cycle (for the versions in scope)."""
    found = []
    for model in valid_models(ctx):
        for number, record in ctx.head.all_versions(model).items():
            if isinstance(record.get("parent"), dict):
                found += _walk(ctx, model, number)
    return found


def _version(ctx, model, number) -> dict | None:
    try:
        return ctx.head.version(model, number)
    except Exception:  # a parent field naming something that is not a model name
        return None


def _walk(ctx, model, number) -> list[Problem]:
    """A cycle anywhere below, or a missing parent right below (a missing grandparent is its
    child's problem, reported there)."""
    start = walks.Link(model, number, _version(ctx, model, number) or {})
    chain, broken = walks.walk(lambda m, n: _version(ctx, m, n), start)
    path = layout.version_file(model, number)
    if broken is None:
        return []
    if broken.kind == "cycle":
        return [Problem(path, "/parent", f"lineage cycle through {broken.parent_name}")]
    if len(chain) == 1:
        return [Problem(path, "/parent", f"parent {broken.parent_name} does not exist")]
    return []


# -- per version, through the context's services (local files, the remote) --------------------
def adapter_fit(ctx, model, number, record):
    """An adapter's adapter_config.json must fit its registered parent (files found locally).

    A soft-deleted version is inert: it can no longer be loaded, so it no longer fails check
    (issue 14.9: otherwise main stays red with no allowed fix)."""
    if ctx.files is None or record.get("model_type") != "adapter" or record.get("status") == "deleted":
        return []
    from ..core.errors import RegistryError
    from ..loading.checks import adapter_problems

    try:
        found = adapter_problems(ctx.head, model, number, ctx.files)
    except RegistryError:
        return []  # unreadable: the record rules report it
    return [Problem(layout.version_file(model, number), p, m) for p, m in found]


def remote_objects(ctx, model, number, record):
    """With --remote: every object of the version is in the DVC remote. A version the change adds
    is verified deep: its bytes must hash to the sha256 its version.yaml claims (hole 9)."""
    if ctx.remote is None or record.get("status") == "deleted":
        return []
    path = layout.pointer_file(model, number)
    if not ctx.head.has(path):
        return []
    mc = ctx.change.models.get(model) if ctx.change is not None else None
    if mc is None or number in mc.before:
        return [Problem(path, "/", m) for m in ctx.remote(model, number, False)]
    return [Problem(path, "/", f"{m}; the version's artifacts must be the bytes it claims: push the right files "
                    "('modelreg version create' does)" if _about_bytes(m) else m) for m in ctx.remote(model, number, True)]


def _about_bytes(message: str) -> bool:
    """A missing, short or other object (the pickle and template verdicts say what to do themselves)."""
    return any(mark in message for mark in ("sha256 mismatch", "missing from", "bytes in the remote"))


def local_files(ctx, model, number, record):
    """What `load` would refuse by the files' contents (a sharded index naming files that are
    not the version's), on the files available locally (issue 9)."""
    if ctx.files is None or record.get("status") == "deleted":
        return []
    from ..loading.checks import local_file_problems

    return [Problem(layout.version_file(model, number), p, m)
            for p, m in local_file_problems(ctx.files, model, number, record)]


def finite_numbers(ctx, model, number, record):
    """NaN and infinities pass `>=` gates in Python and are not JSON: refuse them (hole 10)."""
    from ..core.records import non_finite

    # the schema types every other field as text or integer: only these hold free numbers
    numbers = {k: record[k] for k in ("metrics", "parameters", "training") if k in record}
    return [Problem(layout.version_file(model, number), where,
                    f"{value} is not a finite number; record a real number")
            for where, value in non_finite(numbers)]


def schema_drift(ctx):
    """The packaged schemas are the truth; a registry's committed copies must match them (issue 14.7)."""
    import json

    found = []
    for kind in schema.KINDS:
        path = f"{layout.SCHEMA_DIR}/{kind}.schema.json"
        data = ctx.head.read(path) if ctx.head.has(path) else None
        if data is None:
            continue
        try:
            same = json.loads(data) == schema.load_schema(kind)
        except ValueError:
            same = False
        if not same:
            found.append(Problem(path, "/", "differs from the schema modelreg validates with (the packaged "
                                 "copy is the truth; editors and CI would disagree): restore it with "
                                 f"'cp {schema.schema_dir() / (kind + '.schema.json')} {path}'"))
    return found
