"""Domain-shaped fixtures shared by every test module."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from tests.factories import make_user, make_workspace  # noqa: F401


@pytest.fixture
def workspace(db):
    return make_workspace("acme")


@pytest.fixture
def other_workspace(db):
    return make_workspace("other")


_counter = itertools.count()


@pytest.fixture
def user_factory(workspace):
    def factory(**kwargs: Any):
        kwargs.setdefault("username", f"user{next(_counter)}")
        return make_user(workspace=kwargs.pop("workspace", workspace), **kwargs)

    return factory
