"""The approval state machine of tests/runtime/test_approval_stateful.py, run on
PostgreSQL: the invariants must hold with real row locks and jsonb, not only on SQLite."""

from __future__ import annotations

import pytest

from tests.runtime.test_approval_stateful import run_machine


@pytest.mark.django_db
def test_random_sequences_keep_the_invariants_on_postgresql():
    run_machine(max_examples=20)
