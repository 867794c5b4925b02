"""B2B sales: customers, who sees them, the public pool, follow-ups and handover (R5,
R21–R25), as reps, their managers, delivery and finance use the app."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from django.utils import timezone
from graphql_relay import from_global_id, to_global_id

from dajian.runtime.automations import schedules
from dajian.runtime.models import Record
from tests.acceptance.conftest import SalesOrg

if TYPE_CHECKING:
    from tests.acceptance.b2b_sales_plugin import B2BSales

pytest_plugins = ["tests.acceptance.b2b_sales_plugin"]

CLAIM = """
mutation($id: ID!) {
  claimRecord(input: {id: $id}) { record { owner { username } } errors { code } }
}
"""
TRANSFER = """
mutation($leaving: ID!, $successor: ID!) {
  transferOwnership(input: {fromUser: $leaving, toUser: $successor, app: "b2b_sales"}) {
    handover { recordCount items }
    errors { field code }
  }
}
"""


def codes(result: dict) -> list[tuple[str, str]]:
    return [(e["code"], e["field"]) for e in result["errors"]]


def test_a_duplicate_customer_is_refused(b2b: B2BSales):
    """R5: the same unified social credit code, or the same name in the same city (after
    normalising case, width and spaces), never makes a second customer."""
    b2b.customer("rep1", "苏州ABB机器人有限公司", city="苏州", credit_code="91320500MA1MXK6B3Q")

    same_code = b2b.try_create(
        "rep2",
        "customer",
        name="ABB（苏州）",
        city="苏州",
        level="B",
        credit_code="91320500MA1MXK6B3Q",
    )
    same_name = b2b.try_create(
        "rep2",
        "customer",
        name="苏州ａｂｂ机器人有限公司",
        city=" 苏州 ",
        level="B",
        credit_code="91320500MA1MXK6B4R",
    )
    other_city = b2b.try_create(
        "rep2",
        "customer",
        name="苏州ABB机器人有限公司",
        city="昆山",
        level="B",
        credit_code="91320583MA1MXK6B5T",
    )

    assert codes(same_code) == [("DUPLICATE_VALUE", "credit_code")]
    assert codes(same_name) == [("DUPLICATE_RECORD", "name"), ("DUPLICATE_RECORD", "city")]
    assert same_name["errors"][0]["message"] == "同一城市已有同名客户"
    assert other_city["errors"] == []
    malformed = b2b.try_create(
        "rep2", "customer", name="某某公司", city="苏州", level="B", credit_code="12345"
    )
    assert codes(malformed) == [("INVALID_FORMAT", "credit_code")]


def test_a_rep_sees_only_their_customers_and_the_manager_sees_the_team(b2b: B2BSales):
    """R23: rep own, manager team, director all; delivery reads but cannot change;
    finance reads contracts but not opportunities."""
    b2b.customer("rep1", "一号客户有限公司")
    theirs = b2b.customer("rep2", "二号客户有限公司")
    b2b.customer("rep3", "三号客户有限公司", city="广州")

    assert b2b.titles("rep1", "customer") == ["一号客户有限公司"]
    assert b2b.titles("rep2", "customer") == ["二号客户有限公司"]
    assert b2b.record("rep1", theirs["id"]) is None
    assert b2b.titles("supervisor", "customer") == ["一号客户有限公司", "二号客户有限公司"]
    assert b2b.titles("supervisor2", "customer") == ["三号客户有限公司"]
    assert len(b2b.titles("regional", "customer")) == 2
    assert len(b2b.titles("director", "customer")) == 3
    assert len(b2b.titles("delivery", "customer")) == 3
    assert codes(b2b.try_update("delivery", theirs["id"], notes="改一下")) == [
        ("PERMISSION_DENIED", None)
    ]
    contract = b2b.contract("rep2", theirs, 150000)
    assert b2b.record("finance", contract["id"])["data"]["amount"] == 150000
    assert b2b.records("finance", "opportunity") == []


def test_cost_and_margin_are_hidden_from_reps(b2b: B2BSales):
    """R23: the quote adds up its lines by formula; its cost and margin, like a product's
    cost price, are hidden from reps and visible to their manager."""
    customer = b2b.customer("rep1", "太仓中德精密有限公司")
    deal = b2b.create(
        "rep1", "opportunity", title="机加工产线", customer=customer["id"], amount=300000
    )
    product = b2b.create(
        "product",
        "product",
        name="数控车床 CK6150",
        sku="EQ-CK6150",
        category="equipment",
        list_price=268000,
        cost_price=189000,
    )
    assert "cost_price" not in b2b.record("rep1", product["id"])["data"]
    quote = b2b.create(
        "rep1",
        "quote",
        opportunity=deal["id"],
        customer=customer["id"],
        discount=0.05,
        lines=[
            {"product": product["id"], "quantity": 1, "unit_price": 268000},
            {"product": product["id"], "quantity": 2, "unit_price": 8000},
        ],
    )
    assert quote["data"]["total"] == 284000
    assert quote["data"]["final_amount"] == 269800
    assert codes(b2b.try_update("rep1", quote["id"], cost_total=1)) == [
        ("UNKNOWN_FIELD", "cost_total")
    ]

    b2b.update("product", quote["id"], cost_total=205000)

    assert "cost_total" not in b2b.record("rep1", quote["id"])["data"]
    assert "gross_margin" not in b2b.record("rep1", quote["id"])["data"]
    seen = b2b.record("supervisor", quote["id"])["data"]
    assert (seen["cost_total"], seen["gross_margin"]) == (205000, 0.2402)
    assert b2b.record("supervisor", product["id"])["data"]["cost_price"] > 0


def test_a_customer_silent_for_30_days_reminds_the_owner_and_at_45_returns_to_the_pool(
    b2b: B2BSales, sales_org: SalesOrg
):
    """R21, R24: last contact + 30 days → a reminder; + 45 days → released to the public
    pool, where another rep claims it within the role's daily limit."""
    customer = b2b.customer("rep1", "溧阳天目电缆有限公司")
    contacted = _last_contact(b2b.record("rep1", customer["id"]))
    reminder = "客户 溧阳天目电缆有限公司 已 30 天未联系，请尽快跟进；满 45 天将退回公海。"

    schedules.scan_date_triggers(contacted + dt.timedelta(days=29, hours=23))
    assert b2b.notifications("rep1") == []
    schedules.scan_date_triggers(contacted + dt.timedelta(days=30, minutes=5))
    assert [n["message"] for n in b2b.notifications("rep1")] == [reminder]
    schedules.scan_date_triggers(contacted + dt.timedelta(days=44))
    assert b2b.record("rep1", customer["id"])["owner"] == {"username": "rep1"}
    schedules.scan_date_triggers(contacted + dt.timedelta(days=45, minutes=5))

    pooled = b2b.record("rep2", customer["id"])
    assert pooled["owner"] is None
    assert b2b.titles("rep1", "customer") == ["溧阳天目电缆有限公司"]  # the pool, not theirs
    assert any("退回公海" in n["message"] for n in b2b.notifications("supervisor"))
    claimed = b2b.call("rep2", CLAIM, id=customer["id"])["claimRecord"]
    assert claimed == {"record": {"owner": {"username": "rep2"}}, "errors": []}


