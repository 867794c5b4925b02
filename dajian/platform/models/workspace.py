"""Workspaces and the people in them: memberships, roles and the org chart."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Workspace(models.Model):
    """A tenant. Every other row belongs to exactly one workspace."""

    slug = models.SlugField(max_length=63, unique=True)
    name = models.CharField(max_length=200)
    time_zone = models.CharField(max_length=64, default="Asia/Shanghai")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.slug


class Role(models.Model):
    """A named role in a workspace (``rep``, ``manager``, ``finance``...)."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="roles")
    key = models.SlugField(max_length=63)
    name = models.CharField(max_length=200)
    # Records a member with this role may claim from the public pool per day (R24);
    # None is no limit. A member with several roles gets the highest of their limits.
    daily_claim_limit = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "key"], name="role_unique_key"),
        ]

    def __str__(self) -> str:
        return self.key


class OrgUnit(models.Model):
    """A node of the org chart. ``path`` is the materialised path of ids (``/1/4/9/``),
    so "everything under this unit" is one indexed prefix match."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="org_units")
    name = models.CharField(max_length=200)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    manager = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="managed_units",
    )
    path = models.CharField(max_length=1000, db_index=True, editable=False, default="")

    class Meta:
        indexes = [models.Index(fields=["workspace", "path"], name="orgunit_ws_path")]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    """A user in a workspace, with roles and a place in the org chart."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    org_unit = models.ForeignKey(
        OrgUnit, null=True, blank=True, on_delete=models.SET_NULL, related_name="members"
    )
    roles = models.ManyToManyField(Role, blank=True, related_name="memberships")
    is_admin = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "user"], name="membership_unique_user"),
        ]
        indexes = [models.Index(fields=["workspace", "org_unit"], name="membership_ws_unit")]

    def __str__(self) -> str:
        return f"{self.user_id}@{self.workspace_id}"
