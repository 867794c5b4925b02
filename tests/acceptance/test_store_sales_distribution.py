"""The distribution rate per store (R27, R28): shelf checks grouped by their ``store``
relation, labelled with the store's title, each figure drilling down to its checks; and
the upgrade of an app installed from version 1.0.0, which copied “store name (city)”
onto every check for that chart."""

from __future__ import annotations

import copy

import pytest

pytest.register_assert_rewrite("tests.acceptance.store_sales_plugin")

from dajian.app_templates.bundle import bundle_from_json, load_bundle  # noqa: E402
from dajian.app_templates.installer import install_bundle  # noqa: E402
from dajian.builder.models import Metadata  # noqa: E402
from dajian.platform.actors import actor_for  # noqa: E402
from dajian.runtime.models import Record  # noqa: E402
from tests.acceptance.store_sales_plugin import APP, StoreSales, today  # noqa: E402

pytest_plugins = ["tests.acceptance.store_sales_plugin"]

RECORDS = """
query($app: String!, $form: String!, $filter: GenericScalar) {
  records(app: $app, form: $form, filter: $filter, first: 100) { edges { node { id } } }
}
"""
STORE_NAME_FIELD = {
    "key": "store_name",
    "type": "text",
    "label": {"zh-CN": "门店名称（系统带出）", "en": "Store name (from the store)"},
    "max_length": 140,
    "example": "store",
}
STORE_NAME_COPY = {
    "schema_version": 1,
    "form": "shelf_check",
    "label": {"zh-CN": "检查记录带出门店名称", "en": "A shelf check takes the store's name"},
    "trigger": {"type": "record_created"},
    "actions": [
        {
            "type": "set_fields",
            "values": {
                "store_name": "related.store.name + '（' + "
                "(has(related.store.city) ? related.store.city : '') + '）'"
            },
        }
    ],
}


def products(shop: StoreSales, count: int) -> list[dict]:
    return [
        shop.create(
            "admin",
            "product",
            name=f"清泉饮用水 {i + 1}",
            sku_code=f"69581200000{i:02d}",
            product_line="beverage",
            supply_price=20.0,
        )
        for i in range(count)
    ]


def check(shop: StoreSales, username: str, store: dict, product: dict, on_shelf: bool) -> dict:
    values = {"facings": 2, "shelf_price": 3.5} if on_shelf else {}
    return shop.create(
        username,
        "shelf_check",
        store=store["id"],
        product=product["id"],
        checked_on=today().isoformat(),
        on_shelf=on_shelf,
        **values,
    )


def drilled(shop: StoreSales, username: str, drill: dict) -> set[str]:
    data = shop.call(
        username, RECORDS, app=drill["app"], form=drill["form"], filter=drill["filter"]
    )
    return {edge["node"]["id"] for edge in data["records"]["edges"]}


def test_the_distribution_rate_per_store_is_grouped_by_the_store(shop: StoreSales):
    """R27, R28: the supervisor sees each store of the team's checks with its title
    (name and city) and its share of SKUs on the shelf, worst first; each bar drills
    down to exactly the checks behind it."""
    lianhua = shop.store("rep1", "联华超市（徐汇店）", city="上海")
    haode = shop.store("rep2", "好德便利（漕溪北路店）", city="上海")
    skus = products(shop, 4)
    lianhua_checks = [check(shop, "rep1", lianhua, p, on_shelf=i < 3) for i, p in enumerate(skus)]
    haode_checks = [check(shop, "rep2", haode, p, on_shelf=False) for p in skus[:2]]

    widget = shop.dashboard("supervisor")["distribution_by_store"]

    rows = widget["data"]["rows"]
    assert [(r["key"], r["label"], r["values"]["rate"]) for r in rows] == [
        ([haode["id"]], ["好德便利（漕溪北路店） 上海"], 0.0),
        ([lianhua["id"]], ["联华超市（徐汇店） 上海"], 0.75),
    ]
    worst, best = rows
    assert drilled(shop, "supervisor", worst["points"]["rate"]["drill"]) == {
        c["id"] for c in haode_checks
    }
    assert drilled(shop, "supervisor", best["points"]["rate"]["drill"]) == {
        c["id"] for c in lianhua_checks
    }
    assert drilled(shop, "supervisor", best["points"]["rate"]["drill_numerator"]) == {
        c["id"] for c in lianhua_checks[:3]
    }
    # a rep sees their own store only
    (own,) = shop.dashboard("rep2")["distribution_by_store"]["data"]["rows"]
    assert own["label"] == ["好德便利（漕溪北路店） 上海"]


def version_1_0_0() -> object:
    """The bundle as version 1.0.0 shipped it: the checks carried a copy of “store name
    (city)”, made by an automation, and the chart grouped by that copy."""
    payload = copy.deepcopy(load_bundle(APP).as_json())
    manifest, documents = payload["manifest"], payload["documents"]
    manifest["version"] = "1.0.0"
    manifest["automations"].insert(2, "shelf_check_store_name")
    documents["automations/shelf_check_store_name.json"] = STORE_NAME_COPY
    shelf_check = documents["forms/shelf_check.json"]
    shelf_check["fields"].insert(2, STORE_NAME_FIELD)
    for rule in shelf_check["permissions"]:
        if rule["role"] != "admin":
            rule["fields"] = {"store_name": "readonly"}
    documents["forms/store.json"]["title_fields"] = ["name"]
    (chart,) = [
        w
        for w in documents["dashboards/store_overview.json"]["widgets"]
        if w["key"] == "distribution_by_store"
    ]
    chart["group_by"] = [{"field": "store_name"}]
    return bundle_from_json(payload)


def test_an_app_installed_from_1_0_0_upgrades_to_grouping_by_the_store(sales_org):
    """Upgrading from 1.0.0 publishes the shelf check without the copied name, the store
    titled by name and city, and the chart grouped by the store; the copying automation
    is retired; every record is kept."""
    admin = actor_for(sales_org["admin"], sales_org.workspace)
    old = install_bundle(admin, version_1_0_0())
    assert old.action == "installed"
    shop = StoreSales(sales_org)
    store = shop.store("rep1", "联华超市（徐汇店）", city="上海")
    (sku,) = products(shop, 1)
    before = check(shop, "rep1", store, sku, on_shelf=True)
    assert before["data"]["store_name"] == "联华超市（徐汇店）（上海）"
    records = Record.objects.filter(workspace=sales_org.workspace).count()

    report = install_bundle(admin, load_bundle(APP))

    assert report.action == "upgraded"
    assert sorted(report.changed) == [
        "dashboards/store_overview.json",
        "forms/shelf_check.json",
        "forms/store.json",
    ]
    assert report.removed == ["automations/shelf_check_store_name.json"]
    assert Record.objects.filter(workspace=sales_org.workspace).count() == records
    copying = Metadata.objects.get(workspace=sales_org.workspace, key="shelf_check_store_name")
    assert copying.published_id is None
    after = check(shop, "rep1", store, sku, on_shelf=False)
    assert "store_name" not in after["data"]
    (row,) = shop.dashboard("supervisor")["distribution_by_store"]["data"]["rows"]
    assert (row["key"], row["label"], row["values"]["rate"]) == (
        [store["id"]],
        ["联华超市（徐汇店） 上海"],
        0.5,
    )
    assert drilled(shop, "supervisor", row["points"]["rate"]["drill"]) == {
        before["id"],
        after["id"],
    }
