"""Dashboards on PostgreSQL: publishing promotes the fields the widgets read, widgets
whose fields are all promoted read the facts, and the facts give exactly the figures
the records give — every widget type, every measure, date buckets in Asia/Shanghai,
filters, bins, board_org units, for every viewer's row scope — with drill-downs that count
what the figures show."""

from __future__ import annotations

import datetime as dt
import threading
import time

import pytest
from django.db import connection, transaction
from django.test import TestCase
from django.test.utils import CaptureQueriesContext
from django.utils import translation

from dajian.builder.services.forms import publish_form, save_form_draft
from dajian.runtime.dashboards import compute
from dajian.runtime.dashboards.compute import dashboard_data
from dajian.runtime.dashboards.facts import promoted_columns
from dajian.runtime.models import FormPromotion, Record, RecordFact
from tests.factories import build_form
from tests.runtime import dashboard_helpers
from tests.runtime.dashboard_helpers import (
    CHECK_FIELDS,
    CHECK_PERMISSIONS,
    EVERY_TYPE,
    NOW,
    STORE_FIELDS,
    STORE_PERMISSIONS,
    TOTAL,
    add,
    add_opportunities,
    count,
    drill_count,
    measure,
    ratio,
    recompute,
    widget,
)

pytest_plugins = ["tests.runtime.dashboard_plugin"]


