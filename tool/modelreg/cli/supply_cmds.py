"""Supply-chain commands: sign (OpenSSF Model Signing) and bom (CycloneDX 1.6)."""
import click

from .common import emit_json, json_option, open_registry
from .promote_cmds import pr_option, write_or_propose


@click.command()
@click.argument("ref")
@click.option("--key", type=click.Path(dir_okay=False), metavar="KEY.pem",
              help="Elliptic-curve private key (PEM); with --cert, the certificate's key.")
@click.option("--password-env", metavar="VAR", help="Environment variable holding the key's password.")
@click.option("--cert", type=click.Path(dir_okay=False), metavar="CERT.pem", help="Signing certificate.")
@click.option("--chain", multiple=True, type=click.Path(dir_okay=False), metavar="CHAIN.pem",
              help="Certificates up to the root (repeatable; with --cert).")
@click.option("--sigstore", is_flag=True, help="Keyless: the GitHub Actions workflow identity (needs network).")
@click.option("--folder", type=click.Path(file_okay=False), metavar="DIR",
              help="Your copy of the files: hash it first and refuse unless it is exactly the record.")
@pr_option
@json_option
@click.pass_context
def sign(ctx, ref, key, password_env, cert, chain, sigstore, folder, as_pr, as_json):
    """Sign REF's files (path, sha256) and commit the bundle as model.sig beside version.yaml.

    The manifest is built from version.yaml, so no weights are read; `check` verifies the
    bundle without them, and the `model_signing` CLI verifies it on a pulled folder.
    """
    import os

    from ..supply.signatures import sign_version

    if cert and not key:
        raise click.UsageError("--cert needs --key (the certificate's private key)")
    if chain and not cert:
        raise click.UsageError("--chain goes with --cert")
    reg = open_registry(ctx)
    resolved = reg.resolve(ref)
    signer = {"key": key, "password": os.environ.get(password_env) if password_env else None,
              "cert": cert, "chain": chain, "sigstore": sigstore, "folder": folder}
    result = write_or_propose(reg, as_pr, resolved.model, "sign", f"Sign {resolved.model}@{resolved.version}",
                              lambda: sign_version(reg.worktree, resolved.model, resolved.version, **signer),
                              as_json)
    if result is None:
        return
    if as_json:
        return emit_json(result)
    click.echo(f"signed {result['model']}@{result['version']} ({result['files']} file(s)): {result['path']} "
               f"in commit {result['commit'][:12]}")


@click.command()
@click.argument("ref")
@click.option("-o", "--output", "output", required=True, type=click.Path(dir_okay=False),
              help="Where to write the CycloneDX JSON (bom.json).")
@click.option("--at", metavar="GITREF", help="Read at this branch, tag or commit.")
@json_option
@click.pass_context
def bom(ctx, ref, output, at, as_json):
    """Write a CycloneDX 1.6 AI bill of materials for REF and its lineage."""
    from ..supply.bom import write_bom

    reg = open_registry(ctx)
    chain = reg.lineage(ref, at=at)
    doc = write_bom(reg.snapshot(chain[0].commit), chain, output)
    subject = doc["metadata"]["component"]
    if as_json:
        return emit_json({"path": output, "model": chain[0].model, "version": chain[0].version,
                          "commit": chain[0].commit, "components": len(doc["components"])})
    click.echo(f"{output}: {subject['name']}@{subject['version']}, {len(doc['components'])} other component(s)",
               err=True)
