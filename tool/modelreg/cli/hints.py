"""The command line's half of an error message: the command or option that fixes it.

The library raises in its own words and names the fix by key (`RegistryError.hint`); this
table turns the key into the exact command or flag, so a CLI user reads
"a reason is required to delete a version (--reason TEXT)" and a library user reads the
message alone. tests/cli/test_hints.py checks that every key the library raises is here.
"""
HINTS = {
    "allow_pickle": "--allow-pickle",
    "check": "'modelreg check' lists every problem",
    "codeowners": "'modelreg codeowners'",
    "endpoint": "--endpoint-url",
    "extra": "{install}",
    "feed_keygen": "'modelreg feed keygen' prints a key pair and the registry.yaml lines",
    "feed_publish": "'modelreg feed publish'",
    "import_pr": "--pr",
    "init": "'modelreg init'",
    "into": "--into NAME with exactly one --model NAME",
    "keep_existing": "drop --keep-existing",
    "lock": "'modelreg lock REF -o FILE'",
    "lock_write": "'modelreg lock REF -o {path}'",
    "model_set": "--description TEXT, --owner/--add-owner/--remove-owner @WHO, --tag K=V or --untag K",
    "models": "'modelreg model list' shows them",
    "parent": "--parent REF",
    "reason": "--reason TEXT",
    "register": "'modelreg model register'",
    "remote_set": "'modelreg remote set URL'",
    "remote_set_s3": "'modelreg remote set s3://BUCKET/PREFIX' (or gs://, azure://)",
    "signer": "--key KEY.pem; or --cert CERT --key KEY --chain CHAIN; or --sigstore",
    "stage_set": "'modelreg stage set {model} {version} STAGE'",
    "sync_push": "'modelreg sync', then 'git push'",
    "tracking_uri": "--tracking-uri URI",
    "version_tags": "'modelreg version tag MODEL@N K=V ...' or 'modelreg version untag MODEL@N K ...'",
    "versions": "'modelreg version list {model}' shows them",
    "weights": "WEIGHTS_DIR, or --source-uri URI",
}


def render(exc) -> str:
    """The error's message, and the command that fixes it where the library named one."""
    message = str(exc)
    template = HINTS.get(getattr(exc, "hint", None) or "")
    if template is None:
        return message
    return f"{message} ({template.format(**getattr(exc, 'hint_args', {}))})"
