"""A sales organisation that uses the shipped app templates through GraphQL, as its
people would. Each acceptance test names the requirements (R-numbers) it proves.

Org chart (the workspace ``acme``)::

    公司 (director)
    ├── 华东大区 (regional)
    │   └── 销售一组 (supervisor): rep1, rep2
    ├── 华南大区 (regional2)
    │   └── 销售二组 (supervisor2): rep3
    ├── 财务部 (finance)
    └── 产品部 (product)

Roles: rep (rep1–rep3), supervisor and manager (supervisor, supervisor2),
regional_manager (regional, regional2), director, finance, product, delivery, and the
workspace admin ``admin``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from dajian.platform.models import Membership, OrgUnit, Role
from dajian.platform.org import create_org_unit
from tests.factories import make_user

INSTALL = """
mutation($key: String!, $sample: Boolean) {
  installTemplate(input: {key: $key, sampleData: $sample}) {
    app { key }
    report { action added changed removed unchanged }
    errors { field path code message }
  }
}
"""


@dataclass
class SalesOrg:
    workspace: Any
    people: dict[str, Any]
    units: dict[str, OrgUnit]
    gql: Any

    def __getitem__(self, username: str) -> Any:
        return self.people[username]

    def call(self, username: str, query: str, **variables: Any) -> dict[str, Any]:
        """Run ``query`` as ``username``; returns the ``data`` (fails on GraphQL errors)."""
        body = self.gql(query, variables, as_user=self.people[username])
        assert "errors" not in body, body.get("errors")
        return body["data"]  # type: ignore[no-any-return]

    def install(self, key: str, sample_data: bool = False) -> dict[str, Any]:
        result = self.call("admin", INSTALL, key=key, sample=sample_data)["installTemplate"]
        assert result["errors"] == [], result["errors"]
        return result  # type: ignore[no-any-return]


def _member(workspace: Any, username: str, unit: OrgUnit | None, roles: list[str]) -> Any:
    return make_user(username, workspace, roles=roles, org_unit=unit)


@pytest.fixture
def sales_org(workspace, gql) -> SalesOrg:
    people: dict[str, Any] = {}
    people["admin"] = make_user("admin", workspace, roles=["admin"], is_admin=True)
    people["director"] = make_user("director", workspace, roles=["director"])
    company = create_org_unit(workspace, "公司", manager=people["director"])
    Membership.objects.filter(workspace=workspace, user=people["director"]).update(org_unit=company)
    units: dict[str, OrgUnit] = {"company": company}
    for suffix, region_name, team_name, reps in (
        ("", "华东大区", "销售一组", ["rep1", "rep2"]),
        ("2", "华南大区", "销售二组", ["rep3"]),
    ):
        regional = make_user(f"regional{suffix}", workspace, roles=["regional_manager"])
        region = create_org_unit(workspace, region_name, parent=company, manager=regional)
        Membership.objects.filter(workspace=workspace, user=regional).update(org_unit=region)
        supervisor = make_user(f"supervisor{suffix}", workspace, roles=["supervisor", "manager"])
        team = create_org_unit(workspace, team_name, parent=region, manager=supervisor)
        Membership.objects.filter(workspace=workspace, user=supervisor).update(org_unit=team)
        people[f"regional{suffix}"] = regional
        people[f"supervisor{suffix}"] = supervisor
        units[f"region{suffix}"] = region
        units[f"team{suffix}"] = team
        for rep in reps:
            people[rep] = _member(workspace, rep, team, ["rep"])
    for username, unit_name, roles in (
        ("finance", "财务部", ["finance"]),
        ("product", "产品部", ["product"]),
        ("delivery", "交付部", ["delivery"]),
    ):
        unit = create_org_unit(workspace, unit_name, parent=company)
        units[username] = unit
        people[username] = _member(workspace, username, unit, roles)
    assert Role.objects.filter(workspace=workspace, key="rep").exists()
    return SalesOrg(workspace=workspace, people=people, units=units, gql=gql)
