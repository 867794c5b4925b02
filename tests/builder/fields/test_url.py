"""The ``url`` field type."""

from __future__ import annotations

import pytest

from dajian.builder.fields.base import FieldValueError
from dajian.builder.fields.registry import get
from dajian.builder.fields.url import UrlField
from tests.builder.fields.conftest import MISSING, field, filtered, option_errors, schema_valid

URL = {"key": "site", "type": "url"}


def test_registered_with_capabilities():
    assert get("url") is UrlField
    assert UrlField.cel_type == "string"
    assert "contains" in UrlField.filter_ops
    assert field(URL).ui_hints()["widget"] == "url"


def test_options_are_checked():
    assert option_errors(URL) == []
    assert option_errors({**URL, "schemes": ["ftp"]}) == [("fields.0", "UNKNOWN_OPTION")]


def test_json_schema():
    assert schema_valid(field(URL), "https://example.com")
    assert not schema_valid(field(URL), 5)
    assert not schema_valid(field(URL), "https://x.cn/" + "a" * 2048)


@pytest.mark.parametrize(
    ("value", "stored"),
    [
        ("HTTPS://Example.COM/Path?Q=1", "https://example.com/Path?Q=1"),
        (" http://acme.cn ", "http://acme.cn"),
        ("http://User:Pw@Acme.CN:8080/x", "http://User:Pw@acme.cn:8080/x"),
        ("https://例子.中国/页面", "https://例子.中国/页面"),
    ],
)
def test_clean_normalises_scheme_and_host(value, stored):
    assert field(URL).clean(value) == stored


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("ftp://example.com/file", "INVALID_FORMAT"),
        ("javascript:alert(1)", "INVALID_FORMAT"),
        ("example.com", "INVALID_FORMAT"),
        ("https://", "INVALID_FORMAT"),
        ("https://x.cn/" + "a" * 2048, "TOO_LONG"),
        ({"href": "https://x.cn"}, "INVALID_TYPE"),
    ],
)
def test_clean_refuses(value, code):
    with pytest.raises(FieldValueError) as info:
        field(URL).clean(value)
    assert info.value.code == code


def test_cells_and_examples(zh_faker):
    url = field(URL)
    assert url.from_cell("https://ACME.cn") == "https://acme.cn"
    assert url.from_cell(None) is None
    assert url.to_cell("https://acme.cn") == "https://acme.cn"
    for _ in range(20):
        value = url.example_value(zh_faker)
        assert url.clean(value) == value


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("op", "operand", "expected"),
    [
        ("eq", "HTTPS://ACME.cn/a", ["https://acme.cn/a"]),
        ("contains", "acme", ["https://acme.cn/a", "http://shop.acme.cn"]),
        ("startswith", "https://", ["https://acme.cn/a", "https://other.com"]),
        ("isnull", True, [MISSING]),
    ],
)
def test_filter(record_rows, op, operand, expected):
    url = field(URL)
    rows = record_rows(
        URL, ["https://acme.cn/a", "http://shop.acme.cn", MISSING, "https://other.com"]
    )
    assert filtered(rows, url, op, operand) == expected


def test_search_operand_is_text():
    with pytest.raises(FieldValueError):
        field(URL).filter_value("contains", 5)
