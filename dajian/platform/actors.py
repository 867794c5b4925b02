"""The actor: who is acting, in which workspace, with which roles and org-chart place.

Services take an :class:`Actor` rather than a request, so GraphQL, the CLI, imports and
automations all go through the same permission checks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from django.contrib.auth.models import User
from django.db.models import Q, QuerySet

from dajian.platform.models import Membership, OrgUnit, Workspace


@dataclass(eq=False)
class Actor:
    """A member acting in a workspace (``system`` actors have no user)."""

    workspace: Workspace
    user: User | None
    membership: Membership | None = None
    roles: frozenset[str] = field(default_factory=frozenset)
    is_admin: bool = False

    @property
    def user_id(self) -> int | None:
        return self.user.pk if self.user is not None else None

    @property
    def label(self) -> str:
        return self.user.get_username() if self.user is not None else "system"

    @cached_property
    def org_unit(self) -> OrgUnit | None:
        if self.membership is None or self.membership.org_unit_id is None:
            return None
        return OrgUnit.objects.filter(pk=self.membership.org_unit_id).first()

    @cached_property
    def managed_unit_paths(self) -> tuple[str, ...]:
        """Paths of the org units this actor manages (their subtrees form the team)."""
        if self.user is None:
            return ()
        return tuple(
            OrgUnit.objects.filter(workspace=self.workspace, manager=self.user).values_list(
                "path", flat=True
            )
        )

    def members_under(self, paths: tuple[str, ...]) -> QuerySet[Membership, Any] | None:
        """User ids of the members of these org-chart subtrees (a subquery), or None."""
        if not paths:
            return None
        unit_q = Q()
        for path in paths:
            unit_q |= Q(org_unit__path__startswith=path)
        return Membership.objects.filter(unit_q, workspace=self.workspace).values("user_id")

    @classmethod
    def system(cls, workspace: Workspace) -> Actor:
        """An actor for work the platform does itself (all permissions, no user)."""
        return cls(workspace=workspace, user=None, is_admin=True)


def actor_for(user: User, workspace: Workspace) -> Actor | None:
    """The actor of ``user`` in ``workspace``, or None when they are not an active member.

    One query: the membership joined with its roles (a row per role).
    """
    rows = list(
        Membership.objects.filter(workspace=workspace, user=user, is_active=True).values_list(
            "pk", "is_admin", "org_unit_id", "roles__key"
        )
    )
    if not rows:
        return None
    pk, is_admin, org_unit_id, _ = rows[0]
    membership = Membership(
        pk=pk, workspace=workspace, user=user, is_admin=is_admin, org_unit_id=org_unit_id
    )
    return Actor(
        workspace=workspace,
        user=user,
        membership=membership,
        roles=frozenset(key for *_, key in rows if key),
        is_admin=is_admin,
    )
