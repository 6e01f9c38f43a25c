"""Commands around pull requests: codeowners (generate / --check) and sync (rebase, renumber)."""
import click

from .common import emit_json, json_option, open_registry


@click.command()
@click.option("--check", "check_only", is_flag=True, help="Fail if .github/CODEOWNERS is stale.")
@json_option
@click.pass_context
def codeowners(ctx, check_only, as_json):
    """Generate .github/CODEOWNERS from model owners and the policy's approvers."""
    from ..promotion.codeowners import generate

    reg = open_registry(ctx)
    result = generate(reg.worktree, check=check_only)
    if as_json:
        return emit_json({**result, "commit": reg.git.rev_parse("HEAD")})
    if check_only:
        click.echo(f"{result['path']} is up to date")
    else:
        click.echo(f"{'wrote' if result['changed'] else 'unchanged:'} {result['path']}")


@click.command()
@click.option("--remote", default="origin", show_default=True)
@json_option
@click.pass_context
def sync(ctx, remote, as_json):
    """Fetch, rebase this branch onto REMOTE's main, renumber versions that collide."""
    from ..promotion.sync import sync as run

    result = run(open_registry(ctx).worktree, remote)
    if as_json:
        return emit_json(result)
    renumbered = ", ".join(f"{k} -> {v}" for k, v in result["renumbered"].items())
    click.echo(f"{result['branch']}: {result['action']}" + (f" ({renumbered})" if renumbered else ""))
    landed = ", ".join(f"{k} = {k.split('@')[0]}@{v}" for k, v in result.get("already_upstream", {}).items())
    if landed:
        click.echo(f"already on {remote}'s main, not registered again: {landed}")
