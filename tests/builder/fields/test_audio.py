"""The ``audio`` field type: voice memos recorded in the browser."""

from __future__ import annotations

import pytest

from dajian.builder.fields.audio import AudioField
from dajian.builder.fields.base import FieldValueError, Reference
from dajian.builder.fields.registry import get
from tests.builder.fields.conftest import field, option_errors

MEMO = {"key": "memo", "type": "audio"}


def test_registered():
    assert get("audio") is AudioField
    assert AudioField.label["en"] == "Audio memo"


def test_audio_only_and_five_by_default():
    memo = field(MEMO)
    assert memo.references([7]) == [Reference("attachment", (7,), accept=frozenset({"audio"}))]
    with pytest.raises(FieldValueError) as info:
        memo.clean([1, 2, 3, 4, 5, 6])
    assert info.value.code == "TOO_MANY_ITEMS"


def test_ui_hints_record_audio():
    hints = field(MEMO).ui_hints()
    assert hints["widget"] == "audio"
    assert hints["accept"] == "audio/*"
    assert hints["record"] is True


def test_options():
    assert option_errors({**MEMO, "max_count": 2}) == []
    assert option_errors({**MEMO, "allow_gallery": True}) == [("fields.0", "UNKNOWN_OPTION")]
