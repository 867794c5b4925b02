"""Dashboards on PostgreSQL: publishing promotes the fields the widgets read, widgets
whose fields are all promoted read the facts, and the facts give exactly the figures
the records give — every widget type, every measure, date buckets in Asia/Shanghai,
filters, bins, board_org units, for every viewer's row scope — with drill-downs that count
what the figures show."""

from __future__ import annotations

import datetime as dt

import pytest

from dajian.runtime.dashboards.compute import dashboard_data
from dajian.runtime.dashboards.facts import promoted_columns
from dajian.runtime.models import FormPromotion, Record
from tests.factories import build_form
from tests.runtime.dashboard_helpers import (
    EVERY_TYPE,
    NOW,
    add,
    drill_count,
    publish,
    recompute,
    stay,
)

pytest_plugins = ["tests.runtime.dashboard_plugin"]

VIEWERS = ["admin", "manager", "other_mgr", "rep1", "rep3"]
ON_FACTS = [
    {
        "key": "by_due_week",
        "type": "bar",
        "form": "visit",
        "filter": {"field": "due_on", "op": "lt", "value": "2026-04-01"},
        "measures": [
            {"key": "n", "function": "count"},
            {"key": "total", "function": "sum", "field": "amount"},
            {"key": "mean", "function": "avg", "field": "score"},
        ],
        "group_by": [{"field": "due_on", "bucket": "week"}],
    },
    {
        "key": "visited_hours",
        "type": "heatmap",
        "form": "visit",
        "filter": {"field": "visited_at", "op": "weekday", "value": 2},
        "measures": [{"key": "n", "function": "count"}],
        "group_by": [{"field": "region"}, {"field": "visited_at", "bucket": "hour"}],
    },
    {
        "key": "by_month",
        "type": "line",
        "form": "visit",
        "measures": [
            {"key": "n", "function": "count"},
            {
                "key": "rate",
                "function": "ratio",
                "numerator": {"filter": {"field": "amount", "op": "gte", "value": 50}},
                "denominator": {},
            },
        ],
        "group_by": [{"field": "created_at", "bucket": "month"}],
    },
    {
        "key": "due_weekday",
        "type": "bar",
        "form": "visit",
        "measures": [{"key": "n", "function": "count"}],
        "group_by": [{"field": "due_on", "bucket": "weekday"}],
    },
]


@pytest.fixture
def data(board_org, board_visit, board_opportunity):
    """Visits and opportunities across the board_org, days and Shanghai's midnight."""
    day = dt.timedelta(days=1)
    rows = [
        ("rep1", {"region": "north", "amount": 100, "score": 40, "phone": "13800000000"}, 1),
        ("rep1", {"region": "north", "amount": 60.25, "score": 85, "due_on": "2026-03-16"}, 2),
        ("rep1", {"region": "south", "visited_at": "2026-03-16T23:30:00Z", "address": "X"}, 3),
        ("rep2", {"region": "north", "amount": 5, "score": 50, "due_on": "2026-03-22"}, 1),
        ("rep2", {"region": "east", "visited_at": "2026-03-17T01:00:00Z", "score": 79.5}, 40),
        ("rep3", {"region": "north", "amount": 999, "helper": board_org.user("rep1").pk}, 2),
        ("rep3", {"amount": 7, "visited_at": "2026-03-16T15:59:00Z", "due_on": "2026-03-23"}, 5),
        ("manager", {"region": "south", "amount": 12, "address": "HQ", "valid": True}, 3),
        (None, {"region": "east", "amount": 3, "phone": "13800000009"}, 1),
    ]
    for i, (owner, values, days) in enumerate(rows):
        flags = ["pending_verification"] if i % 3 == 0 else []
        created = NOW - days * day if i != 6 else dt.datetime(2026, 2, 28, 16, 30, tzinfo=dt.UTC)
        add(board_org, board_visit, owner, created_at=created, flags=flags, **values)
    start = NOW - 5 * day
    for owner, stage, amount, history in [
        ("rep1", "proposal", 100, [("new", 5), ("proposal", None)]),
        ("rep2", "new", 40, [("new", None)]),
        ("rep3", "negotiation", 800, [("new", 1), ("proposal", 2), ("negotiation", None)]),
        ("rep1", "won", 70, [("new", 3), ("won", None)]),
    ]:
        opp = add(board_org, board_opportunity, owner, stage=stage, amount=amount)
        entered = start
        for key, hours in history:
            stay(opp, key, entered, hours)
            entered += dt.timedelta(hours=hours or 0)


def both(actor):
    """The dashboard as ``actor`` sees it from the facts and from the records."""
    on_facts = dashboard_data(actor, "sales", "board", now=NOW)
    on_records = dashboard_data(actor, "sales", "board", now=NOW, facts=False)
    return on_facts, on_records


