"""``dajian demo``: the demo workspace with its people (idempotent, safe to re-run).

Workspace ``demo``; users ``admin`` (workspace admin), ``manager`` and the reps ``rep1``
and ``rep2``, who sit in the "Sales 销售部" unit that ``manager`` heads. Every run
(re)sets the passwords — ``DAJIAN_DEMO_PASSWORD`` when set, else freshly generated —
and prints them, then runs the demo hooks (:mod:`dajian.platform.demo_hooks`).
"""

from __future__ import annotations

import secrets
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from dajian.platform import demo_hooks
from dajian.platform.models import Membership, OrgUnit, Role, Workspace
from dajian.platform.org import create_org_unit

WORKSPACE_SLUG = "demo"
WORKSPACE_NAME = "Demo 演示"
SALES_UNIT = "Sales 销售部"
URL = "http://127.0.0.1:8000"
ROLES = {"admin": "Administrator 管理员", "manager": "Manager 经理", "rep": "Sales rep 销售代表"}
# username → (role key, workspace admin?)
PEOPLE = {
    "admin": ("admin", True),
    "manager": ("manager", False),
    "rep1": ("rep", False),
    "rep2": ("rep", False),
}
REPS = ("rep1", "rep2")


class Command(BaseCommand):
    help = "Create (or refresh) the demo workspace and its users, and print their logins."

    def handle(self, *args: Any, **options: Any) -> None:
        configured = settings.DAJIAN.get("DEMO_PASSWORD") or ""
        passwords = {name: configured or secrets.token_urlsafe(9) for name in PEOPLE}
        with transaction.atomic():
            workspace = self._workspace()
            users = {name: self._member(workspace, name, passwords[name]) for name in PEOPLE}
            self._sales_unit(workspace, manager=users["manager"], reps=[users[r] for r in REPS])
        # Outside the people's transaction: a failing demo app must not undo the logins.
        demo_hooks.run(workspace)
        self._print_logins(passwords)

    def _workspace(self) -> Workspace:
        workspace, _ = Workspace.objects.get_or_create(
            slug=WORKSPACE_SLUG, defaults={"name": WORKSPACE_NAME}
        )
        return workspace

    def _member(self, workspace: Workspace, username: str, password: str):
        role_key, is_admin = PEOPLE[username]
        user_model = get_user_model()
        lookup: dict[str, Any] = {user_model.USERNAME_FIELD: username}
        user, _ = user_model.objects.get_or_create(**lookup)
        user.set_password(password)
        user.is_active = True
        user.save()
        membership, _ = Membership.objects.get_or_create(workspace=workspace, user=user)
        if not membership.is_active or membership.is_admin != is_admin:
            membership.is_active = True
            membership.is_admin = is_admin
            membership.save(update_fields=["is_active", "is_admin"])
        role, _ = Role.objects.get_or_create(
            workspace=workspace, key=role_key, defaults={"name": ROLES[role_key]}
        )
        membership.roles.add(role)
        return user

    def _sales_unit(self, workspace: Workspace, manager, reps: list) -> OrgUnit:
        unit = OrgUnit.objects.filter(workspace=workspace, name=SALES_UNIT, parent=None).first()
        if unit is None:
            unit = create_org_unit(workspace, SALES_UNIT, manager=manager)
        elif unit.manager_id != manager.pk:
            unit.manager = manager
            unit.save(update_fields=["manager"])
        Membership.objects.filter(workspace=workspace, user__in=reps).update(org_unit=unit)
        return unit

    def _print_logins(self, passwords: dict[str, str]) -> None:
        width = max(len(p) for p in passwords.values())
        self.stdout.write(f"Dajian demo workspace '{WORKSPACE_SLUG}' is ready: {URL}")
        self.stdout.write(f"{'username':<10} {'password':<{width}} role")
        for name, password in passwords.items():
            role_key, is_admin = PEOPLE[name]
            role = f"{role_key} (workspace admin)" if is_admin else role_key
            self.stdout.write(f"{name:<10} {password:<{width}} {role}")
