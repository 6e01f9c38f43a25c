"""Release tags: one annotated tag per thing a merge to main did, and whole-registry releases.

Tag names (registry.yaml `tag_format` may change them; {n} counts per model and stage/alias):
    registered version   {model}@v{version}          llama-ft@v3
    stage move           {model}#{stage}#{n}          llama-ft#production#2
    alias move           {model}@{alias}#{n}          llama-ft@champion#1
    release              NAME as given                2026-q4 (`modelreg release cut`)
Every tag is annotated; its message carries the facts as trailers (Modelreg-Event, -Model,
-Version, -Stage, -Alias, -Commit), which is what `check-ref` reads: a deploy workflow never
has to parse names. `tag` is idempotent: a move that already has its tag gets no second one.
"""
import re

from . import policy
from .errors import AlreadyExists, InvalidInput, NotFound

DEFAULT_FORMAT = {"version": "{model}@v{version}", "stage": "{model}#{stage}#{n}",
                  "alias": "{model}@{alias}#{n}"}
# What a tag name given on the command line may contain: no shell or git specials.
_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@#+/-]{0,127}")


def check_tag_name(name: str) -> str:
    if not _SAFE_NAME.fullmatch(name or "") or ".." in name or name.endswith((".", "/", ".lock")) \
            or "@{" in name or "//" in name:
        raise InvalidInput(f"invalid tag name {name!r}: use letters, digits and . _ @ # + / -, "
                           "starting with a letter or digit (at most 128 characters)")
    return name


# `tag_format: gto` (issue 10): names `gto show`/`gto history` read. GTO versions are semver,
# and GTO finds the version a stage tag assigns by the commit it points at, so stage tags go
# on the commit the version's own tag points at (the move's commit stays in the message).
# GTO has no aliases: their tags use a name its grammar ignores.
PRESETS = {"gto": {"version": "{model}@v{version}.0.0", "stage": "{model}#{stage}#{n}",
                   "alias": "{model}@alias-{alias}#{n}", "stage_on_version_commit": True}}


def tag_formats(settings) -> dict:
    chosen = settings.get("tag_format") or {}
    if isinstance(chosen, str):
        if chosen not in PRESETS:
            raise InvalidInput(f"unknown tag_format {chosen!r} in registry.yaml: use {', '.join(PRESETS)} "
                               "or a mapping of format strings")
        chosen = PRESETS[chosen]
    return {**DEFAULT_FORMAT, **chosen}


def _tag_for(move: policy.Move, formats: dict, n: int) -> tuple[str, dict]:
    if move.kind == "version":
        event, fields = "version", {"version": move.version}
    elif move.kind == "stage":
        event, fields = "stage", {"version": move.version, "stage": move.after}
    else:
        event, fields = "alias", {"version": move.after, "alias": move.name}
    name = formats[event].format(model=move.model, n=n, version=fields.get("version"),
                                 stage=fields.get("stage", ""), alias=fields.get("alias", ""))
    return check_tag_name(name), {"Event": event, "Model": move.model, **{
        k.capitalize(): str(v) for k, v in fields.items() if v is not None}}


def _message(subject: str, facts: dict, commit: str) -> str:
    lines = [f"modelreg: {subject}", ""] + [f"Modelreg-{k}: {v}" for k, v in facts.items()]
    return "\n".join(lines + [f"Modelreg-Commit: {commit}"]) + "\n"


def read_facts(message: str) -> dict:
    facts = {}
    for line in message.splitlines():
        key, sep, value = line.partition(": ")
        if sep and key.startswith("Modelreg-"):
            facts[key[len("Modelreg-"):].lower()] = value.strip()
    return facts


def plan(reg, limit: int = 500) -> list[tuple[str, str, str]]:
    """(tag, commit, message) for every move on main's first-parent history lacking its tag."""
    ops = reg.git.branches
    formats = tag_formats(reg.settings)
    existing = ops.tags()
    done = set()  # (event, model, version/stage/alias key, commit) already tagged
    version_commits = {}  # (model, version) -> the commit its version tag points at
    counters: dict[tuple[str, str, str], int] = {}
    for name, commit in existing.items():
        facts = read_facts(ops.tag_message(name) or "")
        if facts.get("event") in ("version", "stage", "alias", "unstage"):
            key = facts.get("stage") or facts.get("alias") or ""
            done.add((facts["event"], facts.get("model"), facts.get("version"), key, facts.get("commit") or commit))
            if facts["event"] == "version":
                version_commits[(facts.get("model"), facts.get("version"))] = commit
            slot = ("stage" if facts["event"] == "unstage" else facts["event"], facts.get("model"), key)
            counters[slot] = counters.get(slot, 0) + 1
    wanted = []
    commits = list(reversed(ops.first_parent_merges(reg.main_branch, limit)))
    for commit in commits:
        parents = ops.parents(commit)
        if not parents:
            continue
        for move in policy.changes(reg, parents[0], commit):
            if move.kind == "stage" and move.after is None or move.kind == "alias" and move.after is None:
                continue  # a removed alias has nothing to point a deploy at
            event = {"version": "version", "stage": "stage", "alias": "alias"}[move.kind]
            key = move.after if event == "stage" else (move.name or "")
            version = str(move.version if event != "alias" else move.after)
            if (event, move.model, version, key if event != "version" else "", commit) in done:
                continue
            slot = (event, move.model, key if event != "version" else "")
            counters[slot] = counters.get(slot, 0) + 1
            name, facts = _tag_for(move, formats, counters[slot])
            if name in existing:
                continue
            target = commit
            if event == "version":
                version_commits[(move.model, version)] = commit
            elif event == "stage" and formats.get("stage_on_version_commit"):
                target = version_commits.get((move.model, version), commit)
            wanted.append((name, target, _message(move.describe(), facts, commit)))
            existing[name] = target
            if event == "stage" and formats.get("stage_on_version_commit"):
                wanted += _gto_unassign(move, version, target, commit, counters, done, existing,
                                        reg.settings.initial_stage)
    return wanted


