"""Rollup windows over a calendar period: ``{"period": "month"}`` counts from 00:00 of
the first day of the current month in the current time zone up to now (R21: "visited
fewer than 2 times this month"). The records and the reading helper are those of
``tests/builder/fields/test_rollup.py``, whose clock is 2026-03-01 12:00 UTC (20:00 in
Shanghai, so this month began at 2026-02-28 16:00 UTC)."""

from __future__ import annotations

import pytest
from django.utils import timezone

from dajian.runtime.models import Record
from tests.builder.fields.conftest import option_errors
from tests.builder.fields.test_rollup import Shop, rollup, source_errors

MONTH = {"period": "month"}
BASE = {"key": "n", "type": "rollup", "source": {"form": "visits", "field": "customer"}}


@pytest.fixture
def shop(workspace):
    return Shop(workspace)


def at(shop: Shop, name: str, **visits: dict) -> Record:
    """A customer ``name`` with one visit per keyword: ``hours_ago`` (creation) and data."""
    customer = shop.customer(name)
    for data in visits.values():
        hours = data.pop("hours_ago", 1)
        shop.visit(customer, hours / 24, **data)
    return customer


def test_a_month_window_on_creation_time_starts_at_local_midnight_of_the_first(shop):
    # 19 hours ago is 2026-02-28 17:00 UTC: still February in UTC, March 1 in Shanghai
    at(shop, "march", a={"hours_ago": 19}, b={"hours_ago": 1})
    at(shop, "february", a={"hours_ago": 21})

    counts = shop.read(rollup("count", window={"field": "created_at", **MONTH}))

    assert counts == {"march": 2, "february": 0}
    assert shop.read(rollup("count", window=MONTH)) == counts  # created_at by default


def test_the_month_follows_the_current_time_zone(shop):
    at(shop, "early", a={"hours_ago": 11})  # 01:00 UTC on March 1
    at(shop, "late_feb_utc", a={"hours_ago": 19})

    with timezone.override("UTC"):
        counts = shop.read(rollup("count", window=MONTH))

    assert counts == {"early": 1, "late_feb_utc": 0}


def test_a_month_window_on_a_date_field_counts_this_months_dates_up_to_today(shop):
    at(
        shop,
        "acme",
        first={"visit_date": "2026-03-01"},
        last_month={"visit_date": "2026-02-28"},
        planned={"visit_date": "2026-03-02"},  # tomorrow: not a visit yet
    )

    window = {"field": "visit_date", **MONTH}

    assert shop.read(rollup("count", window=window)) == {"acme": 1}


def test_a_month_window_on_a_datetime_field(shop):
    at(
        shop,
        "acme",
        start={"met_at": "2026-02-28T16:00:00Z"},  # 00:00 on March 1 in Shanghai
        before={"met_at": "2026-02-28T15:59:59Z"},
        later={"met_at": "2026-03-01T13:00:00Z"},  # an hour from now
    )

    window = {"field": "met_at", **MONTH}

    assert shop.read(rollup("count", window=window)) == {"acme": 1}


def test_sum_over_a_month_window(shop):
    at(
        shop,
        "acme",
        a={"visit_date": "2026-03-01", "score": 4},
        b={"visit_date": "2026-02-01", "score": 9},
    )

    total = rollup("sum", "score", window={"field": "visit_date", **MONTH})

    assert shop.read(total) == {"acme": 4.0}


def test_period_options():
    assert option_errors({**BASE, "function": "count", "window": MONTH}) == []
    assert (
        option_errors({**BASE, "function": "count", "window": {"field": "visit_date", **MONTH}})
        == []
    )
    assert option_errors({**BASE, "function": "count", "window": {"period": "week"}}) == [
        ("fields.0.window.period", "INVALID_CHOICE")
    ]


def test_a_window_is_days_or_a_period():
    # neither: days is required, as before periods existed
    assert option_errors({**BASE, "function": "count", "window": {}}) == [
        ("fields.0.window", "REQUIRED")
    ]
    both = {**BASE, "function": "sum", "window": {"days": 30, **MONTH}}
    # every problem of the field is listed, not the first
    assert option_errors(both) == [
        ("fields.0.window.period", "ROLLUP_INVALID_WINDOW"),
        ("fields.0.value_field", "REQUIRED"),
    ]


def test_a_month_window_needs_a_date_field_of_the_source():
    assert source_errors(rollup("count", window={"field": "outcome", **MONTH})) == [
        ("fields.1.window.field", "ROLLUP_INVALID_WINDOW")
    ]
    assert source_errors(rollup("count", window={"field": "met_at", **MONTH})) == []
