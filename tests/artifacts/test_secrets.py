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
    "uri: https://alice:s3cr3t-pw@git.example.com/r.git\n", "url: https://h/k?X-Amz-Signature=abcdef\n",
    "conn: DefaultEndpointsProtocol=https;AccountName=a;AccountKey=Eby8vdM02xNOcqFl==;\n",
    "connection_string = DefaultEndpointsProtocol=https;AccountName=a\n", "account_key = abcdefgh1234\n",
    "sas_token: sv=2024-01-01&sig=abcdefgh\n",
])
def test_credential_prefilter_is_a_superset_of_the_scan(text):
    """issue 8 speed: the one-search prefilter never hides what the line scan would find."""
    from modelreg.artifacts.secrets import find_credentials, may_hold_credentials

    assert find_credentials("f", text) and may_hold_credentials(text.encode())
    assert not may_hold_credentials(b"name: llama\nstage: production\n")


@pytest.mark.parametrize("text,what", [
    ("  uri: https://alice:s3cr3t-pw@git.example.com/r.git\n", "a URL with a password"),
    ("url = http://bob:hunter2@minio.local:9000/bucket\n", "a URL with a password"),
    ("uri: https://b.s3.amazonaws.com/m?X-Amz-Date=1&X-Amz-Signature=0123abcd\n", "a URL with a credential in its query"),
    ("uri: https://acct.blob.core.windows.net/c/m?sv=2024&sig=abc%3D\n", "a URL with a credential in its query"),
    ("uri: https://hub.example.com/m?access_token=hf_abcdefgh\n", "a URL with a credential in its query"),
])
def test_credentials_in_urls_are_found(text, what):
    """issue 19 item 11: the credential scan catches scheme://user:pass@host and signed or
    token-bearing URLs in scanned files, without echoing the secret."""
    found = find_credentials("registry/m/versions/1/version.yaml", text)
    assert len(found) == 1 and what in found[0][1]
    assert "s3cr3t-pw" not in found[0][1] and "hunter2" not in found[0][1] and "0123abcd" not in found[0][1]


@pytest.mark.parametrize("text", [
    "uri: https://git.example.com/r.git\n", "uri: ssh://git@github.com/org/r\n",
    "uri: https://user:${GIT_TOKEN}@host/r\n", "uri: s3://bucket/run-1/?versionId=3\n",
    "uri: mlflow-artifacts:/1/abc/artifacts/model\n",
])
def test_urls_without_credentials_pass(text):
    assert find_credentials("v.yaml", text) == []


def test_the_split_prefilter_gives_the_one_search_verdict():
    """issue 23 speed: may_hold_credentials (words by `in`, two patterns, on lowercased bytes) says
    what the case-insensitive one-search `_ANY` says, on hits, misses and mixed case."""
    import random

    from modelreg.artifacts.secrets import _ANY, may_hold_credentials

    rng = random.Random(23)
    pieces = [b"AkIa", b"asia", b"Secret_Access_Key", b"SESSION_TOKEN", b"access_key_ID", b"Private Key", b"GHP_",
              b"gHs_", b"://", b"@", b"/", b" ", b"\n", b"?", b"&", b"=", b"X-Amz-Signature", b"SIG", b"token",
              b"Api_Key", b"name: llama", b"https://h", b"\xc3\xa9", b"a", b"0", b"AccountKey", b"Account_Key",
              b"SharedAccessSignature", b"Connection_String", b"SAS_TOKEN"]
    for _ in range(5000):
        data = b"".join(rng.choice(pieces) for _ in range(rng.randint(0, 12)))
        assert may_hold_credentials(data) == (_ANY.search(data) is not None), data
