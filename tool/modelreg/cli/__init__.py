"""The command line: parse, call one library function, render. Never business logic.

Commands load lazily from LAZY_COMMANDS, so `modelreg resolve` imports neither DVC nor
boto3 nor torch; the click application itself (cli/app.py) loads only when the fast path
for a plain `resolve` (cli/fastpath.py) does not answer, so that one starts in tens of ms.
"""
import gc
import os
import sys

# command name -> "module:attribute"; one line per command
LAZY_COMMANDS = {
    "init": "modelreg.cli.registry_cmds:init_cmd",
    "model": "modelreg.cli.registry_cmds:model",
    "version": "modelreg.cli.registry_cmds:version",
    "alias": "modelreg.cli.registry_cmds:alias",
    "stage": "modelreg.cli.registry_cmds:stage",
    "resolve": "modelreg.cli.read_cmds:resolve",
    "lineage": "modelreg.cli.read_cmds:lineage",
    "best": "modelreg.cli.read_cmds:best",
    "diff": "modelreg.cli.read_cmds:diff",
    "history": "modelreg.cli.read_cmds:history",
    "events": "modelreg.cli.event_cmds:events_cmd",
    "check": "modelreg.cli.read_cmds:check",
    "card": "modelreg.cli.registry_cmds:card",
    "pull": "modelreg.cli.artifact_cmds:pull",
    "verify": "modelreg.cli.artifact_cmds:verify",
    "doctor": "modelreg.cli.artifact_cmds:doctor",
    "gc": "modelreg.cli.artifact_cmds:gc_cmd",
    "remote": "modelreg.cli.artifact_cmds:remote",
    "promote": "modelreg.cli.promote_cmds:promote",
    "rollback": "modelreg.cli.promote_cmds:rollback",
    "codeowners": "modelreg.cli.workflow_cmds:codeowners",
    "sync": "modelreg.cli.workflow_cmds:sync",
    "tag": "modelreg.cli.release_cmds:tag_cmd",
    "check-ref": "modelreg.cli.release_cmds:check_ref",
    "release": "modelreg.cli.release_cmds:release",
    "load": "modelreg.cli.load_cmds:load_cmd",
    "lock": "modelreg.cli.load_cmds:lock_cmd",
    "watch": "modelreg.cli.load_cmds:watch_cmd",
    "fetch-into": "modelreg.cli.interop_cmds:fetch_into_cmd",
    "import": "modelreg.cli.interop_cmds:import_group",
    "sign": "modelreg.cli.supply_cmds:sign",
    "bom": "modelreg.cli.supply_cmds:bom",
    "site": "modelreg.cli.site_cmds:site",
    "feed": "modelreg.cli.fleet_cmds:feed",
    "deployments": "modelreg.cli.fleet_cmds:deployments_cmd",
    "audit": "modelreg.cli.audit_cmds:audit",
}


def _app():
    """The click application (cli/app.py), loaded on first need, with the command table."""
    from . import app

    app.LAZY_COMMANDS = LAZY_COMMANDS
    return app


def __getattr__(name):
    # `from modelreg.cli import cli, main` works as before, without loading click up front
    if name in ("cli", "main", "LazyGroup"):
        return getattr(_app(), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def run() -> None:
    """The console script: main(), then exit without a last garbage collection.

    At exit the interpreter collects every container object it ever made; with botocore's
    parsed S3 model loaded that walk alone takes ~0.1 s, a third of a cold pull's start-up.
    Frozen objects are skipped by that walk; their memory goes back to the OS with the
    process either way. Only for the console script: a library caller keeps its collector.

    Also: botocore imports urllib3's pyOpenSSL shim only to get at the stdlib SSLContext
    the shim would replace. Where pyOpenSSL is installed (model-signing needs it), that
    import costs ~30 ms of a cold pull's start-up; marked absent, botocore takes the same
    stdlib SSLContext straight from urllib3. Nothing in this process injects pyOpenSSL.
    """
    sys.modules.setdefault("urllib3.contrib.pyopenssl", None)
    from .fastpath import answer

    code = answer(sys.argv[1:])
    if code is None:
        code = _app().main()
    if code == 130:  # ^C: the command has unwound (no commit, locks released); do not wait for a
        sys.stdout.flush()  # transfer thread blocked in a network call to return
        sys.stderr.flush()
        os._exit(code)
    gc.freeze()
    sys.exit(code)
