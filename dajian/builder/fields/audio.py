"""Voice memos recorded on the device."""

from __future__ import annotations

from typing import Any

from dajian.builder.fields.attachment import AttachmentField
from dajian.builder.fields.registry import register

_COUNT = {"type": "integer", "minimum": 0, "maximum": 100}


@register
class AudioField(AttachmentField):
    """A list of audio attachment ids, recorded in the browser.

    Options: ``min_count``, ``max_count`` (default 5). Codes as
    :class:`~dajian.builder.fields.attachment.AttachmentField`; uploads that are not
    audio are refused by the runtime's reference check.
    """

    type = "audio"
    label = {"zh-CN": "语音", "en": "Audio memo"}
    options_schema = {
        "type": "object",
        "properties": {"min_count": _COUNT, "max_count": {**_COUNT, "minimum": 1}},
    }
    default_max_count = 5
    kinds = frozenset({"audio"})
    widget = "audio"

    def ui_hints(self) -> dict[str, Any]:
        return {**super().ui_hints(), "accept": "audio/*", "record": True}