def test_publishing_promotes_the_fields_the_widgets_read(
    board_org, data, board_visit, board_opportunity, admin_actor
):
    publish(admin_actor, *EVERY_TYPE, *ON_FACTS)
    columns = promoted_columns(board_visit)
    assert columns is not None
    # text, choice, user → t; numbers → n; dates → d; the boolean stays in the JSON
    assert set(columns) == {
        "region", "amount", "score", "phone", "address", "helper", "visited_at", "due_on"
    }  # fmt: skip
    assert {columns[k][0] for k in ("region", "phone", "address", "helper")} == {"t"}
    assert {columns[k][0] for k in ("amount", "score")} == {"n"}
    assert {columns[k][0] for k in ("visited_at", "due_on")} == {"d"}
    assert promoted_columns(board_opportunity) == {
        "amount": columns_of(board_opportunity)["amount"]
    }


def columns_of(form):
    return FormPromotion.objects.get(form_id=form.pk).columns


@pytest.mark.parametrize("viewer", VIEWERS)
def test_facts_give_the_figures_the_records_give(board_org, data, admin_actor, viewer):
    publish(admin_actor, *EVERY_TYPE, *ON_FACTS)
    on_facts, on_records = both(board_org[viewer])
    sources = on_facts.pop("sources")
    assert on_records.pop("sources") == dict.fromkeys(sources, "records")
    # the boolean ``valid`` is not promoted: that widget reads the records
    assert sources == {
        **{w["key"]: "facts" for w in [*EVERY_TYPE, *ON_FACTS]},
        "table": "records",
    }
    assert on_facts == on_records


def test_records_written_after_publishing_are_counted_from_the_facts(
    board_org, board_visit, admin_actor, data
):
    publish(admin_actor, *ON_FACTS)
    add(board_org, board_visit, "rep1", due_on="2026-03-17", amount=1, created_at=NOW)
    moved = Record.objects.filter(form=board_visit, owner=board_org.user("rep3")).first()
    Record.objects.filter(pk=moved.pk).update(owner=board_org.user("rep2"))  # a bulk reassignment
    for viewer in VIEWERS:
        on_facts, on_records = both(board_org[viewer])
        assert set(on_facts.pop("sources").values()) == {"facts"}
        on_records.pop("sources")
        assert on_facts == on_records


def test_a_local_day_from_the_facts(board_org, board_visit, admin_actor):
    add(board_org, board_visit, "rep1", created_at=dt.datetime(2026, 3, 16, 23, 30, tzinfo=dt.UTC))
    add(board_org, board_visit, "rep1", due_on="2026-03-17", visited_at="2026-03-16T23:30:00Z")
    publish(
        admin_actor,
        {
            "key": "visited_day",
            "type": "bar",
            "form": "visit",
            "measures": [{"key": "n", "function": "count"}],
            "group_by": [{"field": "visited_at", "bucket": "day"}],
            "filter": {"field": "visited_at", "op": "isnull", "value": False},
        },
        {
            "key": "due_day",
            "type": "bar",
            "form": "visit",
            "measures": [{"key": "n", "function": "count"}],
            "group_by": [{"field": "due_on", "bucket": "day"}],
            "filter": {"field": "due_on", "op": "isnull", "value": False},
        },
    )
    found = dashboard_data(board_org["admin"], "sales", "board", now=NOW)
    assert found["sources"] == {"visited_day": "facts", "due_day": "facts"}
    widgets = {w["key"]: w["data"]["rows"] for w in found["widgets"]}
    # 23:30 UTC on the 16th is the 17th in Shanghai; a date is its own day
    assert [r["key"] for r in widgets["visited_day"]] == [["2026-03-17"]]
    assert [r["key"] for r in widgets["due_day"]] == [["2026-03-17"]]


@pytest.mark.parametrize("viewer", ["manager", "rep1"])
def test_every_figure_from_the_facts_is_its_drill_down(board_org, data, admin_actor, viewer):
    publish(admin_actor, *EVERY_TYPE)
    actor = board_org[viewer]
    found = dashboard_data(actor, "sales", "board", now=NOW)
    assert found["sources"]["bar"] == "facts"
    for spec in EVERY_TYPE:
        widget = next(w for w in found["widgets"] if w["key"] == spec["key"])
        measures = {m["key"]: m for m in spec["measures"]}
        if spec["type"] == "kpi":
            assert drill_count(actor, widget["data"]["drill"]) == widget["data"]["denominator"]
            continue
        for row in widget["data"]["rows"]:
            for name, point in row["points"].items():
                expected = recompute(actor, measures[name], point, row["key"][0])
                assert expected == point["value"], (spec["key"], row["label"], name)


def test_a_form_with_more_fields_than_slots_keeps_reading_records(board_org, admin_actor):
    fields = [{"key": f"t{i}", "type": "text", "label": f"T{i}"} for i in range(9)]
    form = build_form(admin_actor, fields, key="wide")
    add(board_org, form, "rep1", t0="a", t8="b")
    publish(
        admin_actor,
        {
            "key": "health",
            "type": "kpi",
            "form": "wide",
            "measures": [{"key": "f", "function": "filled", "fields": [f["key"] for f in fields]}],
        },
    )
    assert promoted_columns(form) is None  # nine text fields, eight text slots
    found = dashboard_data(board_org["rep1"], "sales", "board", now=NOW)
    assert found["sources"] == {"health": "records"}
    assert found["widgets"][0]["data"]["value"] == round(2 / 9, 6)
