"""The one permission mechanism (R23).

Per form and role: ``create`` (bool) and ``read`` / ``update`` / ``delete`` row scopes
(``none | own | team | department | all``), plus field modes (``hidden | readonly``).
Rules come from metadata (the form definition's ``permissions`` list); this module only
knows how to combine them for an actor and turn a scope into a queryset condition.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from django.db.models import Q

from dajian.platform.actors import Actor


class RowScope(StrEnum):
    NONE = "none"
    OWN = "own"
    TEAM = "team"
    DEPARTMENT = "department"
    ALL = "all"


class Action(StrEnum):
    CREATE = "create"
    READ = "read"
    UPDATE = "update"
    DELETE = "delete"


# Roles that may edit metadata (forms, workflows...) besides workspace admins.
DESIGNER_ROLES = frozenset({"admin", "designer"})

# Used when a form declares no permissions at all: members create and read everything
# and change what they own; workspace admins always have every right.
DEFAULT_RULES: list[dict[str, Any]] = [
    {"role": "*", "create": True, "read": "all", "update": "own", "delete": "own"}
]


@dataclass(frozen=True)
class FormPolicy:
    """What one actor may do on one form."""

    can_create: bool
    scopes: Mapping[Action, frozenset[RowScope]]
    hidden_fields: frozenset[str]
    readonly_fields: frozenset[str]

    def allows(self, action: Action) -> bool:
        if action == Action.CREATE:
            return self.can_create
        return any(s != RowScope.NONE for s in self.scopes[action])

    @property
    def sees_pool(self) -> bool:
        """Whether the actor sees the form's public pool (R24), the records nobody owns:
        those who may create records of the form and read some of them may claim them."""
        return self.can_create and self.allows(Action.READ)


FULL_POLICY = FormPolicy(
    can_create=True,
    scopes={a: frozenset({RowScope.ALL}) for a in Action},
    hidden_fields=frozenset(),
    readonly_fields=frozenset(),
)


def resolve_policy(actor: Actor, rules: Iterable[Mapping[str, Any]] | None) -> FormPolicy:
    """Combine the rules that match the actor's roles: the widest grant wins; a field is
    hidden (or read-only) only if every matching rule hides it (or restricts it)."""
    if actor.is_admin:
        return FULL_POLICY
    rules = list(rules) if rules else DEFAULT_RULES
    matching = [r for r in rules if r.get("role") == "*" or r.get("role") in actor.roles]
    if not matching:
        return FormPolicy(
            can_create=False,
            scopes={a: frozenset({RowScope.NONE}) for a in Action},
            hidden_fields=frozenset(),
            readonly_fields=frozenset(),
        )
    scopes: dict[Action, frozenset[RowScope]] = {}
    for action in (Action.READ, Action.UPDATE, Action.DELETE):
        granted = {RowScope(r.get(action.value, "none")) for r in matching}
        if RowScope.ALL in granted:
            granted = {RowScope.ALL}
        granted.discard(RowScope.NONE)
        scopes[action] = frozenset(granted or {RowScope.NONE})
    scopes[Action.CREATE] = frozenset({RowScope.ALL})
    field_modes = [dict(r.get("fields") or {}) for r in matching]
    hidden = set.intersection(*({k for k, v in m.items() if v == "hidden"} for m in field_modes))
    restricted = set.intersection(
        *({k for k, v in m.items() if v in ("hidden", "readonly")} for m in field_modes)
    )
    return FormPolicy(
        can_create=any(bool(r.get("create")) for r in matching),
        scopes=scopes,
        hidden_fields=frozenset(hidden),
        readonly_fields=frozenset(restricted - hidden),
    )


def scope_condition(actor: Actor, scopes: frozenset[RowScope], owner_field: str = "owner") -> Q:
    """The row condition for ``scopes`` on a model whose owner is ``owner_field``.

    Returns a condition that matches nothing when no scope grants access.
    """
    if RowScope.ALL in scopes:
        return Q()
    condition = Q(pk__in=[])
    if actor.user is None:
        return condition
    owner_id = f"{owner_field}_id"
    if scopes & {RowScope.OWN, RowScope.TEAM, RowScope.DEPARTMENT}:
        condition |= Q(**{owner_id: actor.user_id})
    paths: list[str] = []
    if RowScope.TEAM in scopes:
        paths.extend(actor.managed_unit_paths)
    if RowScope.DEPARTMENT in scopes and actor.org_unit is not None:
        paths.append(actor.org_unit.path)
    members = actor.members_under(tuple(paths))
    if members is not None:
        condition |= Q(**{f"{owner_id}__in": members})
    return condition
