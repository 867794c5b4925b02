"""The ``single_select`` field type."""

from __future__ import annotations

import pytest
from django.utils import translation

from dajian.builder.fields.base import FieldValueError
from dajian.builder.fields.registry import get
from dajian.builder.fields.single_select import SingleSelectField
from tests.builder.fields.conftest import (
    MISSING,
    field,
    filtered,
    option_errors,
    schema_valid,
    sorted_values,
)

LEVEL = {
    "key": "level",
    "type": "single_select",
    "choices": [
        {"value": "a", "label": {"zh-CN": "A级", "en": "Level A"}, "color": "red"},
        {"value": "b", "label": {"zh-CN": "B级", "en": "Level B"}, "color": "#1677ff"},
        {"value": "c", "label": "C"},
    ],
}


def test_registered_with_capabilities():
    assert get("single_select") is SingleSelectField
    assert SingleSelectField.cel_type == "string"
    assert SingleSelectField.filter_ops == {"eq", "ne", "in", "nin", "isnull"}


def test_options_are_checked():
    assert option_errors(LEVEL) == []
    assert option_errors({"key": "s", "type": "single_select"}) == [("fields.0", "REQUIRED")]
    assert option_errors({"key": "s", "type": "single_select", "choices": []}) == [
        ("fields.0.choices", "TOO_FEW_ITEMS")
    ]
    no_label = {"key": "s", "type": "single_select", "choices": [{"value": "a"}]}
    assert option_errors(no_label) == [("fields.0.choices.0", "REQUIRED")]
    bad_color = {
        "key": "s",
        "type": "single_select",
        "choices": [{"value": "a", "label": "A", "color": "rgb(1,2,3)"}],
    }
    assert option_errors(bad_color) == [("fields.0.choices.0.color", "INVALID_FORMAT")]


def test_duplicate_choice_values_are_reported_by_path():
    definition = {
        "key": "form",
        "name": "F",
        "fields": [
            {"key": "title", "type": "text", "label": "T"},
            {**LEVEL, "label": "L", "choices": [*LEVEL["choices"], {"value": "a", "label": "A2"}]},
        ],
    }
    errors = field(definition["fields"][1]).check_definition(definition)
    assert [(e.path, e.code) for e in errors] == [("fields.1.choices.3.value", "DUPLICATE_CHOICE")]


def test_json_schema_is_an_enum():
    assert field(LEVEL).json_schema() == {"type": "string", "enum": ["a", "b", "c"]}
    assert schema_valid(field(LEVEL), "b")
    assert not schema_valid(field(LEVEL), "d")


def test_ui_hints_list_the_options():
    hints = field(LEVEL).ui_hints()
    assert hints["widget"] == "select"
    assert hints["options"][1] == {
        "value": "b",
        "label": {"zh-CN": "B级", "en": "Level B"},
        "color": "#1677ff",
    }
    assert field({**LEVEL, "display": "radio"}).ui_hints()["widget"] == "radio"


def test_clean():
    assert field(LEVEL).clean("a") == "a"
    assert field(LEVEL).to_cel("a") == "a"


@pytest.mark.parametrize(
    ("value", "code"), [("d", "INVALID_CHOICE"), ("A", "INVALID_CHOICE"), (1, "INVALID_TYPE")]
)
def test_clean_refuses(value, code):
    with pytest.raises(FieldValueError) as info:
        field(LEVEL).clean(value)
    assert info.value.code == code


@pytest.mark.parametrize(
    ("cell", "expected"),
    [("a", "a"), ("A级", "a"), ("level b", "b"), ("ｃ", "c"), (" B级 ", "b"), ("", None)],
)
def test_from_cell_takes_values_or_labels(cell, expected):
    assert field(LEVEL).from_cell(cell) == expected


def test_from_cell_refuses_unknown():
    with pytest.raises(FieldValueError) as info:
        field(LEVEL).from_cell("D级")
    assert info.value.code == "INVALID_CHOICE"


def test_to_cell_is_the_label_in_the_current_language():
    with translation.override("en"):
        assert field(LEVEL).to_cell("a") == "Level A"
    with translation.override("zh-hans"):
        assert field(LEVEL).to_cell("a") == "A级"
    assert field(LEVEL).to_cell("gone") == "gone"


def test_example_values_are_clean(zh_faker):
    level = field(LEVEL)
    assert {level.clean(level.example_value(zh_faker)) for _ in range(30)} <= {"a", "b", "c"}


ROWS = ["b", "a", MISSING, "c", None, "a"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("op", "operand", "expected"),
    [
        ("eq", "a", ["a", "a"]),
        ("ne", "a", ["b", MISSING, "c", None]),
        ("in", ["b", "c"], ["b", "c"]),
        ("nin", ["a"], ["b", MISSING, "c", None]),
        ("isnull", True, [MISSING, None]),
        ("isnull", False, ["b", "a", "c", "a"]),
    ],
)
def test_filter(record_rows, op, operand, expected):
    level = field(LEVEL)
    rows = record_rows(LEVEL, ROWS)
    assert filtered(rows, level, op, operand) == expected


def test_filter_operand_must_be_a_choice():
    with pytest.raises(FieldValueError):
        field(LEVEL).filter_value("in", ["a", "z"])


@pytest.mark.django_db
def test_sort_follows_choice_order(record_rows):
    definition = {**LEVEL, "choices": list(reversed(LEVEL["choices"]))}  # c, b, a
    level = field(definition)
    rows = record_rows(definition, ["a", MISSING, "c", "b", "a"])
    assert sorted_values(rows, level) == ["c", "b", "a", "a", MISSING]
    assert sorted_values(rows, level, desc=True) == ["a", "a", "b", "c", MISSING]
