"""The ``datetime`` field type: one fixed UTC text shape."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from django.utils import timezone

from dajian.builder.fields.base import FieldValueError
from dajian.builder.fields.datetime import DateTimeField, format_utc
from dajian.builder.fields.registry import get
from tests.builder.fields.conftest import (
    MISSING,
    field,
    filtered,
    option_errors,
    schema_valid,
    sorted_values,
)

AT = {"key": "at", "type": "datetime"}
BOUNDED = {
    "key": "at",
    "type": "datetime",
    "min": "2026-01-01T00:00:00+08:00",
    "max": "2026-12-31T23:59:59+08:00",
}


def refuse(definition, value) -> FieldValueError:
    with pytest.raises(FieldValueError) as info:
        field(definition).clean(value)
    return info.value


def test_registered_with_capabilities():
    assert get("datetime") is DateTimeField
    assert DateTimeField.cel_type == "timestamp"
    assert {"lt", "gt", "between"} <= DateTimeField.filter_ops


def test_options_are_checked():
    assert option_errors(BOUNDED) == []
    assert option_errors({**AT, "min": "2026-01-01T00:00:00"}) == [
        ("fields.0.min", "INVALID_OPTION")
    ]
    assert option_errors({**AT, "min": "2026-02-01T00:00:00Z", "max": "2026-01-01T00:00:00Z"}) == [
        ("fields.0.min", "INVALID_OPTION")
    ]


def test_json_schema():
    assert schema_valid(field(AT), "2026-01-05T10:00:00+08:00")
    assert not schema_valid(field(AT), 1767600000)
    assert not schema_valid(field(AT), "x" * 65)


@pytest.mark.parametrize(
    ("value", "stored"),
    [
        ("2026-01-05T10:00:00Z", "2026-01-05T10:00:00Z"),
        ("2026-01-05T10:00:00+08:00", "2026-01-05T02:00:00Z"),
        ("2026-01-05 08:30+08:00", "2026-01-05T00:30:00Z"),
        ("2026-01-05T00:30:00-05:00", "2026-01-05T05:30:00Z"),
        ("2026-01-05T10:00:00.999Z", "2026-01-05T10:00:00Z"),  # fractions are dropped
        ("2026-01-05T10:00:00.123456789+00:00", "2026-01-05T10:00:00Z"),
        (" 2026-01-05T10:00:00Z ", "2026-01-05T10:00:00Z"),
    ],
)
def test_clean_normalises_to_fixed_utc_text(value, stored):
    assert field(AT).clean(value) == stored


def test_stored_years_keep_four_digits():
    assert format_utc(datetime(999, 1, 2, 3, 4, 5, tzinfo=UTC)) == "0999-01-02T03:04:05Z"


@pytest.mark.parametrize(
    ("definition", "value", "code"),
    [
        (AT, "2026-01-05T10:00:00", "INVALID_FORMAT"),  # naive
        (AT, "2026-01-05", "INVALID_FORMAT"),
        (AT, "yesterday", "INVALID_FORMAT"),
        (AT, "2026-02-30T10:00:00Z", "INVALID_FORMAT"),
        (AT, 1767600000, "INVALID_TYPE"),
        (AT, None, "INVALID_TYPE"),
        (AT, "0001-01-01T00:00:00+08:00", "OUT_OF_RANGE"),
        (BOUNDED, "2025-12-31T15:59:59Z", "OUT_OF_RANGE"),
        (BOUNDED, "2027-01-01T00:00:00+08:00", "OUT_OF_RANGE"),
    ],
)
def test_clean_refuses(definition, value, code):
    assert refuse(definition, value).code == code


def test_naive_refusal_asks_for_an_offset():
    assert "time zone offset" in refuse(AT, "2026-01-05T10:00:00").message


def test_bounds_are_inclusive_instants():
    assert field(BOUNDED).clean("2025-12-31T16:00:00Z") == "2025-12-31T16:00:00Z"


def test_to_cel_is_aware_utc():
    value = field(AT).to_cel("2026-01-05T02:00:00Z")
    assert value == datetime(2026, 1, 5, 2, tzinfo=UTC)
    assert value.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("2026-01-05 10:00", "2026-01-05T02:00:00Z"),
        ("2026/1/5 10:00:30", "2026-01-05T02:00:30Z"),
        ("2026年1月5日 10时30分", "2026-01-05T02:30:00Z"),
        ("2026/1/5", "2026-01-04T16:00:00Z"),
        ("2026-01-05T10:00:00Z", "2026-01-05T10:00:00Z"),
        ("2026/1/5 10:00 +09:00", "2026-01-05T01:00:00Z"),
        (45000.5, "2023-03-15T04:00:00Z"),
        (datetime(2026, 1, 5, 10, 0), "2026-01-05T02:00:00Z"),
        (datetime(2026, 1, 5, 10, 0, tzinfo=UTC), "2026-01-05T10:00:00Z"),
        (date(2026, 1, 5), "2026-01-04T16:00:00Z"),
        ("", None),
    ],
)
def test_from_cell_reads_naive_times_in_the_current_zone(cell, expected):
    with timezone.override("Asia/Shanghai"):
        assert field(AT).from_cell(cell) == expected


@pytest.mark.parametrize(("cell", "code"), [("soon", "INVALID_FORMAT"), (False, "INVALID_TYPE")])
def test_from_cell_refuses(cell, code):
    with pytest.raises(FieldValueError) as info:
        field(AT).from_cell(cell)
    assert info.value.code == code


def test_to_cell_is_local_and_round_trips():
    with timezone.override("Asia/Shanghai"):
        cell = field(AT).to_cell("2026-01-05T02:00:00Z")
        assert cell == datetime(2026, 1, 5, 10, 0)
        assert field(AT).from_cell(cell) == "2026-01-05T02:00:00Z"


def test_example_values_are_clean(zh_faker):
    for definition in (AT, BOUNDED):
        at = field(definition)
        for _ in range(20):
            value = at.example_value(zh_faker)
            assert at.clean(value) == value


# Instants typed in several zones; stored text order must be time order.
TYPED = [
    "2026-01-05T10:00:00+08:00",  # 02:00Z
    "2026-01-05T01:00:00Z",  # 01:00Z
    "2026-01-04T22:00:00-05:00",  # 03:00Z on the 5th
    "2026-01-05T02:00:00.750Z",  # 02:00Z (fraction dropped)
]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("op", "operand", "expected"),
    [
        ("eq", "2026-01-05T10:00:00+08:00", ["2026-01-05T02:00:00Z", "2026-01-05T02:00:00Z"]),
        ("lt", "2026-01-05T02:00:00Z", ["2026-01-05T01:00:00Z"]),
        (
            "gte",
            "2026-01-05T09:30:00+08:00",
            [
                "2026-01-05T02:00:00Z",
                "2026-01-05T03:00:00Z",
                "2026-01-05T02:00:00Z",
            ],
        ),
        ("gt", "2026-01-05T02:00:00Z", ["2026-01-05T03:00:00Z"]),
        (
            "between",
            ["2026-01-05T01:00:00Z", "2026-01-05T09:00:00+08:00"],
            [
                "2026-01-05T01:00:00Z",
            ],
        ),
        ("isnull", True, [MISSING, None]),
    ],
)
def test_filter_compares_text_as_time(record_rows, op, operand, expected):
    at = field(AT)
    rows = record_rows(AT, [*(at.clean(v) for v in TYPED), MISSING, None])
    assert filtered(rows, at, op, operand) == expected


@pytest.mark.django_db
def test_sort_is_chronological(record_rows):
    at = field(AT)
    rows = record_rows(AT, [at.clean(v) for v in TYPED] + [MISSING])
    assert sorted_values(rows, at) == [
        "2026-01-05T01:00:00Z",
        "2026-01-05T02:00:00Z",
        "2026-01-05T02:00:00Z",
        "2026-01-05T03:00:00Z",
        MISSING,
    ]
