"""The ``money`` field type."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db.models import Sum

from dajian.builder.fields.base import FieldValueError
from dajian.builder.fields.money import MoneyField
from dajian.builder.fields.registry import get
from tests.builder.fields.conftest import (
    MISSING,
    field,
    filtered,
    option_errors,
    schema_valid,
    sorted_values,
)

AMOUNT = {"key": "amount", "type": "money"}
YEN = {"key": "amount", "type": "money", "currency": "JPY", "precision": 0, "min": 0}


def refuse(definition, value) -> FieldValueError:
    with pytest.raises(FieldValueError) as info:
        field(definition).clean(value)
    return info.value


def test_registered_with_capabilities():
    assert get("money") is MoneyField
    assert MoneyField.can_aggregate and MoneyField.can_sort and MoneyField.can_filter
    assert MoneyField.label["en"] == "Money"


def test_defaults_cny_two_decimals():
    money = field(AMOUNT)
    assert (money.currency, money.precision) == ("CNY", 2)
    assert money.ui_hints()["currency"] == "CNY"
    assert money.cel_type == "double"
    assert field(YEN).cel_type == "double"  # money is a double in CEL even without decimals


def test_options_are_checked():
    assert option_errors(YEN) == []
    assert option_errors({**AMOUNT, "currency": "yuan"}) == [
        ("fields.0.currency", "INVALID_FORMAT")
    ]
    assert option_errors({**AMOUNT, "precision": 5}) == [("fields.0.precision", "OUT_OF_RANGE")]
    assert option_errors({**AMOUNT, "min": 10, "max": 0}) == [("fields.0.min", "INVALID_OPTION")]


def test_json_schema_takes_numbers_and_decimal_text():
    money = field({**AMOUNT, "min": 0})
    assert schema_valid(money, 12.34)
    assert schema_valid(money, "1234.50")
    assert not schema_valid(money, "12,34")
    assert not schema_valid(money, -1)
    assert not schema_valid(money, True)
    assert field(YEN).json_schema()["type"] == ["integer", "string"]


def test_clean_stores_json_numbers():
    assert field(AMOUNT).clean("1234.50") == 1234.5
    assert field(AMOUNT).clean(" 19.99 ") == 19.99
    assert field(AMOUNT).clean(100) == 100.0
    assert field(YEN).clean("1500") == 1500 and isinstance(field(YEN).clean(1500.0), int)


@pytest.mark.parametrize(
    ("definition", "value", "code"),
    [
        (AMOUNT, "12.345", "TOO_PRECISE"),
        (AMOUNT, 0.105, "TOO_PRECISE"),
        (YEN, "1500.5", "TOO_PRECISE"),
        (AMOUNT, "12,34", "INVALID_FORMAT"),
        (AMOUNT, "1e5", "INVALID_FORMAT"),
        (AMOUNT, "NaN", "INVALID_FORMAT"),
        (AMOUNT, True, "INVALID_TYPE"),
        (AMOUNT, [1], "INVALID_TYPE"),
        (AMOUNT, float("inf"), "INVALID_VALUE"),
        (YEN, -1, "OUT_OF_RANGE"),
        (AMOUNT, "1000000000000000", "OUT_OF_RANGE"),
    ],
)
def test_clean_refuses(definition, value, code):
    assert refuse(definition, value).code == code


def test_to_cel_is_a_double():
    assert type(field(AMOUNT).to_cel(1500)) is float
    assert type(field(YEN).to_cel(1500)) is float


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("1,234.50", 1234.5),
        ("¥1,234.50", 1234.5),
        ("￥８８", 88.0),
        ("CNY 99.9", 99.9),
        ("1234.5元", 1234.5),
        ("$-5", -5.0),
        (12.3, 12.3),
        (0.1 + 0.2, 0.3),  # float noise of computed cells
        ("", None),
    ],
)
def test_from_cell(cell, expected):
    assert field(AMOUNT).from_cell(cell) == expected


def test_from_cell_refuses_text_and_extra_decimals():
    money = field(AMOUNT)
    with pytest.raises(FieldValueError) as info:
        money.from_cell("about 5")
    assert info.value.code == "INVALID_FORMAT"
    with pytest.raises(FieldValueError) as info:
        money.from_cell("1.234")
    assert info.value.code == "TOO_PRECISE"


def test_example_values_are_clean(zh_faker):
    for definition in (AMOUNT, YEN):
        money = field(definition)
        for _ in range(20):
            value = money.example_value(zh_faker)
            assert money.clean(value) == value


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("op", "operand", "expected"),
    [
        ("eq", "19.99", [19.99]),
        ("in", [19.99, "100"], [19.99, 100]),
        ("gt", "20", [100, 1234.5]),
        ("lte", 19.99, [19.99, 0.01]),
        ("between", ["0.01", 100], [19.99, 100, 0.01]),
        ("isnull", True, [MISSING]),
    ],
)
def test_filter(record_rows, op, operand, expected):
    money = field(AMOUNT)
    rows = record_rows(AMOUNT, [19.99, 100, 1234.5, MISSING, 0.01])
    assert filtered(rows, money, op, operand) == expected


@pytest.mark.django_db
def test_sort_and_exact_decimal_sum(record_rows):
    money = field(AMOUNT)
    rows = record_rows(AMOUNT, [0.1, 0.2, MISSING, 1234.5, 0.7])
    assert sorted_values(rows, money) == [0.1, 0.2, 0.7, 1234.5, MISSING]
    total = rows.aggregate(total=Sum(money.aggregate_expression()))["total"]
    assert isinstance(total, Decimal)
    assert total == Decimal("1235.50")
