"""Loading commands: load (and answer a prompt), lock, watch. torch loads only when they run."""
import json

import click

from .common import emit_json, json_option, progress_bars, warn_deprecated

_registry_option = click.option(
    "--registry", "-r", metavar="PATH_OR_URL",
    help="Registry folder or Git URL (default: -C, else $MODELREG_REGISTRY, else the current folder).")
_device_option = click.option("--device", "-d", default="auto", show_default=True,
                              help="auto, cpu, cuda or cuda:N.")
_dtype_option = click.option("--dtype", default=None, help="auto (as saved), float32, float16 or bfloat16.")
_pickle_option = click.option("--allow-pickle", is_flag=True,
                              help="Allow pickle (.bin) weights: only for files you trust.")


def _where(ctx, registry):
    return registry or (ctx.obj["dir"] if ctx.obj.get("dir") not in (None, ".") else None)


@click.command("load")
@click.argument("ref")
@_registry_option
@_device_option
@_dtype_option
@click.option("--at", metavar="GITREF", help="Resolve at a branch, tag or commit instead of main.")
@click.option("--lock", "lock_path", metavar="FILE", help="Load exactly what this lock file pins.")
@click.option("--prompt", "-p", help="Generate a few tokens after this text.")
@click.option("--max-new-tokens", default=16, show_default=True, type=click.IntRange(1, 4096))
@_pickle_option
@click.option("--verify-signature", is_flag=True,
              help="Refuse unless model.sig verifies (always, where registry.yaml requires it).")
@json_option
@click.pass_context
def load_cmd(ctx, ref, registry, device, dtype, at, lock_path, prompt, max_new_tokens, allow_pickle,
             verify_signature, as_json):
    """Resolve REF, fetch and verify its files, and load it (an adapter on its registered base)."""
    from ..loading.loader import load

    loaded = load(ref, registry=_where(ctx, registry), device=device, dtype=dtype, at=at, lock=lock_path,
                  allow_pickle=allow_pickle, verify_signature=verify_signature, progress=progress_bars(not as_json))
    warn_deprecated(loaded.resolved["model"], loaded.resolved.get("deprecated"))
    answer = loaded.generate(prompt, max_new_tokens) if prompt is not None else None
    if as_json:
        return emit_json({**loaded.resolved, "device": loaded.device, "dtype": loaded.dtype,
                          "path": str(loaded.path), "prompt": prompt, "completion": answer})
    r = loaded.resolved
    base = "".join(f" on {b['model']}@{b['version']}" for b in r["lineage"])
    click.echo(f"loaded {r['model']}@{r['version']} ({r['model_type']}{base}) on {loaded.device} "
               f"from commit {r['commit'][:12]}")
    if prompt is not None:
        click.echo(f"{prompt}{answer}")


@click.command("lock")
@click.argument("refs", nargs=-1, required=True)
@_registry_option
@click.option("--at", metavar="GITREF", help="Pin what this ref says instead of main.")
@click.option("-o", "--output", default="models.lock", show_default=True,
              help="Lock file to write (.json for JSON, else YAML).")
@json_option
@click.pass_context
def lock_cmd(ctx, refs, registry, at, output, as_json):
    """Pin REFs (commit, version, sha256 of every file, and bases) for reproducible loads."""
    from ..loading.loader import lock_refs
    from ..loading.lockfile import write_lock

    doc = lock_refs(list(refs), registry=_where(ctx, registry), at=at)
    write_lock(doc, output)
    if as_json:
        return emit_json({"path": output, **doc})
    for ref, entry in doc["models"].items():
        click.echo(f"{ref} -> {entry['model']}@{entry['version']} ({len(entry['sha256'])} files)")
    click.echo(f"wrote {output} (commit {doc['commit'][:12]})")


@click.command("watch")
@click.argument("ref")
@_registry_option
@_device_option
@_dtype_option
@click.option("--interval", default=30.0, show_default=True, type=click.FloatRange(0.05),
              help="Seconds between polls of main.")
@click.option("--polls", type=click.IntRange(1), default=None, help="Stop after this many polls (scripts, tests).")
@click.option("--feed", "follow_feed", is_flag=True,
              help="Poll the signed alias feed on the weights remote (one conditional GET) instead of Git; "
                   "a feed that does not verify is refused and Git is polled.")
@click.option("--env", "environment", metavar="ENV",
              help="Report each load to the remote as a deployment in ENV (see 'modelreg deployments').")
@click.option("--host", metavar="NAME", help="This host's name in the deployment records (default: hostname).")
@_pickle_option
@json_option
@click.pass_context
def watch_cmd(ctx, ref, registry, device, dtype, interval, polls, follow_feed, environment, host, allow_pickle,
              as_json):
    """Serve REF and follow it: print each swap when main moves its alias. Ctrl-C stops."""
    import time

    from ..loading.serving import ServingManager

    def show(event):
        if as_json:
            click.echo(json.dumps({k: v for k, v in vars(event).items()}), nl=True)
        else:
            click.echo(event.line())

    manager = ServingManager(ref, registry=_where(ctx, registry), device=device, dtype=dtype,
                             interval=interval, allow_pickle=allow_pickle, on_event=show, feed=follow_feed,
                             environment=environment, host=host)
    manager.start(background=polls is None)
    try:
        if polls is None:
            manager.wait()
        for _ in range(polls or 0):
            time.sleep(interval)
            manager.poll()
    finally:
        manager.stop()
