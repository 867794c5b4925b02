"""The ``multi_select`` (tags) field type."""

from __future__ import annotations

import pytest

from dajian.builder.fields.base import FieldValueError
from dajian.builder.fields.multi_select import MultiSelectField
from dajian.builder.fields.registry import get
from tests.builder.fields.conftest import MISSING, field, filtered, option_errors, schema_valid

TAGS = {
    "key": "tags",
    "type": "multi_select",
    "choices": [
        {"value": "ka", "label": {"zh-CN": "大客户", "en": "Key account"}},
        {"value": "new", "label": "新客户"},
        {"value": "vip", "label": "VIP"},
    ],
}
FREE = {**TAGS, "allow_new": True, "max_items": 4}


def refuse(definition, value) -> FieldValueError:
    with pytest.raises(FieldValueError) as info:
        field(definition).clean(value)
    return info.value


def test_registered_with_capabilities():
    assert get("multi_select") is MultiSelectField
    assert MultiSelectField.cel_type == "list(string)"
    assert not MultiSelectField.can_sort and not MultiSelectField.can_aggregate
    assert MultiSelectField.filter_ops == {"contains", "in", "nin", "isnull"}


def test_options_are_checked():
    assert option_errors(TAGS) == []
    assert option_errors(FREE) == []
    assert option_errors({"key": "t", "type": "multi_select", "allow_new": True}) == []
    assert option_errors({"key": "t", "type": "multi_select"}) == [("fields.0", "REQUIRED")]
    assert option_errors({"key": "t", "type": "multi_select", "choices": []}) == [
        ("fields.0.choices", "TOO_FEW_ITEMS")
    ]
    assert option_errors({**TAGS, "max_items": 0}) == [("fields.0.max_items", "OUT_OF_RANGE")]


def test_duplicate_choice_values_are_reported_by_path():
    definition = {"key": "f", "name": "F", "fields": [{**TAGS, "choices": TAGS["choices"] * 2}]}
    errors = field(definition["fields"][0]).check_definition(definition)
    assert [e.path for e in errors] == [f"fields.0.choices.{i}.value" for i in (3, 4, 5)]
    assert {e.code for e in errors} == {"DUPLICATE_CHOICE"}


def test_json_schema():
    assert schema_valid(field(TAGS), ["ka", "vip"])
    assert not schema_valid(field(TAGS), ["ka", "other"])
    assert not schema_valid(field(TAGS), "ka")
    assert schema_valid(field(FREE), ["ka", "华东"])
    assert not schema_valid(field(FREE), ["x" * 51])
    assert not schema_valid(field(FREE), ["a", "b", "c", "d", "e"])


def test_clean_dedupes_keeping_order():
    assert field(TAGS).clean(["vip", "ka", "vip"]) == ["vip", "ka"]
    assert field(FREE).clean([" 华东 ", "ka", "华东"]) == ["华东", "ka"]
    assert field(TAGS).clean([]) == []


@pytest.mark.parametrize(
    ("definition", "value", "code", "path"),
    [
        (TAGS, "ka", "INVALID_TYPE", None),
        (TAGS, ["ka", 3], "INVALID_TYPE", "1"),
        (TAGS, ["ka", "other"], "INVALID_CHOICE", "1"),
        (FREE, ["ka", "  "], "INVALID_VALUE", "1"),
        (FREE, ["x" * 51], "TOO_LONG", "0"),
        (FREE, ["a", "b", "c", "d", "e"], "TOO_MANY_ITEMS", None),
        ({**TAGS, "max_items": 1}, ["ka", "vip"], "TOO_MANY_ITEMS", None),
    ],
)
def test_clean_refuses(definition, value, code, path):
    error = refuse(definition, value)
    assert (error.code, error.path) == (code, path)


def test_to_cel_is_a_list_of_strings():
    assert field(TAGS).to_cel(["ka", "vip"]) == ["ka", "vip"]


def test_cells():
    tags = field(TAGS)
    assert tags.from_cell("大客户, VIP") == ["ka", "vip"]
    assert tags.from_cell("new；ka、ka") == ["new", "ka"]
    assert tags.from_cell("") is None
    assert tags.to_cell(["ka", "new"]) in ("大客户, 新客户", "Key account, 新客户")
    assert field(FREE).from_cell("华东|大客户") == ["华东", "ka"]
    with pytest.raises(FieldValueError) as info:
        tags.from_cell("大客户,华东")
    assert info.value.code == "INVALID_CHOICE"


def test_example_values_are_clean(zh_faker):
    for definition in (TAGS, FREE, {"key": "t", "type": "multi_select", "allow_new": True}):
        tags = field(definition)
        for _ in range(20):
            value = tags.example_value(zh_faker)
            assert tags.clean(value) == value


ROWS = [["ka", "vip"], ["new"], MISSING, [], None, ["vip"], ["ka", "new", "vip"]]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("op", "operand", "expected"),
    [
        ("contains", "vip", [["ka", "vip"], ["vip"], ["ka", "new", "vip"]]),
        ("contains", ["ka", "vip"], [["ka", "vip"], ["ka", "new", "vip"]]),
        ("in", ["new", "ka"], [["ka", "vip"], ["new"], ["ka", "new", "vip"]]),
        ("nin", ["ka"], [["new"], MISSING, [], None, ["vip"]]),
        ("isnull", True, [MISSING, [], None]),
        ("isnull", False, [["ka", "vip"], ["new"], ["vip"], ["ka", "new", "vip"]]),
    ],
)
def test_filter(record_rows, op, operand, expected):
    tags = field(TAGS)
    rows = record_rows(TAGS, ROWS)
    assert filtered(rows, tags, op, operand) == expected


@pytest.mark.django_db
def test_filter_matches_whole_tags_only(record_rows):
    tags = field(FREE)
    rows = record_rows(FREE, [["华东区"], ["华东"], ["东"], ['a"b']])
    assert filtered(rows, tags, "contains", "华东") == [["华东"]]
    assert filtered(rows, tags, "contains", 'a"b') == [['a"b']]


def test_filter_operands_are_checked():
    with pytest.raises(FieldValueError) as info:
        field(TAGS).filter_value("contains", "unknown")
    assert info.value.code == "INVALID_CHOICE"
    with pytest.raises(FieldValueError) as info:
        field(TAGS).filter_value("in", [])
    assert info.value.code == "INVALID_VALUE"
