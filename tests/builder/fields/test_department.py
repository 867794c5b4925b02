"""The ``department`` field type: org units, otherwise like ``user``."""

from __future__ import annotations

import pytest
from graphql_relay import to_global_id

from dajian.builder.fields.base import FieldValueError, Reference
from dajian.builder.fields.department import DepartmentField
from dajian.builder.fields.registry import get
from tests.builder.fields.conftest import field, filtered, option_errors

ONE = {"key": "unit", "type": "department"}
MANY = {"key": "units", "type": "department", "multiple": True}


def test_registered():
    assert get("department") is DepartmentField
    assert DepartmentField.label["en"] == "Department"
    assert DepartmentField.can_sort is False


def test_org_unit_ids():
    unit = field(ONE)
    assert unit.clean(to_global_id("OrgUnit", 4)) == 4
    with pytest.raises(FieldValueError) as info:
        unit.clean(to_global_id("User", 4))
    assert info.value.code == "INVALID_REFERENCE"
    assert unit.references(4) == [Reference("org_unit", (4,))]
    assert unit.to_api(4) == to_global_id("OrgUnit", 4)
    assert field(MANY).to_api([4, 5]) == [to_global_id("OrgUnit", 4), to_global_id("OrgUnit", 5)]


def test_ui_hints_and_options():
    assert field(ONE).ui_hints()["widget"] == "org-unit-picker"
    assert field(MANY).ui_hints()["maxItems"] == 50
    assert option_errors(MANY) == []


def test_filter(record_rows):
    rows = record_rows(MANY, [[1], [2, 3]])
    assert filtered(rows, field(MANY), "eq", 3) == [[2, 3]]
