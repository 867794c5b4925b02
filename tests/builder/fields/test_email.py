"""The ``email`` field type."""

from __future__ import annotations

import pytest

from dajian.builder.fields.base import FieldValueError
from dajian.builder.fields.email import EmailField
from dajian.builder.fields.registry import get
from tests.builder.fields.conftest import (
    MISSING,
    field,
    filtered,
    option_errors,
    schema_valid,
    sorted_values,
)

EMAIL = {"key": "email", "type": "email"}


def test_registered_with_capabilities():
    assert get("email") is EmailField
    assert EmailField.cel_type == "string"
    assert {"eq", "contains", "icontains", "startswith"} <= EmailField.filter_ops
    assert field(EMAIL).ui_hints()["widget"] == "email"


def test_options_are_checked():
    assert option_errors({**EMAIL, "placeholder": "name@example.com"}) == []
    assert option_errors({**EMAIL, "max_length": 20}) == [("fields.0", "UNKNOWN_OPTION")]


def test_json_schema():
    assert schema_valid(field(EMAIL), "a@example.com")
    assert not schema_valid(field(EMAIL), 5)
    assert not schema_valid(field(EMAIL), "a" * 250 + "@x.cn")


@pytest.mark.parametrize(
    ("value", "stored"),
    [
        ("Zhang.San@Example.COM", "Zhang.San@example.com"),
        ("  li@acme.cn ", "li@acme.cn"),
        ("wang@中国.cn", "wang@中国.cn"),
    ],
)
def test_clean_lowercases_the_domain_only(value, stored):
    assert field(EMAIL).clean(value) == stored


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("not-an-email", "INVALID_FORMAT"),
        ("a@b", "INVALID_FORMAT"),
        ("a b@example.com", "INVALID_FORMAT"),
        ("a@" + "x" * 250 + ".cn", "TOO_LONG"),
        (["a@b.cn"], "INVALID_TYPE"),
    ],
)
def test_clean_refuses(value, code):
    with pytest.raises(FieldValueError) as info:
        field(EMAIL).clean(value)
    assert info.value.code == code


def test_cells_and_examples(zh_faker):
    email = field(EMAIL)
    assert email.from_cell("mailto:Li@ACME.cn") == "Li@acme.cn"
    assert email.from_cell("li＠acme.cn") == "li@acme.cn"
    assert email.from_cell("") is None
    assert email.to_cell("li@acme.cn") == "li@acme.cn"
    for _ in range(20):
        value = email.example_value(zh_faker)
        assert email.clean(value) == value


ROWS = ["Li@acme.cn", "wang@other.com", MISSING, "zhao@acme.cn"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("op", "operand", "expected"),
    [
        ("eq", "Li@ACME.CN", ["Li@acme.cn"]),
        ("ne", "Li@acme.cn", ["wang@other.com", MISSING, "zhao@acme.cn"]),
        ("in", ["zhao@acme.cn", "x@y.cn"], ["zhao@acme.cn"]),
        ("contains", "@acme.cn", ["Li@acme.cn", "zhao@acme.cn"]),
        ("icontains", "li@", ["Li@acme.cn"]),
        ("startswith", "wang", ["wang@other.com"]),
        ("startswith", "li", []),  # case-sensitive on both databases
        ("contains", "LI@", []),
        ("isnull", True, [MISSING]),
    ],
)
def test_filter(record_rows, op, operand, expected):
    email = field(EMAIL)
    rows = record_rows(EMAIL, ROWS)
    assert filtered(rows, email, op, operand) == expected


def test_filter_operands():
    with pytest.raises(FieldValueError):
        field(EMAIL).filter_value("eq", "nope")
    with pytest.raises(FieldValueError):
        field(EMAIL).filter_value("contains", "  ")


@pytest.mark.django_db
def test_sort_by_text(record_rows):
    email = field(EMAIL)
    rows = record_rows(EMAIL, ["b@x.cn", MISSING, "a@x.cn"])
    assert sorted_values(rows, email) == ["a@x.cn", "b@x.cn", MISSING]
