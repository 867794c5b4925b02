"""The automation engine's unit tests, run again on PostgreSQL (row locks, COPY of
executions, JSON comparisons behave differently from SQLite)."""

from tests.runtime.test_automation_engine import *  # noqa: F403
from tests.runtime.test_automation_engine import _probe  # noqa: F401 - autouse fixture
