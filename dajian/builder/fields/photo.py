"""Photos taken with the device camera (evidence: storefront, shelf...)."""

from __future__ import annotations

from typing import Any

from dajian.builder.fields.attachment import AttachmentField
from dajian.builder.fields.registry import register

_COUNT = {"type": "integer", "minimum": 0, "maximum": 100}


@register
class PhotoField(AttachmentField):
    """A list of image attachment ids, captured with the rear camera by default.

    Options: ``min_count``, ``max_count`` (default 9), ``allow_gallery`` (default false:
    the UI opens the camera instead of offering the photo library). Codes as
    :class:`~dajian.builder.fields.attachment.AttachmentField`; uploads that are not
    images are refused by the runtime's reference check.
    """

    type = "photo"
    label = {"zh-CN": "拍照", "en": "Photo"}
    options_schema = {
        "type": "object",
        "properties": {
            "min_count": _COUNT,
            "max_count": {**_COUNT, "minimum": 1},
            "allow_gallery": {"type": "boolean"},
        },
    }
    default_max_count = 9
    kinds = frozenset({"image"})
    widget = "photo"

    def ui_hints(self) -> dict[str, Any]:
        hints = {**super().ui_hints(), "accept": "image/*"}
        if not self.definition.get("allow_gallery", False):
            hints["capture"] = "environment"
        return hints
