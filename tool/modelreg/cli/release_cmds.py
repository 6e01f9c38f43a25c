"""Release commands: tag (what each merge did), check-ref (what a tag means), release cut."""
import click

from .common import emit_json, json_option, open_registry


@click.command("tag")
@click.option("--push", is_flag=True, help="Push the new tags to origin.")
@click.option("--observe", is_flag=True, help="Record now as when main reached its new commits "
              "(a git note; the clock --as-of and history trust). The tag workflow does this on every push.")
@json_option
@click.pass_context
def tag_cmd(ctx, push, observe, as_json):
    """Create annotated tags for what each merge to main did (idempotent)."""
    from ..promotion.releases import tag

    created = tag(open_registry(ctx).worktree, push=push, observe=observe)
    if as_json:
        return emit_json(created)
    for item in created:
        click.echo(f"{item['tag']}  {item['commit'][:12]}")
    click.echo(f"{len(created)} tag(s) created" + (" and pushed" if push and created else ""), err=True)


@click.command("check-ref")
@click.argument("tag_name", metavar="[TAG]", required=False)
@click.option("--commit", "merge", metavar="SHA",
              help="Instead of one TAG: every modelreg tag describing what the merge SHA did (a list).")
@json_option
@click.pass_context
def check_ref(ctx, tag_name, merge, as_json):
    """Say which model, version, stage or alias TAG means (for deploy workflows).

    With --commit SHA: the same for every tag that describes the merge SHA, whether or not
    it points at SHA (GTO-format stage tags point at the version's commit)."""
    from ..promotion.releases import check_ref as one
    from ..promotion.releases import released

    if (tag_name is None) == (merge is None):
        raise click.UsageError("give a TAG or --commit SHA (one of the two)")
    if merge is not None:
        answers = released(open_registry(ctx).worktree, merge)
    else:
        answers = [one(open_registry(ctx).worktree, tag_name)]
    for facts in answers:
        if "warning" in facts:
            click.echo(f"warning: {facts['tag']}: {facts['warning']}", err=True)
    if as_json:
        return emit_json(answers if merge is not None else answers[0])
    for facts in answers:
        click.echo(" ".join(f"{k}={v}" for k, v in facts.items() if k != "warning"))


@click.group()
def release():
    """Whole-registry releases."""


@release.command("cut")
@click.argument("name")
@click.option("--at", metavar="GITREF", help="Tag this commit instead of main.")
@click.option("--push", is_flag=True, help="Push the tag to origin.")
@click.option("--bom", "bom_dir", type=click.Path(file_okay=False), metavar="DIR",
              help="Also write a CycloneDX bill of materials per production version into DIR.")
@json_option
@click.pass_context
def release_cut(ctx, name, at, push, bom_dir, as_json):
    """Tag the registry state as NAME; 'resolve --at NAME' reads it."""
    from ..promotion.releases import cut_release, push_tags

    reg = open_registry(ctx)
    result = cut_release(reg.worktree, name, at=at)
    if bom_dir:
        from ..supply.bom import write_release_boms

        result["boms"] = write_release_boms(reg.snapshot(result["commit"]), bom_dir)
    if push:
        push_tags(reg.worktree, [name])
    if as_json:
        return emit_json(result)
    state = "created" if result["created"] else "already there"
    click.echo(f"release {name} at {result['commit'][:12]} ({state})")
    for path in result.get("boms", []):
        click.echo(f"bill of materials: {path}")
