"""A link to records of another form of the same app (one, or several)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db.models import BigIntegerField, Expression
from django.db.models.fields.json import KT
from django.db.models.functions import Cast

from dajian.builder.fields.base import Reference
from dajian.builder.fields.registry import register
from dajian.builder.fields.user import UserField


@register
class RelationField(UserField):
    """A record id of the form ``target`` (``multiple``: a list of record ids).

    Options: ``target`` (form key in the same app, required; the caller checks that the
    form exists), ``multiple``, ``max_items``. Global ids are ``Record:<id>``. Codes,
    filters as :class:`~dajian.builder.fields.user.UserField`. :meth:`sql_id` is the
    stored id as a ``bigint`` so single relations join to ``Record.id`` (rollups).
    """

    type = "relation"
    label = {"zh-CN": "关联记录", "en": "Relation"}
    node_type = "Record"
    reference_kind = "record"
    widget = "record-picker"
    options_schema = {
        "type": "object",
        "required": ["target"],
        "properties": {
            "target": {"$ref": "#/$defs/key"},
            "multiple": {"type": "boolean"},
            "max_items": {"type": "integer", "minimum": 1, "maximum": 500},
        },
    }

    def __init__(self, definition: Mapping[str, Any]):
        super().__init__(definition)
        self.target: str = definition["target"]

    def ui_hints(self) -> dict[str, Any]:
        return {**super().ui_hints(), "target": self.target}

    def references(self, value: Any) -> list[Reference]:
        return [Reference(self.reference_kind, self.ids(value), target=self.target)]

    def sql_id(self) -> Expression:
        """The related record's id as a ``bigint`` (single relations only)."""
        return Cast(KT(f"data__{self.key}"), BigIntegerField())
