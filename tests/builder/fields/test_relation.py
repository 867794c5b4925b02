"""The ``relation`` field type: links to records of another form of the app."""

from __future__ import annotations

import pytest
from graphql_relay import to_global_id

from dajian.builder.fields.base import FieldValueError, Reference
from dajian.builder.fields.registry import get
from dajian.builder.fields.relation import RelationField
from tests.builder.fields.conftest import MISSING, field, filtered, option_errors, schema_valid

ONE = {"key": "customer", "type": "relation", "target": "customers"}
MANY = {"key": "contacts", "type": "relation", "target": "contacts", "multiple": True}


def test_registered():
    assert get("relation") is RelationField
    assert RelationField.label["zh-CN"] == "关联记录"
    assert (RelationField.can_filter, RelationField.can_sort) == (True, False)
    assert RelationField.filter_ops == {"eq", "in", "isnull"}


def test_record_ids_and_references():
    customer = field(ONE)
    assert customer.clean(to_global_id("Record", 9)) == 9
    with pytest.raises(FieldValueError) as info:
        customer.clean(to_global_id("User", 9))
    assert info.value.code == "INVALID_REFERENCE"
    assert customer.references(9) == [Reference("record", (9,), target="customers")]
    assert field(MANY).references([1, 2]) == [Reference("record", (1, 2), target="contacts")]
    assert customer.to_api(9) == to_global_id("Record", 9)
    assert customer.to_cel(9) == 9


def test_options():
    assert option_errors(ONE) == []
    assert option_errors({**MANY, "max_items": 5}) == []
    assert option_errors({"key": "customer", "type": "relation"}) == [("fields.0", "REQUIRED")]
    assert option_errors({**ONE, "target": "Customers!"}) == [("fields.0.target", "INVALID_FORMAT")]
    assert option_errors({**ONE, "max_items": 5}) == [("fields.0.max_items", "INVALID_OPTION")]


def test_json_schema_and_hints():
    assert schema_valid(field(ONE), 3)
    assert not schema_valid(field(ONE), [3])
    assert schema_valid(field(MANY), [to_global_id("Record", 3)])
    hints = field(MANY).ui_hints()
    assert hints == {
        "widget": "record-picker",
        "multiple": True,
        "maxItems": 50,
        "target": "contacts",
    }


def test_sql_id_joins_to_record_ids(record_rows):
    rows = record_rows(ONE, [MISSING])
    target = rows.get()
    linked = record_rows(ONE, [target.pk, target.pk + 1000, MISSING])
    joined = linked.annotate(target_id=field(ONE).sql_id()).filter(target_id=target.pk)
    assert [r.data["customer"] for r in joined] == [target.pk]


def test_filters(record_rows):
    rows = record_rows(ONE, [1, 2, MISSING])
    customer = field(ONE)
    assert filtered(rows, customer, "eq", to_global_id("Record", 2)) == [2]
    assert filtered(rows, customer, "in", [1, 2]) == [1, 2]
    assert filtered(rows, customer, "isnull", True) == [MISSING]