def test_a_repeated_follow_up_is_flagged_and_every_follow_up_resets_the_silence(b2b: B2BSales):
    """R22: a follow-up that repeats an earlier note about the same customer is flagged
    near_duplicate (R3: a visit without evidence is pending verification); R21: a
    follow-up moves the customer's last contact, so the 45-day count starts again."""
    customer = b2b.customer("rep1", "江阴兴澄特种钢铁有限公司")
    other = b2b.customer("rep1", "靖江新民洲港务有限公司")
    _last_contact_days_ago(customer, 40)
    first = b2b.create(
        "rep1",
        "follow_up",
        customer=customer["id"],
        method="visit",
        notes="拜访张总，介绍了新款设备，客户对价格比较敏感，约下周再谈。",
        value_tags=["price_objection"],
    )
    different = b2b.create(
        "rep1",
        "follow_up",
        customer=customer["id"],
        method="phone",
        notes="电话沟通交付时间，客户希望月底前到货，已协调仓库。",
    )
    repeated = b2b.create(
        "rep1",
        "follow_up",
        customer=customer["id"],
        method="phone",
        notes="拜访张总，介绍了新款设备，客户对价格比较敏感，约下周二再谈。",
    )
    elsewhere = b2b.create(
        "rep1",
        "follow_up",
        customer=other["id"],
        method="phone",
        notes="拜访张总，介绍了新款设备，客户对价格比较敏感，约下周再谈。",
    )

    def flags(record: dict) -> list[str]:
        return b2b.record("rep1", record["id"])["flags"]

    assert flags(first) == ["pending_verification"]  # an on-site visit without evidence
    assert flags(different) == []
    assert flags(repeated) == ["near_duplicate"]
    assert flags(elsewhere) == []
    assert b2b.record("rep1", customer["id"])["data"]["follow_ups_30d"] == 3
    contacted = _last_contact(b2b.record("rep1", customer["id"]))
    assert timezone.now() - contacted < dt.timedelta(minutes=5)
    schedules.scan_date_triggers(timezone.now() + dt.timedelta(days=10))
    assert b2b.record("rep1", customer["id"])["owner"] == {"username": "rep1"}


