"""Fixtures of the app-template tests: the fixture bundles under ``bundles/`` as an
extra template folder, and a sales team to own sample data."""

from __future__ import annotations

from pathlib import Path

import pytest

from dajian.platform.models import Membership
from dajian.platform.org import create_org_unit
from tests.factories import make_actor, make_user

BUNDLES = Path(__file__).resolve().parent / "bundles"


@pytest.fixture(autouse=True)
def template_dirs(settings, tmp_path):
    settings.DAJIAN = {**settings.DAJIAN, "TEMPLATE_DIRS": [str(BUNDLES)]}
    settings.MEDIA_ROOT = tmp_path / "media"  # sample photos
    return BUNDLES


@pytest.fixture
def team(workspace, admin):
    """A manager with two reps in one unit (roles rep / manager), plus the admin."""
    manager = make_user("manager", workspace, roles=["manager"])
    unit = create_org_unit(workspace, "销售一组", manager=manager)
    Membership.objects.filter(workspace=workspace, user=manager).update(org_unit=unit)
    reps = [make_user(f"rep{i}", workspace, roles=["rep"], org_unit=unit) for i in (1, 2)]
    return {"manager": manager, "reps": reps, "unit": unit, "admin": admin}


@pytest.fixture
def rep_actor(team, workspace):
    return make_actor(team["reps"][0], workspace)


def variant(key: str = "mini_crm", change=None):
    """The fixture bundle ``key`` with ``change(manifest, documents)`` applied (in
    memory), checked like a bundle on disk."""
    import copy

    from dajian.app_templates.bundle import bundle_from_json, load_bundle

    payload = copy.deepcopy(load_bundle(key).as_json())
    if change is not None:
        change(payload["manifest"], payload["documents"])
    return bundle_from_json(payload)


OVERVIEW = {
    "schema_version": 1,
    "name": {"zh-CN": "客户概览", "en": "Customer overview"},
    "widgets": [
        {
            "key": "customers",
            "type": "kpi",
            "title": {"zh-CN": "客户数", "en": "Customers"},
            "form": "customer",
            "measures": [{"key": "n", "function": "count"}],
        }
    ],
}
