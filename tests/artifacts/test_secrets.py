"""Credentials in tracked files are found (issue 3: `check` fails on them)."""
import pytest

from modelreg.artifacts.secrets import find_credentials


def test_aws_key_id_and_secret_found_with_line_numbers():
    text = "[remote]\n url = s3://b\n access_key_id = AKIAIOSFODNN7EXAMPLE\n" \
           " secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n"
    found = find_credentials(".dvc/config", text)
    assert [w for w, _ in found] == ["line 3", "line 4"]
    assert "AWS access key id" in found[0][1] and "wJal" in found[1][1]
    assert "EXAMPLEKEY" not in found[1][1]  # never echoes the secret


def test_private_key_and_github_token():
    assert find_credentials("k.pem", "-----BEGIN RSA PRIVATE KEY-----\nabc\n")[0][0] == "line 1"
    assert find_credentials("x.yaml", "token: ghp_" + "a" * 36)[0][1].startswith("x.yaml holds a GitHub token")


def test_placeholders_and_ordinary_records_pass():
    assert find_credentials("README.md", "aws_secret_access_key = ${AWS_SECRET_ACCESS_KEY}\n") == []
    assert find_credentials("v.yaml", "sha256: " + "a" * 64 + "\ndescription: access keys are rotated\n") == []


@pytest.mark.parametrize("text", [
    "key: AKIAIOSFODNN7EXAMPLF\n", "aws_secret_access_key = wJalrXUtnFEMIK7MDENGbPxRfiCY\n",
    "Session_Token: FwoGZXIvYXdzEJr//////////wEaDKz\n", "access_key_id: abcdefgh12\n",
    "-----BEGIN RSA PRIVATE KEY-----\n", "token: ghp_" + "a" * 36 + "\n",
])
def test_credential_prefilter_is_a_superset_of_the_scan(text):
    """issue 8 speed: the one-search prefilter never hides what the line scan would find."""
    from modelreg.artifacts.secrets import find_credentials, may_hold_credentials

    assert find_credentials("f", text) and may_hold_credentials(text.encode())
    assert not may_hold_credentials(b"name: llama\nstage: production\n")
