"""The only module that talks to AWS through botocore: what obstore (objstore.py) cannot do.

The weights data path runs on obstore. botocore serves it only with keys kept in ~/.aws (a
named profile, AWS_PROFILE, SSO), which object_store does not read: `aws_profile_credentials`
hands botocore's chain to obstore as a credential provider (at botocore's start-up cost, ~0.2 s).
"""
from ..core.errors import ExternalError
from ..core.extras import missing_extra
from .config import RemoteConfig

def aws_profile_credentials(config: RemoteConfig):
    """(an obstore credential provider, the profile's region or None) from botocore's chain
    (profiles, ~/.aws files, SSO), which object_store does not read. obstore asks the provider
    again every 5 minutes; botocore refreshes the keys when due."""
    try:
        import botocore.session
    except ImportError as exc:
        raise missing_extra("s3", f"the AWS profile credentials for {config.url}", ["boto3"]) from exc
    try:
        session = botocore.session.Session(profile=config.profile)
        credentials = session.get_credentials()
        region = session.get_config_variable("region")
    except Exception as exc:
        raise ExternalError(f"cannot read AWS credentials for {config.url}: {_explain(exc, config)}") from exc
    if credentials is None:
        raise ExternalError(f"cannot read AWS credentials for {config.url}: {_explain(_no_credentials(), config)}")

    def provide() -> dict:
        from datetime import datetime, timedelta, timezone

        frozen = credentials.get_frozen_credentials()  # refreshed by botocore when due
        return {"access_key_id": frozen.access_key, "secret_access_key": frozen.secret_key,
                "token": frozen.token, "expires_at": datetime.now(timezone.utc) + timedelta(minutes=5)}

    return provide, region


def _no_credentials():
    from botocore.exceptions import NoCredentialsError

    return NoCredentialsError()


def _explain(exc: Exception, config: RemoteConfig) -> str:
    """One clause naming the problem and the fix."""
    from botocore import exceptions as bx

    if isinstance(exc, bx.NoCredentialsError):
        return ("no AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, an AWS profile, or "
                f"'dvc remote modify --local {config.name} access_key_id ...' (and secret_access_key)")
    if isinstance(exc, bx.ProfileNotFound):
        return f"AWS profile not found ({exc}); fix the profile name or ~/.aws/config"
    return f"{type(exc).__name__}: {exc}"
