"""Rules about what a change does to merged records (issue 8): the rollback edge."""
import pytest

from modelreg.core.settings import Settings
from modelreg.rules.changes import rollback_eligible


@pytest.mark.parametrize("src,stage,held,ok", [
    ("archived", "production", {"none", "staging", "production", "archived"}, True),
    ("archived", "production", {"none", "archived"}, False),  # none -> archived -> production
    ("archived", "production", {"staging", "archived"}, False),  # never reviewed for production
    ("staging", "production", set(), True),  # the normal edge is not a rollback
    ("archived", "staging", set(), True),  # staging is not exclusive: no rollback rule
])
def test_rollback_eligibility(src, stage, held, ok):
    """issue 8 hole 6: re-entering an exclusive stage from archived needs to have held it before."""
    assert rollback_eligible(stage, src, held, Settings({})) is ok
