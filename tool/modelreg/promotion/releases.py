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
import hashlib
import logging
import re
import string
import time
from collections import Counter

from ..core.clock import BRANCH, NOTES_REF, OBSERVED, iso, parse_when, witnessed
from ..core.errors import AlreadyExists, IntegrityError, InvalidInput, NotFound
from ..store import reads
from ..store.change import Move, compute
from ..store.snapshot import Snapshot

log = logging.getLogger(__name__)

DEFAULT_FORMAT = {"version": "{model}@v{version}", "stage": "{model}#{stage}#{n}",
                  "alias": "{model}@{alias}#{n}"}
# What a tag name given on the command line may contain: no shell or git specials, except
# the `!` of GTO's unassignment grammar (`{model}#{stage}!#{n}`), only right before a `#`.
_SAFE_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._@#+/-]|!(?=#)){0,127}")


def check_tag_name(name: str) -> str:
    if not _SAFE_NAME.fullmatch(name or "") or ".." in name or name.endswith((".", "/", ".lock")) \
            or "@{" in name or "//" in name:
        raise InvalidInput(f"invalid tag name {name!r}: use letters, digits and . _ @ # + / -, "
                           "starting with a letter or digit (at most 128 characters)")
    return name


# `tag_format: gto` (issue 10): names `gto show`/`gto history` read. GTO versions are semver,
# and GTO finds the version a stage tag assigns by the commit it points at, so stage tags go
# on the commit the version's own tag points at (the move's commit stays in the message), a
# version leaving a stage gets GTO's unassignment tag, and tags are dated by their move.
# GTO has no aliases: their tags use a name its grammar ignores.
PRESETS = {"gto": {"version": "{model}@v{version}.0.0", "stage": "{model}#{stage}#{n}",
                   "alias": "{model}@alias-{alias}#{n}"}}


def tag_formats(settings) -> dict:
    chosen = settings.get("tag_format") or {}
    if isinstance(chosen, str):
        if chosen not in PRESETS:
            raise InvalidInput(f"unknown tag_format {chosen!r} in registry.yaml: use {', '.join(PRESETS)} "
                               "or a mapping of format strings")
        chosen = PRESETS[chosen]
    return {**DEFAULT_FORMAT, **chosen}


def _gto(settings) -> bool:
    return settings.get("tag_format") == "gto"


def _tag_for(move: Move, formats: dict, n: int) -> tuple[str, dict]:
    if move.kind == "version":
        event, fields = "version", {"version": move.version}
    elif move.kind == "stage":
        event, fields = "stage", {"version": move.version, "stage": move.after}
    else:
        event, fields = "alias", {"version": move.after, "alias": move.name}
    name = formats[event].format(model=move.model, n=n, version=fields.get("version"),
                                 stage=fields.get("stage", ""), alias=fields.get("alias", ""))
    return check_tag_name(shorten(name)), {"Event": event, "Model": move.model, **{
        k.capitalize(): str(v) for k, v in fields.items() if v is not None}}


def shorten(name: str, limit: int = 128) -> str:
    """Names over the limit keep their start and end in a hash of the whole: deterministic, so
    the next run finds the same tag; the message carries the full model and alias names."""
    if len(name) <= limit:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:12]
    return f"{name[:limit - len(digest) - 1]}+{digest}"


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


def _move_key(move: Move) -> tuple[str, str, str, str]:
    """(event, model, version, stage/alias): what a tag says, independent of the commit."""
    event = move.kind
    key = move.after if event == "stage" else (move.name or "") if event == "alias" else ""
    version = move.after if event == "alias" else move.version
    return event, move.model, str(version), key


def tagged_moves(change) -> list[Move]:
    """The change's moves, each registration straight into a stage past the initial one (an
    import into production) followed by that stage's move: it gets its stage tag as a version
    moved there does, so a deploy workflow watching `{model}#production#{n}` sees it (issue 21).
    A deleted record (an import's placeholder) enters nothing."""
    initial, out = change.head.settings.initial_stage, []
    for move in change.moves:
        out.append(move)
        if move.kind == "version" and move.after not in (None, initial):
            record = change.models[move.model].after.get(move.version) or {}
            if record.get("status") != "deleted":
                out.append(Move("stage", move.model, move.version, None, move.after))
    return out


