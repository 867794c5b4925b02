"""The ``signature`` field type: one drawn image."""

from __future__ import annotations

import pytest
from graphql_relay import to_global_id

from dajian.builder.fields.base import FieldValueError, Reference
from dajian.builder.fields.registry import get
from dajian.builder.fields.signature import SignatureField
from tests.builder.fields.conftest import MISSING, field, filtered, option_errors, schema_valid

SIGN = {"key": "signed", "type": "signature"}


def test_registered():
    assert get("signature") is SignatureField
    assert SignatureField.cel_type == "int"
    assert SignatureField.can_sort is False


def test_one_image_id():
    sign = field(SIGN)
    assert sign.clean(to_global_id("Attachment", 3)) == 3
    assert sign.references(3) == [Reference("attachment", (3,), accept=frozenset({"image"}))]
    assert sign.to_api(3) == to_global_id("Attachment", 3)
    assert sign.to_cel(3) == 3
    assert sign.clean(sign.from_cell("3")) == 3
    with pytest.raises(FieldValueError) as info:
        sign.clean([3])
    assert info.value.code == "INVALID_TYPE"


def test_schema_hints_and_options():
    sign = field(SIGN)
    assert schema_valid(sign, 3)
    assert not schema_valid(sign, [3])
    assert sign.ui_hints()["widget"] == "signature"
    assert option_errors(SIGN) == []
    assert option_errors({**SIGN, "max_count": 2}) == [("fields.0", "UNKNOWN_OPTION")]


def test_filter(record_rows):
    rows = record_rows(SIGN, [3, MISSING])
    assert filtered(rows, field(SIGN), "isnull", False) == [3]
