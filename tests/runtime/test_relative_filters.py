"""Relative values in the filter language: ``{"ago": …}`` / ``{"ahead": …}`` on dates,
date-times and the system times, resolved when the filter is compiled."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from dajian.platform.errors import DajianError
from dajian.runtime.models import Record
from dajian.runtime.selectors import list_records
from dajian.runtime.services.records import create_record

FIELDS = [
    {"key": "name", "type": "text", "label": "Name"},
    {"key": "met_at", "type": "datetime", "label": "Met"},
    {"key": "due_on", "type": "date", "label": "Due"},
]


@pytest.fixture
def records(admin_actor, form_factory):
    form_factory(FIELDS)
    now = timezone.now()
    rows = {
        "old": {"met_at": (now - dt.timedelta(hours=50)).isoformat(), "due_on": "2000-01-01"},
        "new": {
            "met_at": (now - dt.timedelta(hours=2)).isoformat(),
            "due_on": (timezone.localdate() + dt.timedelta(days=30)).isoformat(),
        },
    }
    for name, data in rows.items():
        create_record(admin_actor, "sales", "customer", {"name": name, **data})
    Record.objects.filter(data__name="old").update(updated_at=now - dt.timedelta(hours=49))


def names(actor, filter):
    page = list_records(actor, "sales", "customer", filter=filter)
    return sorted(view.record.data["name"] for view in page.items)


@pytest.mark.parametrize(
    ("filter", "expected"),
    [
        ({"field": "met_at", "op": "lt", "value": {"ago": {"hours": 48}}}, ["old"]),
        ({"field": "met_at", "op": "gte", "value": {"ago": {"days": 1}}}, ["new"]),
        ({"field": "updated_at", "op": "lt", "value": {"ago": {"hours": 48}}}, ["old"]),
        ({"field": "due_on", "op": "lte", "value": {"ahead": {"days": 60}}}, ["new", "old"]),
        ({"field": "due_on", "op": "gt", "value": {"ahead": {"days": 7}}}, ["new"]),
    ],
)
def test_relative_values(admin_actor, records, filter, expected):
    assert names(admin_actor, filter) == expected


@pytest.mark.parametrize(
    "value",
    [{"ago": {"weeks": 1}}, {"ago": {"hours": "many"}}],
)
def test_bad_relative_values_are_typed_errors(admin_actor, records, value):
    with pytest.raises(DajianError) as caught:
        names(admin_actor, {"field": "met_at", "op": "lt", "value": value})
    assert caught.value.errors[0].code == "INVALID_VALUE"
    assert caught.value.errors[0].path == "filter.value"


def test_relative_values_on_text_are_refused(admin_actor, records):
    with pytest.raises(DajianError) as caught:
        names(admin_actor, {"field": "name", "op": "eq", "value": {"ago": {"days": 1}}})
    assert caught.value.errors[0].code == "INVALID_VALUE"
