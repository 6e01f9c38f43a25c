"""Commands that meet other tools: pull --hf-cache, fetch-into (KServe), import mlflow."""
import sys

import click

from ..core.errors import InvalidInput
from .common import emit_json, json_option, open_registry, progress_bars


def pull_hf_cache(ctx, ref, dest, at, quiet, hf_cache, repo_id, hf_home, revisions, as_json,
                  verify_signature=False):
    """`modelreg pull --hf-cache`: the version (and an adapter's base) in the hub cache."""
    from ..interop.hf_cache import load_recipe, pull_to_hf_cache

    if not hf_cache:
        raise InvalidInput("--repo-id, --hf-home and --revision go with --hf-cache; add --hf-cache")
    if dest:
        raise InvalidInput("-o/--output and --hf-cache exclude each other: --hf-cache writes "
                           "into the hub cache (choose the folder with --hf-home)")
    result = pull_to_hf_cache(open_registry(ctx), ref, repo_id=repo_id, hf_home=hf_home, at=at,
                              revisions=revisions, progress=progress_bars(not (quiet or as_json)),
                              verify_signature=verify_signature)
    if as_json:
        emit_json(result.to_dict())
        return
    chain = result.chain()
    for item in chain:  # the full weights first, the requested version last
        if item.copied:
            click.echo(f"warning: {item.repo_id}: the HF cache is on another filesystem than "
                       f"modelreg's cache: copied {item.copied} file(s) instead of linking", err=True)
        if not quiet:
            click.echo(f"{item.model}@{item.version} -> {item.repo_id} revisions "
                       f"{', '.join(item.refs)} ({item.files} file(s))", err=True)
    if not quiet:
        if len(chain) > 1:  # an adapter: how to load it on the exact base it was laid out with
            click.echo("load it, every step pinned to its snapshot:\n" + load_recipe(result), err=True)
        click.echo(str(result.snapshot))


@click.command("fetch-into")
@click.argument("src_uri")
@click.argument("dest_dir")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar and no summary.")
@json_option
def fetch_into_cmd(src_uri, dest_dir, quiet, as_json):
    """Fill DEST_DIR with the verified files of SRC_URI (modelreg://ORG/REPO/NAME@ALIAS).

    The registry is the Git repository ORG/REPO under $MODELREG_GIT_BASE (default
    https://github.com); the weights come from the DVC remote it names. This is KServe's
    storage-initializer contract: source URI and destination path, exit code 0 or 1.
    """
    from ..interop.kserve import fetch_into

    result = fetch_into(src_uri, dest_dir, progress=progress_bars(not (quiet or as_json)))
    if as_json:
        emit_json(result.to_dict())
    elif not quiet:
        click.echo(f"{result.model}@{result.version} (registry commit {result.commit[:10]}): "
                   f"{result.files} file(s), {result.bytes} bytes, verified -> {result.path}")


def storage_initializer(argv=None) -> int:
    """Console script `modelreg-storage-initializer SRC_URI DEST_DIR` (KServe's argument contract)."""
    from . import main

    args = sys.argv[1:] if argv is None else list(argv)
    return main(["fetch-into", *args])


@click.group("import")
def import_group():
    """Bring models in from another registry."""


@import_group.command("mlflow")
@click.option("--tracking-uri", required=True, metavar="URI",
              help="MLflow tracking URI: http://HOST:PORT, sqlite:///PATH, ...")
@click.option("--registry-uri", metavar="URI", help="MLflow registry URI, when not the tracking URI.")
@click.option("--model", "names", multiple=True, metavar="NAME", help="Import only this MLflow model (repeatable).")
@click.option("--into", metavar="NAME", help="The modelreg name for the one --model (a rename).")
@click.option("--dry-run", is_flag=True, help="Print what becomes what, and what is dropped and why; write nothing.")
@click.option("--pr", "as_pr", is_flag=True, help="Each model on a branch of its own, pushed, with a pull request.")
@click.option("--type", "model_type", type=click.Choice(["base_model", "fine_tuned", "quantized", "distilled",
                                                         "merged"]),
              help="What the imported models are (default: an MLflow `modelreg.model_type` tag, else base_model).")
@click.option("--quiet", "-q", is_flag=True, help="No progress lines and no MLflow progress bars.")
@json_option
@click.pass_context
def import_mlflow_cmd(ctx, tracking_uri, registry_uri, names, into, dry_run, as_pr, model_type, quiet, as_json):
    """Import registered models, versions, aliases and stages from MLflow: one commit per model.

    Artifacts are downloaded through MLflow's client and registered through DVC. Running it
    again imports only what is new; a model that fails leaves nothing behind.
    """
    from ..interop.mlflow_import import import_mlflow

    def progress(what):
        if not (quiet or as_json):
            click.echo(f"importing {what}", err=True)

    result = import_mlflow(open_registry(ctx).worktree, tracking_uri, registry_uri, names, into, dry_run, progress,
                           pr=as_pr, quiet=quiet or as_json, model_type=model_type)
    if as_json:
        emit_json(result.to_dict())
    else:
        click.echo(_render_import(result))
        from .hints import HINTS

        for failure, hint in zip(result.failures, result.hints):
            click.echo(f"error: {failure}" + (f" ({HINTS[hint]})" if hint in HINTS else ""), err=True)
    ctx.exit(0 if result.ok else 1)


def _render_import(result) -> str:
    lines = []
    for plan in result.models:
        head = f"MLflow {plan.mlflow_name!r} -> "
        if plan.action == "refuse":
            lines.append(f"{head}refused: {plan.reason}")
            continue
        done = result.commits.get(plan.target)
        verb = plan.action if result.dry_run or plan.action == "skip" else \
            (f"{plan.action}d in {done[:10]}" if done else "failed")
        lines.append(f"{head}{plan.target}: {verb}" + (f" ({plan.reason})" if plan.reason else ""))
        for v in plan.versions:
            if v.action == "create":
                lines.append(f"  version {v.number}: {v.mlflow_stage or 'None'} -> {v.stage}"
                             + (f" (mlflow version {v.mlflow_version})" if v.mlflow_version != v.number else ""))
            else:
                lines.append(f"  version {v.number}: {v.action} ({v.reason})")
        for number, stage in sorted(plan.demote.items()):
            lines.append(f"  version {number}: -> {stage}")
        for alias, number in plan.aliases.items():
            lines.append(f"  alias {alias} -> {number}")
        lines += [f"  alias {alias} removed" for alias in plan.unaliased]
        lines += [f"  note: {note}" for note in plan.notes]
        if plan.target in result.proposals:
            lines.append(f"  {result.proposals[plan.target]['next_step']}")
    if result.dry_run:
        lines.append("dry run: nothing was written")
    return "\n".join(lines) if lines else "no registered models in MLflow"
