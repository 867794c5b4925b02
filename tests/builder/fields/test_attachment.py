"""The ``attachment`` field type: lists of uploads."""

from __future__ import annotations

import pytest
from graphql_relay import to_global_id

from dajian.builder.fields.attachment import AttachmentField
from dajian.builder.fields.base import FieldValueError, Reference
from dajian.builder.fields.registry import get
from tests.builder.fields.conftest import MISSING, field, filtered, option_errors, schema_valid

FILES = {"key": "files", "type": "attachment"}
DOCS = {
    "key": "contract",
    "type": "attachment",
    "min_count": 2,
    "max_count": 3,
    "accept": ["document", "image"],
}


def refuse(definition, value) -> FieldValueError:
    with pytest.raises(FieldValueError) as info:
        field(definition).clean(value)
    return info.value


def test_registered_with_capabilities():
    assert get("attachment") is AttachmentField
    assert AttachmentField.label["zh-CN"] == "附件"
    assert (AttachmentField.can_filter, AttachmentField.can_sort) == (True, False)
    assert AttachmentField.filter_ops == {"isnull"}
    assert AttachmentField.cel_type == "list(int)"


def test_clean_keeps_order_without_repeats():
    assert field(FILES).clean([3, "1", to_global_id("Attachment", 3)]) == [3, 1]
    assert field(FILES).clean([]) == []


def test_refusals():
    assert refuse(FILES, 3).code == "INVALID_TYPE"
    error = refuse(FILES, [1, to_global_id("User", 2)])
    assert (error.code, error.path) == ("INVALID_REFERENCE", "1")
    assert refuse(FILES, list(range(1, 22))).code == "TOO_MANY_ITEMS"  # default max 20
    assert refuse(DOCS, [1, 2, 3, 4]).code == "TOO_MANY_ITEMS"
    assert refuse(DOCS, [1]).code == "TOO_FEW_ITEMS"
    assert refuse(DOCS, [1, 1]).code == "TOO_FEW_ITEMS"  # repeats do not count twice


def test_an_empty_list_is_left_to_required():
    assert field(DOCS).clean([]) == []
    assert field(DOCS).empty([])


def test_references_carry_the_accepted_kinds():
    assert field(FILES).references([1, 2]) == [Reference("attachment", (1, 2))]
    assert field(DOCS).references([1, 2]) == [
        Reference("attachment", (1, 2), accept=frozenset({"document", "image"}))
    ]


def test_api_cel_and_cells():
    files = field(FILES)
    assert files.to_api([1, 2]) == [to_global_id("Attachment", 1), to_global_id("Attachment", 2)]
    assert files.to_cel([1, 2]) == [1, 2]
    assert files.to_cell([1, 2]) == "1, 2"
    assert files.clean(files.from_cell("1,2 3")) == [1, 2, 3]
    assert files.clean(files.from_cell(4.0)) == [4]


def test_json_schema():
    files = field(DOCS)
    assert schema_valid(files, [1, "2"])
    assert not schema_valid(files, [1, 2, 3, 4])
    assert not schema_valid(files, 1)


def test_options():
    assert option_errors(FILES) == []
    assert option_errors(DOCS) == []
    assert option_errors({**FILES, "accept": ["pdf"]}) == [("fields.0.accept.0", "INVALID_CHOICE")]
    assert option_errors({**FILES, "max_count": 101}) == [("fields.0.max_count", "OUT_OF_RANGE")]
    assert option_errors({**FILES, "min_count": 5, "max_count": 2}) == [
        ("fields.0.min_count", "INVALID_OPTION")
    ]
    assert option_errors({**FILES, "min_count": 21}) == [("fields.0.min_count", "INVALID_OPTION")]


def test_ui_hints():
    assert field(FILES).ui_hints() == {
        "widget": "attachment",
        "accept": None,
        "minCount": 0,
        "maxCount": 20,
    }
    assert field({**FILES, "accept": ["image", "video"]}).ui_hints()["accept"] == "image/*,video/*"


def test_filter_isnull_counts_empty_lists(record_rows):
    rows = record_rows(FILES, [[1], [], MISSING, None])
    files = field(FILES)
    assert filtered(rows, files, "isnull", True) == [[], MISSING, None]
    assert filtered(rows, files, "isnull", False) == [[1]]


def test_no_example_ids(zh_faker):
    assert field(FILES).example_value(zh_faker) is None
