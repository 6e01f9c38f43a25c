"""Commands that meet other tools: pull --hf-cache, fetch-into (KServe), import mlflow."""
import sys

import click

from ..errors import InvalidInput
from .common import emit_json, json_option, open_registry


def pull_hf_cache(ctx, ref, dest, at, quiet, hf_cache, repo_id, hf_home, revisions, as_json):
    """`modelreg pull --hf-cache`: the version (and an adapter's base) in the hub cache."""
    from ..interop.hf_cache import pull_to_hf_cache

    if not hf_cache:
        raise InvalidInput("--repo-id, --hf-home and --revision go with --hf-cache; add --hf-cache")
    if dest:
        raise InvalidInput("-o/--output and --hf-cache exclude each other: --hf-cache writes "
                           "into the hub cache (choose the folder with --hf-home)")
    result = pull_to_hf_cache(open_registry(ctx), ref, repo_id=repo_id, hf_home=hf_home, at=at,
                              revisions=revisions, quiet=quiet or as_json)
    if as_json:
        emit_json(result.to_dict())
        return
    for item in (result.base, result):
        if item is None:
            continue
        if item.copied:
            click.echo(f"warning: {item.repo_id}: the HF cache is on another filesystem than "
                       f"modelreg's cache: copied {item.copied} file(s) instead of linking", err=True)
        if not quiet:
            click.echo(f"{item.model}@{item.version} -> {item.repo_id} revisions "
                       f"{', '.join(item.refs)} ({item.files} file(s))", err=True)
    if not quiet:
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

    result = fetch_into(src_uri, dest_dir, quiet=quiet or as_json)
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
