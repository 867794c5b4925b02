"""GraphQL: ``templates``, ``installTemplate``, ``uninstallApp`` and ``exportApp``."""

from __future__ import annotations

import pytest

from dajian.builder.models import App
from dajian.runtime.models import Record

pytestmark = pytest.mark.django_db

TEMPLATES = """
query {
  templates {
    key name description category version hash installedVersion
    contents { forms workflows approvalChains automations dashboards roles }
  }
}
"""
INSTALL = """
mutation($key: String!, $sample: Boolean, $records: Int) {
  installTemplate(input: {key: $key, sampleData: $sample, records: $records}) {
    app { key name version }
    report { action added changed removed unchanged kept roles records }
    errors { field path code message }
  }
}
"""
UNINSTALL = """
mutation($key: String!, $purge: Boolean) {
  uninstallApp(input: {key: $key, purge: $purge}) {
    app { key }
    purged
    errors { code message }
  }
}
"""
EXPORT = "query($key: String!) { exportApp(key: $key) }"


def listed(gql, user) -> dict:
    body = gql(TEMPLATES, as_user=user, language="en")
    assert "errors" not in body, body
    return {t["key"]: t for t in body["data"]["templates"]}


def test_templates_list_what_each_template_holds(gql, admin, team):
    templates = listed(gql, team["reps"][0])  # any member may look at the market

    crm = templates["mini_crm"]
    assert crm["name"] == "Mini CRM" and crm["version"] == "1.0.0"
    assert crm["category"] == "sales" and len(crm["hash"]) == 64
    assert crm["contents"] == {
        "forms": ["product", "visit", "customer", "opportunity"],
        "workflows": ["opportunity"],
        "approvalChains": ["deal_approval"],
        "automations": ["silent_customer"],
        "dashboards": [],
        "roles": ["rep", "manager"],
    }
    assert crm["installedVersion"] is None
    assert {"b2b_sales", "store_sales", "mutual"} <= set(templates)

    gql(INSTALL, {"key": "mini_crm"}, as_user=admin)
    assert listed(gql, admin)["mini_crm"]["installedVersion"] == "1.0.0"


def test_install_is_denied_to_members_and_allowed_to_admins(gql, admin, team):
    denied = gql(INSTALL, {"key": "mini_crm"}, as_user=team["manager"])["data"]["installTemplate"]
    assert [e["code"] for e in denied["errors"]] == ["PERMISSION_DENIED"]
    assert not App.objects.exists()

    done = gql(INSTALL, {"key": "mini_crm", "sample": True, "records": 12}, as_user=admin)
    result = done["data"]["installTemplate"]

    assert result["errors"] == []
    assert result["app"]["key"] == "mini_crm" and result["app"]["version"] == "1.0.0"
    assert result["report"]["action"] == "installed"
    assert result["report"]["records"] == 14  # 12 generated + 2 fixed products
    assert Record.objects.count() == 14

    again = gql(INSTALL, {"key": "mini_crm"}, as_user=admin)["data"]["installTemplate"]
    assert again["report"]["action"] == "unchanged"


def test_install_refusals_are_typed(gql, admin):
    unknown = gql(INSTALL, {"key": "no_such"}, as_user=admin)["data"]["installTemplate"]
    assert [e["code"] for e in unknown["errors"]] == ["NOT_FOUND"]

    too_many = gql(INSTALL, {"key": "mini_crm", "records": 10**6}, as_user=admin)
    errors = too_many["data"]["installTemplate"]["errors"]
    assert [(e["code"], e["field"]) for e in errors] == [("LIMIT_EXCEEDED", "records")]
    assert not App.objects.exists()


def test_uninstall_and_purge(gql, admin, team):
    gql(INSTALL, {"key": "mini_crm", "sample": True, "records": 5}, as_user=admin)

    denied = gql(UNINSTALL, {"key": "mini_crm"}, as_user=team["manager"])["data"]["uninstallApp"]
    assert [e["code"] for e in denied["errors"]] == ["PERMISSION_DENIED"]

    archived = gql(UNINSTALL, {"key": "mini_crm"}, as_user=admin)["data"]["uninstallApp"]
    assert archived == {"app": {"key": "mini_crm"}, "purged": False, "errors": []}
    assert Record.objects.exists()

    purged = gql(UNINSTALL, {"key": "mini_crm", "purge": True}, as_user=admin)["data"]
    assert purged["uninstallApp"] == {"app": None, "purged": True, "errors": []}
    assert not Record.objects.exists()

    gone = gql(UNINSTALL, {"key": "mini_crm"}, as_user=admin)["data"]["uninstallApp"]
    assert [e["code"] for e in gone["errors"]] == ["NOT_FOUND"]


def test_export_app(gql, admin, team):
    gql(INSTALL, {"key": "mini_crm"}, as_user=admin)

    denied = gql(EXPORT, {"key": "mini_crm"}, as_user=team["manager"])
    assert denied["errors"][0]["extensions"]["code"] == "PERMISSION_DENIED"
    missing = gql(EXPORT, {"key": "ghost"}, as_user=admin)
    assert missing["errors"][0]["extensions"]["code"] == "NOT_FOUND"

    bundle = gql(EXPORT, {"key": "mini_crm"}, as_user=admin)["data"]["exportApp"]

    assert bundle["manifest"]["key"] == "mini_crm"
    assert "forms/customer.json" in bundle["documents"]
    assert len(bundle["hash"]) == 64
