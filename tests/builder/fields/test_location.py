"""The ``location`` field type: a GPS point with accuracy."""

from __future__ import annotations

import pytest

from dajian.builder.fields.base import FieldValueError
from dajian.builder.fields.location import LocationField
from dajian.builder.fields.registry import get
from tests.builder.fields.conftest import MISSING, field, filtered, option_errors, schema_valid

WHERE = {"key": "where", "type": "location"}
PRECISE = {"key": "checkin", "type": "location", "max_accuracy_m": 50}
SHANGHAI = {"lat": 31.2304, "lng": 121.4737, "accuracy": 12.5, "address": " 上海市黄浦区 "}


def refuse(definition, value) -> tuple[str, str | None]:
    with pytest.raises(FieldValueError) as info:
        field(definition).clean(value)
    return info.value.code, info.value.path


def test_registered_with_capabilities():
    assert get("location") is LocationField
    assert LocationField.label["zh-CN"] == "定位"
    assert (LocationField.can_filter, LocationField.can_sort) == (True, False)
    assert LocationField.filter_ops == {"isnull"}


def test_clean_normalises():
    assert field(WHERE).clean(SHANGHAI) == {
        "lat": 31.2304,
        "lng": 121.4737,
        "accuracy": 12.5,
        "address": "上海市黄浦区",
    }
    assert field(WHERE).clean({"lat": 31, "lng": 121.123456789, "address": "  "}) == {
        "lat": 31.0,
        "lng": 121.1234568,
    }


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ([31, 121], ("INVALID_TYPE", None)),
        ({"lat": 31}, ("REQUIRED", "lng")),
        ({"lat": 31, "lng": 121, "alt": 5}, ("UNKNOWN_FIELD", "alt")),
        ({"lat": "31", "lng": 121}, ("INVALID_TYPE", "lat")),
        ({"lat": True, "lng": 121}, ("INVALID_TYPE", "lat")),
        ({"lat": float("nan"), "lng": 121}, ("INVALID_VALUE", "lat")),
        ({"lat": 90.5, "lng": 121}, ("OUT_OF_RANGE", "lat")),
        ({"lat": 31, "lng": -180.1}, ("OUT_OF_RANGE", "lng")),
        ({"lat": 31, "lng": 121, "accuracy": -1}, ("OUT_OF_RANGE", "accuracy")),
        ({"lat": 31, "lng": 121, "address": 5}, ("INVALID_TYPE", "address")),
        ({"lat": 31, "lng": 121, "address": "路" * 301}, ("TOO_LONG", "address")),
    ],
)
def test_refusals(value, expected):
    assert refuse(WHERE, value) == expected


def test_max_accuracy_refuses_vague_or_unknown_readings():
    assert field(PRECISE).clean({"lat": 31, "lng": 121, "accuracy": 50})["accuracy"] == 50
    assert refuse(PRECISE, {"lat": 31, "lng": 121, "accuracy": 80}) == (
        "LOCATION_INACCURATE",
        "accuracy",
    )
    assert refuse(PRECISE, {"lat": 31, "lng": 121}) == ("LOCATION_INACCURATE", "accuracy")


def test_json_schema():
    where = field(WHERE)
    assert schema_valid(where, SHANGHAI)
    assert not schema_valid(where, {"lat": 31})
    assert not schema_valid(where, {"lat": 91, "lng": 0})
    assert not schema_valid(where, {"lat": 1, "lng": 0, "speed": 3})


def test_cel_is_a_map_of_doubles():
    cel = field(WHERE).to_cel({"lat": 31, "lng": 121, "accuracy": 5})
    assert cel == {"lat": 31.0, "lng": 121.0, "accuracy": 5.0}
    assert all(isinstance(v, float) for v in cel.values())


def test_cells():
    where = field(WHERE)
    assert where.to_cell({"lat": 31.2, "lng": 121.4}) == "31.2,121.4"
    assert where.to_cell({"lat": 31.2, "lng": 121.4, "address": "上海"}) == "31.2,121.4 上海"
    assert where.clean(where.from_cell("31.2\uff0c121.4 上海")) == {
        "lat": 31.2,
        "lng": 121.4,
        "address": "上海",
    }
    with pytest.raises(FieldValueError):
        where.from_cell("Shanghai")


def test_options_and_hints():
    assert option_errors(PRECISE) == []
    assert option_errors({**WHERE, "max_accuracy_m": 0}) == [
        ("fields.0.max_accuracy_m", "OUT_OF_RANGE")
    ]
    assert field(PRECISE).ui_hints() == {
        "widget": "location",
        "source": "device",
        "maxAccuracyM": 50,
    }


def test_filter_isnull(record_rows):
    rows = record_rows(WHERE, [{"lat": 1.0, "lng": 2.0}, MISSING])
    assert filtered(rows, field(WHERE), "isnull", True) == [MISSING]
    assert filtered(rows, field(WHERE), "isnull", False) == [{"lat": 1.0, "lng": 2.0}]


def test_example_value_is_valid(zh_faker):
    precise = field({**PRECISE, "max_accuracy_m": 8})
    example = precise.example_value(zh_faker)
    assert precise.clean(example) == example
    assert schema_valid(precise, example)
