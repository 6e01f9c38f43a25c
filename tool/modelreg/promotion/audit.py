"""`modelreg audit`: what was in production over a window, who approved each move, what it passed.

For each model, the intervals during which a version held the stage (production), dated by the
registry's clock (core/clock.py: when main reached the commit, as `--as-of` and `history` date
it), read from the records along main's first-parent line: only states main really had appear,
whatever a note says. For the move that started each interval:
- who approved it: the tag workflow's record (store/approval_notes.py), labelled as such,
  against the approval groups the policy in force at the merge's base required;
- the gates of registry.yaml (the base's) re-derived from the records at that commit;
- the signature (supply/signatures.py) verified at that commit against the base's signers.
Nothing a record or a tag claims about gates or signatures is taken on trust.
"""
from ..core import layout
from ..core.clock import iso, parse_when, timeline
from ..core.errors import InvalidInput, NotFound
from ..core.names import is_name
from ..rules.approvals import required_groups
from ..rules.gates import check_gates
from ..store.approval_notes import checked, pr_of, records_on_line
from ..store.change import compute
from ..store.snapshot import Snapshot
from ..supply import signatures
from .approvals_log import numbered

STAGE = "production"
LABEL = "recorded by the workflow"


def audit(git, main: str, start: str, end: str, model: str | None = None, stage: str = STAGE) -> dict:
    """The report for the window [start, end] (ISO 8601 times; a bare date is 00:00 UTC)."""
    low, high = parse_when(start), parse_when(end)
    if low > high:
        raise InvalidInput(f"the window starts at {iso(low)}, after it ends at {iso(high)}: "
                           "give the earlier time first")
    ticks = [t for t in timeline(git, main) if t.at <= high]
    names = _models(git, ticks, model)
    records = records_on_line(git, main)
    reports = []
    for name in names:
        intervals = [i for i in _intervals(git, main, name, stage, ticks)
                     if i["to_epoch"] is None or i["to_epoch"] > low]
        reports.append({"model": name, "intervals": [_explain(git, name, stage, i, records) for i in intervals]})
    return {"from": iso(low), "to": iso(high), "branch": main, "stage": stage, "models": reports}


def _models(git, ticks, model: str | None) -> list[str]:
    if not ticks:
        return [model] if model else []
    names = Snapshot.at(git, ticks[-1].commit).models()
    if model is not None:
        if model not in names:
            raise NotFound(f"no model {model!r} on main by the end of the window")
        return [model]
    return [name for name in names if is_name(name)]  # a folder no model can be named: check flags it


def holders(snap, model: str, stage: str) -> set[int]:
    """The active versions of `model` in `stage` at a snapshot (one, for an exclusive stage)."""
    return {n for n, record in snap.all_versions(model).items()
            if isinstance(record, dict) and record.get("stage") == stage and record.get("status") != "deleted"}


def _intervals(git, main: str, model: str, stage: str, ticks) -> list[dict]:
    """Every interval up to the window's end, oldest first, from the commits that touched the model."""
    when = {t.commit: t for t in ticks}
    touching = [c for c in reversed(git.log(main, [layout.model_dir(model)])) if c.sha in when]
    held, open_, done = set(), {}, []
    for commit in touching:
        now = holders(Snapshot.at(git, commit.sha), model, stage)
        tick = when[commit.sha]
        for version in sorted(held - now):
            done.append({**open_.pop(version), "to": tick.iso, "to_epoch": tick.at, "to_clock": tick.source,
                         "ended_by": commit.sha})
        for version in sorted(now - held):
            open_[version] = {"version": version, "from": tick.iso, "from_epoch": tick.at, "clock": tick.source,
                              "commit": commit.sha, "subject": commit.subject, "author": commit.author,
                              "parents": commit.parents}
        held = now
    done += [{**item, "to": None, "to_epoch": None, "to_clock": None, "ended_by": None} for item in open_.values()]
    return sorted(done, key=lambda i: (i["from_epoch"], i["version"]))


