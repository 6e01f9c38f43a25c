"""The project's errors: one base class, a few kinds the CLI maps to exit code 1.

Every message is written where it is raised, in the library's words, and says what is wrong
and what to do about it ("a reason is required", "register the model first"). Where the fix
is a particular command or option, the error also carries a `hint`: a key the command line
turns into that command or flag (cli/hints.py), so library callers never read CLI syntax
and CLI users still get the exact command.
"""


class RegistryError(Exception):
    """Base of every error modelreg raises on purpose (exit code 1).

    `hint` names the fix for the command line (a key of cli/hints.py), `hint_args` fills it in."""

    def __init__(self, message: str = "", *, hint: str | None = None, **hint_args):
        super().__init__(message)
        self.hint = hint
        self.hint_args = hint_args

    def __reduce__(self):
        # keyword arguments do not survive the default pickling (the site builds in worker processes)
        return _rebuild, (type(self), str(self), self.hint, self.hint_args)


def _rebuild(cls, message, hint, hint_args):
    return cls(message, hint=hint, **hint_args)


class NotFound(RegistryError):
    """A model, version, alias, ref or file that does not exist."""


class AlreadyExists(RegistryError):
    """Something that must be unique is already there."""


class InvalidInput(RegistryError):
    """A bad name, option value or input folder given by the user."""


class InvalidRecord(RegistryError):
    """A record (YAML file) that is unreadable or fails its schema."""


class PolicyViolation(RegistryError):
    """An operation that registry.yaml's rules forbid."""


class IntegrityError(RegistryError):
    """Bytes that do not match their recorded size or hash."""


class ExternalError(RegistryError):
    """An outside system (git, DVC, S3, GitHub) failed, or an optional package is missing;
    the message says which."""


class ConcurrentWrite(RegistryError):
    """Another process is writing to the same clone; nothing was written."""
