"""Commands for weights: pull, verify, doctor, remote."""
import click

from .common import emit_json, json_option, open_registry, progress_bars, warn_deprecated


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024


@click.command()
@click.argument("ref")
@click.option("-o", "--output", "dest", type=click.Path(file_okay=False),
              help="Folder to fill (default: a folder in the local cache, printed).")
@click.option("--at", metavar="GITREF", help="Resolve REF at this branch, tag or commit.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar and no summary.")
@click.option("--verify-signature", is_flag=True,
              help="Refuse unless the version's model.sig verifies (always, where the policy requires it).")
@click.option("--hf-cache", is_flag=True, help="Lay the version out in the Hugging Face hub cache.")
@click.option("--repo-id", metavar="ORG/NAME", help="With --hf-cache: the repo id (default modelreg/MODEL).")
@click.option("--hf-home", type=click.Path(file_okay=False), help="With --hf-cache: HF_HOME to fill.")
@click.option("--revision", "revisions", multiple=True, metavar="NAME",
              help="With --hf-cache: another ref name for the version, e.g. main (repeatable).")
@json_option
@click.pass_context
def pull(ctx, ref, dest, at, quiet, verify_signature, hf_cache, repo_id, hf_home, revisions, as_json):
    """Fetch a version's weights, verify every sha256, and materialize them in a folder."""
    if hf_cache or repo_id or hf_home or revisions:
        from .interop_cmds import pull_hf_cache

        return pull_hf_cache(ctx, ref, dest, at, quiet, hf_cache, repo_id, hf_home, revisions, as_json,
                             verify_signature)
    result = open_registry(ctx).pull(ref, at=at, dest=dest, progress=progress_bars(not (quiet or as_json)),
                                     verify_signature=verify_signature)
    warn_deprecated(result.model, result.deprecated)
    if as_json:
        emit_json(result.to_dict())
    elif not quiet:
        click.echo(f"{result.model}@{result.version}: {result.files} file(s), {_size(result.bytes)}, "
                   f"fetched {_size(result.fetched_bytes)}", err=True)
        click.echo(str(result.path))


@click.command()
@click.argument("ref")
@click.option("--at", metavar="GITREF", help="Resolve REF at this branch, tag or commit.")
@click.option("--deep", is_flag=True, help="Download every object and re-hash it.")
@json_option
@click.pass_context
def verify(ctx, ref, at, deep, as_json):
    """Check that every artifact of a version is in the remote with the right size (--deep: hash)."""
    result = open_registry(ctx).verify(ref, at=at, deep=deep)
    if as_json:
        emit_json(result.to_dict())
    else:
        for problem in result.problems:
            click.echo(problem)
        state = "ok" if result.ok else f"{len(result.problems)} problem(s)"
        click.echo(f"{result.model}@{result.version}: {result.files} file(s), {_size(result.bytes)}"
                   f"{', re-hashed' if deep else ''}: {state}", err=True)
    ctx.exit(0 if result.ok else 1)


@click.command()
@click.option("--gc", is_flag=True, help="Delete the orphaned objects (needs --yes).")
@click.option("--yes", is_flag=True, help="Confirm --gc.")
@json_option
@click.pass_context
def doctor(ctx, gc, yes, as_json):
    """Find objects in the remote no branch or tag references, and lineage problems."""
    result = open_registry(ctx).doctor(gc=gc, yes=yes)
    if as_json:
        emit_json(result.to_dict())
    else:
        for key, size in result.orphans:
            click.echo(f"orphan {key} {_size(size)}")
        for problem in result.problems:
            click.echo(f"problem {problem}")
        click.echo(f"{len(result.orphans)} orphan(s), {_size(result.orphan_bytes)}; "
                   f"{len(result.problems)} problem(s); {result.deleted} deleted", err=True)
        if gc and not yes and result.orphans:
            click.echo("re-run with --gc --yes to delete the orphans listed above", err=True)
    ctx.exit(1 if result.problems or (gc and not yes and result.orphans) else 0)


@click.group(invoke_without_command=True)
@click.pass_context
def remote(ctx):
    """Show or set the DVC remote that holds the weights."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(show)


@remote.command()
@json_option
@click.pass_context
def show(ctx, as_json=False):
    """Print the remote's name, URL, endpoint and where credentials come from."""
    from ..artifacts.config import show_remote, worktree_config

    reg = open_registry(ctx)
    info = show_remote(worktree_config(reg.root, reg.settings.remote_name))
    if as_json:
        emit_json(info)
    else:
        for key, value in info.items():
            if value:
                click.echo(f"{key}: {value}")


@remote.command("set")
@click.argument("url")
@click.option("--endpoint-url", metavar="URL", help="S3-compatible endpoint for an s3:// remote.")
@json_option
@click.pass_context
def set_cmd(ctx, url, endpoint_url, as_json):
    """Point the remote at URL (s3://BUCKET/PREFIX or a folder); commits .dvc/config."""
    info = open_registry(ctx).set_remote(url, endpoint_url)
    if as_json:
        emit_json(info)
    else:
        click.echo(f"remote {info['name']}: {info['url']}"
                   + (f" at {info['endpoint_url']}" if info.get("endpoint_url") else ""))
