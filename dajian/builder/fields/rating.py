"""Ratings: a whole number of stars."""

from __future__ import annotations

import math
from typing import Any

from django.db.models import Expression, FloatField
from django.db.models.fields.json import KT
from django.db.models.functions import Cast

from dajian.builder.fields._scalar import RANGE_OPS, halfwidth
from dajian.builder.fields.base import FieldType, FieldValueError
from dajian.builder.fields.registry import register

STARS = frozenset("★⭐")


@register
class RatingField(FieldType):
    """A whole number from 1 to ``max`` (1 to 10, default 5), stored as a JSON int; no rating
    is an empty value, not 0. CEL ``int``; averaged in SQL as a float."""

    type = "rating"
    label = {"zh-CN": "评分", "en": "Rating"}
    cel_type = "int"
    can_aggregate = True
    filter_ops = RANGE_OPS
    options_schema = {
        "type": "object",
        "properties": {
            "max": {"type": "integer", "minimum": 1, "maximum": 10},
            "icon": {"enum": ["star", "heart", "thumb"]},
        },
    }

    @property
    def max(self) -> int:
        return int(self.definition.get("max", 5))

    def json_schema(self) -> dict[str, Any]:
        return {"type": "integer", "minimum": 1, "maximum": self.max}

    def ui_hints(self) -> dict[str, Any]:
        return {"widget": "rating", "max": self.max, "icon": self.definition.get("icon", "star")}

    def clean(self, value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise FieldValueError("INVALID_TYPE", "Expected a whole number of stars.")
        if isinstance(value, float):
            if not math.isfinite(value):
                raise FieldValueError("INVALID_VALUE", "NaN and infinity are not ratings.")
            if not value.is_integer():
                raise FieldValueError("TOO_PRECISE", "Ratings are whole numbers.", precision=0)
            value = int(value)
        if not 1 <= value <= self.max:
            raise FieldValueError(
                "OUT_OF_RANGE", f"Must be between 1 and {self.max}.", min=1, max=self.max
            )
        return value

    def to_cel(self, value: Any) -> Any:
        return int(value)

    def aggregate_expression(self) -> Expression:
        return Cast(KT(self.lookup), FloatField())

    def from_cell(self, cell: Any) -> Any:
        """Numbers, digit strings (also full-width) or a row of stars (``★★★``)."""
        if cell is None or (isinstance(cell, str) and not cell.strip()):
            return None
        if isinstance(cell, str):
            text = halfwidth(cell).replace("\ufe0f", "")
            if text and set(text) <= STARS:
                return self.clean(len(text))
            try:
                cell = float(text)
            except ValueError as exc:
                raise FieldValueError("INVALID_FORMAT", f"{text!r} is not a rating.") from exc
        return self.clean(cell)

    def example_value(self, faker: Any) -> Any:
        return faker.random_int(1, self.max)
