"""Commands for weights: pull, verify, doctor, gc, remote."""
import click

from .common import emit_json, json_option, open_registry, progress_bars, warn_deprecated
from .fastpath import human_size as _size


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
    # a plain pull is answered by cli/fastpath.py without click: keep its rendering the same
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
    """Find objects in the remote no branch or tag references, and lineage problems.

    A deleted version keeps its weights.dvc, so its objects are not orphans: `modelreg gc`
    purges them by registry.yaml's retention policy."""
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


def _duration(seconds: int | None) -> str:
    if seconds is None:
        return "never"
    if seconds == 0:
        return "0d"
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


@click.command("gc")
@click.option("--yes", "--apply", "apply", is_flag=True, help="Delete from the remote (default: a dry run).")
@click.option("--orphans", is_flag=True, help="Also delete objects no weights.dvc at any branch or tag names.")
@click.option("--lock", "locks", multiple=True, type=click.Path(exists=True, dir_okay=False), metavar="PATH",
              help="Also keep what this lock file pins (repeatable; lock files in the repository count anyway).")
@click.option("--now", metavar="DATE", help="Dry run as if it were DATE (ISO 8601): when will what go.")
@json_option
@click.pass_context
def gc_cmd(ctx, apply, orphans, locks, now, as_json):
    """Purge the weights of deleted and archived versions by registry.yaml's retention policy.

    A dry run unless --yes: lists what would be deleted and what is kept, and why. Never
    deleted: anything an alias, a stage, a branch or remote-tracking branch, a release tag, a
    lock file or keep_last keeps, a base an adapter loads on, or an object shared with any of
    those. The records stay in Git; only objects in the DVC remote go."""
    if now and apply:
        raise click.UsageError("--now is for dry runs: it cannot be combined with --yes")
    result = open_registry(ctx).gc(apply=apply, orphans=orphans, locks=locks, now=now,
                                   progress=progress_bars(not as_json))
    if as_json:
        emit_json(result.to_dict())
    else:
        _print_gc(result, apply)
    ctx.exit(1 if result.blocked else 0)


def _print_gc(result, apply: bool) -> None:
    policy, plan = result.keeps.policy, result.plan
    click.echo(f"policy (registry.yaml at {result.keeps.main[:10]}): keep_last {policy.keep_last}, purge deleted "
               f"after {_duration(policy.purge_deleted_after)}, archived after {_duration(policy.purge_archived_after)}",
               err=True)
    for purge in plan.purges:
        shared = f"; {purge.shared} object(s) shared with kept versions stay" if purge.shared else ""
        click.echo(f"purge {purge.name} ({purge.state} since {purge.since}): {purge.objects} object(s), "
                   f"{_size(purge.bytes)}{shared}")
    kept = result.kept
    for verdict in kept:
        if verdict.state != "active":
            click.echo(f"keep  {verdict.name} ({verdict.state}): {verdict.reason}")
    if plan.spent:
        click.echo(f"purged before (nothing of their own left): {', '.join(plan.spent)}")
    active = sum(v.state == "active" for v in kept)
    click.echo(f"kept {active} active version(s); walked {result.keeps.refs} ref tip(s), "
               f"{len(result.keeps.locks)} lock file(s)", err=True)
    if plan.orphans:
        click.echo(f"orphans: {len(plan.orphans)} object(s), {_size(plan.orphan_bytes)} no weights.dvc names"
                   + ("" if plan.orphans_included else " (add --orphans to delete them)"), err=True)
    for problem in result.problems:
        click.echo(f"problem {problem}", err=True)
    versions = f"{len(plan.purges)} version(s)" + (" and orphans" if plan.orphans_included and plan.orphans else "")
    if result.blocked:
        click.echo("nothing deleted: a kept pointer or lock file could not be read (see the problems above)", err=True)
    elif result.applied:
        click.echo(f"deleted {result.deleted} object(s), {_size(result.freed)} of {versions}", err=True)
    elif plan.deletions:
        click.echo(f"dry run: would delete {len(plan.deletions)} object(s), {_size(plan.bytes)} of {versions}; "
                   "re-run with --yes to delete them", err=True)
    else:
        click.echo("nothing to delete", err=True)


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
@click.option("--endpoint-url", metavar="URL", help="S3-compatible endpoint for an s3:// remote (or a GCS "
              "emulator's for gs://).")
@json_option
@click.pass_context
def set_cmd(ctx, url, endpoint_url, as_json):
    """Point the remote at URL (s3://, gs:// or azure:// BUCKET/PREFIX, or a folder); commits .dvc/config."""
    info = open_registry(ctx).set_remote(url, endpoint_url)
    if as_json:
        emit_json(info)
    else:
        click.echo(f"remote {info['name']}: {info['url']}"
                   + (f" at {info['endpoint_url']}" if info.get("endpoint_url") else ""))
