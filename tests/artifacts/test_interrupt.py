"""^C during a transfer (issue 23): the command stops at once, exit 130, nothing committed or cached,
and the next run works. A transfer stuck in a network call (here: one that never returns) is not
waited for: obstore's calls cannot be cancelled from Python, and a pool's threads are joined at exit."""
import os
import signal
import subprocess
import sys
import time

import pytest

from modelreg.artifacts.cache import Cache
from tests.conftest import git, write_weights

pytestmark = pytest.mark.usefixtures("s3_env")

# The console script, with one transfer call replaced by one that marks the moment it started and
# never returns, as a request to a server that stopped answering would.
SCRIPT = """
import os, signal, sys, time
# A suite started in the background by a shell without job control inherits SIGINT ignored (POSIX),
# and Python then installs no KeyboardInterrupt handler: give this child the one a terminal's has.
signal.signal(signal.SIGINT, signal.default_int_handler)
import obstore
from modelreg.artifacts import objstore

def stuck(*args, **kwargs):
    open(os.environ["STUCK_MARK"], "w").close()
    time.sleep(3600)

if os.environ["STUCK_AT"] == "put":
    obstore.put = stuck
else:
    objstore.ObjStore._open_range = stuck
sys.argv = ["modelreg", *sys.argv[1:]]
from modelreg.cli import run
run()
"""


def interrupted(tmp_path, at: str, *args) -> subprocess.CompletedProcess:
    """Run `modelreg ARGS` until the stuck call starts, then ^C it; the finished process."""
    mark = tmp_path / "stuck-started"
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT, *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "STUCK_AT": at,
                                                                   "STUCK_MARK": str(mark)})
    deadline = time.monotonic() + 120
    while not mark.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert mark.exists(), proc.communicate(timeout=30)
    proc.send_signal(signal.SIGINT)
    try:
        out, err = proc.communicate(timeout=60)  # a hang bound, not a speed target: without the fix it never ends
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail(f"modelreg {' '.join(map(str, args))} still running 60 s after ^C")
    return subprocess.CompletedProcess(args, proc.returncode, out, err)


def test_ctrl_c_during_an_upload_stops_at_once_with_nothing_committed(s3_registry, tmp_path):
    reg = s3_registry
    reg.register_model("m", "base_model")
    head = git(reg.root, "rev-parse", "HEAD")
    weights = write_weights(tmp_path / "w", size=3 << 20)
    done = interrupted(tmp_path, "put", "-C", reg.root, "version", "create", "m", weights)
    assert done.returncode == 130 and done.stderr.strip().splitlines()[-1] == "Interrupted.", done.stderr
    assert git(reg.root, "rev-parse", "HEAD") == head and not git(reg.root, "status", "--porcelain")
    assert reg.create_version("m", weights)["version"] == 1  # the write lock was released
    assert reg.verify("m@1", deep=True).ok


def test_ctrl_c_during_a_pull_stops_at_once_with_nothing_cached(s3_registry, tmp_path):
    reg = s3_registry
    reg.register_model("m", "base_model")
    reg.create_version("m", write_weights(tmp_path / "w", size=3 << 20))
    out = tmp_path / "out"
    done = interrupted(tmp_path, "range", "-C", reg.root, "pull", "m@1", "-q", "-o", out)
    assert done.returncode == 130 and done.stderr.strip().splitlines()[-1] == "Interrupted.", done.stderr
    assert not out.exists() or not any(p.name.endswith(".safetensors") for p in out.iterdir())
    resolved = reg.resolve("m@1")
    big = next(a for a in resolved.record["artifacts"] if a["path"] == "model.safetensors")
    assert Cache().lookup(big["sha256"], big["size_bytes"]) is None  # nothing unverified in the cache
    assert reg.pull("m@1", dest=out).fetched_files == 3  # the next pull fetches and verifies all
