"""Deployment records (issue 22, Fleet): what each host loaded, on SeaweedFS, and who lags its alias."""
import json

import pytest

from modelreg.core.errors import InvalidInput
from modelreg.fleet import deployments
from tests.conftest import write_weights
from tests.fleet.conftest import open_remote, promote, trust_publisher


@pytest.fixture
def fleet(s3_registry, weights, feed_key, run_cli):
    reg = s3_registry
    reg.register_model("llm", "fine_tuned")
    reg.create_version("llm", weights)
    reg.create_version("llm", write_weights(weights.parent / "w2", seed=2))
    promote(reg, "llm", 1)
    trust_publisher(reg, feed_key[1])
    return reg


def report(store, env, host, ref, version, commit):
    resolved = {"model": ref.split("@")[0], "version": version, "commit": commit, "sha256": {"a": "0" * 64}}
    return deployments.report(store, env, host, deployments.entry(ref, resolved, "feed"))


def test_records_on_seaweedfs_and_drift_against_the_feed(fleet, run_cli, s3_env, s3_bucket):
    reg = fleet
    old = reg.commit_of(None)
    store = open_remote(reg)
    try:
        report(store, "prod", "web-1", "llm@production", 1, old)
        report(store, "prod", "web-2", "llm@production", 1, old)
        report(store, "staging", "stg-1", "llm@2", 2, old)
        promote(reg, "llm", 2)
        assert run_cli("-C", reg.root, "feed", "publish").exit_code == 0
        report(store, "prod", "web-2", "llm@production", 2, reg.commit_of(None))  # web-2 followed
        record = report(store, "prod", "web-2", "llm@canary", 2, reg.commit_of(None))  # a second ref, same host
    finally:
        store.close()
    assert [e["ref"] for e in record["serving"]] == ["llm@canary", "llm@production"]
    keys = {o["Key"] for o in s3_env.client().list_objects_v2(Bucket=s3_bucket, Prefix="store/modelreg/")["Contents"]}
    assert {"store/modelreg/deployments/prod/web-1.json", "store/modelreg/deployments/prod/web-2.json",
            "store/modelreg/deployments/staging/stg-1.json", "store/modelreg/feed.json"} <= keys

    shown = run_cli("-C", reg.root, "deployments", "--json")
    assert shown.exit_code == 0, shown.output
    doc = json.loads(shown.stdout)
    assert doc["aliases_from"].startswith("feed at ")
    states = {(r["host"], r["ref"]): (r["version"], r["expected"], r["state"]) for r in doc["hosts"]}
    assert states == {("web-1", "llm@production"): (1, 2, "lags"), ("web-2", "llm@production"): (2, 2, "current"),
                      ("web-2", "llm@canary"): (2, None, "unknown"), ("stg-1", "llm@2"): (2, None, "pinned")}
    text = run_cli("-C", reg.root, "deployments", "--env", "prod").stdout
    assert "prod  web-1  llm@production -> llm@1" in text and "LAGS: alias names 2" in text
    assert "stg-1" not in text


def test_without_a_feed_drift_is_against_main_with_a_warning(fleet, run_cli):
    store = open_remote(fleet)
    try:
        report(store, "prod", "web-1", "llm@production", 1, fleet.commit_of(None))
    finally:
        store.close()
    promote(fleet, "llm", 2)
    shown = run_cli("-C", fleet.root, "deployments", "--json")
    assert shown.exit_code == 0 and "no feed on" in shown.stderr
    doc = json.loads(shown.stdout)
    assert doc["aliases_from"].startswith("main at ") and doc["hosts"][0]["state"] == "lags"


def test_no_records_says_so(registry, run_cli):
    result = run_cli("-C", registry.root, "deployments", "--env", "prod")
    assert result.exit_code == 0 and "no host has reported a deployment in prod" in result.stdout


@pytest.mark.parametrize("env, host", [("../x", "h"), ("prod", "a/b"), ("", "h"), ("prod", "..")])
def test_names_that_would_leave_the_folder_are_refused(env, host):
    with pytest.raises(InvalidInput):
        deployments.key_of(env, host)