def _explain(git, model: str, stage: str, interval: dict, records: dict) -> dict:
    sha, parents = interval["commit"], interval["parents"]
    head = Snapshot.at(git, sha)
    base = Snapshot.at(git, parents[0]) if parents else None
    settings = (base or head).settings_in_force
    version = interval["version"]
    record = head.version(model, version) or {}
    approvals = checked(records.get(sha), interval["subject"])
    out = {"version": version, "from": interval["from"], "to": interval["to"], "clock": interval["clock"],
           "to_clock": interval["to_clock"], "commit": sha, "ended_by": interval["ended_by"],
           "pr": pr_of(interval["subject"]), "committed_by": interval["author"],
           "approvals": approvals, "approvals_source": LABEL if approvals else None,
           "required_groups": _required(git, settings, parents, sha, stage),
           "gates": [{"condition": g.condition, "ok": g.ok, "detail": g.detail}
                     for g in check_gates(settings, stage, model, version, record, head.card(model, version) or {})],
           "signature": signature(head, base or head, settings, model, version, stage)}
    out["missing_groups"] = _missing(out["required_groups"], approvals)
    return out


def _required(git, settings, parents, sha: str, stage: str) -> list[dict]:
    """The approval groups the move needed by the base's policy (STAGE/N, members)."""
    if not parents:
        return []
    change = compute(git, parents[0], sha)
    return [{"stage": s, "group": n, "members": group}
            for s, n, group, _ in numbered(required_groups(settings, change.moves, change.policy_files))
            if s == stage]


def _missing(required: list[dict], approvals: dict | None) -> list[str] | None:
    """Required groups no recorded approval satisfied (None: no record to tell)."""
    if approvals is None:
        return None if required else []
    got = {(g["stage"], g["group"]) for a in approvals["approvals"] for g in a["groups"]}
    return [f"{r['stage']}/{r['group']}" for r in required if (r["stage"], r["group"]) not in got]


def signature(head, base, settings, model: str, version: int, stage: str) -> dict:
    """The version's model.sig at `head`, verified against the signers of `settings` (the base's)."""
    required = signatures.required(settings, stage)
    bundle = head.read(layout.signature_file(model, version))
    if bundle is None:
        return {"status": "missing" if required else "unsigned", "required": required}
    signers = signatures.signers_for(settings, stage)
    verdict = signatures.verify_bundle(bundle, head.version(model, version) or {}, signers,
                                       lambda path: _key(base, path))
    status = "failed" if not verdict.ok else "verified" if signers else "unverified"
    return {"status": status, "required": required, "signer": verdict.signer, "problems": verdict.problems}


def _key(snap, path: str) -> bytes | None:
    if ".." in path.split("/") or path.startswith("/"):
        return None
    return snap.read(path)


def flat_rows(report: dict) -> list[dict]:
    """One row per interval, every value text: what the CSV holds."""
    rows = []
    for item in report["models"]:
        for i in item["intervals"]:
            rows.append({
                "model": item["model"], "version": str(i["version"]), "from": i["from"], "to": i["to"] or "",
                "clock": i["clock"], "commit": i["commit"], "pr": str(i["pr"] or ""),
                "merged_by": (i["approvals"] or {}).get("merged_by") or "",
                "approved_by": _approvers(i["approvals"]),
                "approvals_source": _source(i["approvals"]),
                "missing_groups": "unknown" if i["missing_groups"] is None else " ".join(i["missing_groups"]) or "none",
                "gates": "; ".join(f"{'pass' if g['ok'] else 'FAIL'} {g['condition']} ({g['detail']})"
                                   for g in i["gates"]),
                "signature": i["signature"]["status"] + (f" ({i['signature']['signer']})"
                                                         if i["signature"].get("signer") else "")})
    return rows


COLUMNS = ["model", "version", "from", "to", "clock", "commit", "pr", "merged_by", "approved_by",
           "approvals_source", "missing_groups", "gates", "signature"]


def _approvers(approvals: dict | None) -> str:
    if not approvals:
        return ""
    return "; ".join(f"{a['login']} {a['at']}" + (" " + ",".join(f"{g['stage']}/{g['group']}={g['via']}"
                                                               for g in a["groups"]) if a["groups"] else "")
                     for a in approvals["approvals"])


def _source(approvals: dict | None) -> str:
    if not approvals:
        return "no record"
    return LABEL + ("" if approvals["pr_verified"] else " (PR number not in the commit message)")
