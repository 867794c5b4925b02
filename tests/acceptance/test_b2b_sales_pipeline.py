"""B2B sales: leads and the opportunity funnel, as the sales team uses them (R4, R7–R9).

The opportunity goes requirement confirmation → proposal → price negotiation → contract
approval, and each stage is left only with its evidence; a lead must be contacted
within 2 working hours or the supervisor gets a to-do.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from django.utils.dateparse import parse_datetime

from dajian.runtime.timers import fire_due_timers

if TYPE_CHECKING:
    from tests.acceptance.b2b_sales_plugin import B2BSales

pytest_plugins = ["tests.acceptance.b2b_sales_plugin"]

NEXT_WEEK = "2030-03-04T02:00:00Z"


def opportunity(b2b: B2BSales, customer: dict, **data) -> dict:
    return b2b.create(
        "rep1",
        "opportunity",
        title="产线自动化改造",
        customer=customer["id"],
        amount=380000,
        **data,
    )


def missing(result: dict) -> list[tuple[str, str]]:
    return [(e["code"], e["field"]) for e in result["errors"]]


def test_an_opportunity_leaves_requirement_confirmation_only_with_pain_points_and_next_follow_up(
    b2b: B2BSales,
):
    """R7: the move to proposal is refused, and the answer lists both missing items."""
    customer = b2b.customer("rep1", "昆山精工机械有限公司")
    deal = opportunity(b2b, customer)
    assert deal["stage"] == "requirement"

    refused = b2b.advance("rep1", deal["id"], "proposal")

    assert refused["record"] is None
    assert missing(refused) == [
        ("STAGE_LOCKED", "to"),
        ("REQUIRED", "pain_point"),
        ("REQUIRED", "next_follow_up_at"),
    ]
    assert "客户痛点确认记录" in refused["errors"][1]["message"]
    assert "下次跟进时间" in refused["errors"][2]["message"]
    b2b.update("rep1", deal["id"], pain_point="换型时间长，良率波动", next_follow_up_at=NEXT_WEEK)
    moved = b2b.advance("rep1", deal["id"], "proposal")
    assert moved["errors"] == []
    assert moved["record"]["stage"] == "proposal"


def test_an_a_level_customers_opportunity_needs_a_tailored_proposal(b2b: B2BSales):
    """R4, R7: the customer's level reaches the opportunity; A-level needs the tailored
    proposal before the proposal stage, a B-level customer's deal does not."""
    a_level = b2b.customer("rep1", "常州汇川电气有限公司", level="A")
    b_level = b2b.customer("rep1", "无锡宏达包装有限公司", level="B")
    ready = {"pain_point": "设备停机无预警", "next_follow_up_at": NEXT_WEEK}
    big = opportunity(b2b, a_level, **ready)
    small = opportunity(b2b, b_level, **ready)
    assert b2b.record("rep1", big["id"])["data"]["customer_level"] == "A"

    refused = b2b.advance("rep1", big["id"], "proposal")
    assert b2b.advance("rep1", small["id"], "proposal")["record"]["stage"] == "proposal"

    assert missing(refused) == [
        ("STAGE_LOCKED", "to"),
        ("TAILORED_PROPOSAL_REQUIRED", "tailored_proposal"),
    ]
    b2b.update("rep1", big["id"], tailored_proposal=[b2b.upload("rep1", "定制方案.pdf")])
    assert b2b.advance("rep1", big["id"], "proposal")["record"]["stage"] == "proposal"


def test_a_customer_promoted_to_a_level_locks_its_open_opportunities(b2b: B2BSales):
    """R4: when the manager raises a customer to A, its open deals need the proposal too."""
    customer = b2b.customer("rep1", "南通远洋重工有限公司", level="B")
    deal = opportunity(b2b, customer, pain_point="能耗高", next_follow_up_at=NEXT_WEEK)

    b2b.update("supervisor", customer["id"], level="A")

    assert b2b.record("rep1", deal["id"])["data"]["customer_level"] == "A"
    assert ("TAILORED_PROPOSAL_REQUIRED", "tailored_proposal") in missing(
        b2b.advance("rep1", deal["id"], "proposal")
    )


