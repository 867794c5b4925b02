"""The ``photo`` field type: images taken with the device camera."""

from __future__ import annotations

import pytest

from dajian.builder.fields.base import FieldValueError, Reference
from dajian.builder.fields.photo import PhotoField
from dajian.builder.fields.registry import get
from tests.builder.fields.conftest import field, option_errors

PHOTOS = {"key": "shelf", "type": "photo", "min_count": 2}


def test_registered():
    assert get("photo") is PhotoField
    assert PhotoField.label["zh-CN"] == "拍照"
    assert PhotoField.can_sort is False


def test_images_only_and_nine_by_default():
    photos = field(PHOTOS)
    assert photos.references([1, 2]) == [
        Reference("attachment", (1, 2), accept=frozenset({"image"}))
    ]
    assert photos.clean(list(range(1, 10))) == list(range(1, 10))
    with pytest.raises(FieldValueError) as info:
        photos.clean(list(range(1, 11)))
    assert info.value.code == "TOO_MANY_ITEMS"
    with pytest.raises(FieldValueError) as info:
        photos.clean([1])
    assert info.value.code == "TOO_FEW_ITEMS"


def test_camera_capture_unless_the_gallery_is_allowed():
    assert field(PHOTOS).ui_hints() == {
        "widget": "photo",
        "accept": "image/*",
        "capture": "environment",
        "minCount": 2,
        "maxCount": 9,
    }
    assert "capture" not in field({**PHOTOS, "allow_gallery": True}).ui_hints()


def test_options():
    assert option_errors(PHOTOS) == []
    assert option_errors({**PHOTOS, "accept": ["audio"]}) == [("fields.0", "UNKNOWN_OPTION")]
    assert option_errors({**PHOTOS, "min_count": 10}) == [("fields.0.min_count", "INVALID_OPTION")]
