"""The ``user`` field type (and the id-valued machinery department/relation share)."""

from __future__ import annotations

import pytest
from graphql_relay import to_global_id

from dajian.builder.fields.base import FieldValueError, Reference
from dajian.builder.fields.registry import get
from dajian.builder.fields.user import UserField
from tests.builder.fields.conftest import MISSING, field, filtered, option_errors, schema_valid

ONE = {"key": "assignee", "type": "user"}
MANY = {"key": "team", "type": "user", "multiple": True, "max_items": 3}


def refuse(definition, value) -> FieldValueError:
    with pytest.raises(FieldValueError) as info:
        field(definition).clean(value)
    return info.value


def test_registered_with_capabilities():
    assert get("user") is UserField
    assert UserField.label["zh-CN"] == "成员"
    assert (UserField.can_filter, UserField.can_sort, UserField.can_aggregate) == (
        True,
        False,
        False,
    )
    assert UserField.filter_ops == {"eq", "in", "isnull"}
    assert field(ONE).cel_type == "int"
    assert field(MANY).cel_type == "list(int)"


def test_ids_come_as_int_digits_or_global_id():
    user = field(ONE)
    assert user.clean(5) == 5
    assert user.clean("12") == 12
    assert user.clean(to_global_id("User", 7)) == 7


@pytest.mark.parametrize(
    "value", [True, 0, -3, 1.5, "abc", "", to_global_id("OrgUnit", 7), "9" * 19]
)
def test_anything_else_is_an_invalid_reference(value):
    assert refuse(ONE, value).code == "INVALID_REFERENCE"


def test_a_single_user_is_not_a_list():
    assert refuse(ONE, [5]).code == "INVALID_TYPE"


def test_multiple_keeps_order_and_drops_repeats():
    assert field(MANY).clean([3, "1", to_global_id("User", 3)]) == [3, 1]


def test_multiple_refusals():
    assert refuse(MANY, 5).code == "INVALID_TYPE"
    error = refuse(MANY, [1, "x"])
    assert (error.code, error.path) == ("INVALID_REFERENCE", "1")
    assert refuse(MANY, [1, 2, 3, 4]).code == "TOO_MANY_ITEMS"


def test_references_api_and_cel():
    user, team = field(ONE), field(MANY)
    assert user.references(5) == [Reference("user", (5,))]
    assert team.references([1, 2]) == [Reference("user", (1, 2))]
    assert user.to_api(5) == to_global_id("User", 5)
    assert team.to_api([1, 2]) == [to_global_id("User", 1), to_global_id("User", 2)]
    assert (user.to_cel(5), team.to_cel([1, 2])) == (5, [1, 2])


def test_json_schema():
    user, team = field(ONE), field(MANY)
    assert schema_valid(user, 5)
    assert schema_valid(user, to_global_id("User", 5))
    assert not schema_valid(user, 0)
    assert not schema_valid(user, [5])
    assert schema_valid(team, [1, "2"])
    assert not schema_valid(team, [1, 2, 3, 4])
    assert not schema_valid(team, 1)


def test_options():
    assert option_errors(ONE) == []
    assert option_errors(MANY) == []
    assert option_errors({**ONE, "multiple": "yes"}) == [("fields.0.multiple", "INVALID_TYPE")]
    assert option_errors({**MANY, "max_items": 0}) == [("fields.0.max_items", "OUT_OF_RANGE")]
    assert option_errors({**ONE, "roles": ["rep"]}) == [("fields.0", "UNKNOWN_OPTION")]
    assert option_errors({**ONE, "max_items": 3}) == [("fields.0.max_items", "INVALID_OPTION")]


def test_ui_hints():
    assert field(ONE).ui_hints() == {"widget": "user-picker", "multiple": False}
    assert field(MANY).ui_hints()["maxItems"] == 3


def test_filters_on_a_single_user(record_rows):
    rows = record_rows(ONE, [1, 2, MISSING, None])
    user = field(ONE)
    assert filtered(rows, user, "eq", "1") == [1]
    assert filtered(rows, user, "in", [2, to_global_id("User", 1)]) == [1, 2]
    assert filtered(rows, user, "isnull", True) == [MISSING, None]
    assert filtered(rows, user, "isnull", False) == [1, 2]


def test_filters_on_several_users(record_rows):
    rows = record_rows(MANY, [[1, 2], [2], [], MISSING, [3, 12]])
    team = field(MANY)
    assert filtered(rows, team, "eq", 2) == [[1, 2], [2]]
    assert filtered(rows, team, "eq", 1) == [[1, 2]]  # 1 is not "inside" 12
    assert filtered(rows, team, "in", [1, 3]) == [[1, 2], [3, 12]]
    assert filtered(rows, team, "in", []) == []
    assert filtered(rows, team, "isnull", True) == [[], MISSING]
    assert filtered(rows, team, "isnull", False) == [[1, 2], [2], [3, 12]]


def test_cells():
    user, team = field(ONE), field(MANY)
    assert user.to_cell(5) == 5
    assert user.clean(user.from_cell(5.0)) == 5
    assert user.clean(user.from_cell(" 7 ")) == 7
    assert team.to_cell([1, 2]) == "1, 2"
    assert team.clean(team.from_cell("1, 2\uff1b3")) == [1, 2, 3]
    assert team.clean(team.from_cell(4)) == [4]


def test_no_example_ids(zh_faker):
    assert field(ONE).example_value(zh_faker) is None
