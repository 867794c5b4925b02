"""Fixtures of the dashboard tests (``pytest_plugins = ["tests.runtime.dashboard_plugin"]``):
the org, the visit form and the opportunity form with its stages."""

from __future__ import annotations

import pytest

from tests.runtime.dashboard_helpers import build_opportunity_form, build_org, build_visit_form


@pytest.fixture
def board_org(workspace, admin_actor):
    return build_org(workspace, admin_actor)


@pytest.fixture
def board_visit(admin_actor):
    return build_visit_form(admin_actor)


@pytest.fixture
def board_opportunity(admin_actor):
    return build_opportunity_form(admin_actor)
