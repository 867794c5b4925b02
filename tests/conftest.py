"""Domain-shaped fixtures shared by every test module."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
from django.test import Client

from tests.factories import build_form, make_actor, make_user, make_workspace

_counter = itertools.count()


def pytest_configure(config: Any) -> None:
    # PBKDF2 at Django's default cost takes ~0.4 s per test user on these machines; the
    # suite creates thousands. Tests never depend on the hash's strength.
    from django.conf import settings

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def workspace(db):
    return make_workspace("acme")


@pytest.fixture
def other_workspace(db):
    return make_workspace("other")


@pytest.fixture
def user_factory(workspace):
    def factory(**kwargs: Any):
        kwargs.setdefault("username", f"user{next(_counter)}")
        return make_user(workspace=kwargs.pop("workspace", workspace), **kwargs)

    return factory


@pytest.fixture
def admin(workspace):
    return make_user("boss", workspace, roles=["admin"], is_admin=True)


@pytest.fixture
def admin_actor(admin, workspace):
    return make_actor(admin, workspace)


@pytest.fixture
def form_factory(admin_actor):
    """``form_factory(fields=[...], key=..., **definition_keys)`` → published Form."""

    def factory(fields: list[dict], **kwargs: Any):
        return build_form(admin_actor, fields, **kwargs)

    return factory


class GraphQLClient:
    """Posts GraphQL to /graphql/ as a user (session) or with a bearer token."""

    def __init__(self) -> None:
        self.client = Client()

    def __call__(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        as_user: Any = None,
        token: str | None = None,
        workspace: str | None = None,
        language: str | None = None,
    ) -> dict[str, Any]:
        response = self.raw(query, variables, as_user, token, workspace, language)
        return response.json()

    def raw(self, query, variables=None, as_user=None, token=None, workspace=None, language=None):
        client = self.client
        client.logout()
        if as_user is not None:
            client.force_login(as_user)
        headers = {}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if workspace:
            headers["X-Workspace"] = workspace
        if language:
            headers["Accept-Language"] = language
        body = json.dumps({"query": query, "variables": variables or {}})
        return client.post("/graphql/", body, content_type="application/json", headers=headers)


@pytest.fixture
def gql(db):
    return GraphQLClient()


__all__ = ["build_form", "make_actor", "make_user", "make_workspace"]
