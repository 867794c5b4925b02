"""The platform's queries (``me``, ``workCalendar``) and mutations (``saveWorkCalendar``)."""

from __future__ import annotations

from typing import Any

import graphene
from graphql_relay import to_global_id

from dajian.platform.graphql.base import current_actor
from dajian.platform.graphql.calendar import CalendarMutation, CalendarQuery


class WorkspaceType(graphene.ObjectType):
    class Meta:
        name = "Workspace"

    slug = graphene.String(required=True)
    name = graphene.String(required=True)
    time_zone = graphene.String(required=True)


class OrgUnitType(graphene.ObjectType):
    class Meta:
        name = "OrgUnit"

    id = graphene.ID(required=True)
    name = graphene.String(required=True)

    def resolve_id(unit: Any, info: Any) -> str:
        return to_global_id("OrgUnit", unit.pk)


class Me(graphene.ObjectType):
    """The caller: user, workspace, roles and place in the org chart."""

    id = graphene.ID(required=True)
    username = graphene.String(required=True)
    display_name = graphene.String(required=True)
    workspace = graphene.Field(WorkspaceType, required=True)
    roles = graphene.List(graphene.NonNull(graphene.String), required=True)
    is_admin = graphene.Boolean(required=True)
    org_unit = graphene.Field(OrgUnitType)
    can_design = graphene.Boolean(required=True)

    def resolve_id(actor: Any, info: Any) -> str:
        return to_global_id("User", actor.user_id)

    def resolve_username(actor: Any, info: Any) -> str:
        return actor.user.get_username()

    def resolve_display_name(actor: Any, info: Any) -> str:
        return actor.user.get_full_name() or actor.user.get_username()

    def resolve_workspace(actor: Any, info: Any) -> Any:
        return actor.workspace

    def resolve_roles(actor: Any, info: Any) -> list[str]:
        return sorted(actor.roles)

    def resolve_is_admin(actor: Any, info: Any) -> bool:
        return bool(actor.is_admin)

    def resolve_org_unit(actor: Any, info: Any) -> Any:
        return actor.org_unit

    def resolve_can_design(actor: Any, info: Any) -> bool:
        from dajian.platform.permissions import DESIGNER_ROLES

        return actor.is_admin or bool(actor.roles & DESIGNER_ROLES)


class PlatformQuery(CalendarQuery, graphene.ObjectType):
    me = graphene.Field(Me, required=True, description="The caller (requires sign-in).")

    def resolve_me(root: Any, info: Any) -> Any:
        return current_actor(info)


class PlatformMutation(CalendarMutation, graphene.ObjectType):
    """The platform's mutations (``saveWorkCalendar``)."""
