"""`modelreg events`: main's typed events, and their signed delivery to registry.yaml's webhooks."""
import click

from .common import emit_json, json_option, open_registry, table


@click.command("events")
@click.option("--since", metavar="GITREF", help="Only what main did after this commit or tag.")
@click.option("--until", metavar="GITREF", help="Up to this commit of main (default: main).")
@click.option("-n", "--limit", type=int, metavar="N", help="Without --since: the last N commits (default 100).")
@click.option("--send", is_flag=True, help="POST the new events to registry.yaml's webhooks, signed (Standard "
              "Webhooks), and record the delivery in Git (refs/notes/modelreg-deliveries, pushed to origin). "
              "The tag workflow runs this on every push to main.")
@click.option("--no-push", is_flag=True, help="With --send: keep the delivery record local (no fetch, no push).")
@json_option
@click.pass_context
def events_cmd(ctx, since, until, limit, send, no_push, as_json):
    """What main did, commit by commit: model.registered, version.created, stage.changed,
    alias.moved, version.deleted, policy.changed, each with its commit, PR and time.

    TIME is when main took the change, by the clock --as-of and history read ('*': the author's
    claim only). With --send, each webhook gets what it has not had yet; a rerun sends nothing."""
    reg = open_registry(ctx)
    if send:
        if until is not None or limit is not None:
            raise click.UsageError("--send delivers up to main: drop --until and --limit")
        from ..events.webhooks import send_events

        return _render_sent(ctx, send_events(reg.git, reg.main_branch, since, push=not no_push), as_json)
    from ..events.compute import describe, main_events

    found = main_events(reg.git, until or reg.main_branch, since, limit)
    if as_json:
        return emit_json(found)
    rows = [[(e["time"] or "") + ("*" if e["clock"] == "claimed" else ""), e["type"], describe(e),
             f"#{e['pr']}" if e["pr"] else "", e["commit"][:10]] for e in found]
    click.echo(table(rows, ["TIME (UTC)", "EVENT", "WHAT", "PR", "COMMIT"]) if rows else "No events.")


def _render_sent(ctx, result: dict, as_json: bool):
    failed = [d for d in result["deliveries"] if d["status"] != "sent"]
    if as_json:
        emit_json(result)
    else:
        for item in result["deliveries"]:
            tries = f", {item['attempts']} tries" if item["attempts"] > 1 else ""
            why = f" ({item['error']}{tries})" if item["error"] else (f" ({item['attempts']} tries)" if tries else "")
            click.echo(f"{item['status']:<6}  {item['type']:<16}  {item['what']}  -> {item['webhook']}{why}")
        sent = len(result["deliveries"]) - len(failed)
        click.echo(f"{sent} sent, {len(failed)} failed, {result['skipped']} already delivered, "
                   f"to {result['webhooks']} webhook(s)", err=True)
        if failed:
            click.echo("a failed webhook gets its remaining events, in order, on the next run", err=True)
        if result.get("push_error"):
            click.echo(f"error: the delivery record was not pushed ({result['push_error']}); the next run "
                       "resends what it cannot see", err=True)
    ctx.exit(1 if failed or result.get("push_error") else 0)
