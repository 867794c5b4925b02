"""The ``subtable`` field type: line items with their own fields."""

from __future__ import annotations

import pytest
from graphql_relay import to_global_id

from dajian.builder.fields.base import FieldValueError, Reference
from dajian.builder.fields.registry import get
from dajian.builder.fields.subtable import SubtableErrors, SubtableField
from tests.builder.fields.conftest import field, option_errors, schema_valid

COLUMNS = [
    {"key": "sku", "type": "text", "label": "SKU", "required": True, "max_length": 20},
    {"key": "qty", "type": "number", "label": "Qty", "required": True, "precision": 0, "min": 1},
    {"key": "price", "type": "money", "label": "Price"},
    {
        "key": "amount",
        "type": "formula",
        "label": "Amount",
        "expression": "double(qty) * price",
        "result_type": "number",
    },
    {"key": "photo", "type": "photo", "label": "Photo"},
    {"key": "checked_by", "type": "user", "label": "Checked by"},
]
LINES = {"key": "lines", "type": "subtable", "fields": COLUMNS, "max_rows": 3}


def problems(value) -> list[tuple[str, str]]:
    with pytest.raises(SubtableErrors) as info:
        field(LINES).clean(value)
    return [(path, code) for path, code, _ in info.value.errors]


def test_registered_with_capabilities():
    assert get("subtable") is SubtableField
    assert SubtableField.label["zh-CN"] == "子表"
    flags = (SubtableField.can_filter, SubtableField.can_sort, SubtableField.can_aggregate)
    assert flags == (False, False, False)
    assert field(LINES).cel_type == "list(map(string, dyn))"


def test_rows_are_cleaned_and_formulas_computed():
    rows = field(LINES).clean(
        [
            {"sku": " A-1 ", "qty": 2, "price": "9.50", "amount": 1, "photo": [5, 5]},
            {"sku": "B-2", "qty": 1, "price": None},
            {"sku": None, "qty": None},  # blank rows are dropped
        ]
    )
    assert rows == [
        {"sku": "A-1", "qty": 2, "price": 9.5, "photo": [5], "amount": 19.0},
        {"sku": "B-2", "qty": 1},  # amount of an empty price is empty
    ]


def test_every_problem_of_every_row_is_reported():
    assert problems(
        [
            {"sku": "A-1", "qty": 0, "colour": "red"},
            "not a row",
            {"qty": 2, "photo": [1, "x"], "checked_by": to_global_id("OrgUnit", 1)},
        ]
    ) == [
        ("0.colour", "UNKNOWN_FIELD"),
        ("0.qty", "OUT_OF_RANGE"),
        ("1", "INVALID_TYPE"),
        ("2.sku", "REQUIRED"),
        ("2.photo.1", "INVALID_REFERENCE"),
        ("2.checked_by", "INVALID_REFERENCE"),
    ]


def test_subtable_errors_is_a_field_value_error_with_the_first_problem():
    with pytest.raises(FieldValueError) as info:
        field(LINES).clean([{"qty": 1}, {"qty": 2}])
    assert isinstance(info.value, SubtableErrors)
    assert (info.value.path, info.value.code) == ("0.sku", "REQUIRED")
    assert len(info.value.errors) == 2


def test_row_formula_errors_are_reported_per_row():
    lines = {
        "key": "lines",
        "type": "subtable",
        "fields": [
            {"key": "qty", "type": "number", "label": "Q", "precision": 0},
            {
                "key": "half",
                "type": "formula",
                "label": "H",
                "expression": "qty / 0",
                "result_type": "int",
            },
        ],
    }
    with pytest.raises(SubtableErrors) as info:
        field(lines).clean([{"qty": 4}])
    assert [(p, c) for p, c, _ in info.value.errors] == [("0.half", "FORMULA_ERROR")]


def test_row_counts():
    with pytest.raises(FieldValueError) as info:
        field(LINES).clean([{"sku": "A", "qty": 1}] * 4)
    assert info.value.code == "TOO_MANY_ITEMS"
    at_least_two = {**LINES, "min_rows": 2}
    with pytest.raises(FieldValueError) as info:
        field(at_least_two).clean([{"sku": "A", "qty": 1}])
    assert info.value.code == "TOO_FEW_ITEMS"
    assert field(at_least_two).clean([]) == []  # empty: `required` decides
    with pytest.raises(FieldValueError) as info:
        field(LINES).clean({"sku": "A"})
    assert info.value.code == "INVALID_TYPE"


def test_defaults_fill_missing_cells():
    lines = {**LINES, "fields": [{**COLUMNS[0], "default": "X-0"}, COLUMNS[1]]}
    assert field(lines).clean([{"qty": 3}]) == [{"sku": "X-0", "qty": 3}]


def test_json_schema():
    lines = field(LINES)
    assert schema_valid(lines, [{"sku": "A", "qty": 1, "price": None, "photo": [1]}])
    assert not schema_valid(lines, [{"sku": "A", "colour": "red"}])
    assert not schema_valid(lines, [{"qty": 1.5}])
    assert not schema_valid(lines, [{}] * 4)
    assert not schema_valid(lines, {"sku": "A"})


def test_references_carry_row_paths():
    lines = field(LINES)
    rows = [{"sku": "A", "qty": 1, "photo": [4]}, {"sku": "B", "qty": 1, "checked_by": 9}]
    assert lines.references(rows) == [
        Reference("attachment", (4,), path="0.photo", accept=frozenset({"image"})),
        Reference("user", (9,), path="1.checked_by"),
    ]


