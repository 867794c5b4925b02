"""Signals and scheduled reports of the store sales app: the churn warning about A-level
stores (R21), the daily list of visits pending verification (R3, R21), the Monday team
report and the monthly incentive statement (R29), the monthly data-health ranking
(R30)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from graphql_relay import to_global_id

pytest.register_assert_rewrite("tests.acceptance.store_sales_plugin")

from tests.acceptance.store_sales_plugin import StoreSales, local, today  # noqa: E402

pytest_plugins = ["tests.acceptance.store_sales_plugin"]


def todo_titles(shop: StoreSales, username: str) -> list[str]:
    return sorted(t["title"] for t in shop.tasks(username, kind="TODO"))


def test_an_a_level_store_visited_once_this_month_raises_a_churn_warning(shop: StoreSales):
    """R21: at the monthly scan, each A-level store with fewer than 2 valid visits this
    month gives its rep's supervisor a churn-warning to-do; visits last month or pending
    verification do not count, B-level stores are not watched."""
    first_of_month = today().replace(day=1)
    stores = {
        name: shop.store(rep, name, level=level)
        for name, rep, level in (
            ("一次", "rep1", "A"),
            ("两次", "rep1", "A"),
            ("一次加待核实", "rep2", "A"),
            ("B 类", "rep1", "B"),
            ("华南 A 类", "rep3", "A"),
        )
    }
    for name, rep, days, complete in (
        ("一次", "rep1", [today(), first_of_month - dt.timedelta(days=1)], True),
        ("两次", "rep1", [first_of_month, today()], True),
        ("一次加待核实", "rep2", [today()], True),
        ("一次加待核实", "rep2", [today()], False),
    ):
        for day in days:
            evidence = shop.evidence(rep) if complete else {}
            shop.visit(rep, stores[name], day=day, **evidence)

    assert {t.day for t in shop.ticks("a_store_churn_warning")} == {20}  # monthly
    shop.run_schedule("a_store_churn_warning", now=timezone.now())

    assert todo_titles(shop, "supervisor") == [
        "流失预警：A 类门店 一次 本月有效拜访 1 次",
        "流失预警：A 类门店 一次加待核实 本月有效拜访 1 次",
    ]
    assert todo_titles(shop, "supervisor2") == ["流失预警：A 类门店 华南 A 类 本月有效拜访 0 次"]
    assert todo_titles(shop, "rep1") == []
    warning = next(t for t in shop.tasks("supervisor", kind="TODO") if "一次加待核实" in t["title"])
    assert "最近提出的需求：店主希望国庆前拿到堆头促销物料" in warning["message"]


def test_visits_pending_verification_reach_the_supervisor_the_next_morning(shop: StoreSales):
    """R3, R21: every morning each supervisor gets one list of the team's visits of the
    day before that are still pending verification."""
    store = shop.store("rep1", "联华超市（徐汇店）")
    yesterday = today() - dt.timedelta(days=1)
    pending = shop.visit("rep1", store, day=yesterday)
    shop.visit("rep2", shop.store("rep2", "快客便利"), day=yesterday, **shop.evidence("rep2"))
    shop.visit("rep1", store, day=today())  # today's plan is not late yet

    morning = timezone.localtime(timezone.now()).replace(hour=8, minute=30)
    assert [(t.hour, t.minute) for t in shop.ticks("visit_pending_digest")] == [(8, 30)] * 3
    shop.run_schedule("visit_pending_digest", now=morning)

    (digest,) = [n for n in shop.notifications("supervisor") if n["kind"] == "automation.digest"]
    assert digest["message"].startswith("昨日团队有 1 条拜访待核实")
    assert digest["message"].endswith(pending["data"]["visit_no"])
    assert shop.notifications("rep1") == []


def test_the_monday_report_reaches_the_supervisors(shop: StoreSales):
    """R29: on Monday at 10:00 every supervisor gets the team report (the store overview
    dashboard) through the automation engine, with the figures of their own team."""
    store = shop.store("rep1", "联华超市（徐汇店）")
    shop.visit("rep1", store, **shop.evidence("rep1"))
    shop.visit("rep1", store)
    now = timezone.localtime(timezone.now())
    monday = (now + dt.timedelta(days=7 - now.weekday())).replace(hour=10, minute=0)

    ticks = shop.ticks("weekly_team_report")
    assert [(t.weekday(), t.hour, t.minute) for t in ticks] == [(0, 10, 0)] * 3

    shop.run_schedule("weekly_team_report", now=monday)

    def report(username: str) -> str:
        (note,) = [n for n in shop.notifications(username) if n["kind"] == "automation.dashboard"]
        return note["message"]  # type: ignore[no-any-return]

    assert "有效拜访率: 50.0%" in report("supervisor")
    assert "rep1: 拜访数 2, 有效拜访 1" in report("supervisor")
    assert "有效拜访率: —" in report("supervisor2")  # no visits in their team
    assert "rep1" not in report("supervisor2")
    assert [n for n in shop.notifications("rep1") if n["kind"] == "automation.dashboard"] == []


def test_data_completeness_per_department_reaches_the_regional_managers(shop: StoreSales):
    """R30, R29: on the 1st the regional managers get the ranking of store-record
    completeness per department, each for the departments they oversee."""
    shop.store(
        "rep1",
        "资料齐全的门店",
        address="漕溪北路 88 号",
        contact_name="王建国",
        contact_phone="13800138000",
        channel="supermarket",
    )
    shop.store("rep3", "只有名字的门店", location=None)
    first = local(today().year, today().month, 1, 9, 0)

    assert [(t.day, t.hour) for t in shop.ticks("monthly_data_health")] == [(1, 9)] * 3
    shop.run_schedule("monthly_data_health", now=first)

    def report(username: str) -> str:
        (note,) = [n for n in shop.notifications(username) if n["kind"] == "automation.dashboard"]
        return note["message"]  # type: ignore[no-any-return]

    assert "销售一组: 填写率 83.3%" in report("regional")
    assert "销售二组: 填写率 0.0%" in report("regional2")
    assert "销售二组" not in report("regional")


def test_each_rep_gets_last_months_incentive_statement_on_the_5th(shop: StoreSales):
    """R29: on the 5th every rep gets one statement of the incentives awarded to them in
    the previous month, with the total; other months are left out."""
    run_at = local(today().year, today().month, 5, 9, 0)
    last_month = (run_at.date().replace(day=1) - dt.timedelta(days=1)).replace(day=1)
    plan = [
        ("rep1", last_month.replace(day=10), 200),
        ("rep1", last_month.replace(day=28), 350),
        ("rep1", run_at.date().replace(day=2), 999),  # this month: next statement
        ("rep1", last_month - dt.timedelta(days=20), 888),  # the month before
        ("rep2", last_month.replace(day=15), 500),
    ]
    for rep, day, amount in plan:
        shop.create(
            "supervisor",
            "incentive",
            salesperson=to_global_id("User", shop.org[rep].pk),
            incentive_type="display",
            awarded_on=day.isoformat(),
            amount=amount,
            basis="陈列达标：端架 + 黄金层",
        )

    assert [(t.day, t.hour) for t in shop.ticks("monthly_incentive_statement")] == [(5, 9)] * 3
    shop.run_schedule("monthly_incentive_statement", now=run_at)

    def statement(rep: str) -> str:
        (note,) = [n for n in shop.notifications(rep) if n["kind"] == "automation.digest"]
        return note["message"]  # type: ignore[no-any-return]

    assert statement("rep1").startswith("上月激励明细（共 2 笔，合计 550")
    assert statement("rep2").startswith("上月激励明细（共 1 笔，合计 500")
    assert "999" not in statement("rep1") and "888" not in statement("rep1")
