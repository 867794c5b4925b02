"""``dajian demo`` installs both shipped templates with sample data, so ``make run``
shows the store sales and B2B sales systems working. Idempotent: a later run finds them
installed and changes nothing (sample data is only written by a fresh install)."""

from __future__ import annotations

from django.contrib.auth import get_user_model

from dajian.app_templates.installer import install_template
from dajian.platform.actors import actor_for
from dajian.platform.models import Membership, Role, Workspace

TEMPLATES = ("store_sales", "b2b_sales")
SAMPLE_RECORDS = 300
# The demo's manager also heads the store reps (supervisor) and approves as director.
EXTRA_ROLES = {"manager": ("supervisor", "director")}


def install_demo_templates(workspace: Workspace) -> None:
    admin_user = get_user_model().objects.filter(username="admin").first()
    admin = actor_for(admin_user, workspace) if admin_user is not None else None
    if admin is None:
        return
    for key in TEMPLATES:
        install_template(admin, key, sample_data=True, records=SAMPLE_RECORDS)
    for username, role_keys in EXTRA_ROLES.items():
        membership = Membership.objects.filter(workspace=workspace, user__username=username).first()
        if membership is not None:
            membership.roles.add(*Role.objects.filter(workspace=workspace, key__in=role_keys))