def publish(admin_actor, *widgets, key="board"):
    """Publish the dashboard, then run what waits for its commit (the promotion of its
    forms), as the end of a real publishing transaction would."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        return dashboard_helpers.publish(admin_actor, *widgets, key=key)


VIEWERS = ["admin", "manager", "other_mgr", "rep1", "rep3"]
ON_FACTS = [
    widget(
        "by_due_week",
        "bar",
        count(),
        TOTAL,
        measure("mean", "avg", "score"),
        group_by=[{"field": "due_on", "bucket": "week"}],
        filter={"field": "due_on", "op": "lt", "value": "2026-04-01"},
    ),
    widget(
        "visited_hours",
        "heatmap",
        group_by=["region", {"field": "visited_at", "bucket": "hour"}],
        filter={"field": "visited_at", "op": "weekday", "value": 2},
    ),
    widget(
        "by_month",
        "line",
        count(),
        ratio("rate", {"field": "amount", "op": "gte", "value": 50}),
        group_by=[{"field": "created_at", "bucket": "month"}],
    ),
    widget("due_weekday", "bar", group_by=[{"field": "due_on", "bucket": "weekday"}]),
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
    add_opportunities(board_org, board_opportunity)


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
        *[
            widget(
                key,
                "bar",
                group_by=[{"field": field, "bucket": "day"}],
                filter={"field": field, "op": "isnull", "value": False},
            )
            for key, field in (("visited_day", "visited_at"), ("due_day", "due_on"))
        ],
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
    filled = measure("f", "filled", fields=[f["key"] for f in fields])
    publish(admin_actor, widget("health", "kpi", filled, form="wide"))
    assert promoted_columns(form) is None  # nine text fields, eight text slots
    found = dashboard_data(board_org["rep1"], "sales", "board", now=NOW)
    assert found["sources"] == {"health": "records"}
    assert found["widgets"][0]["data"]["value"] == round(2 / 9, 6)


def test_groups_by_a_relation_from_the_facts(board_org, admin_actor):
    """A single relation is promoted as the related id in a text slot: grouping by it
    reads the facts, with the figures, titles (what each viewer may read) and drill-downs
    of the records."""
    stores = build_form(
        admin_actor,
        STORE_FIELDS,
        key="store",
        title_fields=["name", "city"],
        permissions=STORE_PERMISSIONS,
    )
    # both forms first: publishing indexes the records, which PostgreSQL refuses once
    # this (test) transaction has written records
    checks = build_form(admin_actor, CHECK_FIELDS, key="check", permissions=CHECK_PERMISSIONS)
    mine = add(board_org, stores, "rep1", name="望京店", city="北京")
    theirs = add(board_org, stores, "rep3", name="国贸店", city="北京")
    for owner, store, facings in [
        ("rep1", mine, 4),
        ("rep1", mine, 1),
        ("rep1", theirs, 2),
        ("rep1", None, 3),
        ("rep3", theirs, None),
        ("manager", mine, 6),
    ]:
        add(board_org, checks, owner, store=store.pk if store else None, facings=facings)
    deep = ratio("deep", {"field": "facings", "op": "gte", "value": 2})
    by_month = {"field": "created_at", "bucket": "month"}
    publish(
        admin_actor,
        widget(
            "by_store",
            "bar",
            count(),
            deep,
            measure("facings", "avg", "facings"),
            form="check",
            group_by=["store", by_month],
            sort="value_desc",
        ),
    )
    assert set(promoted_columns(checks) or {}) == {"store", "facings"}
    assert (promoted_columns(checks) or {})["store"].startswith("t")
    for viewer in VIEWERS:
        actor = board_org[viewer]
        on_facts, on_records = both(actor)
        assert on_facts.pop("sources") == {"by_store": "facts"}
        on_records.pop("sources")
        assert on_facts == on_records
        for row in on_facts["widgets"][0]["data"]["rows"]:
            point = row["points"]["deep"]
            assert drill_count(actor, point["drill"]) == row["values"]["n"]
            assert drill_count(actor, point["drill_numerator"]) == point["numerator"]
    rows = both(board_org["rep1"])[0]["widgets"][0]["data"]["rows"]
    assert [row["label"][0] for row in rows] == ["望京店", f"#{theirs.pk}", "（空）"]


# --- local dates, promotion after commit, widgets at once ----------------------------------

BUCKETS = [
    ("created_at", "day"),
    ("created_at", "week"),
    ("visited_at", "month"),
    ("visited_at", "quarter"),
    ("due_on", "year"),
    ("created_at", "weekday"),
    ("visited_at", "weekday"),
    ("due_on", "weekday"),
    ("visited_at", "hour"),
]
LOCAL_BUCKETS = [
    widget(f"{field}_{bucket}", "bar", group_by=[{"field": field, "bucket": bucket}])
    for field, bucket in BUCKETS
]


def test_buckets_read_the_local_dates_of_the_facts(board_org, board_visit, data, admin_actor):
    publish(admin_actor, *LOCAL_BUCKETS)
    columns = promoted_columns(board_visit) or {}

    with CaptureQueriesContext(connection) as captured:
        on_facts = dashboard_data(board_org["admin"], "sales", "board", now=NOW)

    queries = [q["sql"] for q in captured.captured_queries if "runtime_recordfact" in q["sql"]]
    assert len(queries) == len(BUCKETS)
    for sql, (field, bucket) in zip(queries, BUCKETS, strict=True):
        if bucket == "hour":  # the one bucket that converts each row's instant
            assert "date_part('hour'" in sql and "AT TIME ZONE" in sql
            continue
        local = "created_on" if field == "created_at" else f"{columns[field]}_on"
        assert f'"{local}"' in sql and "AT TIME ZONE" not in sql, (field, bucket)
    on_records = dashboard_data(board_org["admin"], "sales", "board", now=NOW, facts=False)
    assert set(on_facts.pop("sources").values()) == {"facts"}
    on_records.pop("sources")
    assert on_facts == on_records


VISIT_BY_REGION = widget("by_region", "bar", count(), TOTAL, group_by=["region"])


@pytest.mark.django_db(transaction=True)
def test_publishing_promotes_after_the_commit_without_holding_up_record_writes(
    board_org, board_visit, board_opportunity, admin_actor
):
    add(board_org, board_visit, "rep1", region="north", amount=5)
    deal = add(board_org, board_opportunity, "rep2", amount=7)
    outcome: dict[str, object] = {}

    def write_a_record_elsewhere() -> None:
        # a bulk update: a record write that no row lock or audit chain of this workspace
        # orders, like the writes of every other workspace
        try:
            with connection.cursor() as cursor:
                cursor.execute("SET lock_timeout = '3s'")
            Record.objects.filter(pk=deal.pk).update(data={"title": "Renewal", "amount": 8})
            outcome["written"] = True
        except Exception as exc:  # noqa: BLE001 - the assertion shows it
            outcome["error"] = exc
        finally:
            connection.close()

    with transaction.atomic():
        dashboard_helpers.publish(admin_actor, VISIT_BY_REGION)
        # like the template installer: sample data after the dashboards, same transaction
        add(board_org, board_visit, "rep2", region="south", amount=3)
        assert promoted_columns(board_visit) is None  # not before the commit
        # another request writes a record meanwhile: no lock on the records holds it up
        writer = threading.Thread(target=write_a_record_elsewhere)
        writer.start()
        writer.join()
        assert outcome == {"written": True}

    assert set(promoted_columns(board_visit) or {}) == {"region", "amount"}
    assert RecordFact.objects.filter(form_id=board_visit.pk).count() == 2
    for viewer in VIEWERS:
        on_facts, on_records = both(board_org[viewer])
        assert on_facts.pop("sources") == {"by_region": "facts"}
        on_records.pop("sources")
        assert on_facts == on_records


@pytest.mark.django_db(transaction=True)
def test_republishing_a_form_promotes_it_again(board_org, board_visit, admin_actor):
    add(board_org, board_visit, "rep1", region="north", amount=5, phone="13800000000")
    add(board_org, board_visit, "rep3", region="east", amount=2)
    with_phone = widget(
        "with_phone", "kpi", filter={"field": "phone", "op": "isnull", "value": False}
    )
    publish(admin_actor, VISIT_BY_REGION, with_phone)
    assert set(promoted_columns(board_visit) or {}) == {"region", "amount", "phone"}

    # the designer removes the phone field: that widget cannot be computed any more, and
    # the others of the form would read the records until it is promoted again
    fields = [f for f in dashboard_helpers.VISIT_FIELDS if f["key"] != "phone"]
    definition = {
        "key": "visit",
        "name": "Visit",
        "fields": fields,
        "permissions": dashboard_helpers.PERMISSIONS,
    }
    save_form_draft(admin_actor, "sales", "visit", definition)
    publish_form(admin_actor, "sales", "visit")

    board_visit.refresh_from_db()
    assert set(promoted_columns(board_visit) or {}) == {"region", "amount"}
    on_facts, on_records = both(board_org["manager"])
    assert on_facts.pop("sources") == {"by_region": "facts", "with_phone": "records"}
    on_records.pop("sources")
    assert on_facts == on_records
    assert on_facts["widgets"][1]["data"]["error"]["code"]


@pytest.mark.django_db(transaction=True)
def test_widgets_computed_at_once_give_the_same_figures_on_connections_closed_after(
    board_org, data, admin_actor, settings, monkeypatch
):
    publish(admin_actor, *EVERY_TYPE, *ON_FACTS)
    threads: set[int] = set()
    compute_one = compute.compute_widget

    def recorded(ctx, spec, index):
        threads.add(threading.get_ident())
        return compute_one(ctx, spec, index)

    monkeypatch.setattr(compute, "compute_widget", recorded)

    def every_viewer(threads_at_once: int) -> dict[str, object]:
        settings.DAJIAN = {**settings.DAJIAN, "DASHBOARD_THREADS": threads_at_once}
        with translation.override("en"):  # labels in the viewer's language in every thread
            return {v: dashboard_data(board_org[v], "sales", "board", now=NOW) for v in VIEWERS}

    one_by_one = every_viewer(1)
    assert threads == {threading.get_ident()}
    backends = open_backends()

    at_once = every_viewer(3)

    assert at_once == one_by_one
    assert len(threads) == 3  # the caller and two helpers computed widgets
    assert wait_for_backends(backends)  # the helpers' connections are closed


@pytest.mark.django_db(transaction=True)
def test_inside_a_transaction_widgets_are_computed_one_by_one(
    board_org, board_visit, data, admin_actor, settings
):
    publish(admin_actor, *EVERY_TYPE, *ON_FACTS)
    settings.DAJIAN = {**settings.DAJIAN, "DASHBOARD_THREADS": 3}
    before = dashboard_data(board_org["admin"], "sales", "board", now=NOW)

    with transaction.atomic():
        add(board_org, board_visit, "rep1", region="north", amount=1)
        inside = dashboard_data(board_org["admin"], "sales", "board", now=NOW)
        inside_records = dashboard_data(board_org["admin"], "sales", "board", now=NOW, facts=False)
        transaction.set_rollback(True)

    # other connections would not have seen the record this transaction wrote
    inside.pop("sources"), inside_records.pop("sources"), before.pop("sources")
    assert inside == inside_records
    assert inside != before


def open_backends() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()")
        return int(cursor.fetchone()[0])


def wait_for_backends(expected: int, seconds: float = 5.0) -> bool:
    """Whether the database's backends drop back to ``expected`` (a closed connection's
    backend exits a moment after the close)."""
    deadline = time.monotonic() + seconds
    while open_backends() > expected:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True
