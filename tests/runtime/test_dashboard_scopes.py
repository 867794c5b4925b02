"""Dashboards respect the viewer's row scope, and every figure's drill-down returns
exactly the records behind it: for every point of every widget type, the figure
recomputed in Python from the records ``records(app, form, filter)`` returns equals the
figure shown. Also: widgets over hidden fields, relative filters pinned in drill-downs,
and a number of queries that does not grow with the records."""

from __future__ import annotations

import datetime as dt
from statistics import fmean

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from dajian.builder.services.forms import publish_form, save_form_draft
from dajian.runtime.models import Record
from tests.factories import make_actor
from tests.runtime.dashboard_helpers import (
    EVERY_TYPE,
    NOW,
    PERMISSIONS,
    add,
    add_opportunities,
    drill_count,
    figures,
    publish,
    recompute,
    stay,
)

pytest_plugins = ["tests.runtime.dashboard_plugin"]


@pytest.fixture
def records(board_org, board_visit, board_opportunity):
    """Visits and opportunities of every rep, the manager and the pool."""
    made: list[Record] = []
    day = dt.timedelta(days=1)
    rows = [
        ("rep1", {"region": "north", "amount": 100, "score": 40, "phone": "13800000000"}, 1),
        ("rep1", {"region": "north", "amount": 60, "score": 85, "valid": True}, 2),
        ("rep1", {"region": "south", "visited_at": "2026-03-16T23:30:00Z", "address": "X"}, 3),
        ("rep2", {"region": "north", "amount": 5, "score": 50, "valid": False}, 1),
        ("rep2", {"region": "east", "visited_at": "2026-03-17T01:00:00Z", "score": 79.5}, 40),
        ("rep3", {"region": "north", "amount": 999, "helper": board_org.user("rep1").pk}, 2),
        ("rep3", {"amount": 7, "visited_at": "2026-03-16T23:59:00Z", "valid": True}, 5),
        ("manager", {"region": "south", "amount": 12, "address": "HQ"}, 3),
        (None, {"region": "east", "amount": 3, "phone": "13800000009"}, 1),
    ]
    for i, (owner, data, days) in enumerate(rows):
        flags = ["pending_verification"] if i % 3 == 0 else []
        made.append(
            add(board_org, board_visit, owner, created_at=NOW - days * day, flags=flags, **data)
        )
    Record.objects.filter(pk=made[1].pk).update(status="in_approval")
    return made + add_opportunities(board_org, board_opportunity)


@pytest.mark.parametrize("viewer", ["admin", "manager", "other_mgr", "rep1", "rep3"])
def test_every_figure_is_its_drill_down(board_org, records, admin_actor, viewer):
    publish(admin_actor, *EVERY_TYPE)
    actor = board_org[viewer]
    found = figures(actor)
    assert set(found) == {w["key"] for w in EVERY_TYPE}
    checked = 0
    for spec in EVERY_TYPE:
        data = found[spec["key"]]["data"]
        assert "error" not in data, data
        measures = {m["key"]: m for m in spec["measures"]}
        if spec["type"] == "kpi":
            point = data
            assert recompute(actor, spec["measures"][0], point) == point["value"]
            assert drill_count(actor, point["drill"]) == point["denominator"]
            assert drill_count(actor, point["drill_numerator"]) == point["numerator"]
            checked += 1
            continue
        for row in data["rows"]:
            for name, point in row["points"].items():
                key = row["key"][0]
                assert recompute(actor, measures[name], point, key) == point["value"], (
                    spec["key"],
                    row["label"],
                    name,
                )
                checked += 1
        if "average" in data:
            for name, point in data["average"]["points"].items():
                people = [r["values"][name] for r in data["rows"] if r["key"][0] is not None]
                people = [v for v in people if v is not None]
                assert point["value"] == (round(fmean(people), 6) if people else None)
                if name == "n":  # the records of everybody averaged
                    assert drill_count(actor, point["drill"]) == sum(people)
    assert checked > 20