def test_api_and_cel():
    lines = field(LINES)
    rows = [{"sku": "A", "qty": 2, "price": 1.5, "amount": 3.0, "checked_by": 9}]
    assert lines.to_api(rows) == [{**rows[0], "checked_by": to_global_id("User", 9)}]
    assert lines.to_cel(rows) == [
        {"sku": "A", "qty": 2, "price": 1.5, "amount": 3.0, "photo": None, "checked_by": 9}
    ]


def test_cells_hold_json():
    lines = field(LINES)
    rows = [{"sku": "螺丝", "qty": 2}]
    assert lines.to_cell(rows) == '[{"sku":"螺丝","qty":2}]'
    assert lines.clean(lines.from_cell(lines.to_cell(rows))) == rows
    with pytest.raises(FieldValueError) as info:
        lines.from_cell("[{")
    assert info.value.code == "INVALID_FORMAT"


def test_ui_hints_list_the_columns():
    hints = field(LINES).ui_hints()
    assert (hints["widget"], hints["minRows"], hints["maxRows"]) == ("subtable", 0, 3)
    assert [c["key"] for c in hints["columns"]] == [c["key"] for c in COLUMNS]
    amount = hints["columns"][3]
    assert amount["readOnly"] is True
    assert hints["columns"][4]["capture"] == "environment"


def test_example_value(zh_faker):
    simple = {**LINES, "fields": COLUMNS[:4]}
    example = field(simple).example_value(zh_faker)
    assert len(example) == 2
    assert field(simple).clean(example) == example
    needs_user = {**LINES, "fields": [{**COLUMNS[5], "required": True}]}
    assert field(needs_user).example_value(zh_faker) is None


# --- definitions -----------------------------------------------------------------------
def lines_with(*columns, **options):
    return {"key": "lines", "type": "subtable", "fields": list(columns), **options}


SKU = COLUMNS[0]


def test_a_valid_definition():
    assert option_errors(LINES) == []


@pytest.mark.parametrize("kind", ["subtable", "rollup", "autonumber"])
def test_some_types_cannot_be_columns(kind):
    column = {"key": "inner", "type": kind, "label": "Inner"}
    assert option_errors(lines_with(SKU, column)) == [
        ("fields.0.fields.1.type", "SUBTABLE_TYPE_NOT_ALLOWED")
    ]


def test_column_problems_have_column_paths():
    assert option_errors(lines_with(SKU, {"key": "x", "type": "gizmo", "label": "X"})) == [
        ("fields.0.fields.1.type", "UNKNOWN_FIELD_TYPE")
    ]
    assert option_errors(lines_with(SKU, SKU)) == [
        ("fields.0.fields.0.key", "DUPLICATE_KEY"),
        ("fields.0.fields.1.key", "DUPLICATE_KEY"),
    ]
    assert option_errors(lines_with({**SKU, "key": "in"})) == [
        ("fields.0.fields.0.key", "RESERVED_NAME")
    ]
    assert option_errors(lines_with({**SKU, "colour": "red"})) == [
        ("fields.0.fields.0", "UNKNOWN_OPTION")
    ]
    assert option_errors(lines_with({**SKU, "max_length": 0})) == [
        ("fields.0.fields.0.max_length", "OUT_OF_RANGE")
    ]
    assert option_errors(lines_with({"key": "sku", "type": "text"})) == [
        ("fields.0.fields.0", "REQUIRED")
    ]


def test_column_types_check_their_own_definitions():
    number = {"key": "qty", "type": "number", "label": "Q", "min": 5, "max": 1}
    assert option_errors(lines_with(number)) == [("fields.0.fields.0.min", "INVALID_OPTION")]


def test_whole_record_options_are_refused_on_columns():
    for option, value in [
        ("unique", True),
        ("indexed", True),
        ("readonly", True),
        ("visible_if", "true"),
        ("required_if", "true"),
        ("readonly_if", "true"),
        ("rules", [{"expression": "true", "message": "m"}]),
    ]:
        assert option_errors(lines_with({**SKU, option: value})) == [
            (f"fields.0.fields.0.{option}", "SUBTABLE_OPTION_NOT_ALLOWED")
        ], option


def test_row_formulas_read_their_row_only():
    formula = {"key": "f", "type": "formula", "label": "F", "result_type": "number"}
    assert option_errors(lines_with(SKU, {**formula, "expression": "double(size(sku))"})) == []
    for expression in ("double(total)", "now.getHours() > 1 ? 1.0 : 2.0"):
        assert option_errors(lines_with(SKU, {**formula, "expression": expression})) == [
            ("fields.0.fields.1.expression", "UNKNOWN_REFERENCE")
        ]
    assert option_errors(lines_with({**formula, "expression": "f + 1.0"})) == [
        ("fields.0.fields.0.expression", "FORMULA_CYCLE")
    ]


def test_row_limits():
    assert option_errors(lines_with(SKU, max_rows=1001)) == [("fields.0.max_rows", "OUT_OF_RANGE")]
    assert option_errors(lines_with(SKU, min_rows=5, max_rows=2)) == [
        ("fields.0.min_rows", "INVALID_OPTION")
    ]
    assert option_errors(lines_with()) == [("fields.0.fields", "TOO_FEW_ITEMS")]
    assert field(lines_with(SKU)).max_rows == 200
