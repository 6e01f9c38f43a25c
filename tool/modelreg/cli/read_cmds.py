"""Read-only commands: resolve, lineage, history, check, best, diff. They import neither DVC nor boto3."""
import json

import click

from .common import emit_json, json_option, open_registry, table
from .fastpath import render_resolve


def _at_options(func):
    func = click.option("--as-of", metavar="ISO8601", help="What main said at that time (a bare date is 00:00 UTC; the clock 'history' shows: tag-workflow observations, else merge dates).")(func)
    return click.option("--at", metavar="GITREF", help="Read at a branch, tag or commit.")(func)


@click.command()
@click.argument("ref")
@_at_options
@json_option
@click.pass_context
def resolve(ctx, ref, at, as_of, as_json):
    """Resolve REF (NAME, NAME@ALIAS, NAME@N, NAME@latest) to a version."""
    if at and as_of:
        raise click.UsageError("use --at or --as-of, not both (--as-of reads the main branch)")
    resolved = open_registry(ctx).resolve(ref, at=at, as_of=as_of)
    out, err = render_resolve(resolved, as_json)  # what the console script's fast path prints too
    if err:
        click.echo(err, err=True, nl=False)
    click.echo(out, nl=False)


@click.command()
@click.argument("ref")
@click.option("--at", metavar="GITREF")
@json_option
@click.pass_context
def lineage(ctx, ref, at, as_json):
    """Walk REF's parents down to its base model."""
    chain = open_registry(ctx).lineage(ref, at=at)
    if as_json:
        return emit_json([{"model": r.model, "version": r.version, "model_type": r.record.get("model_type"),
                           "relation": (r.record.get("parent") or {}).get("relation"), "stage": r.stage,
                           "status": r.status} for r in chain])
    for depth, item in enumerate(chain):
        relation = (item.record.get("parent") or {}).get("relation")
        via = f"  ({relation} of the next)" if relation else ""
        gone = " DELETED" if item.status == "deleted" else ""
        click.echo(f"{'  ' * depth}{item.model}@{item.version} {item.record.get('model_type')} {item.stage}{gone}{via}")
    deleted = [f"{r.model}@{r.version}" for r in chain[1:] if r.status == "deleted"]
    if deleted:
        click.echo(f"warning: {', '.join(deleted)} in this lineage is soft-deleted", err=True)


@click.command()
@click.argument("model_name", metavar="[MODEL]", required=False)
@click.option("-n", "--limit", default=50, show_default=True, help="Commits to read.")
@json_option
@click.pass_context
def history(ctx, model_name, limit, as_json):
    """Who changed what, when, through which PR (the audit log, from Git history).

    DATE is when main took the change, by the clock --as-of reads: the tag workflow's
    observation, else the merge commit's date; '*' marks a date only the author's machine claims.
    """
    from ..store.history import describe

    found = open_registry(ctx).history(model_name, limit=limit)
    if as_json:
        return emit_json(found)
    rows = [[e["date"] + ("*" if e["clock"] == "claimed" else ""), e["author"].split(" <")[0],
             f"#{e['pr']}" if e["pr"] else "", describe(e), e["commit"][:10]] for e in found]
    click.echo(table(rows, ["DATE (UTC)", "WHO", "PR", "WHAT", "COMMIT"]) if rows else "No history.")
    if any(e["clock"] == "claimed" for e in found):
        click.echo("* the author's claim only: no tag-workflow observation or merge commit dates it")


@click.command()
@click.option("--at", metavar="GITREF", help="Check a commit instead of the working tree.")
@click.option("--base", metavar="GITREF", help="Check the change from BASE (PR rules, judged by BASE's "
              "registry.yaml); only the models it touches, or all when it edits registry.yaml or schemas/.")
@click.option("--pr", "pr_number", type=int, metavar="N",
              help="With --base: also check gates and the approval groups from PR N's reviews.")
@click.option("--comment", is_flag=True, help="With --pr: keep one summary comment on the PR.")
@click.option("--remote", is_flag=True, help="Also check that every artifact of the checked "
              "versions is in the DVC remote (the changed ones, with --base).")
@json_option
@click.pass_context
def check(ctx, at, base, pr_number, comment, remote, as_json):
    """Validate the registry; print every problem as FILE:JSON_POINTER: message."""
    if (pr_number is not None or comment) and base is None:
        raise click.UsageError("--pr and --comment check a pull request: give --base too")
    if comment and pr_number is None:
        raise click.UsageError("--comment needs --pr N")
    result = open_registry(ctx).check(at=at, base=base, pr=pr_number, comment=comment, remote=remote)
    if comment:
        from ..rules.check import post_comment

        post_comment(result)
    if base is not None and pr_number is None:
        click.echo("approvals: not checked (give --pr N to read the pull request's reviews)", err=True)
    if as_json:
        emit_json(result.to_dict())
    else:
        for problem in result.problems:
            click.echo(str(problem))
        where = result.target if result.target == "working tree" else result.target[:12]
        summary = (f"{len(result.problems)} problem(s)" if result.problems else "ok")
        scope = " (only those the change touches)" if result.scope == "changed" else ""
        click.echo(f"check {where}: {len(result.models)} model(s){scope}, {summary}", err=True)
    ctx.exit(0 if result.ok else 1)


