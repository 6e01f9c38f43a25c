"""Issue 22, delivery: `modelreg events --send` POSTs main's events to registry.yaml's webhooks,
signed per Standard Webhooks, verified here by a real receiver on 127.0.0.1 with the
standardwebhooks library; retries, de-duplication and the delivery record kept in Git."""
import json

from modelreg.events.record import DELIVERIES_REF, hook_key, message_id

from tests.conftest import git, write_weights
from tests.events.conftest import SECRET_ENV, first_commit, set_webhooks


def hook(url: str, **more) -> dict:
    return {"url": url, "events": ["*"], "secret_env": SECRET_ENV, **more}


def send(run_cli, root, *args):
    return run_cli("-C", root, "events", "--send", *args)


def test_each_event_arrives_signed_with_a_stable_id(history, receiver, run_cli):
    rx = receiver()
    set_webhooks(history.root, [hook(rx.url)])
    out = send(run_cli, history.root, "--since", first_commit(history.root))
    assert out.exit_code == 0, out.output
    listed = json.loads(run_cli("-C", history.root, "events", "--since", first_commit(history.root),
                                "--json").stdout)
    assert len(rx.received) == len(listed) and all(r["verified"] for r in rx.received)
    assert [r["payload"]["type"] for r in rx.received] == [e["type"] for e in listed]
    assert [r["headers"]["webhook-id"] for r in rx.received] == \
        [message_id(e["id"], hook_key(hook(rx.url))) for e in listed]
    moved = [r["payload"] for r in rx.received if r["payload"]["type"] == "stage.changed"][1]
    assert moved["data"]["before"] == "staging" and moved["data"]["after"] == "production"
    assert moved["timestamp"] == moved["data"]["time"] and moved["data"]["model"] == "m"
    assert f"{len(listed)} sent, 0 failed" in out.stderr


def test_a_rerun_sends_nothing_and_only_new_events_follow(history, receiver, run_cli, tmp_path):
    rx = receiver()
    set_webhooks(history.root, [hook(rx.url, events=["stage.changed", "alias.moved"])])
    assert send(run_cli, history.root, "--since", "HEAD~4").exit_code == 0
    first = len(rx.received)
    assert {r["payload"]["type"] for r in rx.received} == {"stage.changed", "alias.moved"} and first == 3
    out = send(run_cli, history.root)
    assert out.exit_code == 0 and len(rx.received) == first and "0 sent" in out.stderr
    history.create_version("m", write_weights(tmp_path / "w3", seed=3))
    history.transition_stage("m", 3, "staging")
    assert send(run_cli, history.root).exit_code == 0
    assert [r["payload"]["data"]["after"] for r in rx.received[first:]] == ["staging"]
    assert send(run_cli, history.root, "--since", "HEAD~3").exit_code == 0  # ids already delivered
    assert len(rx.received) == first + 1


def test_the_record_survives_a_fresh_clone(history, receiver, run_cli, tmp_path):
    """CI clones afresh each run: the record travels with origin (refs/notes/modelreg-deliveries)."""
    rx = receiver()
    set_webhooks(history.root, [hook(rx.url)])
    bare = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    git(history.root, "remote", "add", "origin", str(bare))
    git(history.root, "push", "-q", "origin", "main")
    assert send(run_cli, history.root, "--since", "HEAD~2").exit_code == 0
    sent = len(rx.received)
    assert sent == 3 and git(bare, "notes", f"--ref={DELIVERIES_REF}", "list").strip()
    git(tmp_path, "clone", "-q", str(bare), "ci")
    out = send(run_cli, tmp_path / "ci", "--since", "HEAD~2")
    assert out.exit_code == 0 and len(rx.received) == sent and "3 already delivered" in out.stderr
    assert send(run_cli, tmp_path / "ci").exit_code == 0 and len(rx.received) == sent


def test_5xx_and_429_are_retried_with_the_same_id(history, receiver, run_cli):
    rx = receiver(answers=[503, 429])
    set_webhooks(history.root, [hook(rx.url)])
    out = send(run_cli, history.root)
    assert out.exit_code == 0, out.output
    assert [r["status"] for r in rx.received] == [503, 429, 200] and all(r["verified"] for r in rx.received)
    assert len({r["headers"]["webhook-id"] for r in rx.received}) == 1
    assert "3 tries" in out.stdout


def test_a_400_is_not_retried_is_reported_and_the_next_run_sends_it(history, receiver, run_cli):
    rx = receiver(answers=[400])
    set_webhooks(history.root, [hook(rx.url)])
    history.transition_stage("m", 1, "archived", reason="regression")
    out = send(run_cli, history.root)
    assert out.exit_code == 1 and len(rx.received) == 1 and "HTTP 400" in out.stdout
    assert "1 failed" in out.stderr
    again = send(run_cli, history.root)
    assert again.exit_code == 0 and [r["status"] for r in rx.received] == [400, 200, 200]
    assert rx.received[0]["headers"]["webhook-id"] == rx.received[1]["headers"]["webhook-id"]
    assert send(run_cli, history.root).exit_code == 0 and len(rx.received) == 3


