"""Fixtures of the record-action tests (``pytest_plugins = ["tests.runtime.action_plugin"]``):
``people``, a manager of two reps (role rep) and a finance user; ``forms``, the published
forms ``customer``, ``contract`` and ``visit`` of :mod:`tests.runtime.action_helpers`."""

from __future__ import annotations

import pytest

from tests.factories import make_user
from tests.runtime.action_helpers import CONTRACT, CUSTOMER, VISIT


@pytest.fixture
def people(workspace, admin):
    manager = make_user("manager", workspace, roles=["manager"])
    rep = make_user("rep", workspace, roles=["rep"], manager=manager)
    rep2 = make_user("rep2", workspace, roles=["rep"], manager=manager)
    finance = make_user("finance", workspace, roles=["finance"])
    return {"manager": manager, "rep": rep, "rep2": rep2, "finance": finance}


@pytest.fixture
def forms(form_factory):
    return {
        "customer": form_factory(CUSTOMER, key="customer"),
        "contract": form_factory(CONTRACT, key="contract"),
        "visit": form_factory(VISIT, key="visit"),
    }
