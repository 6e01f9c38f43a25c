"""writes/versions.py: what `version create` records (issue 19 item 11: no credentials in URLs)."""
import json

SIGNED = "https://alice:s3cr3t-pw@models.example.com/llama?X-Amz-Signature=deadbeef&part=1"


def test_source_uri_is_recorded_and_printed_without_credentials(registry, run_cli):
    """issue 19 item 11: --source-uri with userinfo and a presigned signature is recorded, printed
    and put in --json without either; `check` then finds no credential in the record."""
    registry.register_model("external", "base_model")
    result = run_cli("-C", registry.root, "version", "create", "external", "--source-uri", SIGNED, "--json")
    assert result.exit_code == 0, result.output
    assert "s3cr3t-pw" not in result.output and "deadbeef" not in result.output
    assert json.loads(result.stdout)["source"]["uri"] == "https://models.example.com/llama?part=1"
    text = (registry.root / "registry" / "external" / "versions" / "1" / "version.yaml").read_text()
    assert "s3cr3t-pw" not in text and "deadbeef" not in text and "alice" not in text
    assert run_cli("-C", registry.root, "check").exit_code == 0


def test_check_flags_a_url_credential_written_by_hand(registry, run_cli):
    """issue 19 item 11: a record edited by hand to hold a URL password fails `check`, naming the
    file, never the password."""
    import subprocess

    registry.register_model("external", "base_model")
    registry.create_version("external", source_uri="https://models.example.com/llama")
    path = registry.root / "registry" / "external" / "versions" / "1" / "version.yaml"
    path.write_text(path.read_text().replace("https://models.example.com", "https://bob:hunter2-pw@models.example.com"))
    subprocess.run(["git", "commit", "-qam", "hand edit"], cwd=registry.root, check=True)
    result = run_cli("-C", registry.root, "check")
    assert result.exit_code == 1 and "a URL with a password" in result.output
    assert "registry/external/versions/1/version.yaml" in result.output and "hunter2-pw" not in result.output
