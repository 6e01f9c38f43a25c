"""Fleet commands: feed publish|show|keygen (the signed alias feed), deployments (who runs what)."""
import click

from ..core.names import is_name
from .common import emit_json, json_option, open_registry


def _main_and_store(ctx, skip_unless_feed: bool = False):
    """main's snapshot and the weights remote it names (opened; the caller closes it); no store
    when `skip_unless_feed` and registry.yaml names no feed."""
    from ..artifacts.remote import open_store
    from ..loading.weights import remote_at

    reg = open_registry(ctx)
    snap = reg.at()
    if skip_unless_feed and snap.settings.feed is None:
        return snap, None
    return snap, open_store(remote_at(snap, reg.root), jobs=1)


@click.group()
def feed():
    """The signed alias feed serving hosts follow (see 'modelreg watch --feed')."""


@feed.command("publish")
@click.option("--if-configured", is_flag=True,
              help="Do nothing (exit 0) when registry.yaml names no feed (the tag workflow's step).")
@json_option
@click.pass_context
def publish_cmd(ctx, if_configured, as_json):
    """Sign every alias -> version of main and write it to the weights remote (the tag workflow runs it)."""
    from ..fleet import feed as fleet_feed

    snap, store = _main_and_store(ctx, skip_unless_feed=if_configured)
    if store is None:
        if as_json:
            return emit_json({"published": False, "reason": "registry.yaml names no feed"})
        return click.echo("registry.yaml names no feed: nothing published")
    try:
        result = fleet_feed.publish(snap, store)
    finally:
        store.close()
    if as_json:
        return emit_json(result)
    click.echo(f"published {result['aliases']} aliases of {result['models']} models at commit "
               f"{result['commit'][:12]} to {result['where']} (signed by {result['keyid']})")


@feed.command("show")
@json_option
@click.pass_context
def show_cmd(ctx, as_json):
    """Read the feed on the weights remote, verify its signature, print its aliases."""
    from ..fleet import feed as fleet_feed

    snap, store = _main_and_store(ctx)
    try:
        found = fleet_feed.read(store, snap.settings.feed)
    finally:
        store.close()
    behind = found.commit != snap.commit
    if as_json:
        return emit_json({**found.to_dict(), "main": snap.commit, "behind_main": behind})
    click.echo(f"feed at commit {found.commit[:12]}, published {found.published}, signed by {found.keyid}"
               + (f" (main is at {snap.commit[:12]})" if behind else ""))
    for model, aliases in sorted(found.aliases().items()):
        for alias, version in sorted(aliases.items()):
            click.echo(f"  {model}@{alias} -> {version}")


@feed.command("keygen")
@json_option
def keygen_cmd(as_json):
    """Print a new Ed25519 key pair: the private key for the publisher's secret, the public for registry.yaml."""
    from ..fleet.signing import keygen

    private, public = keygen()
    if as_json:
        return emit_json({"private_key": private, "public_key": public})
    click.echo(f"private key (store it as the secret MODELREG_FEED_KEY; never commit it):\n  {private}")
    click.echo(f"registry.yaml:\nfeed:\n  key_env: MODELREG_FEED_KEY\n  publishers:\n    - {public}")


@click.command("deployments")
@click.option("--env", "environment", metavar="ENV", help="Only this environment.")
@json_option
@click.pass_context
def deployments_cmd(ctx, environment, as_json):
    """Which hosts run what (their reports on the weights remote), and which lag their alias."""
    from ..core.errors import RegistryError
    from ..fleet import deployments
    from ..fleet import feed as fleet_feed

    snap, store = _main_and_store(ctx)
    try:
        try:
            found = fleet_feed.read(store, snap.settings.feed)
            aliases, source = found.aliases(), f"feed at {found.commit[:12]}"
        except RegistryError as exc:
            click.echo(f"warning: {exc}; comparing with main's aliases", err=True)
            aliases = {m: snap.aliases(m) for m in snap.models() if is_name(m)}  # check flags the others
            source = f"main at {snap.commit[:12]}"
        rows = deployments.drift(deployments.records(store, environment), aliases)
    finally:
        store.close()
    if as_json:
        return emit_json({"aliases_from": source, "hosts": rows})
    if not rows:
        return click.echo("no host has reported a deployment" + (f" in {environment}" if environment else ""))
    click.echo(f"aliases from the {source}")
    for r in rows:
        note = {"lags": f"LAGS: alias names {r['expected']}", "pinned": "pinned", "unknown": "alias not in force",
                "current": "current"}[r["state"]]
        click.echo(f"{r['environment']}  {r['host']}  {r['ref']} -> {r['model']}@{r['version']}  "
                   f"commit {str(r['commit'])[:12]}  {r['loaded_at']} via {r['via']}  {note}")
