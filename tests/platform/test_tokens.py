"""API tokens: hashed at rest, expiry and revocation, and the token's workspace wins."""

from __future__ import annotations

import hashlib
import io
from datetime import timedelta

import pytest
from django.test import RequestFactory
from django.utils import timezone

from dajian.platform.auth import resolve_actor
from dajian.platform.models import ApiToken, Membership
from dajian.platform.tokens import actor_for_token, hash_token, issue_token
from tests.factories import make_user


@pytest.fixture
def rep(workspace):
    return make_user("rep", workspace, roles=["rep"])


def bearer_request(plain: str, **headers):
    return RequestFactory().get("/graphql/", HTTP_AUTHORIZATION=f"Bearer {plain}", **headers)


def test_only_the_hash_of_the_token_is_stored(rep, workspace):
    token, plain = issue_token(rep, workspace, name="erp")

    stored = ApiToken.objects.get(pk=token.pk)
    assert stored.token_hash == hashlib.sha256(plain.encode()).hexdigest()
    stored_text = " ".join(
        str(v) for v in ApiToken.objects.filter(pk=token.pk).values().get().values()
    )
    assert plain not in stored_text
    assert plain.split("_")[-1] not in stored_text  # nor its secret part
    assert plain.startswith(f"dj_{stored.prefix}_")


def test_a_live_token_authenticates(rep, workspace):
    _, plain = issue_token(rep, workspace, expires_at=timezone.now() + timedelta(minutes=1))

    actor = actor_for_token(plain)

    assert actor is not None
    assert (actor.user.pk, actor.workspace.pk, actor.roles) == (rep.pk, workspace.pk, {"rep"})
    assert ApiToken.objects.get(token_hash=hash_token(plain)).last_used_at is not None


def test_an_expired_token_fails(rep, workspace):
    _, plain = issue_token(rep, workspace, expires_at=timezone.now() - timedelta(seconds=1))

    assert actor_for_token(plain) is None
    assert resolve_actor(bearer_request(plain)) is None


def test_a_revoked_token_fails(rep, workspace):
    token, plain = issue_token(rep, workspace)
    ApiToken.objects.filter(pk=token.pk).update(revoked_at=timezone.now())

    assert actor_for_token(plain) is None
    assert resolve_actor(bearer_request(plain)) is None


def test_a_token_of_a_deactivated_user_fails(rep, workspace):
    _, plain = issue_token(rep, workspace)
    rep.is_active = False
    rep.save()

    assert actor_for_token(plain) is None
    assert resolve_actor(bearer_request(plain)) is None


@pytest.mark.parametrize("plain", ["", "dj_", "nope", "dj_abcd_" + "x" * 300])
def test_malformed_tokens_fail(db, plain):
    assert actor_for_token(plain) is None
    assert resolve_actor(bearer_request(plain)) is None


def test_the_tokens_workspace_wins_over_the_workspace_header(rep, workspace, other_workspace):
    # given a user in two workspaces, with a token for the first
    Membership.objects.create(workspace=other_workspace, user=rep)
    _, plain = issue_token(rep, workspace)

    actor = resolve_actor(bearer_request(plain, HTTP_X_WORKSPACE=other_workspace.slug))

    assert actor is not None
    assert actor.workspace == workspace
    assert actor.user == rep


def test_a_token_stops_working_when_membership_ends(rep, workspace):
    _, plain = issue_token(rep, workspace)
    rep.memberships.filter(workspace=workspace).update(is_active=False)

    assert resolve_actor(bearer_request(plain)) is None


@pytest.mark.parametrize("expired", [True, False])
def test_expired_token_is_refused_by_the_endpoints(
    client, settings, tmp_path, rep, workspace, expired
):
    settings.MEDIA_ROOT = tmp_path
    delta = timedelta(seconds=-1 if expired else 60)
    _, plain = issue_token(rep, workspace, expires_at=timezone.now() + delta)

    response = client.post(
        "/api/uploads/", {"file": _text_file()}, HTTP_AUTHORIZATION=f"Bearer {plain}"
    )

    assert response.status_code == (401 if expired else 201)


def _text_file() -> io.BytesIO:
    stream = io.BytesIO(b"hello\n")
    stream.name = "hello.txt"
    return stream
