"""Commands of the pull-request workflow: promote, rollback (and the --pr flag's output)."""

import click

from .common import emit_json, json_option, open_registry


def show_proposal(proposal, as_json: bool) -> None:
    if as_json:
        return emit_json(proposal.to_dict())
    for failed in proposal.gates_failed:
        click.echo(f"warning: gate {failed} fails; the check on the pull request will too", err=True)
    click.echo(proposal.next_step)
    if not proposal.pull:
        click.echo("")
        click.echo(proposal.body)


@click.command()
@click.argument("model_name", metavar="MODEL")
@click.argument("number", metavar="VERSION")
@click.option("--to", "stage_name", required=True, metavar="STAGE", help="The stage to move to.")
@json_option
@click.pass_context
def promote(ctx, model_name, number, stage_name, as_json):
    """Open a pull request moving MODEL@VERSION to STAGE (merging it is the move)."""
    from ..promotion.promote import promote as run

    show_proposal(run(open_registry(ctx).worktree, model_name, number, stage_name), as_json)


@click.command()
@click.argument("model_name", metavar="MODEL")
@click.option("--to", "number", required=True, metavar="VERSION", help="The version to put back.")
@click.option("--reason", required=True, help="Why (kept in the commit and the pull request).")
@json_option
@click.pass_context
def rollback(ctx, model_name, number, reason, as_json):
    """Open a pull request putting MODEL@VERSION back in production; the current one is archived."""
    from ..promotion.promote import rollback as run

    show_proposal(run(open_registry(ctx).worktree, model_name, number, reason), as_json)


pr_option = click.option("--pr", "as_pr", is_flag=True,
                         help="Commit on a new branch, push it and open a pull request instead.")


def write_or_propose(reg, as_pr: bool, model: str, action: str, title: str, write, as_json: bool = False):
    """Run `write` here, or (--pr) on a new branch with a pull request. None: the PR flow printed."""
    if not as_pr:
        return write()
    from ..promotion.promote import propose

    show_proposal(propose(reg.worktree, model, action, title, write), as_json)
    return None