def _last_contact(record: dict) -> dt.datetime:
    return dt.datetime.fromisoformat(record["data"]["last_contact_at"].replace("Z", "+00:00"))


def _last_contact_days_ago(customer: dict, days: int) -> None:
    """Time passing: the customer's last contact moves back (the stamp, not the data a
    user could write)."""
    pk = int(from_global_id(customer["id"])[1])
    record = Record.objects.get(pk=pk)
    moment = timezone.now() - dt.timedelta(days=days)
    record.data["last_contact_at"] = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    Record.objects.filter(pk=pk).update(data=record.data)


def test_a_leaving_reps_customers_and_deals_move_to_the_successor(b2b: B2BSales):
    """R25: the manager hands every record of the app from rep1 to rep2 in one action,
    with the handover list."""
    customer = b2b.customer("rep1", "昆山沪光汽车电器有限公司")
    deal = b2b.create(
        "rep1", "opportunity", title="线束检测线", customer=customer["id"], amount=450000
    )
    b2b.create(
        "rep1",
        "follow_up",
        customer=customer["id"],
        method="phone",
        notes="确认检测线节拍要求，客户下周提供图纸。",
    )
    result = b2b.call(
        "supervisor",
        TRANSFER,
        leaving=to_global_id("User", b2b.org["rep1"].pk),
        successor=to_global_id("User", b2b.org["rep2"].pk),
    )["transferOwnership"]

    assert result["errors"] == []
    assert result["handover"]["recordCount"] == 3
    assert {r["form"] for r in result["handover"]["items"]["records"]} == {
        "customer",
        "opportunity",
        "follow_up",
    }
    assert b2b.titles("rep2", "customer") == ["昆山沪光汽车电器有限公司"]
    assert b2b.record("rep2", deal["id"])["owner"] == {"username": "rep2"}
    assert b2b.records("rep1", "opportunity") == []


def test_a_converted_lead_becomes_a_customer_of_its_rep(b2b: B2BSales):
    """R7, R18: converting a lead needs its credit code, city and need, and creates the
    customer for the lead's rep."""
    lead = b2b.create(
        "rep1",
        "lead",
        company="常州天合储能有限公司",
        contact_name="刘洋",
        phone="13912345678",
        source="referral",
        city="常州",
    )
    b2b.update("rep1", lead["id"], contact_note="客户计划扩建储能产线")
    b2b.advance("rep1", lead["id"], "contacted")
    refused = b2b.advance("rep1", lead["id"], "converted")
    assert codes(refused)[1:] == [("REQUIRED", "credit_code"), ("REQUIRED", "requirement")]

    b2b.update("rep1", lead["id"], credit_code="91320400MA1P2QXK7C", requirement="两条模组线")
    b2b.advance("rep1", lead["id"], "converted")

    (customer,) = b2b.records("rep1", "customer")
    assert customer["owner"] == {"username": "rep1"}
    assert customer["data"]["name"] == "常州天合储能有限公司"
    assert customer["data"]["credit_code"] == "91320400MA1P2QXK7C"
    assert customer["data"]["source"] == "referral"
