"""The filter language's operators for dashboards' drill-downs: ``owner in_unit``,
``weekday`` / ``hour`` in a time zone, ``flags contains`` / ``ncontains``, ``stage
entered``, ``stage_entered_at``; ``pin_filter``; and the same filter compiled onto typed
fact columns (``columns=``)."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from decimal import Decimal

import pytest
from django.utils import timezone

from dajian.builder.fields.base import global_id
from dajian.builder.filters import compile_filter, pin_filter
from dajian.platform.errors import DajianError
from dajian.platform.models import Membership
from dajian.platform.org import create_org_unit
from dajian.runtime.models import Record, RecordFact
from dajian.runtime.policies import definition_of
from tests.factories import build_form, make_workspace
from tests.runtime.dashboard_helpers import NOW, add, stay

pytest_plugins = ["tests.runtime.dashboard_plugin"]

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")


def ids(form, filter, **kwargs):
    definition = definition_of(form)
    q = compile_filter(definition, filter, **kwargs)
    return set(Record.objects.filter(form=form).filter(q).values_list("pk", flat=True))


def error_of(form, filter):
    with pytest.raises(DajianError) as caught:
        compile_filter(definition_of(form), filter)
    return [(e.path, e.code) for e in caught.value.errors]


def unit(org_unit):
    return global_id("OrgUnit", org_unit.pk)


# --- owner in_unit -----------------------------------------------------------------------


def test_in_unit_reaches_sub_units(board_org, board_visit):
    east = [add(board_org, board_visit, "rep1").pk, add(board_org, board_visit, "rep2").pk]
    west = add(board_org, board_visit, "rep3").pk
    other = [add(board_org, board_visit, "manager").pk, add(board_org, board_visit, None).pk]
    in_unit = {"field": "owner", "op": "in_unit"}
    assert ids(board_visit, {**in_unit, "value": unit(board_org.east)}) == set(east)
    assert ids(board_visit, {**in_unit, "value": board_org.west.pk}) == {west}
    assert ids(board_visit, {**in_unit, "value": unit(board_org.root)}) == {*east, west}
    assert ids(board_visit, {**in_unit, "value": [unit(board_org.east), unit(board_org.west)]}) == {
        *east,
        west,
    }
    # not in a unit: nobody's records and those of members without a unit
    assert ids(board_visit, {"not": {**in_unit, "value": [unit(board_org.root)]}}) == set(other)


def test_in_unit_counts_memberships_of_the_records_workspace_only(board_org, board_visit):
    """rep3 is in East of another workspace too: that does not put their records here in
    East."""
    elsewhere = make_workspace("elsewhere")
    east_there = create_org_unit(elsewhere, "East")
    Membership.objects.create(workspace=elsewhere, user=board_org.user("rep3"), org_unit=east_there)
    add(board_org, board_visit, "rep3")
    value = unit(east_there)
    assert ids(board_visit, {"field": "owner", "op": "in_unit", "value": value}) == set()


@pytest.mark.parametrize("value", ["nope", [], [True], None])
def test_in_unit_values_are_units(board_visit, value):
    assert error_of(board_visit, {"field": "owner", "op": "in_unit", "value": value}) == [
        ("filter.value", "INVALID_VALUE")
    ]


# --- weekday and hour ----------------------------------------------------------------------


def test_weekday_and_hour_of_a_moment_in_a_zone(board_org, board_visit):
    late = add(
        board_org, board_visit, "rep1", created_at=dt.datetime(2026, 3, 16, 23, 30, tzinfo=dt.UTC)
    )
    early = add(
        board_org, board_visit, "rep1", created_at=dt.datetime(2026, 3, 16, 1, 0, tzinfo=dt.UTC)
    )
    # 23:30 UTC on Monday is 07:30 on Tuesday in Shanghai
    tuesday = {"field": "created_at", "op": "weekday", "value": 2, "zone": "Asia/Shanghai"}
    assert ids(board_visit, tuesday) == {late.pk}
    assert ids(board_visit, {**tuesday, "zone": "UTC"}) == set()
    assert ids(board_visit, {**tuesday, "value": 1, "zone": "UTC"}) == {late.pk, early.pk}
    assert ids(
        board_visit, {"field": "created_at", "op": "hour", "value": 7, "zone": "Asia/Shanghai"}
    ) == {late.pk}
    # without a zone: the zone passed in, else the current one
    assert ids(board_visit, {"field": "created_at", "op": "hour", "value": 9}, zone=SHANGHAI) == {
        early.pk
    }
    with timezone.override(zoneinfo.ZoneInfo("UTC")):
        assert ids(board_visit, {"field": "created_at", "op": "hour", "value": 1}) == {early.pk}


def test_weekday_of_date_and_datetime_fields(board_org, board_visit):
    monday = add(
        board_org, board_visit, "rep1", due_on="2026-03-16", visited_at="2026-03-16T23:30:00Z"
    )
    sunday = add(
        board_org, board_visit, "rep1", due_on="2026-03-22", visited_at="2026-03-22T02:00:00Z"
    )
    add(board_org, board_visit, "rep1")
    assert ids(board_visit, {"field": "due_on", "op": "weekday", "value": 1}) == {monday.pk}
    assert ids(board_visit, {"field": "due_on", "op": "weekday", "value": 7}) == {sunday.pk}
    visited_tuesday = {"field": "visited_at", "op": "weekday", "value": 2, "zone": "Asia/Shanghai"}
    assert ids(board_visit, visited_tuesday) == {monday.pk}
    assert ids(
        board_visit, {"field": "visited_at", "op": "hour", "value": 10, "zone": "Asia/Shanghai"}
    ) == {sunday.pk}


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ({"field": "due_on", "op": "hour", "value": 3}, ("filter.op", "UNSUPPORTED_OPERATOR")),
        ({"field": "amount", "op": "weekday", "value": 3}, ("filter.op", "UNSUPPORTED_OPERATOR")),
        ({"field": "owner", "op": "weekday", "value": 3}, ("filter.op", "UNSUPPORTED_OPERATOR")),
        ({"field": "created_at", "op": "weekday", "value": 0}, ("filter.value", "INVALID_VALUE")),
        ({"field": "created_at", "op": "hour", "value": 24}, ("filter.value", "INVALID_VALUE")),
        ({"field": "created_at", "op": "hour", "value": "7"}, ("filter.value", "INVALID_VALUE")),
        (
            {"field": "created_at", "op": "hour", "value": 7, "zone": "Mars/Base"},
            ("filter.zone", "INVALID_VALUE"),
        ),
        (
            {"field": "created_at", "op": "gte", "value": "2026-01-01T00:00:00Z", "zone": "UTC"},
            ("filter.zone", "INVALID_FILTER"),
        ),
    ],
)
def test_bad_weekday_and_hour_conditions(board_visit, condition, expected):
    assert error_of(board_visit, condition) == [expected]


# --- flags, stages -------------------------------------------------------------------------


def test_flags_contains_and_ncontains(board_org, board_visit):
    pending = add(board_org, board_visit, "rep1", flags=["pending_verification", "far_away"])
    far = add(board_org, board_visit, "rep1", flags=["far_away"])
    clean = add(board_org, board_visit, "rep1")
    contains = {"field": "flags", "op": "contains", "value": "pending_verification"}
    assert ids(board_visit, contains) == {pending.pk}
    assert ids(board_visit, {**contains, "op": "ncontains"}) == {far.pk, clean.pk}
    assert ids(board_visit, {"not": contains}) == {far.pk, clean.pk}
    assert error_of(board_visit, {"field": "flags", "op": "eq", "value": "x"}) == [
        ("filter.op", "UNSUPPORTED_OPERATOR")
    ]


def test_a_field_named_flags_keeps_its_meaning(admin_actor):
    form = build_form(
        admin_actor, [{"key": "flags", "type": "text", "label": "Flags"}], key="flagged"
    )
    from dajian.runtime.services.records import create_record

    record = create_record(admin_actor, "sales", "flagged", {"flags": "red"}).record
    assert ids(form, {"field": "flags", "op": "eq", "value": "red"}) == {record.pk}


def test_stage_entered_and_stage_entered_at(board_org, board_opportunity):
    went = add(board_org, board_opportunity, "rep1", stage="negotiation")
    stay(went, "proposal", NOW - dt.timedelta(days=3), 10)
    stay(went, "negotiation", NOW - dt.timedelta(days=2), None)
    stayed = add(board_org, board_opportunity, "rep1", stage="new")
    stay(stayed, "new", NOW - dt.timedelta(days=1), None)
    Record.objects.filter(pk=went.pk).update(stage_entered_at=NOW - dt.timedelta(days=2))
    Record.objects.filter(pk=stayed.pk).update(stage_entered_at=None)
    assert ids(board_opportunity, {"field": "stage", "op": "entered", "value": "proposal"}) == {
        went.pk
    }
    assert ids(board_opportunity, {"field": "stage", "op": "entered", "value": "new"}) == {
        stayed.pk
    }
    assert ids(board_opportunity, {"field": "stage_entered_at", "op": "isnull", "value": True}) == {
        stayed.pk
    }
    recent = {"field": "stage_entered_at", "op": "gte", "value": "2026-03-15T00:00:00+08:00"}
    assert ids(board_opportunity, recent) == {went.pk}
    assert error_of(board_opportunity, {"field": "stage", "op": "entered", "value": 3}) == [
        ("filter.value", "INVALID_VALUE")
    ]


# --- pinning ----------------------------------------------------------------------------------


def test_pin_filter_fixes_relative_values_and_zones(board_visit):
    definition = definition_of(board_visit)
    raw = {
        "and": [
            {"field": "created_at", "op": "gte", "value": {"ago": {"days": 30}}},
            {"field": "due_on", "op": "lte", "value": {"ahead": {"days": 1}}},
            {"not": {"field": "visited_at", "op": "weekday", "value": 6}},
            {
                "or": [
                    {"field": "due_on", "op": "weekday", "value": 1},
                    {"field": "region", "op": "eq", "value": "north"},
                ]
            },
        ]
    }
    pinned = pin_filter(definition, raw, now=NOW, zone=SHANGHAI)
    assert pinned == {
        "and": [
            {"field": "created_at", "op": "gte", "value": "2026-02-16T04:00:00+00:00"},
            {"field": "due_on", "op": "lte", "value": "2026-03-19"},
            {"not": {"field": "visited_at", "op": "weekday", "value": 6, "zone": "Asia/Shanghai"}},
            {
                "or": [
                    {"field": "due_on", "op": "weekday", "value": 1},
                    {"field": "region", "op": "eq", "value": "north"},
                ]
            },
        ]
    }
    assert pin_filter(definition, None) == {}
    compile_filter(definition, pinned)  # still a valid filter


# --- typed columns ---------------------------------------------------------------------------


def test_a_filter_on_fact_columns_means_what_it_means_on_the_json(board_org, board_visit):
    """Fact rows written by hand (on PostgreSQL a trigger keeps them): each condition
    selects the same records from the columns as from the records' JSON."""
    rows = [
        {
            "region": "north",
            "amount": 100,
            "due_on": "2026-03-16",
            "helper": board_org.user("rep2").pk,
        },
        {"region": "south", "amount": 50.5, "due_on": "2026-03-17"},
        {"amount": 7},
    ]
    columns = {"region": "t1", "helper": "t2", "amount": "n1", "due_on": "d1", "visited_at": "d2"}
    for data in rows:
        record = add(board_org, board_visit, "rep1", **data)
        day = data.get("due_on")
        RecordFact.objects.create(
            record=record,
            workspace_id=record.workspace_id,
            form_id=record.form_id,
            owner_id=record.owner_id,
            status=record.status,
            created_at=record.created_at,
            updated_at=record.updated_at,
            flags=record.flags,
            t1=data.get("region"),
            t2=str(data["helper"]) if "helper" in data else None,
            n1=Decimal(str(data["amount"])),
            d1=dt.datetime.fromisoformat(day).replace(tzinfo=SHANGHAI) if day else None,
        )
    definition = definition_of(board_visit)
    conditions = [
        {"field": "region", "op": "eq", "value": "north"},
        {"field": "region", "op": "ne", "value": "north"},
        {"field": "region", "op": "nin", "value": ["south"]},
        {"field": "region", "op": "isnull", "value": True},
        {"field": "amount", "op": "gte", "value": 50.5},
        {"field": "amount", "op": "between", "value": [7, 60]},
        {"field": "due_on", "op": "lt", "value": "2026-03-17"},
        {"field": "due_on", "op": "weekday", "value": 2},
        {"field": "helper", "op": "eq", "value": global_id("User", board_org.user("rep2").pk)},
        {"field": "owner", "op": "in_unit", "value": unit(board_org.east)},
    ]
    for condition in conditions:
        on_json = ids(board_visit, condition, zone=SHANGHAI)
        q = compile_filter(definition, condition, zone=SHANGHAI, columns=columns)
        on_facts = set(
            RecordFact.objects.filter(form=board_visit).filter(q).values_list("pk", flat=True)
        )
        assert on_facts == on_json, condition
    with pytest.raises(DajianError) as caught:
        compile_filter(definition, {"field": "score", "op": "gt", "value": 1}, columns=columns)
    assert caught.value.errors[0].code == "UNKNOWN_FIELD"
