"""The ``boolean`` field type."""

from __future__ import annotations

import pytest

from dajian.builder.fields.base import FieldValueError
from dajian.builder.fields.boolean import BooleanField
from dajian.builder.fields.registry import get
from tests.builder.fields.conftest import (
    MISSING,
    field,
    filtered,
    option_errors,
    schema_valid,
    sorted_values,
)

PAID = {"key": "paid", "type": "boolean"}


def test_registered_with_capabilities():
    assert get("boolean") is BooleanField
    assert BooleanField.cel_type == "bool"
    assert not BooleanField.can_aggregate
    assert BooleanField.filter_ops == {"eq", "ne", "in", "nin", "isnull"}


def test_options_and_ui_hints():
    definition = {**PAID, "display": "checkbox", "true_label": {"zh-CN": "已付", "en": "Paid"}}
    assert option_errors(definition) == []
    assert option_errors({**PAID, "display": "toggle"}) == [("fields.0.display", "INVALID_CHOICE")]
    assert field(definition).ui_hints()["widget"] == "checkbox"
    assert field(PAID).ui_hints()["widget"] == "switch"


def test_json_schema():
    assert schema_valid(field(PAID), True)
    assert not schema_valid(field(PAID), "true")
    assert not schema_valid(field(PAID), 1)


@pytest.mark.parametrize("value", ["true", 1, 0, "是", None])
def test_clean_is_strict(value):
    with pytest.raises(FieldValueError) as info:
        field(PAID).clean(value)
    assert info.value.code == "INVALID_TYPE"


def test_clean_and_cel():
    assert field(PAID).clean(False) is False
    assert field(PAID).to_cel(True) is True


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("是", True),
        ("否", False),
        ("yes", True),
        ("No", False),
        ("TRUE", True),
        ("false", False),
        ("1", True),
        ("0", False),
        ("１", True),
        (1, True),
        (0.0, False),
        (True, True),
        ("√", True),
        ("×", False),
        ("", None),
        (None, None),
    ],
)
def test_from_cell_is_lenient(cell, expected):
    assert field(PAID).from_cell(cell) is expected


@pytest.mark.parametrize("cell", ["maybe", 2, "是的吧"])
def test_from_cell_refuses_other_words(cell):
    with pytest.raises(FieldValueError) as info:
        field(PAID).from_cell(cell)
    assert info.value.code == "INVALID_FORMAT"


def test_to_cell_and_example(zh_faker):
    assert field(PAID).to_cell(True) is True
    for _ in range(5):
        assert field(PAID).clean(field(PAID).example_value(zh_faker)) in (True, False)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("op", "operand", "expected"),
    [
        ("eq", True, [True, True]),
        ("eq", False, [False]),
        ("ne", True, [False, MISSING]),
        ("isnull", True, [MISSING]),
        ("isnull", False, [True, False, True]),
        ("in", [False], [False]),
        ("nin", [True], [False, MISSING]),
    ],
)
def test_filter(record_rows, op, operand, expected):
    paid = field(PAID)
    rows = record_rows(PAID, [True, False, MISSING, True])
    assert filtered(rows, paid, op, operand) == expected


@pytest.mark.django_db
def test_filter_does_not_confuse_true_with_one(record_rows):
    paid = field(PAID)
    rows = record_rows(PAID, [True, 1, False, 0])
    assert filtered(rows, paid, "eq", True) == [True]
    assert filtered(rows, paid, "eq", False) == [False]


@pytest.mark.django_db
def test_sort_false_first(record_rows):
    paid = field(PAID)
    rows = record_rows(PAID, [True, MISSING, False])
    assert sorted_values(rows, paid) == [False, True, MISSING]
