"""`modelreg audit`: what was in production over a window, who approved it, what it passed (issue 22)."""
import csv
import sys

import click

from .common import emit_json, json_option, open_registry


@click.command()
@click.option("--from", "start", required=True, metavar="ISO8601", help="Start of the window (a bare date is 00:00 UTC).")
@click.option("--to", "end", required=True, metavar="ISO8601", help="End of the window.")
@click.option("--model", "model_name", metavar="MODEL", help="Only this model.")
@click.option("--csv", "as_csv", is_flag=True, help="One CSV row per interval, for auditors.")
@json_option
@click.pass_context
def audit(ctx, start, end, model_name, as_csv, as_json):
    """What was in production in each model between --from and --to (by the registry's clock),
    who approved each move (recorded by the tag workflow), and the gates and signature each
    version passed, re-checked from the records at the commit that moved it."""
    from ..promotion.audit import COLUMNS, audit as run, flat_rows

    if as_csv and as_json:
        raise click.UsageError("use --csv or --json, not both")
    reg = open_registry(ctx)
    report = run(reg.git, reg.main_branch, start, end, model=model_name)
    if as_json:
        return emit_json(report)
    if as_csv:
        writer = csv.DictWriter(sys.stdout, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(flat_rows(report))
        return
    click.echo(f"{report['stage']} from {report['from']} to {report['to']} (main's clock; approvals as "
               "recorded by the tag workflow)")
    for item in report["models"]:
        click.echo(f"\n{item['model']}" + ("" if item["intervals"] else f": nothing in {report['stage']}"))
        for i in item["intervals"]:
            click.echo(_interval(i))


def _interval(i: dict) -> str:
    until = i["to"] or "(still at the end)"
    pr = f" PR #{i['pr']}" if i["pr"] else ""
    lines = [f"  @{i['version']}  {i['from']} -> {until}  commit {i['commit'][:12]}{pr}"]
    approvals = i["approvals"]
    if approvals is None:
        lines.append("    approvals: no record")
    else:
        who = ", ".join(f"{a['login']} ({', '.join(g['stage'] + '/' + str(g['group']) + ' via ' + g['via'] for g in a['groups']) or 'no group'})"
                        for a in approvals["approvals"]) or "nobody"
        merged = f", merged by {approvals['merged_by']}" if approvals.get("merged_by") else ""
        unchecked = "" if approvals["pr_verified"] else " (PR number not in the commit message)"
        lines.append(f"    approvals (recorded by the workflow{unchecked}): {who}{merged}")
    if i["missing_groups"]:
        lines.append(f"    MISSING approval groups: {', '.join(i['missing_groups'])}")
    if not i["gates"]:
        lines.append("    gates: none (the policy in force at the move named none)")
    for gate in i["gates"]:
        lines.append(f"    gate {'pass' if gate['ok'] else 'FAIL'}: {gate['condition']} ({gate['detail']})")
    sig = i["signature"]
    lines.append(f"    signature: {sig['status']}" + (f" by {sig['signer']}" if sig.get("signer") else "")
                 + (f" ({'; '.join(sig['problems'])})" if sig.get("problems") else ""))
    return "\n".join(lines)
