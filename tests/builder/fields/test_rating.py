"""The ``rating`` field type."""

from __future__ import annotations

import pytest
from django.db.models import Avg, Sum

from dajian.builder.fields.base import FieldValueError
from dajian.builder.fields.rating import RatingField
from dajian.builder.fields.registry import get
from tests.builder.fields.conftest import (
    MISSING,
    field,
    filtered,
    option_errors,
    schema_valid,
    sorted_values,
)

STARS = {"key": "stars", "type": "rating"}
TEN = {"key": "stars", "type": "rating", "max": 10, "icon": "heart"}


def refuse(definition, value) -> FieldValueError:
    with pytest.raises(FieldValueError) as info:
        field(definition).clean(value)
    return info.value


def test_registered_with_capabilities():
    assert get("rating") is RatingField
    assert RatingField.cel_type == "int" and RatingField.can_aggregate
    assert field(STARS).ui_hints() == {"widget": "rating", "max": 5, "icon": "star"}
    assert field(TEN).ui_hints()["icon"] == "heart"


def test_options_are_checked():
    assert option_errors(TEN) == []
    assert option_errors({**STARS, "max": 11}) == [("fields.0.max", "OUT_OF_RANGE")]
    assert option_errors({**STARS, "max": 0}) == [("fields.0.max", "OUT_OF_RANGE")]
    assert option_errors({**STARS, "icon": "smile"}) == [("fields.0.icon", "INVALID_CHOICE")]


def test_json_schema():
    assert field(STARS).json_schema() == {"type": "integer", "minimum": 1, "maximum": 5}
    assert schema_valid(field(STARS), 5)
    assert not schema_valid(field(STARS), 6)
    assert not schema_valid(field(STARS), 2.5)


def test_clean():
    assert field(STARS).clean(4) == 4
    assert type(field(STARS).clean(4.0)) is int
    assert field(TEN).clean(10) == 10


@pytest.mark.parametrize(
    ("value", "code"),
    [
        (0, "OUT_OF_RANGE"),
        (6, "OUT_OF_RANGE"),
        (2.5, "TOO_PRECISE"),
        (float("nan"), "INVALID_VALUE"),
        (True, "INVALID_TYPE"),
        ("3", "INVALID_TYPE"),
    ],
)
def test_clean_refuses(value, code):
    assert refuse(STARS, value).code == code


def test_to_cel_is_int():
    assert type(field(STARS).to_cel(3)) is int


@pytest.mark.parametrize(
    ("cell", "expected"),
    [("4", 4), ("４", 4), (3.0, 3), ("★★★", 3), ("⭐️⭐️", 2), ("", None)],
)
def test_from_cell(cell, expected):
    assert field(STARS).from_cell(cell) == expected


@pytest.mark.parametrize(("cell", "code"), [("good", "INVALID_FORMAT"), ("★★★★★★", "OUT_OF_RANGE")])
def test_from_cell_refuses(cell, code):
    with pytest.raises(FieldValueError) as info:
        field(STARS).from_cell(cell)
    assert info.value.code == code


def test_example_values_are_clean(zh_faker):
    rating = field(TEN)
    for _ in range(20):
        value = rating.example_value(zh_faker)
        assert rating.clean(value) == value


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("op", "operand", "expected"),
    [
        ("eq", 5, [5]),
        ("gte", 4, [5, 4]),
        ("lt", 3, [1]),
        ("between", [2, 4], [4, 3]),
        ("in", [1, 3], [1, 3]),
        ("isnull", True, [MISSING]),
    ],
)
def test_filter(record_rows, op, operand, expected):
    rating = field(STARS)
    rows = record_rows(STARS, [5, 1, 4, MISSING, 3])
    assert filtered(rows, rating, op, operand) == expected


@pytest.mark.django_db
def test_sort_and_aggregate(record_rows):
    rating = field(STARS)
    rows = record_rows(STARS, [5, 1, MISSING, 4])
    assert sorted_values(rows, rating, desc=True) == [5, 4, 1, MISSING]
    result = rows.aggregate(
        avg=Avg(rating.aggregate_expression()), total=Sum(rating.aggregate_expression())
    )
    assert result == {"avg": pytest.approx(10 / 3), "total": pytest.approx(10)}
