"""Installing the store sales app with sample data (R34): realistic Chinese records
whose relations point at existing records, evidence flags where evidence is missing,
and dashboards that compute over them."""

from __future__ import annotations

import re

import pytest

pytest.register_assert_rewrite("tests.acceptance.store_sales_plugin")

from dajian.runtime.models import Record  # noqa: E402
from tests.acceptance.store_sales_plugin import APP, StoreSales  # noqa: E402

pytest_plugins = ["tests.acceptance.store_sales_plugin"]

INSTALL = """
mutation($key: String!, $records: Int) {
  installTemplate(input: {key: $key, sampleData: true, records: $records}) {
    app { key }
    report { action records }
    errors { field path code message }
  }
}
"""
TEMPLATES = """
query { templates { key name version contents { forms automations dashboards roles } } }
"""
EVIDENCE = (
    "checkin_location",
    "storefront_photos",
    "shelf_photos",
    "issue_solved",
    "customer_needs",
    "next_follow_up_at",
)
HAN = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture
def sample(sales_org) -> StoreSales:
    result = sales_org.call("admin", INSTALL, key=APP, records=80)["installTemplate"]
    assert result["errors"] == [], result["errors"]
    assert result["report"]["action"] == "installed"
    return StoreSales(sales_org)


def test_the_template_is_listed_for_the_app_market(sales_org):
    """R34: the app market lists the store sales system with what it contains."""
    (listed,) = [t for t in sales_org.call("admin", TEMPLATES)["templates"] if t["key"] == APP]
    assert listed["name"] == "门店销售管理系统"
    assert {"store", "visit", "shelf_check", "order", "sales_script"} <= set(
        listed["contents"]["forms"]
    )
    assert {"rep", "supervisor", "regional_manager", "admin"} <= set(listed["contents"]["roles"])


def test_sample_data_is_realistic_and_the_dashboards_compute(sample: StoreSales):
    """R34, R3, R27, R30: sample stores have Chinese names and cities; visits, checks and
    orders point at sample stores and products; visits missing evidence are pending
    verification; every dashboard widget computes over the sample."""
    stores = sample.records("admin", "store")
    assert stores and all(HAN.search(s["data"]["name"]) for s in stores)
    assert all(HAN.search(s["data"]["city"]) for s in stores)
    products = {p["id"] for p in sample.records("admin", "product")}
    assert len(products) == 14  # the bundle's fixed product list
    store_ids = {s["id"] for s in stores}
    visits = sample.records("admin", "visit")
    assert visits and {v["data"]["store"] for v in visits} <= store_ids
    orders = sample.records("admin", "order")
    assert orders and {o["data"]["store"] for o in orders} <= store_ids
    lines = [line for o in orders for line in o["data"]["lines"]]
    assert {line["product"] for line in lines} <= products
    for order in orders:
        assert order["data"]["total_amount"] == pytest.approx(
            sum(line["amount"] for line in order["data"]["lines"])
        )
    missing = [v for v in visits if any(not v["data"].get(key) for key in EVIDENCE)]
    assert missing and all("pending_verification" in v["flags"] for v in missing)
    scripts = sample.records("rep1", "sales_script")
    assert len(scripts) == 8 and all(s["data"]["regions"] for s in scripts)

    for key in ("store_overview", "data_health"):
        widgets = sample.dashboard("admin", key)
        assert all(w["data"] is not None for w in widgets.values())
    overview = sample.dashboard("admin")
    kpi = overview["valid_visit_rate"]
    rate = kpi["data"]["value"]
    assert kpi["color"] == (
        None if rate is None else "green" if rate >= 0.65 else "yellow" if rate >= 0.45 else "red"
    )
    completeness = sample.dashboard("admin", "data_health")["store_completeness"]["data"]
    assert completeness["rows"] and all(
        0 <= row["values"]["filled"] <= 1 for row in completeness["rows"]
    )
    assert Record.objects.filter(workspace=sample.org.workspace, form__app__key=APP).count() > 80
