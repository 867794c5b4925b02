"""Percentages, stored as fractions (0.125 is 12.5%), like spreadsheets do."""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

from dajian.builder.fields._scalar import halfwidth
from dajian.builder.fields.number import NumberField
from dajian.builder.fields.registry import register


@register
class PercentField(NumberField):
    """A percentage stored as a fraction: ``0.125`` means 12.5%, so formulas read
    ``amount * rate``. ``precision`` counts decimals of the percentage (default 2, so the
    fraction has up to 4); ``min``/``max`` are fractions too (1 = 100%). The API takes
    JSON numbers; cells take ``12.5%`` or a fraction. CEL ``double``."""

    type = "percent"
    label = {"zh-CN": "百分比", "en": "Percent"}
    cel_type = "double"
    options_schema = {
        "type": "object",
        "properties": {
            "precision": {"type": "integer", "minimum": 0, "maximum": 8},
            "min": {"type": "number"},
            "max": {"type": "number"},
            "placeholder": {"$ref": "#/$defs/text"},
        },
    }
    default_precision = 2
    max_precision = 8

    @property
    def integer_cel(self) -> bool:
        return False

    @property
    def stored_decimals(self) -> int:
        return super().stored_decimals + 2

    def store(self, number: Decimal) -> float:
        return float(number)

    def ui_hints(self) -> dict[str, Any]:
        return {**super().ui_hints(), "widget": "percent", "unit": "%"}

    def parse_cell_text(self, text: str) -> Decimal:
        text = halfwidth(text)
        if text.endswith("%"):
            return super().parse_cell_text(text[:-1]) / 100
        return super().parse_cell_text(text)

    def example_value(self, faker: Any) -> Any:
        low = self.bound("min")
        high = self.bound("max")
        low_pct = 0 if low is None else math.ceil(low * 100)
        high_pct = max(low_pct, 100 if high is None else math.floor(high * 100))
        return self.clean(Decimal(faker.random_int(low_pct, high_pct)) / 100)
