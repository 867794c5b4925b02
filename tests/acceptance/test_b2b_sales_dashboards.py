"""B2B sales: what managers see — the dashboards (R27, R28), the weekly report pushed to
them (R29) and the project health score with its to-do for the regional director (R20)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.utils import timezone

from dajian.builder.models import Metadata
from dajian.runtime.automations import schedules

if TYPE_CHECKING:
    from tests.acceptance.b2b_sales_plugin import B2BSales

pytest_plugins = ["tests.acceptance.b2b_sales_plugin"]

DASHBOARD = """
query($key: String!) {
  dashboard(app: "b2b_sales", key: $key) { key widgets { key type format color data } }
}
"""
DRILL = """
query($app: String!, $form: String!, $filter: GenericScalar) {
  records(app: $app, form: $form, filter: $filter, first: 100) { totalCount }
}
"""
NEXT_WEEK = "2030-03-04T02:00:00Z"


def widgets(b2b: B2BSales, username: str, key: str) -> dict[str, dict[str, Any]]:
    board = b2b.call(username, DASHBOARD, key=key)["dashboard"]
    return {w["key"]: w for w in board["widgets"]}


def funnel(b2b: B2BSales, username: str) -> dict[str, tuple[int, float]]:
    rows = widgets(b2b, username, "sales_overview")["funnel"]["data"]["rows"]
    return {row["key"][0]: (row["values"]["n"], row["values"]["amount"]) for row in rows}


def deal(b2b: B2BSales, username: str, customer: dict, amount: float, **data: Any) -> dict:
    return b2b.create(
        username,
        "opportunity",
        title=f"{customer['data']['name']} 项目",
        customer=customer["id"],
        amount=amount,
        **data,
    )


def win(b2b: B2BSales, username: str, record: dict) -> None:
    """Take a deal through every stage to won (contract approved on the way)."""
    b2b.update(
        username,
        record["id"],
        pain_point="交期长",
        next_follow_up_at=NEXT_WEEK,
        competitor_response="以服务响应取胜",
        proposal_files=[b2b.upload(username)],
    )
    for stage in ("proposal", "negotiation", "contract"):
        assert b2b.advance(username, record["id"], stage)["errors"] == []
    (contract,) = [
        c for c in b2b.records(username, "contract") if c["data"]["opportunity"] == record["id"]
    ]
    b2b.update(username, contract["id"], payment_terms="验收后 30 天付清")
    b2b.submit(username, contract)
    b2b.approve_all(contract)
    assert b2b.advance(username, record["id"], "won")["record"]["stage"] == "won"


def test_the_funnel_shows_a_rep_their_deals_and_the_manager_the_team(b2b: B2BSales):
    """R27: the funnel lists every stage in order, counted and summed over the records
    the viewer may read; each figure drills down to exactly those records."""
    for username, name, amount in (
        ("rep1", "常州星宇车灯有限公司", 100000),
        ("rep1", "常州今创集团有限公司", 200000),
        ("rep2", "无锡先导智能装备有限公司", 400000),
        ("rep3", "深圳汇川技术有限公司", 800000),
    ):
        deal(b2b, username, b2b.customer(username, name), amount)
    rep1_second = b2b.records("rep1", "opportunity")[0]
    b2b.update("rep1", rep1_second["id"], pain_point="换线慢", next_follow_up_at=NEXT_WEEK)
    b2b.advance("rep1", rep1_second["id"], "proposal")

    mine, team = funnel(b2b, "rep1"), funnel(b2b, "supervisor")

    assert list(mine) == ["requirement", "proposal", "negotiation", "contract", "won", "lost"]
    assert sum(n for n, _ in mine.values()) == 2
    assert mine["requirement"][0] + mine["proposal"][0] == 2
    assert sum(amount for _, amount in mine.values()) == 300000
    assert sum(n for n, _ in team.values()) == 3
    assert team["requirement"] == (2, mine["requirement"][1] + 400000)
    assert sum(n for n, _ in funnel(b2b, "director").values()) == 4
    row = widgets(b2b, "supervisor", "sales_overview")["funnel"]["data"]["rows"][0]
    drill = row["points"]["n"]["drill"]
    count = b2b.call("supervisor", DRILL, **drill)["records"]["totalCount"]
    assert count == row["values"]["n"] == 2


def test_expected_deals_never_count_as_won(b2b: B2BSales):
    """R28: the won amount and win rate count only deals in the won stage; a deal
    forecast as "expected" shows apart and is not achieved."""
    customer = b2b.customer("rep1", "苏州绿的谐波传动有限公司")
    won = deal(b2b, "rep1", customer, 300000, forecast="commit")
    deal(b2b, "rep1", customer, 500000, forecast="expected")
    lost = deal(b2b, "rep1", customer, 200000)
    win(b2b, "rep1", won)
    assert b2b.advance("rep1", lost["id"], "lost", reason="price")["errors"] == []

    board = widgets(b2b, "rep1", "sales_overview")

    assert board["won_amount"]["data"]["value"] == 300000
    assert board["expected_amount"]["data"]["value"] == 500000
    assert board["win_rate"]["data"]["value"] == 0.5
    assert board["win_rate"]["color"] == "green"


def test_collection_rate_counts_only_received_and_matched_payments(b2b: B2BSales):
    """R27, R28: payments due so far are collected only when finance has both received
    and matched them; the KPI's colour follows the 65 % / 45 % thresholds."""
    customer = b2b.customer("rep1", "泰州海陵电力设备有限公司")
    contract = b2b.contract("rep1", customer, 400000)
    payments = [
        b2b.create(
            "rep1",
            "payment",
            contract=contract["id"],
            phase=phase,
            amount=100000,
            due_date="2025-01-10",
        )
        for phase in ("advance", "progress", "acceptance", "retention")
    ]
    b2b.update("finance", payments[0]["id"], received=True, matched=True, voucher_no="V1")
    b2b.update("finance", payments[1]["id"], received=True, matched=True, voucher_no="V2")
    b2b.update("finance", payments[2]["id"], received=True, voucher_no="V3")  # not matched

    kpi = widgets(b2b, "rep1", "sales_overview")["collection_rate"]

    assert kpi["data"]["value"] == 0.5
    assert kpi["color"] == "yellow"
    b2b.update("finance", payments[2]["id"], matched=True)
    kpi = widgets(b2b, "supervisor", "sales_overview")["collection_rate"]
    assert (kpi["data"]["value"], kpi["color"]) == (0.75, "green")


