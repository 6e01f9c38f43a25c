"""`modelreg site build`: the static catalog (index, model and version pages, as-of, JSON API)."""
import re
import sys

import click

from .common import emit_json, json_option, open_registry

_GITHUB_ORIGIN = re.compile(r"(?:https://|git@|ssh://git@)github\.com[:/]([^/]+/[^/]+?)(?:\.git)?/?$")


@click.group()
def site():
    """The registry as a static website (no server needed)."""


@site.command("build")
@click.option("-o", "--out", "out", required=True, type=click.Path(file_okay=False),
              help="Folder to write the site into (rebuilt incrementally).")
@click.option("--at", metavar="GITREF", help="Build the registry at a branch, tag or commit (default: main).")
@click.option("--repo-url", metavar="URL", help="Link commits and pull requests to this repository "
              "(default: the origin remote when it is on github.com).")
@json_option
@click.pass_context
def build(ctx, out, at, repo_url, as_json):
    """Write the catalog site of the registry into OUT."""
    from ..site import build_site
    from ..store.gitstore import origin_url

    reg = open_registry(ctx)
    progress = _bar() if sys.stderr.isatty() and not as_json else None
    result = build_site(reg, out, at=at, repo_url=repo_url or _github_url(origin_url(reg.root)), progress=progress)
    if as_json:
        return emit_json(result.to_dict())
    click.echo(f"site of {result.commit[:12]}: {result.models} model(s), {result.versions} version(s); "
               f"{len(result.written)} page(s) written, {result.kept} unchanged, {len(result.removed)} removed"
               + (f"; {result.problems} problem(s) shown on the pages" if result.problems else ""), err=True)
    click.echo(result.index)


def _bar():
    """A page-counting bar on the terminal, made on the first report (when the total is known)."""
    from tqdm import tqdm

    bars = []

    def report(done: int, total: int) -> None:
        if not bars:
            bars.append(tqdm(total=total, unit="page", desc="site", leave=False))
        bars[0].update(done - bars[0].n)
        if done == total:
            bars[0].close()
    return report


def _github_url(origin: str | None) -> str | None:
    match = _GITHUB_ORIGIN.match(origin or "")
    return f"https://github.com/{match.group(1)}" if match else None
