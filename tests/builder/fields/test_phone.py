"""The ``phone`` field type."""

from __future__ import annotations

import pytest

from dajian.builder.fields.base import FieldValueError
from dajian.builder.fields.phone import PhoneField
from dajian.builder.fields.registry import get
from tests.builder.fields.conftest import (
    MISSING,
    field,
    filtered,
    option_errors,
    schema_valid,
    sorted_values,
)

PHONE = {"key": "phone", "type": "phone"}


def test_registered_with_capabilities():
    assert get("phone") is PhoneField
    assert PhoneField.cel_type == "string"
    assert {"eq", "contains", "startswith"} <= PhoneField.filter_ops
    assert field(PHONE).ui_hints()["inputMode"] == "tel"


def test_options_are_checked():
    assert option_errors(PHONE) == []
    assert option_errors({**PHONE, "country": "CN"}) == [("fields.0", "UNKNOWN_OPTION")]


def test_json_schema():
    assert schema_valid(field(PHONE), "+86 138-0013-8000")
    assert not schema_valid(field(PHONE), 13800138000)
    assert not schema_valid(field(PHONE), "123")


@pytest.mark.parametrize(
    ("value", "stored"),
    [
        ("+86 138-0013-8000", "+8613800138000"),
        ("(021) 8888.6666", "02188886666"),
        ("１３８００１３８０００", "13800138000"),
        ("＋86 13800138000", "+8613800138000"),
        ("12345", "12345"),
    ],
)
def test_clean_normalises(value, stored):
    assert field(PHONE).clean(value) == stored


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("1234", "INVALID_FORMAT"),
        ("1" * 21, "INVALID_FORMAT"),
        ("138-0013-800a", "INVALID_FORMAT"),
        ("86+138", "INVALID_FORMAT"),
        ("ext. 12345", "INVALID_FORMAT"),
        (13800138000, "INVALID_TYPE"),
    ],
)
def test_clean_refuses(value, code):
    with pytest.raises(FieldValueError) as info:
        field(PHONE).clean(value)
    assert info.value.code == code


def test_cells_and_examples(zh_faker):
    phone = field(PHONE)
    assert phone.from_cell(13800138000.0) == "13800138000"
    assert phone.from_cell(13800138000) == "13800138000"
    assert phone.from_cell("138 0013 8000") == "13800138000"
    assert phone.from_cell("") is None
    assert phone.to_cell("13800138000") == "13800138000"
    with pytest.raises(FieldValueError) as info:
        phone.from_cell(True)
    assert info.value.code == "INVALID_TYPE"
    for _ in range(20):
        value = phone.example_value(zh_faker)
        assert phone.clean(value) == value


ROWS = ["+8613800138000", "13800138000", MISSING, "02188886666"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("op", "operand", "expected"),
    [
        ("eq", "138-0013-8000", ["13800138000"]),
        ("eq", "+86 138 0013 8000", ["+8613800138000"]),
        ("in", ["021-8888-6666"], ["02188886666"]),
        ("contains", "0013 8000", ["+8613800138000", "13800138000"]),
        ("startswith", "021", ["02188886666"]),
        ("startswith", "+86", ["+8613800138000"]),
        ("isnull", False, ["+8613800138000", "13800138000", "02188886666"]),
    ],
)
def test_filter_normalises_the_operand(record_rows, op, operand, expected):
    phone = field(PHONE)
    rows = record_rows(PHONE, ROWS)
    assert filtered(rows, phone, op, operand) == expected


def test_search_operand_must_be_digits():
    with pytest.raises(FieldValueError) as info:
        field(PHONE).filter_value("contains", "abc")
    assert info.value.code == "INVALID_FORMAT"


@pytest.mark.django_db
def test_sort(record_rows):
    phone = field(PHONE)
    rows = record_rows(PHONE, ["139", MISSING, "138"])
    assert sorted_values(rows, phone) == ["138", "139", MISSING]
