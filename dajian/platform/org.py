"""The org chart: creating and moving units keeps the materialised paths right."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db import transaction

from dajian.platform.models import OrgUnit, Workspace


@transaction.atomic
def create_org_unit(
    workspace: Workspace,
    name: str,
    parent: OrgUnit | None = None,
    manager: User | None = None,
) -> OrgUnit:
    """Create a unit under ``parent`` (a root when None) with an optional manager."""
    if parent is not None and parent.workspace_id != workspace.pk:
        raise ValueError("parent belongs to another workspace")
    unit = OrgUnit.objects.create(workspace=workspace, name=name, parent=parent, manager=manager)
    unit.path = f"{parent.path if parent else '/'}{unit.pk}/"
    unit.save(update_fields=["path"])
    return unit
