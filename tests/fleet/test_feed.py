"""The alias feed (issue 22, Fleet): signed on the weights remote, followed with conditional GETs."""
import json

import pytest

from modelreg.core.errors import IntegrityError, InvalidInput, InvalidRecord, PolicyViolation
from modelreg.fleet import feed as fleet_feed
from tests.conftest import write_weights
from tests.fleet.conftest import open_remote, promote, trust_publisher


@pytest.fixture
def s3_fleet(s3_registry, weights, feed_key):
    """A registry on SeaweedFS with llm@1 and llm@2, production -> 1, the feed key trusted."""
    reg = s3_registry
    reg.register_model("llm", "fine_tuned")
    reg.create_version("llm", weights)
    reg.create_version("llm", write_weights(weights.parent / "w2", seed=2))
    promote(reg, "llm", 1)
    reg.set_alias("llm", "canary", 2)
    trust_publisher(reg, feed_key[1])
    return reg


def test_publish_then_show_on_seaweedfs(s3_fleet, run_cli, s3_env, s3_bucket):
    reg = s3_fleet
    published = run_cli("-C", reg.root, "feed", "publish", "--json")
    assert published.exit_code == 0, published.output
    result = json.loads(published.stdout)
    main = reg.commit_of(None)
    assert result["commit"] == main and result["aliases"] == 2
    body = s3_env.client().get_object(Bucket=s3_bucket, Key="store/modelreg/feed.json")["Body"].read()
    payload = json.loads(json.loads(body)["payload"])
    version = reg.get_version("llm", 1)
    assert payload["models"]["llm"]["aliases"] == {"canary": 2, "production": 1}
    assert payload["models"]["llm"]["versions"]["1"]["sha256"] == {a["path"]: a["sha256"] for a in version["artifacts"]}
    shown = run_cli("-C", reg.root, "feed", "show")
    assert shown.exit_code == 0, shown.output
    assert f"feed at commit {main[:12]}" in shown.stdout and "llm@production -> 1" in shown.stdout


def test_an_unchanged_feed_costs_one_request_answered_304(s3_fleet, run_cli, s3_env, s3_bucket):
    reg = s3_fleet
    assert run_cli("-C", reg.root, "feed", "publish").exit_code == 0
    store = open_remote(reg)
    follower = fleet_feed.Follower(lambda: store)
    try:
        first = follower.poll()
        assert fleet_feed.verify(first, reg.settings.feed).commit == reg.commit_of(None)
        assert follower.poll() is None and follower.poll() is None  # the store said "not modified"
        assert follower.requests == 3 and follower.downloads == 1
        # the ETag the host keeps is S3's own: the server answers 304 to it
        with pytest.raises(Exception) as caught:
            s3_env.client().get_object(Bucket=s3_bucket, Key="store/modelreg/feed.json", IfNoneMatch=follower.etag)
        assert caught.value.response["Error"]["Code"] == "304"
        promote(reg, "llm", 2)
        assert run_cli("-C", reg.root, "feed", "publish").exit_code == 0
        moved = fleet_feed.verify(follower.poll(), reg.settings.feed)
        assert moved.alias("llm", "production") == 2 and follower.downloads == 2
    finally:
        store.close()


def test_a_local_remote_answers_unchanged_by_a_stat(registry, weights, feed_key, run_cli):
    registry.register_model("llm", "fine_tuned")
    registry.create_version("llm", weights)
    promote(registry, "llm", 1)
    trust_publisher(registry, feed_key[1])
    assert run_cli("-C", registry.root, "feed", "publish").exit_code == 0
    store = open_remote(registry)
    follower = fleet_feed.Follower(lambda: store)
    assert follower.poll() is not None
    assert follower.poll() is None and follower.downloads == 1
    assert run_cli("-C", registry.root, "feed", "publish").exit_code == 0  # rewritten: a new file
    assert follower.poll() is not None and follower.downloads == 2


