"""A registry with a history built through the real API, and a real webhook receiver on
127.0.0.1 that verifies every delivery with the Standard Webhooks library."""
import base64
import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from tests.conftest import git, write_weights

SECRET_ENV = "MODELREG_TEST_WEBHOOK_SECRET"


class Receiver:
    """Answers each POST with the next status in `answers` (then 200), and verifies it."""

    def __init__(self, secret: str, answers=()):
        self.secret, self.answers, self.received = secret, list(answers), []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/modelreg"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def _handler(self):
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                from standardwebhooks import Webhook

                body = self.rfile.read(int(self.headers["Content-Length"]))
                headers = {k.lower(): v for k, v in self.headers.items()}
                try:
                    payload, verified = Webhook(receiver.secret).verify(body, headers), True
                except Exception:  # noqa: BLE001 - recorded, the test asserts on it
                    payload, verified = json.loads(body), False
                status = receiver.answers.pop(0) if receiver.answers else 200
                receiver.received.append({"headers": headers, "payload": payload, "verified": verified,
                                          "status": status})
                self.send_response(status)
                if status == 429:
                    self.send_header("Retry-After", "0")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass
        return Handler

    @property
    def delivered(self) -> list[dict]:
        """The payloads answered with a 2xx, each verified."""
        return [r for r in self.received if 200 <= r["status"] < 300]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def secret(monkeypatch) -> str:
    value = "whsec_" + base64.b64encode(os.urandom(32)).decode()
    monkeypatch.setenv(SECRET_ENV, value)
    return value


@pytest.fixture
def receiver(secret):
    made = []

    def start(answers=()) -> Receiver:
        made.append(Receiver(secret, answers))
        return made[-1]
    yield start
    for item in made:
        item.close()


@pytest.fixture
def history(registry, tmp_path):
    """m registered; m@1 to production, m@2 made champion, archived and deleted: real API writes."""
    registry.register_model("m", "base_model")
    registry.create_version("m", write_weights(tmp_path / "w1", seed=1))
    registry.create_version("m", write_weights(tmp_path / "w2", seed=2))
    registry.transition_stage("m", 1, "staging")
    registry.transition_stage("m", 1, "production")
    registry.set_alias("m", "champion", 2)
    registry.transition_stage("m", 2, "archived")
    registry.delete_version("m", 2, reason="bad eval")
    return registry


def set_webhooks(root: Path, hooks: list[dict], message: str = "webhooks") -> str:
    """registry.yaml's webhooks, committed by hand (as a reviewed PR would land it)."""
    path = root / "registry.yaml"
    text = path.read_text()
    head = "".join(line + "\n" for line in text.splitlines() if line.startswith("#"))
    doc = yaml.safe_load(text)
    doc["webhooks"] = hooks
    path.write_text(head + yaml.safe_dump(doc, sort_keys=False))
    git(root, "commit", "-qam", message)
    return git(root, "rev-parse", "HEAD").strip()


def first_commit(root: Path) -> str:
    return git(root, "rev-list", "--max-parents=0", "HEAD").strip()
