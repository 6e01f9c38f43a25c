"""Credentials in tracked files are found (issue 3: `check` fails on them)."""
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
