"""Uploaded files: a list of attachment ids.

:class:`AttachmentField` is the base of the evidence types (``photo``, ``audio``,
``signature``), which fix the accepted kind of file and their capture hints. The upload
itself (sniffed type, server time, EXIF) belongs to ``platform.files``; a value only
points at uploads, and the runtime checks that they exist in the workspace and are of an
accepted kind (:attr:`Reference.accept`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from django.db.models import Q

from dajian.builder.fields.base import (
    FieldType,
    FieldValueError,
    Reference,
    definition_path,
    global_id,
    parse_ref,
)
from dajian.builder.fields.registry import register
from dajian.builder.fields.user import empty_q, ids_from_cell, ids_to_cell
from dajian.platform.errors import ErrorDetail

KINDS = ("image", "audio", "video", "document", "other")
_MIME_ACCEPT = {"image": "image/*", "audio": "audio/*", "video": "video/*"}
_COUNT = {"type": "integer", "minimum": 0, "maximum": 100}


@register
class AttachmentField(FieldType):
    """A list of attachment ids (in the order given, without repeats).

    Options: ``min_count`` (an empty list still counts as "no value": ``required``
    decides about that), ``max_count`` (default 20, at most 100), ``accept`` (attachment
    kinds: image, audio, video, document, other; default any). Codes: ``INVALID_TYPE``,
    ``INVALID_REFERENCE``, ``TOO_FEW_ITEMS``, ``TOO_MANY_ITEMS``. Filter: ``isnull`` only.
    """

    type = "attachment"
    label = {"zh-CN": "附件", "en": "Attachment"}
    cel_type = "list(int)"
    can_sort = False
    filter_ops = frozenset({"isnull"})
    options_schema = {
        "type": "object",
        "properties": {
            "min_count": _COUNT,
            "max_count": {**_COUNT, "minimum": 1},
            "accept": {
                "type": "array",
                "items": {"enum": list(KINDS)},
                "minItems": 1,
                "uniqueItems": True,
            },
        },
    }
    default_max_count: ClassVar[int] = 20
    # Attachment kinds a value may point at (None = any).
    kinds: ClassVar[frozenset[str] | None] = None
    widget: ClassVar[str] = "attachment"
    single: ClassVar[bool] = False

    def __init__(self, definition: Mapping[str, Any]):
        super().__init__(definition)
        self.min_count = int(definition.get("min_count", 0))
        self.max_count = int(definition.get("max_count", self.default_max_count))
        accept = definition.get("accept")
        self.accept: frozenset[str] | None = frozenset(accept) if accept else self.kinds

    def check_definition(self, form_definition: Mapping[str, Any]) -> list[ErrorDetail]:
        if self.min_count > self.max_count:
            return [
                ErrorDetail(
                    code="INVALID_OPTION",
                    message=f"min_count is larger than max_count ({self.max_count}).",
                    field="fields",
                    path=f"{definition_path(form_definition, self.key)}.min_count",
                )
            ]
        return []

    # --- values ------------------------------------------------------------------------
    def json_schema(self) -> dict[str, Any]:
        one = {"type": ["integer", "string"], "minimum": 1, "minLength": 1, "maxLength": 200}
        if self.single:
            return one
        return {"type": "array", "items": one, "maxItems": self.max_count}

    def mime_accept(self) -> str | None:
        """The HTML ``accept`` attribute for the file input (None = any file)."""
        if not self.accept or not self.accept <= set(_MIME_ACCEPT):
            return None
        return ",".join(_MIME_ACCEPT[k] for k in KINDS if k in self.accept)

    def ui_hints(self) -> dict[str, Any]:
        hints: dict[str, Any] = {"widget": self.widget, "accept": self.mime_accept()}
        if not self.single:
            hints.update(minCount=self.min_count, maxCount=self.max_count)
        return hints

    def clean(self, value: Any) -> Any:
        if self.single:
            if isinstance(value, list | dict):
                raise FieldValueError("INVALID_TYPE", "Expected one attachment id.")
            return parse_ref(value, "Attachment")
        if not isinstance(value, list):
            raise FieldValueError("INVALID_TYPE", "Expected a list of attachment ids.")
        ids: list[int] = []
        for i, item in enumerate(value):
            try:
                ref = parse_ref(item, "Attachment")
            except FieldValueError as exc:
                raise FieldValueError(exc.code, exc.message, path=str(i)) from None
            if ref not in ids:
                ids.append(ref)
        if ids and len(ids) < self.min_count:
            raise FieldValueError(
                "TOO_FEW_ITEMS", f"At least {self.min_count} files.", min_count=self.min_count
            )
        if len(ids) > self.max_count:
            raise FieldValueError(
                "TOO_MANY_ITEMS", f"At most {self.max_count} files.", max_count=self.max_count
            )
        return ids

    def references(self, value: Any) -> list[Reference]:
        ids = tuple(value) if isinstance(value, list) else (value,)
        return [Reference("attachment", ids, accept=self.accept)]

    def to_api(self, value: Any) -> Any:
        if isinstance(value, list):
            return [global_id("Attachment", v) for v in value]
        return global_id("Attachment", value)

    def to_cel(self, value: Any) -> Any:
        return list(value) if isinstance(value, list) else value

    # --- SQL ---------------------------------------------------------------------------
    def filter_q(self, op: str, value: Any) -> Q:
        if op != "isnull":
            raise ValueError(f"unsupported operator {op}")
        return empty_q(self.lookup) if value else ~empty_q(self.lookup)

    # --- spreadsheets ------------------------------------------------------------------
    def to_cell(self, value: Any) -> Any:
        return ids_to_cell(value)

    def from_cell(self, cell: Any) -> Any:
        return ids_from_cell(cell, multiple=not self.single)

    def example_value(self, faker: Any) -> Any:
        # Attachments are uploads; demo data cannot invent their ids.
        return None