def test_a_tampered_feed_does_not_verify(s3_fleet, run_cli, s3_env, s3_bucket):
    reg = s3_fleet
    assert run_cli("-C", reg.root, "feed", "publish").exit_code == 0
    client, key = s3_env.client(), "store/modelreg/feed.json"
    envelope = json.loads(client.get_object(Bucket=s3_bucket, Key=key)["Body"].read())
    envelope["payload"] = envelope["payload"].replace('"production":1', '"production":2')
    client.put_object(Bucket=s3_bucket, Key=key, Body=json.dumps(envelope).encode())
    shown = run_cli("-C", reg.root, "feed", "show")
    assert shown.exit_code == 1
    assert "the feed's signature does not verify with any key registry.yaml's feed.publishers names" in shown.stderr


def test_a_feed_signed_by_a_key_the_policy_does_not_name_is_refused(s3_fleet):
    from modelreg.fleet.signing import keygen, private_key

    other, public = keygen()
    data = fleet_feed.signed(fleet_feed.build(s3_fleet.at()), private_key(other, "test"), public)
    with pytest.raises(IntegrityError, match="does not verify"):
        fleet_feed.verify(data, s3_fleet.settings.feed)


def test_publish_refuses_without_a_key_or_with_one_the_policy_does_not_name(registry, feed_key, run_cli, monkeypatch):
    from modelreg.fleet.signing import keygen

    result = run_cli("-C", registry.root, "feed", "publish")
    assert result.exit_code == 1 and "registry.yaml names no feed publishers" in result.stderr
    assert "modelreg feed keygen" in result.stderr  # the CLI's hint
    trust_publisher(registry, keygen()[1])
    result = run_cli("-C", registry.root, "feed", "publish")
    assert result.exit_code == 1 and "is not one registry.yaml's feed.publishers names" in result.stderr
    monkeypatch.delenv("MODELREG_FEED_KEY")
    result = run_cli("-C", registry.root, "feed", "publish")
    assert result.exit_code == 1 and "put it in the environment variable MODELREG_FEED_KEY" in result.stderr
    assert not (registry.root.parent / "remote" / "modelreg").exists()  # nothing written


def test_keygen_prints_a_pair_the_policy_accepts(registry, run_cli, monkeypatch):
    out = json.loads(run_cli("feed", "keygen", "--json").stdout)
    assert out["public_key"].startswith("ed25519:")
    trust_publisher(registry, out["public_key"])
    checked = run_cli("-C", registry.root, "check")
    assert checked.exit_code == 0, checked.output  # the feed section validates (schema and shapes)
    monkeypatch.setenv("MODELREG_FEED_KEY", out["private_key"])
    assert run_cli("-C", registry.root, "feed", "publish").exit_code == 0


@pytest.mark.parametrize("feed, pointer", [
    ({"publishers": ["ed25519:short"]}, "/feed/publishers"),
    ({"publishers": []}, "/feed/publishers"),
    ({"key_env": "not a name", "publishers": ["ed25519:" + "A" * 43 + "="]}, "/feed/key_env"),
    ({"publisher": ["x"]}, "/feed/publisher"),
])
def test_a_malformed_feed_policy_is_a_problem(registry, feed, pointer):
    from modelreg.core.settings import Settings

    with pytest.raises(InvalidRecord, match=pointer):
        Settings.load({**registry.settings.raw, "feed": feed})


def test_a_private_key_that_is_not_one_is_refused_in_one_line():
    from modelreg.fleet.signing import private_key

    with pytest.raises(InvalidInput, match=r"\$K does not hold an Ed25519 private key"):
        private_key("not base64!", "$K")
    with pytest.raises(PolicyViolation):
        fleet_feed.verify(b"{}", None)


def test_the_tag_workflows_publish_does_nothing_without_a_feed_policy(registry, run_cli):
    result = run_cli("-C", registry.root, "feed", "publish", "--if-configured")
    assert result.exit_code == 0 and "registry.yaml names no feed: nothing published" in result.stdout
    assert not (registry.root.parent / "remote" / "modelreg").exists()
