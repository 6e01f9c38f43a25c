"""RegistryError and its kinds survive pickling (the site builds in worker processes) with their hints."""
import pickle

import pytest

from modelreg.core import errors


class CustomError(errors.InvalidInput):
    """A subclass defined outside the package."""


@pytest.mark.parametrize("cls", [errors.RegistryError, errors.NotFound, errors.InvalidRecord,
                                 errors.ExternalError, errors.ConcurrentWrite, CustomError])
def test_hint_and_hint_args_survive_pickle(cls):
    original = cls("m has no version 3", hint="versions", model="m", extra="s3")
    copy = pickle.loads(pickle.dumps(original))
    assert type(copy) is cls
    assert (str(copy), copy.hint, copy.hint_args) == ("m has no version 3", "versions", {"model": "m", "extra": "s3"})


def test_an_error_without_hint_survives_pickle():
    copy = pickle.loads(pickle.dumps(errors.PolicyViolation("not allowed")))
    assert (type(copy), str(copy), copy.hint, copy.hint_args) == (errors.PolicyViolation, "not allowed", None, {})


def test_every_kind_is_a_registry_error():
    kinds = [errors.NotFound, errors.AlreadyExists, errors.InvalidInput, errors.InvalidRecord,
             errors.PolicyViolation, errors.IntegrityError, errors.ExternalError, errors.ConcurrentWrite]
    assert all(issubclass(kind, errors.RegistryError) for kind in kinds)
    assert errors.RegistryError().hint is None
