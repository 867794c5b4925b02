"""Orders and incentives of the store sales app: the order total from its lines, the
first-order incentive rule (R19), and the rep's confirm-or-appeal with the supervisor's
decision within 4 hours (R15)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils.dateparse import parse_datetime

pytest.register_assert_rewrite("tests.acceptance.store_sales_plugin")

from dajian.runtime.timers import fire_due_timers  # noqa: E402
from tests.acceptance.store_sales_plugin import StoreSales, today  # noqa: E402

pytest_plugins = ["tests.acceptance.store_sales_plugin"]


@pytest.fixture
def incentive(shop: StoreSales) -> dict:
    """rep1's first order at a new store (200 cases at 28.50) and the incentive it earns."""
    water = shop.create(
        "admin",
        "product",
        name="清泉矿泉水 550ml×24",
        sku_code="6901234567892",
        product_line="beverage",
        supply_price=28.5,
    )
    store = shop.store("rep1", "惠民超市（莘庄店）")
    order = shop.create(
        "rep1",
        "order",
        store=store["id"],
        order_date=today().isoformat(),
        lines=[{"product": water["id"], "qty": 200, "unit_price": 28.5}],
    )
    assert order["data"]["lines"][0]["amount"] == 5700
    assert order["data"]["total_amount"] == 5700
    (found,) = shop.records("rep1", "incentive")
    return found


def test_a_first_order_earns_the_rep_an_incentive_to_confirm(shop: StoreSales, incentive):
    """R19, R15: a store's first order of 5,000 or more creates a 200 incentive for the
    rep (a rule in metadata), which waits for the rep to confirm or appeal; confirming
    ends it without the supervisor."""
    assert incentive["owner"]["username"] == "rep1"
    assert (incentive["data"]["incentive_type"], incentive["data"]["amount"]) == (
        "first_order",
        200,
    )
    (task,) = shop.tasks("rep1")
    assert task["allowedDecisions"] == ["CONFIRM", "APPEAL"]

    result = shop.try_decide("rep1", incentive["id"], "CONFIRM")

    assert result["errors"] == [] and result["request"]["status"] == "APPROVED"
    assert shop.tasks("supervisor") == []


def test_an_incentive_appealed_with_a_screenshot_is_decided_by_the_supervisor(
    shop: StoreSales, incentive
):
    """R15: an appeal needs a screenshot; with one, the supervisor gets the decision,
    due within 4 hours, and decides it; the history keeps the screenshot."""
    refused = shop.try_decide("rep1", incentive["id"], "APPEAL", comment="漏算了第二单")
    assert [e["code"] for e in refused["errors"]] == ["EVIDENCE_REQUIRED"]

    screenshot = shop.photo("rep1", "订单截图.jpg")
    appealed = shop.try_decide(
        "rep1", incentive["id"], "APPEAL", comment="漏算了第二单", attachments=[screenshot]
    )

    assert appealed["errors"] == [] and appealed["request"]["status"] == "PENDING"
    (task,) = shop.tasks("supervisor")
    due, opened = parse_datetime(task["dueAt"]), parse_datetime(task["createdAt"])
    assert due - opened == dt.timedelta(hours=4)
    decided = shop.try_decide("supervisor", incentive["id"], "APPROVE", comment="核实无误")
    assert decided["request"]["status"] == "APPROVED"
    events = shop.record("rep1", incentive["id"])["approval"]["events"]
    appeal = next(e for e in events if e["comment"] == "漏算了第二单")
    assert (appeal["actor"], len(appeal["attachments"])) == ("rep1", 1)


def test_an_appeal_left_for_4_hours_goes_to_the_regional_manager(shop: StoreSales, incentive):
    """R15, R14: an appeal the supervisor has not decided within 4 hours is escalated to
    the supervisor's manager."""
    shop.try_decide("rep1", incentive["id"], "APPEAL", attachments=[shop.photo("rep1")])
    (task,) = shop.tasks("supervisor")

    fire_due_timers(parse_datetime(task["dueAt"]) + dt.timedelta(seconds=1))

    (escalated,) = shop.tasks("regional")
    assert escalated["escalated"] is True
    decided = shop.try_decide("regional", incentive["id"], "REJECT", comment="截图与订单不符")
    assert decided["request"]["status"] == "REJECTED"