class MovesAt:
    """The moves a commit made on top of its first parent, recomputed from the records (memoised):
    what a tag's trailers are checked against. A tag is anyone's claim; this is the registry's."""

    def __init__(self, git):
        self.git, self._keys = git, {}

    def keys(self, commit: str) -> set:
        if commit not in self._keys:
            found = set()
            try:
                parents = self.git.branches.parents(commit)
            except Exception:  # not a commit of this repository
                parents = None
            if parents:
                for move in tagged_moves(compute(self.git, parents[0], commit)):
                    key = _move_key(move)
                    found.add(key)
                    if move.kind == "stage" and move.before:  # what a gto unassignment tag says
                        found.add(("unstage", move.model, str(move.version), move.before))
            self._keys[commit] = found
        return self._keys[commit]


def _tag_key(facts: dict) -> tuple:
    return (facts.get("event"), facts.get("model"), facts.get("version"),
            facts.get("stage") or facts.get("alias") or "")


def _verified(moves: MovesAt, facts: dict, commit: str, target: str) -> bool:
    """The tag's move is one its commit really made, and the tag points at that commit (or, for a
    gto stage tag, at the commit that registered its version, an ancestor: nothing else, so a tag
    naming a true move's commit cannot point a checkout at other records)."""
    if _tag_key(facts) not in moves.keys(commit):
        return False
    if target == commit:
        return True
    registered = ("version", facts.get("model"), facts.get("version"), "")
    return facts.get("event") in ("stage", "unstage") and registered in moves.keys(target) \
        and moves.git.branches.is_ancestor(target, commit)


def _existing(tree, ops, on_main: set[str], moves: MovesAt) -> tuple[dict, set, set, Counter, Counter]:
    """Modelreg tags: name -> commit, the names that verify, the (key, commit) pairs on main,
    orphaned keys, slot counts. A tag whose trailers its commit does not bear out (a decoy pushed
    in advance) neither marks a move done nor counts as an orphan."""
    existing = ops.tags()
    trusted, done, orphaned, counters = set(), set(), Counter(), Counter()
    for name, target in existing.items():
        facts = read_facts(ops.tag_message(name) or "")
        if facts.get("event") not in ("version", "stage", "alias", "unstage"):
            continue
        key = _tag_key(facts)
        commit = facts.get("commit") or target  # the move's commit (a gto stage tag sits on its version's)
        if not _verified(moves, facts, commit, target):
            log.warning("tag %s claims a move its commit %s did not make: ignoring it", name, commit[:12])
            continue
        trusted.add(name)
        counters[("stage",) + key[1:2] + key[3:] if key[0] == "unstage" else key[:2] + key[3:]] += 1
        if commit in on_main:
            done.add((key, commit))
        elif _rewritten_onto_main(tree, key[1], commit, on_main):
            orphaned[key] += 1  # main was rewritten under it: the same move on main is this tag's move
    return existing, trusted, done, orphaned, counters


def _rewritten_onto_main(tree, model: str, commit: str, on_main: set[str]) -> bool:
    """Whether `commit` (off main) is a commit main had before a rewrite: main no longer reaches
    it, and a commit on main is the same commit rewritten (same author, author date and message,
    and the same records of the model). Holding the same records is not enough: a tag pushed in
    advance on a PR's branch commit (true there) would then stop the merged move being tagged
    (issue 19.2); a squash or merge commit has its own message and date. A rebase-merged PR keeps
    its commits' identity, so a tag on one of them pushed before the merge still counts as that
    move's tag (check-ref says it is not on main)."""
    ops = tree.git.branches
    if ops.is_ancestor(commit, tree.main_branch):
        return False  # merged from a branch: never main
    fmt = "--format=%H%x1f%an%x1f%ae%x1f%at%x1f%B%x1e"
    try:
        folder = ops.run("rev-parse", f"{commit}:registry/{model}").strip()
        identity = ops.run("show", "-s", fmt, commit).split("\x1f", 1)[1].strip()
    except Exception:
        return False
    found = ops.run("log", "--first-parent", fmt, tree.main_branch, "--", f"registry/{model}", check=False)
    for record in found.split("\x1e"):
        sha, _, rest = record.strip().partition("\x1f")
        if sha in on_main and rest.strip() == identity \
                and ops.run("rev-parse", f"{sha}:registry/{model}", check=False).strip() == folder:
            return True
    return False


def plan(tree, limit: int = 500) -> list[tuple[str, str, str]]:
    """(tag, commit, message) for every move on main's first-parent history lacking its tag.

    A move already tagged on a commit main no longer has (main was rebased or rewritten with
    the same content) is not tagged again: a deploy workflow must not fire twice for it.
    A version tag left on such a commit is moved to the commit that registers the version on
    main now (its message says `Modelreg-Replaces:`), so it never describes other weights.
    """
    return [(name, commit, message) for name, commit, message, _ in _plan(tree, limit)]