def _gto_unassign(move, version, target, commit, counters, done, existing, initial) -> list:
    """GTO keeps a version in every stage it entered until a `{model}#{stage}!#{n}` tag takes it out."""
    before = move.before
    if not before or before == initial or ("unstage", move.model, version, before, commit) in done:
        return []
    slot = ("stage", move.model, before)
    counters[slot] = counters.get(slot, 0) + 1
    name = f"{move.model}#{before}!#{counters[slot]}"  # names and stages are checked; '!' is GTO's
    if name in existing:
        return []
    existing[name] = target
    facts = {"Event": "unstage", "Model": move.model, "Version": version, "Stage": before}
    return [(name, target, _message(f"{move.model}@{version} leaves {before}", facts, commit))]


def tag(reg, push: bool = False) -> list[dict]:
    """Create the missing annotated tags (and push them); returns what was created."""
    created = []
    ops = reg.git.branches
    dated = tag_formats(reg.settings).get("stage_on_version_commit")
    for name, commit, message in plan(reg):
        # gto: GTO orders events by tagger date, so a tag is dated when its move was made
        date = ops.run("show", "-s", "--format=%cI", read_facts(message)["commit"]).strip() if dated else None
        ops.create_tag(name, commit, message, date=date)
        created.append({"tag": name, "commit": commit, **read_facts(message)})
    if push:
        push_tags(reg, [c["tag"] for c in created])
    return created


def check_ref(reg, name: str) -> dict:
    """What a tag means, from its annotation (for deploy workflows)."""
    check_tag_name(name)
    ops = reg.git.branches
    message = ops.tag_message(name)
    if message is None:
        raise NotFound(f"no tag named {name!r}; 'git fetch --tags' if it was made elsewhere")
    facts = read_facts(message)
    if not facts.get("event"):
        raise InvalidInput(f"tag {name!r} was not made by modelreg (no Modelreg-Event in its message)")
    # the commit that made the move (a gto-preset stage tag points at the version's commit)
    commit = facts.get("commit") or reg.git.rev_parse(f"refs/tags/{name}")
    out = {"tag": name, "event": facts["event"], "commit": commit}
    for key in ("model", "version", "stage", "alias", "release"):
        if key in facts:
            out[key] = int(facts[key]) if key == "version" else facts[key]
    return out


def cut_release(reg, name: str, at: str | None = None) -> dict:
    """Tag the whole registry state of main (or `at`) as NAME; `resolve --at NAME` reads it."""
    check_tag_name(name)
    commit = reg.commit_of(at)
    ops = reg.git.branches
    existing = ops.tags().get(name)
    if existing is not None:
        if existing == commit and read_facts(ops.tag_message(name) or "").get("event") == "release":
            return {"tag": name, "commit": commit, "created": False}
        raise AlreadyExists(f"tag {name!r} already exists at {existing[:12]}; choose another name")
    summary = []
    for model in reg.list_models(at=commit):
        aliases = reg.aliases(model["name"], at=commit)
        summary.append(f"{model['name']}: " + (", ".join(f"{a}={v}" for a, v in sorted(aliases.items()))
                                                or "no aliases"))
    message = "\n".join([f"modelreg: release {name}", "", *summary, "",
                         "Modelreg-Event: release", f"Modelreg-Release: {name}",
                         f"Modelreg-Commit: {commit}"]) + "\n"
    ops.create_tag(name, commit, message)
    return {"tag": name, "commit": commit, "created": True, "models": len(summary)}


def push_tags(reg, names: list[str]) -> None:
    if not reg.git.branches.has_remote("origin"):
        raise NotFound("no 'origin' remote to push tags to; add one with 'git remote add origin URL'")
    if names:
        reg.git.branches.push(*[f"refs/tags/{n}:refs/tags/{n}" for n in names])