@click.command()
@click.argument("model_name", metavar="[MODEL]", required=False)
@click.option("--metric", required=True, metavar="BENCHMARK/METRIC", help="The metric to rank by, e.g. mmlu/accuracy.")
@click.option("--max", "direction", flag_value="max", default=True, help="The highest value wins (the default).")
@click.option("--min", "direction", flag_value="min", help="The lowest value wins (a loss, a latency).")
@click.option("--where", metavar="QUERY", help="Only versions matching QUERY (as 'version list --where').")
@click.option("--stage", help="Only versions in this stage.")
@click.option("--all-models", is_flag=True, help="Across every model (give no MODEL).")
@click.option("--at", metavar="GITREF", help="Read at a branch, tag or commit.")
@json_option
@click.pass_context
def best(ctx, model_name, metric, direction, where, stage, all_models, at, as_json):
    """The version of MODEL with the best value of --metric: prints MODEL@N and the value.

    Deleted versions never count; ties go to the oldest version (by model name first)."""
    if all_models == (model_name is not None):
        raise click.UsageError("give MODEL or --all-models (not both)")
    found = open_registry(ctx).best_version(metric, model_name, lowest=direction == "min", where=where, stage=stage, at=at)
    if as_json:
        return emit_json(found)
    click.echo(f"{found['ref']} {found['value']}")


@click.command()
@click.argument("old_ref", metavar="OLD")
@click.argument("new_ref", metavar="NEW")
@click.option("--at", metavar="GITREF", help="Read both at a branch, tag or commit.")
@json_option
@click.pass_context
def diff(ctx, old_ref, new_ref, at, as_json):
    """What differs from version OLD to NEW (NAME@N, NAME@ALIAS; any two models): metrics with
    their deltas, parameters, files, parent, card, chat template, stage, status, tags."""
    found = open_registry(ctx).diff(old_ref, new_ref, at=at)
    if as_json:
        return emit_json(found)
    click.echo(f"{found['old']['ref']} -> {found['new']['ref']}"
               + ("  (no differences)" if found["same"] else ""))
    for title, lines in _diff_sections(found):
        if lines:
            click.echo(f"\n{title}")
            click.echo("\n".join(f"  {line}" for line in lines))


def _diff_sections(found: dict) -> list[tuple[str, list[str]]]:
    metrics = [[m["name"], _num(m["old"]), _num(m["new"]),
                "" if m["delta"] is None else f"{m['delta']:+.4g}"] for m in found["metrics"]]
    files = found["files"]
    return [
        ("fields", _pairs(found["fields"])),
        ("metrics", table(metrics, ["METRIC", "OLD", "NEW", "DELTA"]).splitlines() if metrics else []),
        ("parameters", _pairs(found["parameters"])),
        ("tags", _pairs(found["tags"])),
        (f"files ({files['unchanged']} unchanged)",
         [f"+ {f['path']}  {f['size_bytes']:,} B  {(f['sha256'] or '')[:12]}" for f in files["added"]]
         + [f"- {f['path']}  {f['size_bytes']:,} B  {(f['sha256'] or '')[:12]}" for f in files["removed"]]
         + [f"~ {f['path']}  {f['old']['size_bytes']:,} B -> {f['new']['size_bytes']:,} B  "
            f"{(f['old']['sha256'] or '')[:12]} -> {(f['new']['sha256'] or '')[:12]}" for f in files["changed"]]),
        ("lineage", _pairs({"parent": found["parent"]} if found["parent"] else {}, _parent)),
        ("card", _pairs(found["card"])),
        ("chat template", _pairs({"chat_template": found["chat_template"]} if found["chat_template"] else {},
                                 _template)),
    ]


def _pairs(changes: dict, show=None) -> list[str]:
    show = show or _short
    width = max((len(str(k)) for k in changes), default=0)
    return [f"{str(k).ljust(width)}  {show(c['old'])} -> {show(c['new'])}" for k, c in changes.items()]


def _short(value) -> str:
    if value is None:
        return "(none)"
    text = " ".join((value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)).split())
    return text if len(text) <= 60 else text[:57] + "..."


def _num(value) -> str:
    return "" if value is None else f"{value:.4g}" if isinstance(value, float) else str(value)


def _parent(value) -> str:
    return "(none)" if value is None else f"{value['ref']} ({value['relation']})"


def _template(value) -> str:
    return "(none)" if value is None else f"{value.get('source')} sha256 {(value.get('sha256') or '')[:12]}"
