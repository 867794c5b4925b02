"""Every widget type and measure against hand-counted records: KPI ratios and threshold
colours at their boundaries, bars with sums and averages, date buckets in the
workspace's time zone, number bins, the funnel with every stage, time per stage,
the radar's team average, the heatmap's cells and data health by board_org unit."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import translation

from dajian.platform.org import create_org_unit
from dajian.runtime.dashboards.shapes import threshold_color
from tests.factories import make_actor, make_user
from tests.runtime.dashboard_helpers import (
    NOW,
    THRESHOLDS,
    TOTAL,
    VALID_SHARE,
    add,
    count,
    drill_count,
    drill_ids,
    figures,
    measure,
    publish,
    stay,
    widget,
)

pytest_plugins = ["tests.runtime.dashboard_plugin"]

VALID_RATE = widget(
    "valid_rate",
    "kpi",
    VALID_SHARE,
    title={"zh-CN": "有效拜访率", "en": "Valid board_visit rate"},
    thresholds=THRESHOLDS,
    format="percent",
)


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


def rows_by_label(found):
    return {tuple(row["label"]): row["values"] for row in found["data"]["rows"]}


# --- KPI and thresholds ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pending", "rate", "color"),
    [(7, 0.65, "green"), (8, 0.6, "yellow"), (11, 0.45, "yellow"), (12, 0.4, "red")],
)
def test_kpi_ratio_with_thresholds(board_org, board_visit, admin_actor, pending, rate, color):
    for i in range(20):
        add(board_org, board_visit, "rep1", flags=["pending_verification"] if i < pending else [])
    publish(admin_actor, VALID_RATE)
    shown = figures(board_org["admin"])["valid_rate"]
    data = shown["data"]
    assert (data["value"], data["numerator"], data["denominator"]) == (rate, 20 - pending, 20)
    assert shown["color"] == data["color"] == color
    assert shown["format"] == "percent"
    assert drill_count(board_org["admin"], data["drill"]) == 20
    assert drill_count(board_org["admin"], data["drill_numerator"]) == 20 - pending


@pytest.mark.parametrize(
    ("value", "expected", "lower_expected"),
    [
        (0.65, "green", "red"),
        (0.6499, "yellow", "red"),
        (0.45, "yellow", "yellow"),
        (0.4499, "red", "yellow"),
        (0.2, "red", "green"),
        (None, None, None),
    ],
)
def test_threshold_colours_at_the_boundaries(value, expected, lower_expected):
    assert threshold_color(value, {"green": 0.65, "yellow": 0.45}) == expected
    lower = {"green": 0.3, "yellow": 0.45, "lower_is_better": True}
    assert threshold_color(value, lower) == lower_expected


@pytest.mark.parametrize(
    ("score", "color"), [(0.65, "green"), (0.6499, "yellow"), (0.45, "yellow"), (0.4499, "red")]
)
def test_kpi_colour_of_an_average_at_the_boundaries(
    board_org, board_visit, admin_actor, score, color
):
    add(board_org, board_visit, "rep1", score=score)
    publish(
        admin_actor, widget("score", "kpi", measure("avg", "avg", "score"), thresholds=THRESHOLDS)
    )
    shown = figures(board_org["admin"])["score"]
    assert (shown["data"]["value"], shown["color"]) == (score, color)


def test_kpi_without_records(board_org, board_visit, admin_actor):
    publish(admin_actor, VALID_RATE)
    data = figures(board_org["admin"])["valid_rate"]["data"]
    assert (data["value"], data["color"], data["numerator"], data["denominator"]) == (
        None,
        None,
        0,
        0,
    )


# --- bars: values, sums, averages, order ---------------------------------------------------


@pytest.fixture
def regions(board_org, board_visit):
    add(board_org, board_visit, "rep1", region="north", amount=100, score=1)
    add(board_org, board_visit, "rep1", region="north", amount=30, score=2)
    add(board_org, board_visit, "rep2", region="north", score=6)
    add(board_org, board_visit, "rep2", region="south", amount=50.5)
    add(board_org, board_visit, "rep3", region="east", amount=7)
    add(board_org, board_visit, None, address="no region")


def test_bar_count_sum_avg_min_max_by_choice(board_org, regions, admin_actor):
    publish(
        admin_actor,
        widget(
            "by_region",
            "bar",
            count(),
            TOTAL,
            measure("mean", "avg", "amount"),
            measure("low", "min", "score"),
            measure("high", "max", "score"),
            count("big", filter={"field": "amount", "op": "gt", "value": 40}),
            group_by=["region"],
        ),
    )
    shown = figures(board_org["admin"])["by_region"]
    data = shown["data"]
    # in the order of the choices, the empty value last
    assert [row["key"] for row in data["rows"]] == [["north"], ["south"], ["east"], [None]]
    assert [row["label"] for row in data["rows"]] == [["华北"], ["华南"], ["华东"], ["（空）"]]
    assert rows_by_label(shown) == {
        ("华北",): {"n": 3, "total": 130.0, "mean": 65.0, "low": 1.0, "high": 6.0, "big": 1},
        ("华南",): {"n": 1, "total": 50.5, "mean": 50.5, "low": None, "high": None, "big": 1},
        ("华东",): {"n": 1, "total": 7.0, "mean": 7.0, "low": None, "high": None, "big": 0},
        ("（空）",): {"n": 1, "total": 0.0, "mean": None, "low": None, "high": None, "big": 0},
    }
    assert [m["format"] for m in data["measures"]] == [
        "number",
        "money",
        "money",
        "number",
        "number",
        "number",
    ]
    assert data["dimensions"] == [{"field": "region", "label": "Region"}]


def test_sort_by_value_and_limit(board_org, regions, admin_actor):
    publish(
        admin_actor,
        widget("top", "bar", TOTAL, group_by=["region"], sort="value_asc", limit=2),
        widget("top_desc", "pie", TOTAL, group_by=["region"], sort="value_desc", limit=2),
    )
    found = figures(board_org["admin"])
    assert [row["key"] for row in found["top"]["data"]["rows"]] == [[None], ["east"]]
    assert [row["key"] for row in found["top_desc"]["data"]["rows"]] == [["north"], ["south"]]


def test_labels_follow_the_language(board_org, regions, admin_actor):
    weekday = {"field": "created_at", "bucket": "weekday"}
    publish(admin_actor, widget("by_region", "table", group_by=["region", weekday]))
    with translation.override("en"):
        rows = figures(board_org["admin"])["by_region"]["data"]["rows"]
    assert rows[0]["label"] == ["North", "Tue"]  # created the day before NOW, a Tuesday
    assert rows[-1]["label"] == ["(empty)", "Tue"]


# --- time buckets in the workspace's zone ---------------------------------------------------


def test_a_record_at_2330_utc_is_the_next_local_day(board_org, board_visit, admin_actor):
    add(board_org, board_visit, "rep1", created_at=utc(2026, 3, 16, 23, 30))  # 07:30 on the 17th
    add(board_org, board_visit, "rep1", created_at=utc(2026, 3, 16, 15, 59))  # 23:59 on the 16th
    add(board_org, board_visit, "rep1", created_at=utc(2026, 2, 28, 16, 30))  # 00:30 on 1 March
    add(board_org, board_visit, "rep1", visited_at="2026-03-16T23:30:00Z")
    widgets = [
        widget(f"by_{bucket}", "line", group_by=[{"field": "created_at", "bucket": bucket}])
        for bucket in ("day", "week", "month", "quarter", "year", "weekday", "hour")
    ]
    widgets.append(widget("visited", "bar", group_by=[{"field": "visited_at", "bucket": "day"}]))
    publish(admin_actor, *widgets)
    found = figures(board_org["admin"])

    def keys(key):
        return [
            (row["key"][0], row["label"][0], row["values"]["n"])
            for row in found[key]["data"]["rows"]
        ]

    # the fourth record was created the day before NOW (17 March 12:00 local)
    assert keys("by_day") == [
        ("2026-03-01", "2026-03-01", 1),
        ("2026-03-16", "2026-03-16", 1),
        ("2026-03-17", "2026-03-17", 2),
    ]
    assert keys("by_week") == [("2026-02-23", "2026-W09", 1), ("2026-03-16", "2026-W12", 3)]
    assert keys("by_month") == [("2026-03-01", "2026-03", 4)]
    assert keys("by_quarter") == [("2026-01-01", "2026-Q1", 4)]
    assert keys("by_year") == [("2026-01-01", "2026", 4)]
    assert keys("by_weekday") == [(1, "周一", 1), (2, "周二", 2), (7, "周日", 1)]
    assert keys("by_hour") == [(0, "00:00", 1), (7, "07:00", 1), (12, "12:00", 1), (23, "23:00", 1)]
    assert keys("visited") == [("2026-03-17", "2026-03-17", 1), (None, "（空）", 3)]
    for key in found:
        for row in found[key]["data"]["rows"]:
            point = row["points"]["n"]
            assert drill_count(board_org["admin"], point["drill"]) == point["value"], (key, row)


def test_date_fields_bucket_by_their_own_day(board_org, board_visit, admin_actor):
    for day in ("2026-03-16", "2026-03-17", "2026-03-22", "2026-03-23", "2026-04-01"):
        add(board_org, board_visit, "rep1", due_on=day)
    publish(
        admin_actor,
        *[
            widget(
                bucket,
                "bar",
                group_by=[{"field": "due_on", "bucket": bucket}],
                filter={"field": "due_on", "op": "isnull", "value": False},
            )
            for bucket in ("week", "month", "weekday")
        ],
    )
    found = figures(board_org["admin"])
    weeks = [(r["label"][0], r["values"]["n"]) for r in found["week"]["data"]["rows"]]
    assert weeks == [("2026-W12", 3), ("2026-W13", 1), ("2026-W14", 1)]
    months = [(r["key"][0], r["values"]["n"]) for r in found["month"]["data"]["rows"]]
    assert months == [("2026-03-01", 4), ("2026-04-01", 1)]
    weekdays = [(r["key"][0], r["values"]["n"]) for r in found["weekday"]["data"]["rows"]]
    assert weekdays == [(1, 2), (2, 1), (3, 1), (7, 1)]
    for shown in found.values():
        for row in shown["data"]["rows"]:
            assert (
                drill_count(board_org["admin"], row["points"]["n"]["drill"]) == row["values"]["n"]
            )


# --- bins ----------------------------------------------------------------------------------


def test_bins_are_labelled_ranges(board_org, board_visit, admin_actor):
    for score in (50, 60, 74.99, 75, 90, 95):
        add(board_org, board_visit, "rep1", score=score)
    add(board_org, board_visit, "rep1")
    publish(
        admin_actor, widget("health", "bar", group_by=[{"field": "score", "bins": [60, 75, 90]}])
    )
    health = figures(board_org["admin"])["health"]
    assert [(r["label"][0], r["values"]["n"]) for r in health["data"]["rows"]] == [
        ("< 60", 1),
        ("60–75", 2),
        ("75–90", 1),
        ("≥ 90", 2),
        ("（空）", 1),
    ]
    for row in health["data"]["rows"]:
        assert drill_count(board_org["admin"], row["points"]["n"]["drill"]) == row["values"]["n"]


# --- stages ----------------------------------------------------------------------------------


def test_funnel_lists_every_stage_in_order_with_zeros(board_org, board_opportunity, admin_actor):
    add(board_org, board_opportunity, "rep1", stage="new", amount=10)
    add(board_org, board_opportunity, "rep1", stage="new", amount=20)
    add(board_org, board_opportunity, "rep2", stage="negotiation", amount=300)
    publish(
        admin_actor,
        widget(
            "funnel",
            "funnel",
            count(),
            measure("amount", "sum", "amount"),
            form="opportunity",
            group_by=["stage"],
            sort="value_desc",
            limit=1,
        ),
    )
    rows = figures(board_org["admin"])["funnel"]["data"]["rows"]
    assert [(r["key"][0], r["label"][0], r["values"]) for r in rows] == [
        ("new", "新建", {"n": 2, "amount": 30.0}),
        ("proposal", "方案", {"n": 0, "amount": 0.0}),
        ("negotiation", "谈判", {"n": 1, "amount": 300.0}),
        ("won", "赢单", {"n": 0, "amount": 0.0}),
    ]
    for row in rows:
        assert drill_count(board_org["admin"], row["points"]["n"]["drill"]) == row["values"]["n"]


def test_average_hours_per_stage(board_org, board_opportunity, admin_actor):
    start = NOW - dt.timedelta(days=10)
    first = add(board_org, board_opportunity, "rep1", stage="negotiation")
    stay(first, "new", start, 10)
    stay(first, "proposal", start + dt.timedelta(hours=10), 20)
    stay(first, "new", start + dt.timedelta(hours=30), 4)  # sent back: 14 h in new in all
    stay(first, "negotiation", NOW - dt.timedelta(hours=6), None)  # still there: 6 h so far
    second = add(board_org, board_opportunity, "rep2", stage="won")
    stay(second, "new", start, 2)
    stay(second, "won", start + dt.timedelta(hours=2), None)  # terminal: no time counted
    add(board_org, board_opportunity, "rep2", stage="new")  # no history
    publish(
        admin_actor,
        widget(
            "hours",
            "bar",
            measure("h", "avg_stage_hours"),
            count(),
            form="opportunity",
            group_by=["stage"],
        ),
    )
    hours = figures(board_org["admin"])["hours"]
    assert hours["format"] == "hours"
    rows = {r["key"][0]: r for r in hours["data"]["rows"]}
    assert {k: r["values"] for k, r in rows.items()} == {
        "new": {"h": 8.0, "n": 1},  # (14 + 2) / 2 records
        "proposal": {"h": 20.0, "n": 0},
        "negotiation": {"h": 6.0, "n": 1},
        "won": {"h": None, "n": 1},
    }
    assert drill_ids(board_org["admin"], rows["new"]["points"]["h"]["drill"]) == {
        first.pk,
        second.pk,
    }
    assert drill_ids(board_org["admin"], rows["proposal"]["points"]["h"]["drill"]) == {first.pk}


# --- people ----------------------------------------------------------------------------------


def test_radar_compares_people_with_the_team_average(board_org, board_visit, admin_actor):
    for amount in (10, 20, 30):
        add(board_org, board_visit, "rep1", amount=amount)
    add(board_org, board_visit, "rep2", amount=60)
    add(board_org, board_visit, None, amount=1000)  # the pool is nobody's: not in the average
    publish(
        admin_actor,
        widget(
            "radar",
            "radar",
            count("visits"),
            measure("orders", "sum", "amount"),
            group_by=["owner"],
            compare="team_average",
        ),
    )
    data = figures(board_org["admin"])["radar"]["data"]
    people = {r["label"][0]: r["values"] for r in data["rows"]}
    assert people == {
        "rep1": {"visits": 3, "orders": 60.0},
        "rep2": {"visits": 1, "orders": 60.0},
        "公海（无负责人）": {"visits": 1, "orders": 1000.0},
    }
    assert data["average"]["values"] == {"visits": 2.0, "orders": 60.0}
    assert data["average"]["label"] == "团队平均"
    assert drill_count(board_org["admin"], data["average"]["points"]["visits"]["drill"]) == 4
    # the manager's radar: their team only
    data = figures(board_org["manager"])["radar"]["data"]
    assert data["average"]["values"] == {"visits": 2.0, "orders": 60.0}


def test_heatmap_owner_by_weekday(board_org, board_visit, admin_actor):
    monday, tuesday = utc(2026, 3, 16, 2), utc(2026, 3, 16, 23, 30)  # local Mon 10:00, Tue 07:30
    add(board_org, board_visit, "rep1", created_at=monday)
    add(board_org, board_visit, "rep1", created_at=monday)
    add(board_org, board_visit, "rep1", created_at=tuesday)
    add(board_org, board_visit, "rep2", created_at=tuesday)
    weekday = {"field": "created_at", "bucket": "weekday"}
    publish(admin_actor, widget("heat", "heatmap", group_by=["owner", weekday]))
    data = figures(board_org["admin"])["heat"]["data"]
    assert data["x"]["keys"] == [1, 2, 3, 4, 5, 6, 7]
    assert data["x"]["labels"][:2] == ["周一", "周二"]
    assert data["y"]["labels"] == ["rep1", "rep2"]
    cells = {(c["y"], c["x"]): c["values"]["n"] for c in data["rows"]}
    assert cells == {(0, 0): 2, (0, 1): 1, (1, 1): 1}
    for cell in data["rows"]:
        assert drill_count(board_org["admin"], cell["points"]["n"]["drill"]) == cell["values"]["n"]


def test_data_health_by_org_unit(board_org, board_visit, admin_actor):
    add(board_org, board_visit, "rep1", phone="13800000000", address="A", amount=1)  # 3 of 3
    add(board_org, board_visit, "rep2", address="B")  # 1 of 3
    add(board_org, board_visit, "rep3", phone="13800000001")  # 1 of 3 (West)
    add(board_org, board_visit, "manager")  # the manager has no unit of their own: 0 of 3
    add(board_org, board_visit, None, amount=5)  # the pool: 1 of 3
    publish(
        admin_actor,
        widget(
            "completeness",
            "table",
            measure("filled", "filled", fields=["phone", "address", "amount"]),
            count(),
            group_by=["org_unit"],
            sort="value_desc",
            thresholds={"green": 0.8, "yellow": 0.5},
        ),
    )
    rows = figures(board_org["admin"])["completeness"]["data"]["rows"]
    assert [(r["label"][0], r["values"]) for r in rows] == [
        ("East", {"filled": 0.666667, "n": 2}),
        ("West", {"filled": 0.333333, "n": 1}),
        ("未分配部门", {"filled": 0.166667, "n": 2}),
    ]
    assert [r["points"]["filled"]["color"] for r in rows] == ["yellow", "red", "red"]
    for row in rows:
        assert drill_count(board_org["admin"], row["points"]["n"]["drill"]) == row["values"]["n"]


def test_org_units_exclude_their_sub_units(board_org, board_visit, admin_actor, workspace):
    """A unit's figure counts its own members; a sub-unit's members are in the sub-unit's."""
    key_accounts = create_org_unit(workspace, "Key accounts", parent=board_org.east)
    rep4 = make_user("rep4", workspace, roles=["rep"], org_unit=key_accounts)
    board_org.actors["rep4"] = make_actor(rep4, workspace)
    add(board_org, board_visit, "rep1")
    add(board_org, board_visit, "rep4")
    add(board_org, board_visit, "rep4")
    publish(admin_actor, widget("units", "bar", group_by=["org_unit"]))
    rows = figures(board_org["admin"])["units"]["data"]["rows"]
    assert [(r["label"][0], r["values"]["n"]) for r in rows] == [("East", 1), ("Key accounts", 2)]
    for row in rows:
        assert drill_count(board_org["admin"], row["points"]["n"]["drill"]) == row["values"]["n"]
