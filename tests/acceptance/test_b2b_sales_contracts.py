"""B2B sales: contracts, their approval chain, payments, incentives and rebates (R11,
R13, R18, R19, R28), as the sales team, its managers, product and finance use them."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING

from django.utils import timezone

from dajian.builder.models import Metadata
from dajian.runtime.automations import schedules

if TYPE_CHECKING:
    from tests.acceptance.b2b_sales_plugin import B2BSales

pytest_plugins = ["tests.acceptance.b2b_sales_plugin"]

SAVE_CHAIN = """
mutation($definition: GenericScalar!) {
  saveApprovalChain(input: {app: "b2b_sales", key: "contract_approval", definition: $definition,
                            publish: true}) {
    chain { published { number } }
    errors { field path code message }
  }
}
"""
CHAIN = """
query { approvalChain(app: "b2b_sales", key: "contract_approval") { published { definition } } }
"""


def route(b2b: B2BSales, contract: dict) -> dict[str, list[str]]:
    """step → approvers, for the steps of the contract's request that apply."""
    request = b2b.record("admin", contract["id"])["approval"]
    return {
        step["key"]: sorted(t["assignee"]["username"] for t in step["tasks"])
        for step in request["steps"]
        if step["applies"]
    }


def open_steps(b2b: B2BSales, username: str) -> list[str]:
    return [t["step"]["key"] for t in b2b.tasks(username)]


def test_a_600k_contract_needs_manager_director_and_both_countersigners_and_a_veto_freezes_it(
    b2b: B2BSales,
):
    """R11, R13: above 500,000 the sales director approves after the direct manager; then
    product and finance both countersign, and finance's veto freezes the contract."""
    customer = b2b.customer("rep1", "徐州重型机械有限公司")
    contract = b2b.contract("rep1", customer, 600000)

    b2b.submit("rep1", contract)
    assert open_steps(b2b, "supervisor") == ["manager"]
    assert open_steps(b2b, "director") == []
    b2b.decide("supervisor", contract["id"], "APPROVE")
    assert open_steps(b2b, "director") == ["director"]
    assert open_steps(b2b, "finance") == []
    b2b.decide("director", contract["id"], "APPROVE")
    assert open_steps(b2b, "product") == ["countersign"]
    assert open_steps(b2b, "finance") == ["countersign"]
    b2b.decide("product", contract["id"], "APPROVE")
    request = b2b.decide("finance", contract["id"], "REJECT", comment="付款条件与授信不符")

    assert request["status"] == "REJECTED"
    assert request["record"] == {"stage": "draft", "status": "frozen"}
    assert route(b2b, contract) == {
        "manager": ["supervisor"],
        "director": ["director"],
        "countersign": ["finance", "product"],
    }
    frozen = b2b.advance("rep1", contract["id"], "approved")
    assert [e["code"] for e in frozen["errors"]] == ["RECORD_FROZEN"]
    assert [e["code"] for e in b2b.try_update("rep1", contract["id"], amount=580000)["errors"]] == [
        "RECORD_FROZEN"
    ]


def test_a_contract_up_to_500k_skips_the_director(b2b: B2BSales):
    """R11: at 500,000 the director step does not apply."""
    customer = b2b.customer("rep1", "扬州亚星客车配件有限公司")
    contract = b2b.contract("rep1", customer, 500000)

    b2b.submit("rep1", contract)
    b2b.approve_all(contract)

    assert route(b2b, contract) == {
        "manager": ["supervisor"],
        "countersign": ["finance", "product"],
    }


def test_a_new_director_threshold_set_in_the_builder_changes_who_approves_400k(b2b: B2BSales):
    """R11: the admin lowers the threshold from 500,000 to 300,000 with saveApprovalChain;
    the next 400,000 contract needs the director, with no code change. A rep may not."""
    customer = b2b.customer("rep1", "泰州华信药机有限公司")
    before = b2b.contract("rep1", customer, 400000, title="一期合同")
    b2b.submit("rep1", before)
    assert "director" not in route(b2b, before)

    definition = copy.deepcopy(b2b.call("admin", CHAIN)["approvalChain"]["published"]["definition"])
    (director,) = [s for s in definition["steps"] if s["key"] == "director"]
    assert director["condition"] == "amount > 500000.0"
    director["condition"] = "amount > 300000.0"
    denied = b2b.call("rep1", SAVE_CHAIN, definition=definition)["saveApprovalChain"]
    assert [e["code"] for e in denied["errors"]] == ["PERMISSION_DENIED"]
    saved = b2b.call("admin", SAVE_CHAIN, definition=definition)["saveApprovalChain"]
    assert saved["errors"] == []

    after = b2b.contract("rep1", customer, 400000, title="二期合同")
    b2b.submit("rep1", after)
    b2b.decide("supervisor", after["id"], "APPROVE")

    assert route(b2b, after)["director"] == ["director"]
    assert open_steps(b2b, "director") == ["director"]
    assert "director" not in route(b2b, before)  # a pending request keeps its route


def statements(b2b: B2BSales, username: str) -> list[str]:
    return [
        n["message"] for n in b2b.notifications(username) if n["kind"] == "automation.dashboard"
    ]