def _plan(tree, limit: int):
    ops = tree.git.branches
    formats = tag_formats(tree.settings)
    commits = list(reversed(ops.first_parent_merges(tree.main_branch, limit)))
    on_main = set(ops.first_parent_merges(tree.main_branch, 0))
    moves_at = MovesAt(tree.git)
    existing, trusted, done, orphaned, counters = _existing(tree, ops, on_main, moves_at)
    gto = _gto(tree.settings)
    version_commits = {}  # gto: (model, version) -> the commit its version tag points at
    wanted = []
    for commit in commits:
        parents = ops.parents(commit)
        if not parents:
            continue
        for move in tagged_moves(compute(tree.git, parents[0], commit)):
            if move.kind in ("stage", "alias") and move.after is None:
                continue  # a removed alias has nothing to point a deploy at
            key = _move_key(move)
            if (key, commit) in done:
                continue
            if orphaned[key] and move.kind != "version":
                orphaned[key] -= 1
                continue
            counters[key[:2] + key[3:]] += 1
            item = _wanted(tree, move, formats, counters, key, commit, existing, on_main, trusted)
            if item is not None and gto:
                item = _on_version_commit(tree, item, move, version_commits, existing)
            if item is not None:
                wanted.append(item)
                existing[item[0]] = item[1]
            if gto and move.kind == "stage":
                wanted += _gto_unassign(tree, move, commit, counters, done, existing, version_commits)
    return wanted


def _version_commit(tree, model: str, version, version_commits: dict, existing: dict) -> str | None:
    """The commit a version's tag points at (planned now, or made before)."""
    found = version_commits.get((model, str(version)))
    if found is None:
        name = tag_formats(tree.settings)["version"].format(model=model, version=version)
        found = existing.get(name)
    return found


def _on_version_commit(tree, item, move, version_commits, existing):
    name, commit, message, replaces = item
    if move.kind == "version":
        version_commits[(move.model, str(move.version))] = commit
    elif move.kind == "stage":
        commit = _version_commit(tree, move.model, move.version, version_commits, existing) or commit
    return name, commit, message, replaces


def _gto_unassign(tree, move, commit, counters, done, existing, version_commits) -> list:
    """GTO keeps a version in every stage it entered until a `{model}#{stage}!#{n}` tag takes it out."""
    before, version = move.before, str(move.version)
    key = ("unstage", move.model, version, before)
    if not before or before == tree.settings.initial_stage or (key, commit) in done:
        return []
    counters[("stage", move.model, before)] += 1
    name = f"{move.model}#{before}!#{counters[('stage', move.model, before)]}"  # '!' is GTO's grammar
    if name in existing:
        return []
    target = _version_commit(tree, move.model, move.version, version_commits, existing) or commit
    existing[name] = target
    facts = {"Event": "unstage", "Model": move.model, "Version": version, "Stage": before}
    return [(name, target, _message(f"{move.model}@{version} leaves {before}", facts, commit), None)]


def _wanted(tree, move, formats, counters, key, commit, existing, on_main, trusted):
    slot = key[:2] + key[3:]
    try:
        name, facts = _tag_for(move, formats, counters[slot])
        # a stage or alias tag's slot taken by a tag that does not verify (a decoy pushed in
        # advance): the real move takes the next free slot, and the decoy stays unverifiable
        while move.kind != "version" and name in existing and name not in trusted:
            log.warning("tag %s exists but does not describe a move: tagging %s under the next name",
                        name, move.describe())
            counters[slot] += 1
            name, facts = _tag_for(move, formats, counters[slot])
    except InvalidInput as exc:
        log.warning("not tagging %s at %s: %s", move.describe(), commit[:12], exc)
        return None
    replaces = None
    if name in existing:
        untrusted = name not in trusted  # a decoy version tag is replaced by the real one
        if not untrusted and (move.kind != "version" or existing[name] in on_main
                              or _same_version(tree, move, existing[name], commit)):
            return None
        replaces = existing[name]
        facts = dict(facts, Replaces=replaces)
    return name, commit, _message(move.describe(), facts, commit), replaces


def _same_version(tree, move, old_commit: str, commit: str) -> bool:
    from .sync import identity

    old, new = (Snapshot.at(tree.git, c).version(move.model, move.version) for c in (old_commit, commit))
    return old is not None and identity(old) == identity(new)


