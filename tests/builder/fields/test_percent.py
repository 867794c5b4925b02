"""The ``percent`` field type (stored as a fraction)."""

from __future__ import annotations

import pytest
from django.db.models import Avg

from dajian.builder.fields.base import FieldValueError
from dajian.builder.fields.percent import PercentField
from dajian.builder.fields.registry import get
from tests.builder.fields.conftest import (
    MISSING,
    field,
    filtered,
    option_errors,
    schema_valid,
    sorted_values,
)

RATE = {"key": "rate", "type": "percent"}
SHARE = {"key": "share", "type": "percent", "precision": 0, "min": 0, "max": 1}


def refuse(definition, value) -> FieldValueError:
    with pytest.raises(FieldValueError) as info:
        field(definition).clean(value)
    return info.value


def test_registered_with_capabilities():
    assert get("percent") is PercentField
    assert PercentField.can_aggregate and PercentField.cel_type == "double"
    assert field(SHARE).ui_hints()["unit"] == "%"


def test_options_are_checked():
    assert option_errors(SHARE) == []
    assert option_errors({**RATE, "precision": 9}) == [("fields.0.precision", "OUT_OF_RANGE")]
    assert option_errors({**RATE, "min": 1, "max": 0.5}) == [("fields.0.min", "INVALID_OPTION")]


def test_json_schema():
    assert field(SHARE).json_schema() == {"type": "number", "minimum": 0, "maximum": 1}
    assert schema_valid(field(SHARE), 0.35)
    assert not schema_valid(field(SHARE), 1.5)
    assert not schema_valid(field(SHARE), "35%")


def test_precision_counts_percent_decimals():
    # precision 2 → 12.34% → the fraction 0.1234
    assert field(RATE).clean(0.1234) == 0.1234
    assert field(SHARE).clean(0.35) == 0.35
    assert field(SHARE).clean(1) == 1.0 and isinstance(field(SHARE).clean(1), float)


@pytest.mark.parametrize(
    ("definition", "value", "code"),
    [
        (RATE, 0.12345, "TOO_PRECISE"),
        (SHARE, 0.355, "TOO_PRECISE"),
        (SHARE, 1.01, "OUT_OF_RANGE"),
        (SHARE, -0.01, "OUT_OF_RANGE"),
        (RATE, "0.5", "INVALID_TYPE"),
        (RATE, False, "INVALID_TYPE"),
        (RATE, float("nan"), "INVALID_VALUE"),
    ],
)
def test_clean_refuses(definition, value, code):
    assert refuse(definition, value).code == code


def test_to_cel_is_the_fraction_as_double():
    assert field(SHARE).to_cel(1) == 1.0 and type(field(SHARE).to_cel(1)) is float


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("12.5%", 0.125),
        ("１２．５％", 0.125),
        ("3%", 0.03),
        (0.03, 0.03),
        ("0.5", 0.5),
        (" ", None),
    ],
)
def test_from_cell(cell, expected):
    assert field(RATE).from_cell(cell) == expected


def test_from_cell_refuses():
    with pytest.raises(FieldValueError) as info:
        field(RATE).from_cell("half")
    assert info.value.code == "INVALID_FORMAT"
    with pytest.raises(FieldValueError) as info:
        field(SHARE).from_cell("12.5%")
    assert info.value.code == "TOO_PRECISE"


def test_example_values_are_clean(zh_faker):
    for definition in (RATE, SHARE, {**RATE, "min": 0.125, "max": 0.2}):
        percent = field(definition)
        for _ in range(20):
            value = percent.example_value(zh_faker)
            assert percent.clean(value) == value


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("op", "operand", "expected"),
    [
        ("eq", 0.03, [0.03]),
        ("gte", 0.65, [0.65, 0.8]),
        ("lt", 0.45, [0.03, 0.2]),
        ("between", [0.45, 0.65], [0.65]),
        ("nin", [0.03, 0.8], [0.65, 0.2, MISSING]),
    ],
)
def test_filter(record_rows, op, operand, expected):
    percent = field(RATE)
    rows = record_rows(RATE, [0.03, 0.65, 0.2, MISSING, 0.8])
    assert filtered(rows, percent, op, operand) == expected


@pytest.mark.django_db
def test_sort_and_average(record_rows):
    percent = field(RATE)
    rows = record_rows(RATE, [0.5, MISSING, 0.25, 1])
    assert sorted_values(rows, percent) == [0.25, 0.5, 1, MISSING]
    assert rows.aggregate(avg=Avg(percent.aggregate_expression()))["avg"] == pytest.approx(
        0.5833333
    )
