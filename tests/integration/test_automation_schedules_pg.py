"""The scheduled and date automations' unit tests, run again on PostgreSQL (date and
JSON comparisons, keyset batches and the date triggers' NOT EXISTS differ from SQLite)."""

from tests.runtime.test_automation_schedules import *  # noqa: F403
