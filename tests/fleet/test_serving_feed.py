"""Serving hosts on the feed (issue 22, Fleet): real tiny models follow the signed feed, refuse a
tampered, replayed or off-main one and fall back to Git, and report what they loaded."""
import json

import pytest

from modelreg.fleet import feed as fleet_feed
from tests.conftest import git
from tests.fleet.conftest import open_remote, promote, trust_publisher
from tests.plugins.tiny_models import register_tiny

pytestmark = [pytest.mark.models, pytest.mark.usefixtures("fresh_loader")]


@pytest.fixture
def served(registry, tiny_models, feed_key, run_cli):
    """tiny and tiny-lora@1 in production, the feed key trusted, a feed published."""
    register_tiny(registry, tiny_models)
    trust_publisher(registry, feed_key[1])
    publish(registry, run_cli)
    return registry


def publish(reg, run_cli):
    result = run_cli("-C", reg.root, "feed", "publish")
    assert result.exit_code == 0, result.output


def manager(reg, **kwargs):
    from modelreg.loading.serving import ServingManager

    return ServingManager("tiny-lora@production", registry=reg.root, device="cpu", feed=True, **kwargs)


def put_feed(reg, data: bytes) -> None:
    store = open_remote(reg)
    try:
        store.put(fleet_feed.FEED_KEY, data)
    finally:
        store.close()


def test_a_host_follows_the_feed_not_git_and_reports_what_it_loaded(served, run_cli):
    host = manager(served, environment="prod", host="web-1").start(background=False)
    try:
        assert host.current.version == 1 and host.events[0].via == "feed" and host.feed_error is None
        promote(served, "tiny-lora", 2)  # main moved, the feed not yet: the host waits for the feed
        assert host.poll() is False and host.current.version == 1
        assert host.follower.downloads == 1 and host.follower.requests == 2  # the second answered "unchanged"
        publish(served, run_cli)
        assert host.poll() is True and host.current.version == 2
        assert host.swaps[-1].via == "feed" and host.swaps[-1].commit == served.commit_of(None)
        assert host.poll() is False and host.follower.downloads == 2
    finally:
        host.stop()
    shown = json.loads(run_cli("-C", served.root, "deployments", "--json").stdout)
    [row] = shown["hosts"]
    assert (row["host"], row["environment"], row["ref"], row["version"], row["state"], row["via"]) == (
        "web-1", "prod", "tiny-lora@production", 2, "current", "feed")
    assert row["commit"] == served.commit_of(None)


def test_a_tampered_feed_is_refused_and_the_host_follows_git(served):
    host = manager(served).start(background=False)
    try:
        promote(served, "tiny-lora", 2)
        store = open_remote(served)
        data, _ = store.get_if_changed(fleet_feed.FEED_KEY)
        store.close()
        envelope = json.loads(data)
        envelope["payload"] = envelope["payload"].replace('"production":1', '"production":2')
        put_feed(served, json.dumps(envelope).encode())
        assert host.poll() is True and host.current.version == 2
        assert host.swaps[-1].via == "git"
        assert "feed refused" in host.feed_error and "signature does not verify" in host.feed_error
        assert host.poll() is False  # still refused (the same feed answers unchanged), Git unchanged
    finally:
        host.stop()


def test_a_signed_feed_naming_a_commit_main_never_had_is_refused(served, feed_key):
    from modelreg.fleet.signing import private_key

    host = manager(served).start(background=False)
    try:
        before = served.commit_of(None)
        promote(served, "tiny-lora", 2)
        off_main = served.commit_of(None)
        git(served.root, "reset", "-q", "--hard", before)  # the move never reached main
        payload = fleet_feed.build(served.snapshot(off_main))
        put_feed(served, fleet_feed.signed(payload, private_key(feed_key[0], "key"), feed_key[1]))
        assert host.poll() is False and host.current.version == 1
        assert "is not a commit main ever had" in host.feed_error
    finally:
        host.stop()


def test_a_replayed_older_feed_is_refused(served, run_cli):
    store = open_remote(served)
    old, _ = store.get_if_changed(fleet_feed.FEED_KEY)
    store.close()
    promote(served, "tiny-lora", 2)
    publish(served, run_cli)
    host = manager(served).start(background=False)
    try:
        assert host.current.version == 2
        put_feed(served, old)  # signed, on main, but older than what the host follows
        assert host.poll() is False and host.current.version == 2
        assert "older than" in host.feed_error
    finally:
        host.stop()


def test_watch_feed_reports_through_the_cli(served, run_cli):
    result = run_cli("watch", "tiny@production", "-r", served.root, "--device", "cpu", "--feed", "--polls", "1",
                     "--interval", "0.05", "--env", "canary", "--host", "gpu-7", "--json")
    assert result.exit_code == 0, result.output
    first = json.loads(result.stdout.splitlines()[0])
    assert first["kind"] == "loaded" and first["via"] == "feed"
    text = run_cli("-C", served.root, "deployments").stdout
    assert "canary  gpu-7  tiny@production -> tiny@1" in text and "via feed  current" in text


def test_a_host_on_a_url_registry_fetches_the_feeds_commit_once(served, run_cli, tmp_path):
    from modelreg.loading.serving import ServingManager

    bare = tmp_path / "origin.git"
    git(tmp_path, "clone", "-q", "--bare", str(served.root), str(bare))
    git(bare, "config", "uploadpack.allowFilter", "true")
    git(served.root, "remote", "add", "origin", str(bare))
    host = ServingManager("tiny-lora@production", registry=f"file://{bare}", device="cpu", feed=True)
    host.start(background=False)
    try:
        assert host.events[0].via == "feed" and host.current.version == 1
        promote(served, "tiny-lora", 2)
        git(served.root, "push", "-q", "origin", "main")
        publish(served, run_cli)  # names a commit the host's clone has not fetched yet
        assert host.poll() is True and host.current.version == 2 and host.swaps[-1].via == "feed"
    finally:
        host.stop()
