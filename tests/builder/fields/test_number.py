"""The ``number`` field type."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db.models import Avg, Sum

from dajian.builder.fields.base import FieldValueError
from dajian.builder.fields.number import NumberField
from dajian.builder.fields.registry import get
from tests.builder.fields.conftest import (
    MISSING,
    field,
    filtered,
    option_errors,
    schema_valid,
    sorted_values,
)

INT = {"key": "qty", "type": "number", "precision": 0}
DEC = {"key": "weight", "type": "number", "precision": 2, "min": -10, "max": 1000}
ANY = {"key": "score", "type": "number"}


def refuse(definition, value) -> FieldValueError:
    with pytest.raises(FieldValueError) as info:
        field(definition).clean(value)
    return info.value


def test_registered_with_capabilities():
    assert get("number") is NumberField
    assert NumberField.label == {"zh-CN": "数字", "en": "Number"}
    assert (NumberField.can_filter, NumberField.can_sort, NumberField.can_aggregate) == (
        True,
        True,
        True,
    )
    assert {"lt", "lte", "gt", "gte", "between", "in"} <= NumberField.filter_ops


def test_options_are_checked():
    assert option_errors({**DEC}) == []
    assert option_errors({"key": "n", "type": "number", "precision": 11}) == [
        ("fields.0.precision", "OUT_OF_RANGE")
    ]
    assert option_errors({"key": "n", "type": "number", "digits": 2}) == [
        ("fields.0", "UNKNOWN_OPTION")
    ]
    assert option_errors({"key": "n", "type": "number", "min": 5, "max": 1}) == [
        ("fields.0.min", "INVALID_OPTION")
    ]


def test_cel_type_follows_precision():
    assert field(INT).cel_type == "int"
    assert field(DEC).cel_type == "double"
    assert field(ANY).cel_type == "double"


def test_json_schema_integer_when_precision_is_zero():
    assert field(INT).json_schema() == {"type": "integer"}
    assert field(DEC).json_schema() == {"type": "number", "minimum": -10, "maximum": 1000}
    assert schema_valid(field(INT), 3) and not schema_valid(field(INT), 3.5)
    assert schema_valid(field(DEC), 12.5)
    assert not schema_valid(field(DEC), 1000.5)
    assert not schema_valid(field(DEC), "12.5")


def test_clean_normalises():
    assert field(INT).clean(3) == 3 and isinstance(field(INT).clean(3.0), int)
    assert field(DEC).clean(12.5) == 12.5 and isinstance(field(DEC).clean(12), float)
    assert field(DEC).clean(Decimal("1.50")) == 1.5
    assert field(ANY).clean(0.1234567891) == 0.1234567891


@pytest.mark.parametrize(
    ("definition", "value", "code"),
    [
        (INT, True, "INVALID_TYPE"),
        (INT, "3", "INVALID_TYPE"),
        (INT, None, "INVALID_TYPE"),
        (DEC, float("nan"), "INVALID_VALUE"),
        (DEC, float("inf"), "INVALID_VALUE"),
        (DEC, Decimal("NaN"), "INVALID_VALUE"),
        (INT, 3.5, "TOO_PRECISE"),
        (DEC, 1.005, "TOO_PRECISE"),
        (ANY, 0.12345678912, "TOO_PRECISE"),
        (DEC, 1000.01, "OUT_OF_RANGE"),
        (DEC, -10.5, "OUT_OF_RANGE"),
        (ANY, 10**15, "OUT_OF_RANGE"),
    ],
)
def test_clean_refuses(definition, value, code):
    assert refuse(definition, value).code == code


def test_too_precise_names_the_precision():
    assert refuse(DEC, 1.005).params == {"precision": 2}


def test_to_cel_keeps_ints_and_makes_doubles():
    assert type(field(INT).to_cel(3)) is int
    assert type(field(DEC).to_cel(3)) is float
    assert type(field(ANY).to_cel(3)) is float


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("1,234.50", 1234.5),
        ("１２３", 123.0),
        ("１２３．４", 123.4),
        (" -5 ", -5.0),
        ("(12.5)", -12.5),
        (7, 7.0),
        ("", None),
        (None, None),
    ],
)
def test_from_cell(cell, expected):
    assert field({"key": "n", "type": "number", "precision": 2}).from_cell(cell) == expected


@pytest.mark.parametrize(("cell", "code"), [("abc", "INVALID_FORMAT"), ("1.2.3", "INVALID_FORMAT")])
def test_from_cell_refuses(cell, code):
    with pytest.raises(FieldValueError) as info:
        field(DEC).from_cell(cell)
    assert info.value.code == code


def test_to_cell_is_the_number():
    assert field(DEC).to_cell(12.5) == 12.5


def test_example_values_are_clean(zh_faker):
    for definition in (INT, DEC, ANY, {"key": "n", "type": "number", "min": 5, "max": 6}):
        number = field(definition)
        for _ in range(20):
            value = number.example_value(zh_faker)
            assert number.clean(value) == value


# --- SQL --------------------------------------------------------------------------------

VALUES = [5, 5.5, 12, 100, -3, MISSING, None, 0]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("op", "operand", "expected"),
    [
        ("eq", 5, [5]),
        ("eq", 0, [0]),
        ("ne", 5, [5.5, 12, 100, -3, MISSING, None, 0]),
        ("in", [5, 100], [5, 100]),
        ("nin", [5, 100], [5.5, 12, -3, MISSING, None, 0]),
        ("isnull", True, [MISSING, None]),
        ("isnull", False, [5, 5.5, 12, 100, -3, 0]),
        ("lt", 5, [-3, 0]),
        ("lte", 5, [5, -3, 0]),
        ("gt", 5, [5.5, 12, 100]),
        ("gte", 5.5, [5.5, 12, 100]),
        ("gt", 11, [12, 100]),  # numeric, not text order ("100" < "11")
        ("between", [0, 12], [5, 5.5, 12, 0]),
    ],
)
def test_filter(record_rows, op, operand, expected):
    number = field({"key": "n", "type": "number", "precision": 1})
    rows = record_rows(number.definition, VALUES)
    assert filtered(rows, number, op, operand) == expected


def test_between_needs_two_bounds():
    with pytest.raises(FieldValueError) as info:
        field(DEC).filter_value("between", [1])
    assert info.value.code == "INVALID_VALUE"


def test_filter_operands_are_cleaned():
    with pytest.raises(FieldValueError):
        field(INT).filter_value("eq", "5")
    assert field(DEC).filter_value("between", [1, 2.5]) == [1.0, 2.5]


@pytest.mark.django_db
def test_sort_is_numeric(record_rows):
    number = field({"key": "n", "type": "number", "precision": 1})
    rows = record_rows(number.definition, [12, MISSING, 100, -3, 5.5, 9])
    assert sorted_values(rows, number) == [-3, 5.5, 9, 12, 100, MISSING]
    assert sorted_values(rows, number, desc=True) == [100, 12, 9, 5.5, -3, MISSING]


@pytest.mark.django_db
def test_aggregate_sums_and_averages(record_rows):
    number = field({"key": "n", "type": "number", "precision": 1})
    rows = record_rows(number.definition, [1.5, 2, MISSING, 10])
    result = rows.aggregate(
        total=Sum(number.aggregate_expression()), avg=Avg(number.aggregate_expression())
    )
    assert result["total"] == pytest.approx(13.5)
    assert result["avg"] == pytest.approx(4.5)
