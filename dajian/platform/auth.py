"""Who is calling: session user or ``Authorization: Bearer`` API token, and in which
workspace (the token's, the ``X-Workspace`` header's slug, or the user's default).

Once the workspace is known, the rest of the request runs in its time zone (like
automations and dashboards do): relative dates (``{"ago": {"days": 0}}`` is the
workspace's today), zone-less ``weekday`` / ``hour`` filters and local times mean the
same whichever server answers."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.functional import SimpleLazyObject

from dajian.platform.actors import Actor, actor_for
from dajian.platform.calendars.store import time_zone_of
from dajian.platform.models import Membership, Workspace
from dajian.platform.tokens import actor_for_token


def resolve_actor(request: HttpRequest) -> Actor | None:
    """The request's actor, or None for anonymous callers and non-members."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if header.lower().startswith("bearer "):
        actor = actor_for_token(header[7:].strip())
        if actor is not None:
            request.user = actor.user  # type: ignore[assignment]
        return actor
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return None
    slug = request.META.get("HTTP_X_WORKSPACE", "").strip()
    if slug:
        workspace = Workspace.objects.filter(slug=slug).first()
    else:
        membership = (
            Membership.objects.filter(user=user, is_active=True)
            .select_related("workspace")
            .order_by("id")
            .first()
        )
        workspace = membership.workspace if membership else None
    if workspace is None:
        return None
    return actor_for(user, workspace)


def actor_in_its_time_zone(request: HttpRequest) -> Actor | None:
    """:func:`resolve_actor`, then activate the workspace's time zone for the rest of
    the request (the middleware restores the previous one when the request ends)."""
    actor = resolve_actor(request)
    if actor is not None:
        timezone.activate(time_zone_of(actor.workspace))
    return actor


class WorkspaceMiddleware:
    """Attach ``request.actor`` (lazy: resolved only when something asks for it, which
    also switches the request to the workspace's time zone)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        header = request.META.get("HTTP_AUTHORIZATION", "")
        request.is_token_auth = header.lower().startswith("bearer ")  # type: ignore[attr-defined]
        request.actor = SimpleLazyObject(lambda: actor_in_its_time_zone(request))  # type: ignore[attr-defined]
        # Starts in the server's zone; whatever was active before is back afterwards.
        with timezone.override(None):
            return self.get_response(request)
