"""The ``date`` field type and the spreadsheet date parsing."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from django.utils import timezone

from dajian.builder.fields.base import FieldValueError
from dajian.builder.fields.date import DateField, excel_serial
from dajian.builder.fields.registry import get
from tests.builder.fields.conftest import (
    MISSING,
    field,
    filtered,
    option_errors,
    schema_valid,
    sorted_values,
)

DUE = {"key": "due", "type": "date"}
BOUNDED = {"key": "due", "type": "date", "min": "2026-01-01", "max": "2026-12-31"}


def refuse(definition, value) -> FieldValueError:
    with pytest.raises(FieldValueError) as info:
        field(definition).clean(value)
    return info.value


def test_registered_with_capabilities():
    assert get("date") is DateField
    assert DateField.cel_type == "timestamp"
    assert {"lt", "gte", "between"} <= DateField.filter_ops


def test_options_are_checked():
    assert option_errors(BOUNDED) == []
    assert option_errors({**DUE, "min": "2026/01/01"}) == [("fields.0.min", "INVALID_FORMAT")]
    assert option_errors({**DUE, "max": "2026-02-30"}) == [("fields.0.max", "INVALID_OPTION")]
    assert option_errors({**DUE, "min": "2026-03-01", "max": "2026-02-01"}) == [
        ("fields.0.min", "INVALID_OPTION")
    ]


def test_json_schema():
    assert schema_valid(field(DUE), "2026-01-05")
    assert not schema_valid(field(DUE), "2026/1/5")
    assert not schema_valid(field(DUE), 45000)


def test_clean_keeps_iso_dates():
    assert field(DUE).clean("2026-01-05") == "2026-01-05"
    assert field(BOUNDED).clean("2026-12-31") == "2026-12-31"


@pytest.mark.parametrize(
    ("definition", "value", "code"),
    [
        (DUE, 20260105, "INVALID_TYPE"),
        (DUE, None, "INVALID_TYPE"),
        (DUE, "2026/01/05", "INVALID_FORMAT"),
        (DUE, "2026-1-5", "INVALID_FORMAT"),
        (DUE, "2026-01-05T00:00:00Z", "INVALID_FORMAT"),
        (DUE, "2026-02-30", "INVALID_FORMAT"),
        (BOUNDED, "2025-12-31", "OUT_OF_RANGE"),
        (BOUNDED, "2027-01-01", "OUT_OF_RANGE"),
    ],
)
def test_clean_refuses(definition, value, code):
    assert refuse(definition, value).code == code


def test_to_cel_is_utc_midnight():
    assert field(DUE).to_cel("2026-01-05") == datetime(2026, 1, 5, tzinfo=UTC)
    assert field(DUE).to_cel("2026-01-05").tzinfo is UTC


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("2026-01-05", "2026-01-05"),
        ("2026/1/5", "2026-01-05"),
        ("2026年1月5日", "2026-01-05"),
        ("２０２６年１月５日", "2026-01-05"),
        ("2026.1.5", "2026-01-05"),
        ("20260105", "2026-01-05"),
        ("2026/1/5 0:00", "2026-01-05"),
        (45000, "2023-03-15"),
        (45000.75, "2023-03-15"),
        ("45000", "2023-03-15"),
        (1, "1900-01-01"),
        (61, "1900-03-01"),
        (date(2026, 1, 5), "2026-01-05"),
        (datetime(2026, 1, 5, 23, 0), "2026-01-05"),
        ("", None),
        (None, None),
    ],
)
def test_from_cell(cell, expected):
    assert field(DUE).from_cell(cell) == expected


def test_from_cell_reads_zoned_times_in_the_current_zone():
    with timezone.override("Asia/Shanghai"):
        # 20:00 UTC on the 4th is the 5th in Shanghai.
        assert field(DUE).from_cell("2026-01-04T20:00:00Z") == "2026-01-05"


@pytest.mark.parametrize(
    ("cell", "code"),
    [
        ("next monday", "INVALID_FORMAT"),
        ("2026/2/30", "INVALID_FORMAT"),
        (0, "INVALID_FORMAT"),
        (3000000, "INVALID_FORMAT"),
        (True, "INVALID_TYPE"),
        ([2026, 1, 5], "INVALID_TYPE"),
        ("2025/12/31", "OUT_OF_RANGE"),
    ],
)
def test_from_cell_refuses(cell, code):
    with pytest.raises(FieldValueError) as info:
        field(BOUNDED).from_cell(cell)
    assert info.value.code == code


def test_excel_serial_skips_the_1900_leap_day():
    assert excel_serial(59).date() == date(1900, 2, 28)
    assert excel_serial(61).date() == date(1900, 3, 1)
    assert excel_serial(45000.5) == datetime(2023, 3, 15, 12, 0)


def test_to_cell_is_a_date():
    assert field(DUE).to_cell("2026-01-05") == date(2026, 1, 5)


def test_example_values_are_clean(zh_faker):
    for definition in (DUE, BOUNDED):
        due = field(definition)
        for _ in range(20):
            value = due.example_value(zh_faker)
            assert due.clean(value) == value


ROWS = ["2026-01-05", "2025-12-31", MISSING, "2026-10-01", None, "2026-02-01"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("op", "operand", "expected"),
    [
        ("eq", "2026-01-05", ["2026-01-05"]),
        ("ne", "2026-01-05", ["2025-12-31", MISSING, "2026-10-01", None, "2026-02-01"]),
        ("lt", "2026-01-05", ["2025-12-31"]),
        ("lte", "2026-01-05", ["2026-01-05", "2025-12-31"]),
        ("gt", "2026-02-01", ["2026-10-01"]),
        ("gte", "2026-02-01", ["2026-10-01", "2026-02-01"]),
        ("between", ["2026-01-01", "2026-03-31"], ["2026-01-05", "2026-02-01"]),
        ("in", ["2026-10-01", "2025-12-31"], ["2025-12-31", "2026-10-01"]),
        ("isnull", True, [MISSING, None]),
        ("isnull", False, ["2026-01-05", "2025-12-31", "2026-10-01", "2026-02-01"]),
    ],
)
def test_filter(record_rows, op, operand, expected):
    due = field(DUE)
    rows = record_rows(DUE, ROWS)
    assert filtered(rows, due, op, operand) == expected


def test_filter_operand_is_a_date():
    with pytest.raises(FieldValueError):
        field(DUE).filter_value("gt", "2026/1/5")


@pytest.mark.django_db
def test_sort_is_chronological(record_rows):
    due = field(DUE)
    rows = record_rows(DUE, ["2026-10-01", MISSING, "2025-12-31", "2026-01-05"])
    assert sorted_values(rows, due) == ["2025-12-31", "2026-01-05", "2026-10-01", MISSING]
