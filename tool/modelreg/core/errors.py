"""The project's errors: one base class, a few kinds the CLI maps to exit code 1.

Every message is written where it is raised and says what to do next.
"""


class RegistryError(Exception):
    """Base of every error modelreg raises on purpose (exit code 1)."""


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
    """An outside system (git, DVC, S3, GitHub) failed; the message says which."""


class ConcurrentWrite(RegistryError):
    """Another process is writing to the same clone; nothing was written."""