def test_an_unreachable_receiver_fails_after_bounded_retries(history, receiver, run_cli):
    rx = receiver()
    rx.close()  # nothing listens there any more
    set_webhooks(history.root, [hook(rx.url)])
    out = send(run_cli, history.root, "--json")
    assert out.exit_code == 1
    failed = json.loads(out.stdout)["deliveries"]
    assert len(failed) == 1 and failed[0]["attempts"] == 5 and "cannot reach" in failed[0]["error"]


def test_non_https_refused_at_check_and_at_send(history, run_cli):
    set_webhooks(history.root, [hook("http://hooks.example.com/x")])
    out = run_cli("-C", history.root, "check")
    assert out.exit_code == 1 and "must be https" in out.output
    sent = send(run_cli, history.root)
    assert sent.exit_code == 1 and "must be https" in sent.stderr
    assert len(sent.stderr.strip().splitlines()) == 1
    set_webhooks(history.root, [hook("https://hooks.example.com/x"), hook("http://[::1]:9/x"),
                                hook("http://localhost:9/x")])
    assert "webhooks" not in run_cli("-C", history.root, "check").output


def test_the_secret_never_appears_and_a_missing_variable_is_named(history, receiver, run_cli, monkeypatch,
                                                                   secret):
    rx = receiver(answers=[500, 400])
    set_webhooks(history.root, [hook(rx.url)])
    outputs = [run_cli("-v", "-C", history.root, "events", "--send"),
               send(run_cli, history.root, "--json"), run_cli("-C", history.root, "events", "--json")]
    assert outputs[0].exit_code == 1 and "retrying" in outputs[0].stderr
    for out in outputs:
        assert secret not in out.output and secret.removeprefix("whsec_") not in out.output
    assert git(history.root, "notes", f"--ref={DELIVERIES_REF}", "list") == "" or \
        secret not in git(history.root, "log", f"{DELIVERIES_REF}", "-p")
    monkeypatch.delenv(SECRET_ENV)
    out = send(run_cli, history.root)
    assert out.exit_code == 1 and out.stderr.strip() == \
        f"error: the webhook secret variable {SECRET_ENV} is not set (for {rx.url})"
    monkeypatch.setenv(SECRET_ENV, "not base64 at all!")
    out = send(run_cli, history.root)
    assert out.exit_code == 1 and "not a Standard Webhooks secret" in out.stderr and "at all" not in out.stderr


def test_a_forged_record_at_worst_causes_a_resend(history, receiver, run_cli):
    rx = receiver()
    set_webhooks(history.root, [hook(rx.url)])
    head = git(history.root, "rev-parse", "HEAD").strip()
    key = hook_key(hook(rx.url))
    msg = message_id(json.loads(run_cli("-C", history.root, "events", "--since", "HEAD~1", "--json").stdout)[0]["id"],
                     key)
    forged = f"Modelreg-Delivered: {key} {msg} {'0' * 32}\nModelreg-Delivered-Through: {key} {'f' * 32}\n"
    git(history.root, "notes", f"--ref={DELIVERIES_REF}", "add", "-m", forged, head)
    out = send(run_cli, history.root)
    assert out.exit_code == 0 and [r["headers"]["webhook-id"] for r in rx.received] == [msg]
    assert forged.strip() in git(history.root, "notes", f"--ref={DELIVERIES_REF}", "show", head)


def test_slack_format_posts_text_to_a_url_kept_in_the_environment(history, receiver, run_cli, monkeypatch):
    rx = receiver()
    monkeypatch.setenv("SLACK_WEBHOOK_URL", rx.url)
    set_webhooks(history.root, [{"url_env": "SLACK_WEBHOOK_URL", "secret_env": SECRET_ENV, "format": "slack",
                                 "events": ["stage.changed"]}])
    assert rx.url not in (history.root / "registry.yaml").read_text()
    history.transition_stage("m", 1, "archived", reason="regression")
    assert send(run_cli, history.root).exit_code == 0
    assert [r["payload"] for r in rx.received] == [
        {"text": f"modelreg: m@1: production -> archived, commit {git(history.root, 'rev-parse', 'HEAD')[:10]}"}]
    assert all(r["verified"] for r in rx.received)
    monkeypatch.delenv("SLACK_WEBHOOK_URL")
    out = send(run_cli, history.root)
    assert out.exit_code == 1 and out.stderr.strip() == "error: the webhook URL variable SLACK_WEBHOOK_URL is not set"


def test_no_webhooks_is_a_quiet_no_op(history, run_cli):
    out = send(run_cli, history.root)
    assert out.exit_code == 0 and "0 sent" in out.stderr and "0 webhook(s)" in out.stderr
