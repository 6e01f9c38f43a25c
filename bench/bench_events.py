"""What events cost: `modelreg events` over N commits of main (one Change per commit, dated by
the clock) against `history -n N` (the audit log, which reads the same Changes), and `events
--send`: signed POSTs to a receiver on 127.0.0.1 (verifying each signature), against plain
unsigned POSTs of the same bodies, and a rerun that has nothing new (reading the record).

    python bench/bench_events.py --commits 1000 --repeat 5

Main is made with fast-import: one model with 20 versions, then N commits each moving the
alias `champion` (every tenth also moving a stage): every commit yields an event.
"""
import argparse
import base64
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tool"))

from modelreg.events.compute import main_events  # noqa: E402
from modelreg.events.webhooks import send_events  # noqa: E402
from modelreg.store.gitstore import GitStore  # noqa: E402
from modelreg.store.history import events as history_events  # noqa: E402

VERSIONS = 20
SECRET = "whsec_" + base64.b64encode(b"b" * 32).decode()


def make_history(root: Path, commits: int, url: str) -> None:
    subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True)
    settings = ("version: 1\nstages: [none, staging, production, archived]\n"
                "transitions: {none: [staging], staging: [production, none], production: [archived], "
                "archived: [staging]}\n"
                f"webhooks:\n- url: {url}\n  secret_env: BENCH_SECRET\n")
    lines, start = [], 1577836800

    def commit(i, files):
        lines.extend([
            "commit refs/heads/main", f"mark :{i + 1}", f"committer Bench <bench@example.com> {start + 60 * i} +0000",
            "data 4", "c" + f"{i % 1000:03d}"])
        for path, text in files.items():
            lines.extend([f"M 644 inline {path}", f"data {len(text.encode())}", text])
        lines.append("")
    first = {"registry.yaml": settings, "registry/m/model.yaml": "name: m\ntype: base_model\n",
             "registry/m/aliases.yaml": "aliases:\n  champion: 1\n"}
    for n in range(1, VERSIONS + 1):
        first[f"registry/m/versions/{n}/version.yaml"] = f"version: {n}\nstage: none\n"
    commit(0, first)
    for i in range(1, commits + 1):
        files = {"registry/m/aliases.yaml": f"aliases:\n  champion: {i % VERSIONS + 1}\n"}
        if i % 10 == 0:
            n = i // 10 % VERSIONS + 1
            files[f"registry/m/versions/{n}/version.yaml"] = f"version: {n}\nstage: {'staging' if i % 20 else 'none'}\n"
        commit(i, files)
    subprocess.run(["git", "fast-import", "--quiet"], cwd=root, input="\n".join(lines) + "\n", text=True, check=True)


class Receiver(BaseHTTPRequestHandler):
    verify = True

    def do_POST(self):
        from standardwebhooks import Webhook

        body = self.rfile.read(int(self.headers["Content-Length"]))
        if Receiver.verify:
            Webhook(SECRET).verify(body, {k.lower(): v for k, v in self.headers.items()})
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--commits", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    os.environ["BENCH_SECRET"] = SECRET
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "repo"
        make_history(root, args.commits, url)
        n = args.commits
        first = subprocess.run(["git", "rev-list", "--max-parents=0", "main"], cwd=root, capture_output=True,
                               text=True, check=True).stdout.strip()
        found = main_events(GitStore(root), "main", since=first)
        listing = statistics.median(timed(lambda: main_events(GitStore(root), "main", since=first))
                                    for _ in range(args.repeat))
        history = statistics.median(timed(lambda: history_events(GitStore(root), None, n, "main"))
                                    for _ in range(args.repeat))
        print(f"events over {n} commits ({len(found)} events): {listing * 1000:.0f} ms median; "
              f"history -n {n}: {history * 1000:.0f} ms ({listing / history:.2f}x)")
        sends, plains, reruns = [], [], []
        for rep in range(args.repeat):
            subprocess.run(["git", "update-ref", "-d", "refs/notes/modelreg-deliveries"], cwd=root, check=True)
            sends.append(timed(lambda: send_events(GitStore(root), "main", since=first, push=False)))
            reruns.append(timed(lambda: send_events(GitStore(root), "main", push=False)))
            bodies = [b"{}" * 200] * len(found)
            Receiver.verify = False
            plains.append(timed(lambda: [urllib.request.urlopen(urllib.request.Request(
                url, data=b, method="POST", headers={"content-type": "application/json"})).read() for b in bodies]))
            Receiver.verify = True
        send, plain, rerun = map(statistics.median, (sends, plains, reruns))
        print(f"send {len(found)} events, signed, each verified by the receiver: {send * 1000:.0f} ms median "
              f"({send / len(found) * 1000:.2f} ms/event, incl. computing them and writing the record); "
              f"plain unsigned POSTs of as many bodies: {plain * 1000:.0f} ms ({send / plain:.2f}x)")
        print(f"rerun with nothing new (reads the record over {n} commits): {rerun * 1000:.0f} ms median")
    server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
