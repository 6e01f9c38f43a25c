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
    from ..releases import tag

    created = tag(open_registry(ctx), push=push, observe=observe)
    if as_json:
        return emit_json(created)
    for item in created:
        click.echo(f"{item['tag']}  {item['commit'][:12]}")
    click.echo(f"{len(created)} tag(s) created" + (" and pushed" if push and created else ""), err=True)


@click.command("check-ref")
@click.argument("tag_name", metavar="TAG")
@json_option
@click.pass_context
def check_ref(ctx, tag_name, as_json):
    """Say which model, version, stage or alias TAG means (for deploy workflows)."""
    from ..releases import check_ref as run

    facts = run(open_registry(ctx), tag_name)
    if "warning" in facts:
        click.echo(f"warning: {facts['warning']}", err=True)
    if as_json:
        return emit_json(facts)
    click.echo(" ".join(f"{k}={v}" for k, v in facts.items()))


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
    from ..releases import cut_release, push_tags

    reg = open_registry(ctx)
    result = cut_release(reg, name, at=at)
    if bom_dir:
        from ..supply.bom import write_release_boms

        result["boms"] = write_release_boms(reg, result["commit"], bom_dir)
    if push:
        push_tags(reg, [name])
    if as_json:
        return emit_json(result)
    state = "created" if result["created"] else "already there"
    click.echo(f"release {name} at {result['commit'][:12]} ({state})")
    for path in result.get("boms", []):
        click.echo(f"bill of materials: {path}")
