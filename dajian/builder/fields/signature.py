"""A handwritten signature drawn on the screen, stored as one image upload."""

from __future__ import annotations

from typing import Any

from dajian.builder.fields.attachment import AttachmentField
from dajian.builder.fields.registry import register


@register
class SignatureField(AttachmentField):
    """One image attachment id (not a list). No options.

    Codes: ``INVALID_TYPE``, ``INVALID_REFERENCE``; uploads that are not images are
    refused by the runtime's reference check.
    """

    type = "signature"
    label = {"zh-CN": "手写签名", "en": "Signature"}
    cel_type = "int"
    options_schema = {"type": "object", "properties": {}}
    default_max_count = 1
    kinds = frozenset({"image"})
    widget = "signature"
    single = True

    def ui_hints(self) -> dict[str, Any]:
        return {"widget": "signature", "accept": "image/png", "draw": True}