def test_each_later_stage_asks_for_its_own_evidence(b2b: B2BSales):
    """R7: proposal needs the proposal file and the competitor response; negotiation a
    discount of at most 30 %; contract approval an approved contract."""
    customer = b2b.customer("rep1", "嘉兴新材料科技有限公司")
    deal = opportunity(b2b, customer, pain_point="来料检验慢", next_follow_up_at=NEXT_WEEK)
    b2b.advance("rep1", deal["id"], "proposal")

    assert missing(b2b.advance("rep1", deal["id"], "negotiation")) == [
        ("STAGE_LOCKED", "to"),
        ("REQUIRED", "competitor_response"),
        ("EVIDENCE_MISSING", "proposal_files"),
    ]
    b2b.update(
        "rep1",
        deal["id"],
        competitor_response="对手低价 8%，我方突出本地化服务与交期",
        proposal_files=[b2b.upload("rep1")],
        discount=0.35,
    )
    assert b2b.advance("rep1", deal["id"], "negotiation")["record"]["stage"] == "negotiation"
    assert missing(b2b.advance("rep1", deal["id"], "contract")) == [
        ("STAGE_LOCKED", "to"),
        ("DISCOUNT_TOO_HIGH", "discount"),
    ]
    b2b.update("rep1", deal["id"], discount=0.12)
    assert b2b.advance("rep1", deal["id"], "contract")["record"]["stage"] == "contract"

    # entering contract approval drafted the contract; won needs it approved
    (draft,) = b2b.records("rep1", "contract")
    assert draft["data"]["amount"] == 380000
    assert draft["stage"] == "draft"
    assert missing(b2b.advance("rep1", deal["id"], "won")) == [
        ("STAGE_LOCKED", "to"),
        ("CONTRACT_NOT_APPROVED", "contract_approved"),
    ]
    b2b.update("rep1", draft["id"], payment_terms="预付 30%，验收后 70%")
    b2b.submit("rep1", draft)
    b2b.approve_all(draft)
    assert b2b.record("rep1", deal["id"])["data"]["contract_approved"] is True
    assert b2b.advance("rep1", deal["id"], "won")["record"]["stage"] == "won"


def test_a_proposal_without_feedback_for_7_days_turns_yellow(b2b: B2BSales):
    """R8: the proposal stage warns after 7 days and is overdue after 14, telling the
    owner and the manager."""
    customer = b2b.customer("rep1", "湖州恒信机电有限公司")
    deal = opportunity(b2b, customer, pain_point="人工搬运多", next_follow_up_at=NEXT_WEEK)
    b2b.advance("rep1", deal["id"], "proposal")
    timing = b2b.record("rep1", deal["id"])["stageTiming"]
    entered = parse_datetime(timing["enteredAt"])
    assert parse_datetime(timing["warningAt"]) - entered == dt.timedelta(days=7)
    assert parse_datetime(timing["overdueAt"]) - entered == dt.timedelta(days=14)

    fire_due_timers(now=entered + dt.timedelta(days=6, hours=23))
    assert b2b.notifications("supervisor") == []
    fire_due_timers(now=entered + dt.timedelta(days=7, minutes=1))

    kinds = {n["kind"] for n in b2b.notifications("rep1")}
    assert "stage.warning" in kinds
    assert [n["kind"] for n in b2b.notifications("supervisor")] == ["stage.warning"]


def test_a_lead_not_contacted_within_2_working_hours_escalates_to_the_supervisor(b2b: B2BSales):
    """R9: the first-contact SLA is 2 working hours; past it the rep's supervisor gets a
    to-do, and a lead contacted in time does not escalate."""
    late = b2b.create(
        "rep1",
        "lead",
        company="宁波海天精密有限公司",
        contact_name="王磊",
        phone="13800138001",
        source="exhibition",
    )
    prompt = b2b.create(
        "rep1",
        "lead",
        company="绍兴越美纺织有限公司",
        contact_name="陈静",
        phone="13800138002",
        source="website",
    )
    b2b.update("rep1", prompt["id"], contact_note="电话沟通，客户需要三台设备报价")
    assert b2b.advance("rep1", prompt["id"], "contacted")["record"]["stage"] == "contacted"
    overdue_at = parse_datetime(b2b.record("rep1", late["id"])["stageTiming"]["overdueAt"])

    fire_due_timers(now=overdue_at - dt.timedelta(minutes=1))
    assert b2b.tasks("supervisor", kind="TODO") == []
    fire_due_timers(now=overdue_at + dt.timedelta(minutes=1))

    (todo,) = b2b.tasks("supervisor", kind="TODO")
    assert todo["record"]["id"] == late["id"]
    assert b2b.tasks("rep2", kind="TODO") == []
