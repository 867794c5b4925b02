"""The ``long_text`` field type."""

from __future__ import annotations

import pytest

from dajian.builder.fields.base import FieldValueError
from dajian.builder.fields.long_text import LongTextField
from dajian.builder.fields.registry import get
from dajian.builder.fields.text import TextField
from tests.builder.fields.conftest import MISSING, field, filtered, option_errors, schema_valid

NOTES = {"key": "notes", "type": "long_text"}
SHORT = {"key": "notes", "type": "long_text", "max_length": 10, "rows": 6}


def test_registered_as_multiline_text():
    assert get("long_text") is LongTextField
    assert issubclass(LongTextField, TextField)
    assert LongTextField.cel_type == "string"
    assert not LongTextField.can_sort
    assert LongTextField.filter_ops == {"isnull", "contains", "icontains"}


def test_options_are_checked():
    assert option_errors(SHORT) == []
    assert option_errors({**NOTES, "max_length": 100001}) == [
        ("fields.0.max_length", "OUT_OF_RANGE")
    ]
    assert option_errors({**NOTES, "pattern": "^a"}) == [("fields.0", "UNKNOWN_OPTION")]


def test_json_schema_and_hints():
    assert field(NOTES).json_schema() == {"type": "string", "maxLength": 10000}
    assert schema_valid(field(SHORT), "第一行\n第二行")
    assert not schema_valid(field(SHORT), "x" * 11)
    assert field(SHORT).ui_hints() == {
        "widget": "textarea",
        "maxLength": 10,
        "placeholder": None,
        "rows": 6,
    }


def test_clean_keeps_lines_and_trims_the_end():
    assert field(NOTES).clean("  first\nsecond \n\n") == "  first\nsecond"


@pytest.mark.parametrize(
    ("value", "code"), [(5, "INVALID_TYPE"), ("a\x00b", "INVALID_VALUE"), ("x" * 11, "TOO_LONG")]
)
def test_clean_refuses(value, code):
    with pytest.raises(FieldValueError) as info:
        field(SHORT).clean(value)
    assert info.value.code == code


def test_cells_and_examples(zh_faker):
    notes = field(NOTES)
    assert notes.from_cell("a\r\nb") == "a\nb"
    assert notes.from_cell("  ") is None
    assert notes.to_cell("a\nb") == "a\nb"
    assert notes.to_cel("a") == "a"
    for definition in (NOTES, SHORT):
        for _ in range(10):
            value = field(definition).example_value(zh_faker)
            assert field(definition).clean(value) == value


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("op", "operand", "expected"),
    [
        ("contains", "价格", ["客户嫌价格高\n下周再谈"]),
        ("contains", "Follow", ["Follow up"]),
        ("contains", "follow", []),  # case-sensitive on SQLite too
        ("icontains", "FOLLOW", ["Follow up"]),
        ("contains", "50%", ["折扣50%"]),
        ("isnull", True, [MISSING]),
    ],
)
def test_filter_by_substring(record_rows, op, operand, expected):
    notes = field(NOTES)
    rows = record_rows(
        NOTES, ["客户嫌价格高\n下周再谈", "Follow up", MISSING, "折扣50%", "折扣500"]
    )
    assert filtered(rows, notes, op, operand) == expected