def test_overdue_receivables_are_ranked_by_customer(b2b: B2BSales):
    """R27, R28: payments due before today that finance has not received and matched,
    summed per customer (the payment's customer, copied from its contract), largest
    first, each labelled with the customer's name and drilling down to its payments."""
    lude = b2b.customer("rep1", "泰州海陵电力设备有限公司")
    yueda = b2b.customer("rep2", "盐城悦达智能农装有限公司")

    def payment(username: str, customer: dict, amount: float, due: str) -> dict:
        contract = b2b.contract(username, customer, 1000000)
        return b2b.create(
            username,
            "payment",
            contract=contract["id"],
            phase="progress",
            amount=amount,
            due_date=due,
        )

    lude_overdue = [
        payment("rep1", lude, 100000, "2025-01-10"),
        payment("rep1", lude, 50000, "2025-02-10"),
    ]
    paid = payment("rep1", lude, 70000, "2025-03-10")
    b2b.update("finance", paid["id"], received=True, matched=True, voucher_no="V9")
    payment("rep1", lude, 90000, "2099-01-01")  # not due yet
    yueda_overdue = payment("rep2", yueda, 200000, "2025-01-10")

    rows = widgets(b2b, "supervisor", "sales_overview")["overdue_by_customer"]["data"]["rows"]

    assert [(r["key"], r["label"], r["values"]) for r in rows] == [
        ([yueda["id"]], ["盐城悦达智能农装有限公司"], {"amount": 200000.0, "payments": 1}),
        ([lude["id"]], ["泰州海陵电力设备有限公司"], {"amount": 150000.0, "payments": 2}),
    ]
    for row, behind in zip(rows, ([yueda_overdue], lude_overdue), strict=True):
        drill = row["points"]["amount"]["drill"]
        assert drill["filter"]["and"][-1] == {
            "field": "customer",
            "op": "eq",
            "value": row["key"][0],
        }
        found = b2b.call("supervisor", DRILL, **drill)["records"]["totalCount"]
        assert found == len(behind)
    (own,) = widgets(b2b, "rep1", "sales_overview")["overdue_by_customer"]["data"]["rows"]
    assert own["label"] == ["泰州海陵电力设备有限公司"]