def test_a_ka_customers_first_order_with_technical_service_earns_500(b2b: B2BSales):
    """R19, R29: KA customer, first approved contract ≥ 50,000 including technical
    service → an incentive of 500 for its owner; the second contract earns nothing; the
    monthly statement shows it to that rep only."""
    ka = b2b.customer("rep1", "上海电气自动化有限公司", city="上海", level="KA")
    first = b2b.contract("rep1", ka, 80000, services=["tech_service", "training"])
    b2b.submit("rep1", first)
    b2b.approve_all(first)
    second = b2b.contract("rep1", ka, 90000, services=["tech_service"])
    b2b.submit("rep1", second)
    b2b.approve_all(second)
    a_level = b2b.customer("rep1", "杭州西子智能装备有限公司", city="杭州", level="A")
    other = b2b.contract("rep1", a_level, 80000, services=["tech_service"])
    b2b.submit("rep1", other)
    b2b.approve_all(other)

    (incentive,) = b2b.records("rep1", "incentive")
    assert incentive["owner"] == {"username": "rep1"}
    assert incentive["data"]["amount"] == 500
    assert incentive["data"]["contract"] == first["id"]
    assert incentive["data"]["kind"] == "incentive"
    assert b2b.records("rep2", "incentive") == []
    # R29: the monthly statement shows each rep their own incentives
    statement = Metadata.objects.get(app__key="b2b_sales", key="monthly_incentive_statement")
    schedules.run_scheduled(statement.pk, now=timezone.now())
    assert "销售激励: 500.00" in statements(b2b, "rep1")[0]
    assert "销售激励: 0.00" in statements(b2b, "rep2")[0]


def test_a_whitelisted_customer_with_500k_in_scope_over_12_months_gets_a_3_percent_rebate(
    b2b: B2BSales,
):
    """R19: on the 5th of the month, whitelisted customers whose approved equipment and
    consumables contracts of the last 12 months reach 500,000 get 3 % and a rebate record."""
    loyal = b2b.customer("rep1", "南京埃斯顿配套有限公司", city="南京", level="A")
    b2b.update("director", loyal["id"], whitelisted=True)
    newcomer = b2b.customer("rep1", "合肥江淮模具有限公司", city="合肥", level="A")
    today = timezone.localdate().isoformat()
    for customer, amount, line in (
        (loyal, 300000, "equipment"),
        (loyal, 200000, "consumables"),
        (loyal, 400000, "service"),  # not in the rebate's scope
        (newcomer, 900000, "equipment"),  # not whitelisted
    ):
        contract = b2b.contract("rep1", customer, amount, product_line=line, signed_on=today)
        b2b.submit("rep1", contract)
        b2b.approve_all(contract)
    rebate = Metadata.objects.get(app__key="b2b_sales", key="monthly_rebate")

    schedules.run_scheduled(rebate.pk, now=timezone.now())

    assert b2b.record("rep1", loyal["id"])["data"]["rebate_rate"] == 0.03
    assert "rebate_rate" not in b2b.record("rep1", newcomer["id"])["data"]
    (record,) = b2b.records(
        "director", "incentive", {"field": "kind", "op": "eq", "value": "rebate"}
    )
    assert record["data"]["customer"] == loyal["id"]
    assert record["data"]["base_amount"] == 500000
    assert record["data"]["amount"] == 15000


def test_a_payment_counts_as_paid_only_once_received_and_matched(b2b: B2BSales):
    """R28: "paid" is received and matched; finance confirms both, the rep cannot."""
    customer = b2b.customer("rep1", "镇江船舶电器有限公司")
    contract = b2b.contract("rep1", customer, 200000)
    payment = b2b.create(
        "rep1",
        "payment",
        contract=contract["id"],
        phase="advance",
        amount=60000,
        due_date="2030-01-15",
    )
    # the automation copied the contract's customer
    assert b2b.record("rep1", payment["id"])["data"]["customer"] == customer["id"]
    refused = b2b.try_update("rep1", payment["id"], received=True, matched=True)
    assert {e["code"] for e in refused["errors"]} == {"READ_ONLY_FIELD"}

    received = b2b.update(
        "finance", payment["id"], received=True, received_on="2030-01-14", voucher_no="HS20300114"
    )
    assert received["data"]["is_paid"] is False
    assert b2b.record("rep1", contract["id"])["data"]["paid_amount"] == 0

    matched = b2b.update("finance", payment["id"], matched=True)
    assert matched["data"]["is_paid"] is True
    assert b2b.record("rep1", contract["id"])["data"]["paid_amount"] == 60000


def test_a_payment_anomaly_freezes_the_customers_open_contracts(b2b: B2BSales):
    """R18: finance marks the anomaly; the customer's undelivered contracts freeze, and
    thaw when it is cleared; finance cannot change anything else of the customer."""
    customer = b2b.customer("rep1", "常熟新华纺机有限公司")
    open_contract = b2b.contract("rep1", customer, 120000)
    assert [e["code"] for e in b2b.try_update("finance", customer["id"], level="A")["errors"]] == [
        "READ_ONLY_FIELD"
    ]

    b2b.update("finance", customer["id"], payment_anomaly=True)

    assert b2b.record("rep1", open_contract["id"])["status"] == "frozen"
    assert any("付款异常" in n["message"] for n in b2b.notifications("rep1"))
    b2b.update("finance", customer["id"], payment_anomaly=False)
    assert b2b.record("rep1", open_contract["id"])["status"] == "active"
