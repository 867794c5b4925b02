"""The ``autonumber`` field type: patterns, periods and formatting."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from dajian.builder.fields.autonumber import AutonumberField, parse_pattern
from dajian.builder.fields.base import FieldValueError
from dajian.builder.fields.registry import get
from tests.builder.fields.conftest import field, filtered, option_errors, schema_valid

# 2025-12-31 20:00 UTC is already 2026-01-01 04:00 in Shanghai.
NEW_YEAR = datetime(2025, 12, 31, 20, 0, tzinfo=UTC)


def number(pattern: str):
    return field({"key": "no", "type": "autonumber", "pattern": pattern})


def test_registered_read_only():
    assert get("autonumber") is AutonumberField
    assert AutonumberField.label["zh-CN"] == "自动编号"
    assert AutonumberField.read_only is True
    assert (AutonumberField.can_filter, AutonumberField.can_sort) == (True, True)
    assert AutonumberField.cel_type == "string"


def test_format_uses_the_local_date_and_pads_the_counter():
    contract = number("HT-{YYYY}-{seq:4}")
    assert contract.format(1, NEW_YEAR) == "HT-2026-0001"
    assert contract.format(12345, NEW_YEAR) == "HT-2026-12345"  # never cut
    assert number("{YY}{MM}{DD}-{seq:3}").format(7, NEW_YEAR) == "260101-007"
    assert number("V{seq:1}").format(42, NEW_YEAR) == "V42"


def test_an_explicit_time_zone():
    contract = number("HT-{YYYY}-{seq:4}")
    assert contract.format(1, NEW_YEAR, "UTC") == "HT-2025-0001"
    assert contract.period(NEW_YEAR, "UTC") == "2025"


def test_the_period_follows_the_finest_date_token():
    assert number("HT-{YYYY}-{seq:4}").period(NEW_YEAR) == "2026"
    assert number("{YY}-{seq:4}").period(NEW_YEAR) == "2026"
    assert number("{YYYY}{MM}-{seq:4}").period(NEW_YEAR) == "2026-01"
    assert number("{MM}-{seq:4}").period(NEW_YEAR) == "2026-01"
    assert number("D{YYYY}{MM}{DD}{seq:3}").period(NEW_YEAR) == "2026-01-01"
    assert number("KH{seq:6}").period(NEW_YEAR) == ""


@pytest.mark.parametrize(
    "pattern",
    [
        "HT-{YYYY}",  # no counter
        "{seq:2}-{seq:3}",  # two counters
        "{seq:0}",
        "{seq:13}",
        "{seq}",
        "{YYYYY}-{seq:3}",
        "{HH}-{seq:3}",
        "HT-{{YYYY}-{seq:3}",
        "HT}-{seq:3}",
    ],
)
def test_bad_patterns_are_refused(pattern):
    with pytest.raises(ValueError):
        parse_pattern(pattern)
    assert option_errors({"key": "no", "type": "autonumber", "pattern": pattern}) == [
        ("fields.0.pattern", "INVALID_PATTERN")
    ]


def test_options():
    assert option_errors({"key": "no", "type": "autonumber", "pattern": "HT-{seq:4}"}) == []
    assert option_errors({"key": "no", "type": "autonumber"}) == [("fields.0", "REQUIRED")]
    assert option_errors({"key": "no", "type": "autonumber", "pattern": "X" * 61}) == [
        ("fields.0.pattern", "TOO_LONG")
    ]


def test_values_filter_and_sort_as_text(record_rows):
    contract = number("HT-{seq:4}")
    rows = record_rows(contract.definition, ["HT-0010", "HT-0002", "KH-0001"])
    assert filtered(rows, contract, "startswith", "HT-") == ["HT-0010", "HT-0002"]
    assert filtered(rows, contract, "eq", " HT-0002 ") == ["HT-0002"]
    ordered = rows.order_by(contract.sort_expression())
    assert [r.data["no"] for r in ordered] == ["HT-0002", "HT-0010", "KH-0001"]


def test_clean_schema_and_hints():
    contract = number("HT-{seq:4}")
    with pytest.raises(FieldValueError) as info:
        contract.clean(5)
    assert info.value.code == "INVALID_TYPE"
    with pytest.raises(FieldValueError) as info:
        contract.clean("X" * 101)
    assert info.value.code == "TOO_LONG"
    assert schema_valid(contract, "HT-0001")
    assert not schema_valid(contract, 1)
    assert contract.ui_hints() == {
        "widget": "autonumber",
        "readOnly": True,
        "pattern": "HT-{seq:4}",
    }


def test_example_value(zh_faker):
    example = number("HT-{YYYY}-{seq:4}").example_value(zh_faker)
    assert example.startswith("HT-20") and len(example) == len("HT-2026-0001")