def tag(tree, push: bool = False, observe: bool = False, now: str | None = None) -> list[dict]:
    """Create the missing annotated tags (and push them); returns what was created.

    With `observe`, also record now as the time main reached its new commits (the registry's
    clock, see clock.py). When the push fails, nothing is left behind locally."""
    ops = tree.git.branches
    if push and ops.has_remote("origin"):
        ops.fetch()  # a clone without origin's tags would make them again, and the push would fail
        if observe:
            ops.fetch_notes(NOTES_REF)
    if observe:
        from .approvals_log import recorder

        noted = observe_main(tree, now, record=recorder(tree))  # who approved each merge (issue 22)
    else:
        noted = []
    created, replaced = [], {}
    dated = _gto(tree.settings)  # GTO orders events by tagger date: date each tag by its move
    try:
        for name, commit, message, replaces in _plan(tree, 500):
            if replaces:
                replaced[name] = (replaces, ops.tag_message(name))
            date = ops.run("show", "-s", "--format=%cI", read_facts(message)["commit"]).strip() if dated else None
            ops.create_tag(name, commit, message, force=bool(replaces), date=date)
            created.append({"tag": name, "commit": commit, **read_facts(message)})
        if push:  # tags and clock notes in one push
            push_tags(tree, [c["tag"] for c in created], force=set(replaced),
                      extra=[f"{NOTES_REF}:{NOTES_REF}"] if noted else [])
    except Exception:
        _undo(ops, created, replaced, noted)
        raise
    return created


def _undo(ops, created, replaced, noted) -> None:
    for item in created:
        ops.delete_tag(item["tag"])
        if item["tag"] in replaced:
            old_commit, old_message = replaced[item["tag"]]
            ops.create_tag(item["tag"], old_commit, old_message or "")
    for commit in noted:
        ops.remove_note(NOTES_REF, commit)


def observe_main(tree, now: str | None = None, record=None) -> list[str]:
    """Note `now` on each first-parent commit of main newer than the last observed one (only
    the head, the first time: older commits were main before anyone watched). Only a note the
    clock counts is an observation (clock.witnessed): one it refuses (a planted note, a time
    from the future) is overwritten, so it neither stops nor fails the real observation.
    `record(sha) -> str` adds lines to a commit's note: who approved it (approvals_log)."""
    line = tree.git.first_parent_line(tree.main_branch, NOTES_REF)
    stamp = iso(parse_when(now)) if now else iso(int(time.time()))
    counted = witnessed(line)
    fresh = []
    for sha, _committed, _parents, _note in line:
        if sha in counted:
            break
        fresh.append(sha)
    if len(fresh) == len(line):
        fresh = fresh[:1]
    for sha in fresh:
        extra = record(sha) if record is not None else ""
        tree.git.branches.add_note(NOTES_REF, sha, f"{OBSERVED}: {stamp}\n{BRANCH}: {tree.main_branch}\n{extra}",
                                   force=True)
    return fresh


def check_ref(tree, name: str, moves: MovesAt | None = None, on_main: set | None = None) -> dict:
    """What a tag means (for deploy workflows), recomputed: its trailers are a claim anyone with
    push access can write, so the move they name must be one the registry's records show at the
    commit they name (else IntegrityError), and `on_main` says whether that commit is on main's
    first-parent history (a commit only merged in from a branch never was main)."""
    check_tag_name(name)
    ops = tree.git.branches
    message = ops.tag_message(name)
    if message is None:
        raise NotFound(f"no tag named {name!r}; 'git fetch --tags' if it was made elsewhere")
    facts = read_facts(message)
    if not facts.get("event"):
        raise InvalidInput(f"tag {name!r} was not made by modelreg (no Modelreg-Event in its message)")
    target = tree.git.rev_parse(f"refs/tags/{name}^{{commit}}")
    # the commit that made the move (a gto-preset stage tag points at its version's commit)
    commit = facts.get("commit") or target
    on_main = set(ops.first_parent_merges(tree.main_branch, 0)) if on_main is None else on_main
    if facts["event"] == "release":
        commit = target  # a release names a state, not a move: the commit it points at is what it means
    elif not _verified(moves or MovesAt(tree.git), facts, commit, target):
        raise IntegrityError(f"tag {name!r} says {_claim(facts)} at {commit[:12]}, but the registry's records "
                             "there show no such move: it is not a true release tag; do not deploy from it")
    out = {"tag": name, "event": facts["event"], "commit": commit}
    for key in ("model", "version", "stage", "alias", "release"):
        if key in facts:
            out[key] = int(facts[key]) if key == "version" else facts[key]
    out["on_main"] = commit in on_main
    if not out["on_main"]:
        out["warning"] = (f"{commit[:12]} is no longer on {tree.main_branch} (history was rewritten), or never was "
                          "on its first-parent history: what this tag describes may not be what main has")
    return out