def test_a_rep_sees_their_figures_and_the_manager_the_teams(board_org, records, admin_actor):
    publish(admin_actor, *EVERY_TYPE)

    def owners(viewer):
        rows = figures(board_org[viewer])["bar"]["data"]["rows"]
        return {row["label"][1] for row in rows}

    pool = "公海（无负责人）"
    assert owners("rep1") == {"rep1", pool}
    assert owners("rep3") == {"rep3", pool}
    assert owners("manager") == {"rep1", "rep2", "manager", pool}
    assert owners("other_mgr") == {"rep3", pool}
    assert owners("admin") == {"rep1", "rep2", "rep3", "manager", pool}
    # the KPI's denominator is the records each may read (visits of the last 30 days)
    denominators = {
        v: figures(board_org[v])["kpi"]["data"]["denominator"] for v in ("rep1", "manager")
    }
    assert denominators == {"rep1": 4, "manager": 6}


def test_a_widget_over_a_hidden_field_is_an_error_for_who_cannot_see_it(
    board_org, board_visit, admin_actor, records
):
    rules = [dict(rule) for rule in PERMISSIONS]
    rules[0]["fields"] = {"amount": "hidden"}  # reps cannot see amounts
    definition = {**board_visit.published.definition, "permissions": rules}
    save_form_draft(admin_actor, "sales", "visit", definition)
    publish_form(admin_actor, "sales", "visit")
    publish(
        admin_actor,
        {
            "key": "total",
            "type": "kpi",
            "form": "visit",
            "measures": [{"key": "s", "function": "sum", "field": "amount"}],
        },
        {
            "key": "count",
            "type": "kpi",
            "form": "visit",
            "measures": [{"key": "n", "function": "count"}],
        },
    )
    rep = figures(board_org["rep1"])
    assert rep["total"]["data"]["error"]["code"] == "FIELD_HIDDEN"
    assert rep["count"]["data"]["value"] == 4  # the other widgets still work
    assert figures(board_org["manager"])["total"]["data"]["value"] == 180.0


def test_relative_filters_are_pinned_in_drill_downs(board_org, board_visit, admin_actor):
    add(board_org, board_visit, "rep1", created_at=NOW - dt.timedelta(days=29))
    add(board_org, board_visit, "rep1", created_at=NOW - dt.timedelta(days=31))
    publish(admin_actor, EVERY_TYPE[0])
    data = figures(board_org["admin"])["kpi"]["data"]
    assert data["denominator"] == 1
    condition = data["drill"]["filter"]
    assert condition == {"field": "created_at", "op": "gte", "value": "2026-02-16T04:00:00+00:00"}
    # the drill-down means the same records whenever it is followed
    assert drill_count(board_org["admin"], data["drill"]) == 1


def test_queries_do_not_grow_with_records(board_org, board_visit, board_opportunity, admin_actor):
    publish(admin_actor, *EVERY_TYPE)
    owners = ["rep1", "rep2", "rep3", "manager", None]

    def add_batch(count):
        for i in range(count):
            add(
                board_org,
                board_visit,
                owners[i % len(owners)],
                region=["north", "south", "east"][i % 3],
                amount=i,
                visited_at=f"2026-03-1{i % 7}T0{i % 9}:00:00Z",
            )
            opp = add(board_org, board_opportunity, owners[i % 4], stage="proposal", amount=i)
            stay(opp, "proposal", NOW - dt.timedelta(hours=i + 1), None)

    add_batch(5)
    figures(board_org["manager"])  # caches warm (the published versions, promoted columns)
    with CaptureQueriesContext(connection) as small:
        figures(make_actor(board_org.user("manager"), board_org.workspace))
    add_batch(40)
    with CaptureQueriesContext(connection) as large:
        figures(make_actor(board_org.user("manager"), board_org.workspace))
    assert len(large.captured_queries) == len(small.captured_queries)
    assert len(small.captured_queries) <= 20
