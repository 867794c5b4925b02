"""The ``formula`` field type: CEL computed and stored at write time."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db.models import Sum

from dajian.builder.fields.base import FieldValueError
from dajian.builder.fields.formula import FormulaCycleError, FormulaField, formula_order
from dajian.builder.fields.registry import get
from tests.builder.fields.conftest import (
    field,
    filtered,
    option_errors,
    schema_valid,
    sorted_values,
)

NOW = datetime(2026, 3, 1, 2, 30, tzinfo=UTC)
AMOUNT = {"key": "amount", "type": "number", "label": "Amount"}
REBATE = {
    "key": "rebate",
    "type": "formula",
    "expression": "amount * 0.03",
    "result_type": "number",
}


def form(*fields):
    return {"key": "orders", "name": "Orders", "fields": [{"label": "F", **f} for f in fields]}


def errors(*fields):
    raw = form(*fields)
    return [(e.path, e.code) for f in raw["fields"] for e in field(f).check_definition(raw)]


def formula(expression, result_type="number", **options):
    return field(
        {
            "key": "f",
            "type": "formula",
            "expression": expression,
            "result_type": result_type,
            **options,
        }
    )


def test_registered_read_only():
    assert get("formula") is FormulaField
    assert FormulaField.label["zh-CN"] == "公式"
    assert FormulaField.read_only is True
    assert FormulaField.stored is True


def test_capabilities_follow_the_result_type():
    number = formula("1.0")
    assert (number.cel_type, number.can_aggregate, number.can_sort) == ("double", True, True)
    assert "gte" in number.filter_ops
    text = formula("'a'", "text")
    assert (text.cel_type, text.can_aggregate) == ("string", False)
    assert "icontains" in text.filter_ops
    assert formula("1", "int").cel_type == "int"
    assert formula("now", "datetime").cel_type == "timestamp"


def test_options():
    assert option_errors(REBATE) == [("fields.0.expression", "UNKNOWN_REFERENCE")]
    assert option_errors({**REBATE, "expression": "1.0"}) == []
    assert option_errors({"key": "f", "type": "formula", "expression": "1.0"}) == [
        ("fields.0", "REQUIRED")
    ]
    assert option_errors({**REBATE, "expression": "1.0", "result_type": "money"}) == [
        ("fields.0.result_type", "INVALID_CHOICE")
    ]
    assert option_errors({**REBATE, "expression": "1.0", "decimals": 11}) == [
        ("fields.0.decimals", "OUT_OF_RANGE")
    ]


def test_definition_reads_fields_and_reserved_names():
    assert errors(AMOUNT, REBATE) == []
    uses_reserved = {**REBATE, "expression": "record.id > 0 && user.id > 0 && now > now"}
    assert errors({**uses_reserved, "result_type": "boolean"}) == []


def test_syntax_errors_keep_their_code_and_position():
    raw = form(AMOUNT, {**REBATE, "expression": "amount *"})
    (error,) = field(raw["fields"][1]).check_definition(raw)
    assert (error.path, error.code) == ("fields.1.expression", "EXPRESSION_SYNTAX")
    assert "at 1:" in error.message


def test_unknown_fields_are_refused():
    assert errors({**REBATE, "expression": "amount + discount"}) == [
        ("fields.0.expression", "UNKNOWN_REFERENCE"),
        ("fields.0.expression", "UNKNOWN_REFERENCE"),
    ]


def test_a_formula_cannot_read_a_rollup():
    visits = {
        "key": "visits",
        "type": "rollup",
        "source": {"form": "visits", "field": "customer"},
        "function": "count",
    }
    assert errors(visits, {**REBATE, "expression": "double(visits)"}) == [
        ("fields.1.expression", "FORMULA_UNSTORED_FIELD")
    ]


def test_formulas_may_read_formulas_but_not_in_a_circle():
    total = {
        "key": "total",
        "type": "formula",
        "expression": "amount + rebate",
        "result_type": "number",
    }
    assert errors(AMOUNT, REBATE, total) == []
    a = {"key": "a", "type": "formula", "expression": "b + 1.0", "result_type": "number"}
    b = {"key": "b", "type": "formula", "expression": "a + 1.0", "result_type": "number"}
    c = {"key": "c", "type": "formula", "expression": "a + 1.0", "result_type": "number"}
    assert errors(a, b, c) == [
        ("fields.0.expression", "FORMULA_CYCLE"),
        ("fields.1.expression", "FORMULA_CYCLE"),
    ]
    selfish = {"key": "s", "type": "formula", "expression": "s + 1.0", "result_type": "number"}
    assert errors(selfish) == [("fields.0.expression", "FORMULA_CYCLE")]


def test_formula_order_puts_dependencies_first():
    total = {
        "key": "total",
        "type": "formula",
        "expression": "net + rebate",
        "result_type": "number",
    }
    net = {
        "key": "net",
        "type": "formula",
        "expression": "amount - rebate",
        "result_type": "number",
    }
    assert formula_order(form(total, AMOUNT, net, REBATE)) == ["rebate", "net", "total"]
    assert formula_order(form(AMOUNT)) == []


def test_formula_order_refuses_a_cycle():
    a = {"key": "a", "type": "formula", "expression": "b", "result_type": "number"}
    b = {"key": "b", "type": "formula", "expression": "a", "result_type": "number"}
    with pytest.raises(FormulaCycleError) as info:
        formula_order(form(a, b))
    assert info.value.keys == ["a", "b", "a"]


def test_compute_numbers():
    assert formula("amount * 0.03").compute({"amount": 1000.0}) == 30.0
    assert formula("0.1 * 3.0").compute({}) == 0.3  # binary noise does not make it TOO_PRECISE
    assert formula("amount / 3.0", decimals=2).compute({"amount": 10.0}) == 3.33
    assert formula("qty * 2", "int").compute({"qty": 4}) == 8
    assert formula("6.0 / 2.0", "int").compute({}) == 3


def test_compute_other_types():
    assert formula("name + '!'", "text").compute({"name": "Ada"}) == "Ada!"
    assert formula("amount >= 50000.0", "boolean").compute({"amount": 60000.0}) is True
    assert formula("now", "datetime").compute({"now": NOW}) == "2026-03-01T02:30:00Z"
    # a date field enters CEL at 00:00 UTC: date arithmetic stays on that calendar day
    due = datetime(2026, 3, 10, tzinfo=UTC)
    assert formula("due + duration('72h')", "date").compute({"due": due}) == "2026-03-13"
    # any other instant is a date in the current time zone (Asia/Shanghai)
    late = datetime(2026, 3, 1, 20, 0, tzinfo=UTC)
    assert formula("now", "date").compute({"now": late}) == "2026-03-02"


def test_null_and_empty_inputs_give_no_value():
    assert formula("null").compute({}) is None
    assert formula("amount * 0.03").compute({"amount": None}) is None


@pytest.mark.parametrize(
    ("expression", "result_type", "activation"),
    [
        ("qty / 0", "int", {"qty": 1}),  # division by zero
        ("'x'", "number", {}),
        ("true", "int", {}),
        ("7.5", "int", {}),
        ("1", "text", {}),
        ("1", "boolean", {}),
        ("'soon'", "date", {}),
        ("'2026-01-01T00:00:00'", "datetime", {}),  # no zone
        ("1e300 * 1e300", "number", {}),
        ("1000000000000000.0", "number", {}),  # beyond the number type's 15 digits
    ],
)
def test_compute_refuses_with_formula_error(expression, result_type, activation):
    with pytest.raises(FieldValueError) as info:
        formula(expression, result_type).compute(activation)
    assert info.value.code == "FORMULA_ERROR"


def test_json_schema_and_cel_follow_the_result_type():
    assert schema_valid(formula("1.5"), 1.5)
    assert not schema_valid(formula("1.5"), "1.5")
    stamp = formula("now", "datetime")
    assert stamp.to_cel("2026-03-01T02:30:00Z") == NOW
    assert formula("1", "int").to_cel(3) == 3


def test_ui_hints():
    assert formula("1.0").ui_hints() == {
        "widget": "formula",
        "resultType": "number",
        "readOnly": True,
    }


def test_filters_and_sorts_numerically(record_rows):
    rows = record_rows(REBATE, [30.0, 4.5, 100.0])
    rebate = field(REBATE)
    assert filtered(rows, rebate, "gte", 30) == [30.0, 100.0]
    assert sorted_values(rows, rebate) == [4.5, 30.0, 100.0]
    assert rows.aggregate(total=Sum(rebate.aggregate_expression())) == {"total": 134.5}


def test_cells_follow_the_result_type():
    stamp = formula("now", "datetime")
    assert stamp.to_cell("2026-03-01T02:30:00Z") == datetime(2026, 3, 1, 10, 30)
