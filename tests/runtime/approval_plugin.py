"""Fixtures of the approval and inbox tests; test modules load them with
``pytest_plugins = ["tests.runtime.approval_plugin"]`` and import helpers from
:mod:`tests.runtime.approval_fixtures`.

Org chart: ``director`` (role sales_director) manages ``manager``, who manages ``rep``
and ``rep2``; ``finance`` and ``product`` hold their roles; ``boss`` is the workspace
admin. The form ``sales/contract`` has a title, an amount and a salesperson field.
"""

from __future__ import annotations

import pytest

from tests.factories import make_user
from tests.runtime.approval_fixtures import CONTRACT_FIELDS, Org


@pytest.fixture
def org(workspace, admin) -> Org:
    director = make_user("director", workspace, roles=["sales_director"])
    manager = make_user("manager", workspace, roles=["manager"], manager=director)
    rep = make_user("rep", workspace, roles=["rep"], manager=manager)
    rep2 = make_user("rep2", workspace, roles=["rep"], manager=manager)
    finance = make_user("finance", workspace, roles=["finance"])
    product = make_user("product", workspace, roles=["product"])
    return Org(workspace, admin, director, manager, rep, rep2, finance, product)


@pytest.fixture
def contract_form(form_factory):
    return form_factory(CONTRACT_FIELDS, key="contract")