def _claim(facts: dict) -> str:
    what = f"{facts.get('model')}@{facts.get('version')}"
    if facts.get("event") == "stage":
        return f"{what} entered {facts.get('stage')}"
    if facts.get("event") == "alias":
        return f"alias {facts.get('alias')} moved to {what}"
    if facts.get("event") == "unstage":
        return f"{what} left {facts.get('stage')}"
    return f"{what} was registered"


def released(tree, commit: str) -> list[dict]:
    """What the merge `commit` did, one check_ref answer per modelreg tag that describes it.

    A tag describes the merge that made its move (its Modelreg-Commit), which is not always
    the commit it points at: GTO-format stage tags point at the version's commit. So a
    deploy workflow asks by the merge's sha instead of `git tag --points-at`."""
    if not commit or commit.startswith("-"):
        raise InvalidInput(f"invalid commit {commit!r}: give a sha, branch or tag")
    commit = tree.git.rev_parse(commit)
    names = []
    for name, message in tree.git.branches.tag_messages().items():
        facts = read_facts(message)
        if facts.get("event") and facts.get("commit", "") == commit:
            names.append(name)
    pointing = {n for n, target in tree.git.branches.tags().items() if target == commit}
    for name in sorted(pointing - set(names)):  # older tags made before Modelreg-Commit was written
        if read_facts(tree.git.branches.tag_message(name) or "").get("event"):
            names.append(name)
    moves, on_main = MovesAt(tree.git), set(tree.git.branches.first_parent_merges(tree.main_branch, 0))
    out = []
    for name in sorted(names):
        try:
            out.append(check_ref(tree, name, moves, on_main))
        except IntegrityError as exc:  # a forged tag claiming this merge: never an answer
            log.warning("%s", exc)
    return out


def _not_a_move_tag(name: str, formats: dict) -> None:
    """A release may not take a name `tag` would give a move: it would suppress that tag."""
    fields = {"model": "[a-z][a-z0-9_-]*", "version": "[0-9]+", "n": "[0-9]+",
              "stage": "[a-z][a-z0-9_-]*", "alias": "[a-z][a-z0-9_-]*"}
    for event, fmt in formats.items():
        if re.fullmatch(_pattern(fmt, fields), name):
            raise InvalidInput(f"release name {name!r} looks like a {event} tag ({fmt}); choose another name")


def _pattern(fmt: str, fields: dict) -> str:
    out = ""
    for literal, field, _spec, _conv in string.Formatter().parse(fmt):
        out += re.escape(literal) + (f"(?:{fields.get(field, '.+')})" if field is not None else "")
    return out


def cut_release(tree, name: str, at: str | None = None) -> dict:
    """Tag the whole registry state of main (or `at`) as NAME; `resolve --at NAME` reads it."""
    check_tag_name(name)
    _not_a_move_tag(name, tag_formats(tree.settings))
    commit = tree.git.rev_parse(at or tree.main_branch)
    ops = tree.git.branches
    existing = ops.tags().get(name)
    if existing is not None:
        if existing == commit and read_facts(ops.tag_message(name) or "").get("event") == "release":
            return {"tag": name, "commit": commit, "created": False}
        raise AlreadyExists(f"tag {name!r} already exists at {existing[:12]}; choose another name")
    summary = []
    snap = Snapshot.at(tree.git, commit)
    for model in reads.models(snap):
        aliases = reads.aliases(snap, model["name"])
        summary.append(f"{model['name']}: " + (", ".join(f"{a}={v}" for a, v in sorted(aliases.items()))
                                                or "no aliases"))
    message = "\n".join([f"modelreg: release {name}", "", *summary, "",
                         "Modelreg-Event: release", f"Modelreg-Release: {name}",
                         f"Modelreg-Commit: {commit}"]) + "\n"
    ops.create_tag(name, commit, message)
    return {"tag": name, "commit": commit, "created": True, "models": len(summary)}


def push_tags(tree, names: list[str], force=frozenset(), extra=()) -> None:
    if not tree.git.branches.has_remote("origin"):
        raise NotFound("no 'origin' remote to push tags to; add one with 'git remote add origin URL'")
    refspecs = [f"{'+' if n in force else ''}refs/tags/{n}:refs/tags/{n}" for n in names] + list(extra)
    if refspecs:
        tree.git.branches.push(*refspecs)

