"""Fixtures shared by the R19–R22 scenario tests (``tests/runtime/test_rules_*.py``, which
load them with ``pytest_plugins = ["tests.runtime.rules_plugin"]``) and by
``tests/integration/test_rules_near_duplicate_pg.py`` (which imports them).

People: ``rep``, a salesperson whose manager is ``supervisor``; ``rep_actor`` acts as
``rep``. R22: ``notes_app`` publishes the follow-up form and the near-duplicate
automation; ``notes`` is each language's set of scenario notes. A fixture used by one
module only lives next to its tests.
"""

from __future__ import annotations

import pytest

from tests.factories import make_actor, make_user
from tests.runtime.rules_scenarios import (
    CUSTOMER,
    DUPLICATE_NOTES,
    FOLLOW_UP,
    NOTES,
    Notes,
    automate,
    design,
)


@pytest.fixture
def supervisor(workspace):
    return make_user("supervisor", workspace)


@pytest.fixture
def rep(workspace, supervisor):
    """A salesperson; ``supervisor`` manages their team."""
    return make_user("rep", workspace, manager=supervisor)


@pytest.fixture
def rep_actor(rep, workspace):
    return make_actor(rep, workspace)


@pytest.fixture(params=sorted(NOTES))
def notes(request) -> Notes:
    return NOTES[request.param]


@pytest.fixture
def notes_app(admin_actor):
    design(admin_actor, "customer", CUSTOMER)
    design(admin_actor, "follow_up", FOLLOW_UP)
    return automate(admin_actor, "duplicate_notes", DUPLICATE_NOTES)
