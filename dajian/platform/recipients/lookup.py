"""What a list of recipient specs needs, loaded in a bounded number of queries.

Types first declare their needs (usernames, roles, whose org-chart place), then one
:meth:`Lookup.load` runs at most one query per kind of need: users by name, role
members, the subjects' memberships and all their org units' ancestors (the materialised
``path`` lists every ancestor id, so walking up the chart is never a query per level).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model

from dajian.platform.models import Membership, OrgUnit, Workspace
from dajian.platform.recipients.base import Subject


@dataclass(frozen=True)
class RecipientContext:
    """What resolution may look at: the record's owner and data, the submitter."""

    workspace: Workspace
    owner_id: int | None
    submitter_id: int | None = None
    data: Mapping[str, Any] = field(default_factory=dict)


def _path_ids(path: str) -> list[int]:
    """``/1/4/9/`` → ``[1, 4, 9]`` (root first)."""
    return [int(part) for part in path.strip("/").split("/") if part.isdigit()]


class Lookup:
    """Declared needs, then their loaded answers (see the module docstring)."""

    def __init__(self, ctx: RecipientContext):
        self.ctx = ctx
        self._usernames: set[str] = set()
        self._roles: set[str] = set()
        self._subjects: set[Subject] = set()
        self._user_ids: dict[str, int] = {}
        self._role_members: dict[str, list[int]] = {}
        # Per subject: the managers of its unit and every ancestor, root first.
        self._unit_managers: dict[Subject, list[int | None]] = {}

    # --- declaring ---------------------------------------------------------------------
    def want_usernames(self, names: Iterable[str]) -> None:
        self._usernames.update(names)

    def want_role(self, key: str) -> None:
        self._roles.add(key)

    def want_org_chart(self, subject: Subject) -> None:
        self._subjects.add(subject)

    # --- loading -----------------------------------------------------------------------
    def subject_id(self, subject: Subject) -> int | None:
        return self.ctx.owner_id if subject == Subject.OWNER else self.ctx.submitter_id

    def load(self) -> None:
        """Run the queries the declared needs call for (none for none)."""
        workspace = self.ctx.workspace
        if self._usernames:
            self._user_ids = dict(
                get_user_model()
                .objects.filter(username__in=self._usernames, memberships__workspace=workspace)
                .values_list("username", "pk")
            )
        if self._roles:
            rows = (
                Membership.objects.filter(
                    workspace=workspace,
                    is_active=True,
                    user__is_active=True,
                    roles__key__in=self._roles,
                )
                .order_by("user_id")
                .values_list("roles__key", "user_id")
            )
            for key, user_id in rows:
                self._role_members.setdefault(key, []).append(user_id)
        self._load_org_chart()

    def _load_org_chart(self) -> None:
        subject_ids = {s: self.subject_id(s) for s in self._subjects}
        wanted = {uid for uid in subject_ids.values() if uid is not None}
        if not wanted:
            return
        paths = dict(
            Membership.objects.filter(
                workspace=self.ctx.workspace, user_id__in=wanted, org_unit__isnull=False
            ).values_list("user_id", "org_unit__path")
        )
        unit_ids = {uid for path in paths.values() for uid in _path_ids(path)}
        managers = (
            dict(
                OrgUnit.objects.filter(workspace=self.ctx.workspace, pk__in=unit_ids).values_list(
                    "pk", "manager_id"
                )
            )
            if unit_ids
            else {}
        )
        for subject, user_id in subject_ids.items():
            path = paths.get(user_id) if user_id is not None else None
            if path:
                self._unit_managers[subject] = [managers.get(u) for u in _path_ids(path)]

    # --- answers -----------------------------------------------------------------------
    def user_ids(self, usernames: Iterable[str]) -> list[int]:
        """Ids of the named workspace users, in the order given (unknown names skipped)."""
        return [self._user_ids[n] for n in usernames if n in self._user_ids]

    def role_members(self, key: str) -> list[int]:
        """Active members with the role, by user id."""
        return self._role_members.get(key, [])

    def managers(self, subject: Subject) -> list[int]:
        """The distinct managers above the subject, nearest first: the manager of the
        subject's unit (skipped when it is the subject), then of each ancestor unit."""
        subject_id = self.subject_id(subject)
        found: list[int] = []
        for manager_id in reversed(self._unit_managers.get(subject, [])):
            if manager_id is not None and manager_id != subject_id and manager_id not in found:
                found.append(manager_id)
        return found

    def unit_manager_at_depth(self, subject: Subject, depth: int) -> int | None:
        """The manager of the subject's unit ancestor at ``depth`` (root = 0)."""
        chain = self._unit_managers.get(subject, [])
        return chain[depth] if depth < len(chain) else None

    def active_members(self, user_ids: Iterable[int]) -> set[int]:
        """The given users who are active members of the workspace (one query)."""
        ids = set(user_ids)
        if not ids:
            return set()
        return set(
            Membership.objects.filter(
                workspace=self.ctx.workspace,
                is_active=True,
                user__is_active=True,
                user_id__in=ids,
            ).values_list("user_id", flat=True)
        )