def test_health_below_75_puts_a_to_do_on_the_regional_directors_list(b2b: B2BSales):
    """R20: health = stage 40 % + documents 30 % + supply 30 %; a project below 75 (on
    creation or after an update) gives the owner's regional director a to-do; the
    distribution uses the bins 60 / 75 / 90."""
    customer = b2b.customer("rep1", "盐城悦达智能农装有限公司")

    def project(name: str, stage: float, docs: float, supply: float) -> dict:
        return b2b.create(
            "rep1",
            "project",
            name=name,
            customer=customer["id"],
            stage_completion=stage,
            doc_completeness=docs,
            supply_assurance=supply,
        )

    weak = project("播种机产线", 70, 80, 76.3)
    fine = project("收割机总装线", 72, 78, 76)
    strong = project("智能仓储", 95, 90, 92)

    assert b2b.record("rep1", weak["id"])["data"]["health_score"] == 74.9
    assert b2b.record("rep1", fine["id"])["data"]["health_score"] == 75.0
    (todo,) = b2b.tasks("regional", kind="TODO")
    assert todo["record"]["id"] == weak["id"]
    assert todo["title"] == "项目健康度 74.9 分：播种机产线"
    assert b2b.tasks("supervisor", kind="TODO") == []

    b2b.update("rep1", fine["id"], supply_assurance=50)  # 67.2
    assert len(b2b.tasks("regional", kind="TODO")) == 2
    b2b.update("rep1", strong["id"], doc_completeness=85)  # still 91.4
    assert len(b2b.tasks("regional", kind="TODO")) == 2

    rows = widgets(b2b, "supervisor", "project_health")["health_bins"]["data"]["rows"]
    assert {row["label"][0]: row["values"]["n"] for row in rows if row["values"]["n"]} == {
        "60–75": 2,
        "≥ 90": 1,
    }


def reports(b2b: B2BSales, username: str) -> list[str]:
    return [
        n["message"] for n in b2b.notifications(username) if n["kind"] == "automation.dashboard"
    ]


def test_the_monday_report_gives_each_manager_their_teams_figures(b2b: B2BSales):
    """R29: every Monday at 10:00 the sales overview is pushed to the managers and
    regional directors, each computed in the reader's own scope."""
    for username, name, amount in (
        ("rep1", "常州星宇车灯有限公司", 100000),
        ("rep2", "无锡先导智能装备有限公司", 200000),
        ("rep3", "深圳汇川技术有限公司", 800000),
    ):
        deal(b2b, username, b2b.customer(username, name), amount)
    weekly = Metadata.objects.get(app__key="b2b_sales", key="weekly_team_report")

    schedules.run_scheduled(weekly.pk, now=timezone.now())

    (team1,) = reports(b2b, "supervisor")
    (team2,) = reports(b2b, "supervisor2")
    assert team1.startswith("销售总览周报")
    assert "需求确认: 商机数 2, 金额 300,000.00" in team1
    assert "需求确认: 商机数 1, 金额 800,000.00" in team2
    assert "800,000" not in team1
    assert reports(b2b, "regional") == [team1]  # the same region, the same figures
    assert reports(b2b, "rep1") == []
