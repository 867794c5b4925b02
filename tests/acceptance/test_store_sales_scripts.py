"""The sales-script knowledge base of the store sales app (R35): scripts tagged by
customer stage, objection type, product line and region, found by describing the
situation, with their use counted."""

from __future__ import annotations

import pytest

pytest.register_assert_rewrite("tests.acceptance.store_sales_plugin")

from tests.acceptance.store_sales_plugin import StoreSales  # noqa: E402

pytest_plugins = ["tests.acceptance.store_sales_plugin"]

SCRIPTS = [
    {
        "title": "老板嫌进价高：算单箱毛利",
        "situation": "店主说我们的进价比隔壁批发部贵，不想进货",
        "script": "您看这一箱 24 瓶，按建议零售价卖，每箱毛利比同类高 6 元，周转还快……",
        "customer_stage": "first_order",
        "objection_type": "price",
        "product_lines": ["beverage"],
        "regions": ["east"],
    },
    {
        "title": "嫌进价高（华南）：搭赠政策",
        "situation": "店主说进价太高，要求降价",
        "script": "价格是全区统一的，但这个月进 10 箱送 1 箱，相当于进价低了 9%……",
        "customer_stage": "first_order",
        "objection_type": "price",
        "product_lines": ["beverage"],
        "regions": ["south"],
    },
    {
        "title": "竞品在搞促销：讲动销数据",
        "situation": "店主说竞品买二送一，卖得比我们好",
        "script": "促销一停他们的量就掉，我们连续 6 个月在这个片区动销第一……",
        "customer_stage": "regular",
        "objection_type": "competitor",
        "product_lines": ["beverage", "snacks"],
        "regions": ["east", "south"],
    },
]


def test_a_script_is_found_by_describing_a_price_objection_and_its_use_is_counted(
    shop: StoreSales,
):
    """R35: the regional manager maintains the scripts (reps cannot); a rep in East China
    facing a store owner who finds the price too high picks the objection type and the
    region and types a word of the situation, and finds the one matching script; each
    use the reps record adds one to the script's usage count."""
    for script in SCRIPTS:
        shop.create("regional", "sales_script", **script)
    refused = shop.try_create("rep1", "sales_script", **SCRIPTS[0])
    assert [e["code"] for e in refused["errors"]] == ["PERMISSION_DENIED"]

    situation = {
        "and": [
            {"field": "objection_type", "op": "eq", "value": "price"},
            {"field": "regions", "op": "contains", "value": ["east"]},
        ]
    }
    (found,) = shop.records("rep1", "sales_script", filter=situation, search="进价")
    assert found["data"]["title"] == "老板嫌进价高：算单箱毛利"
    assert found["data"]["usage_count"] == 0

    store = shop.store("rep1", "联华超市（徐汇店）")
    shop.create("rep1", "script_usage", script=found["id"], store=store["id"], result="ordered")
    shop.create("rep2", "script_usage", script=found["id"], result="progress")

    used = shop.record("rep1", found["id"])["data"]
    assert (used["usage_count"], used["usage_30d"], used["success_count"]) == (2, 2, 1)
    others = shop.records(
        "rep1", "sales_script", filter={"field": "id", "op": "ne", "value": found["id"]}
    )
    assert [s["data"]["usage_count"] for s in others] == [0, 0]
