"""Money: a decimal amount in the field's currency."""

from __future__ import annotations

import math
import re
from decimal import Decimal
from typing import Any

from django.db.models import DecimalField, Expression
from django.db.models.fields.json import KT
from django.db.models.functions import Cast

from dajian.builder.fields._scalar import halfwidth
from dajian.builder.fields.number import DECIMAL_TEXT, NumberField
from dajian.builder.fields.registry import register

# Currency marks a spreadsheet cell may carry around the amount.
CURRENCY_MARKS = re.compile(r"^[A-Z]{3}|[A-Z]{3}$|[¥$€£₩元]")


@register
class MoneyField(NumberField):
    """An amount in ``currency`` (ISO 4217, default CNY) with at most ``precision``
    decimals (default 2, 0 to 4). The API takes a JSON number or a decimal string
    (``"1234.50"``); more decimals than ``precision`` are refused (TOO_PRECISE), never
    rounded. Stored as a JSON number (an int when ``precision`` is 0); CEL ``double``;
    summed in SQL as a decimal."""

    type = "money"
    label = {"zh-CN": "金额", "en": "Money"}
    cel_type = "double"
    options_schema = {
        "type": "object",
        "properties": {
            "currency": {"type": "string", "pattern": "^[A-Z]{3}$"},
            "precision": {"type": "integer", "minimum": 0, "maximum": 4},
            "min": {"type": "number"},
            "max": {"type": "number"},
            "placeholder": {"$ref": "#/$defs/text"},
        },
    }
    default_precision = 2
    max_precision = 4
    accepts_text = True

    @property
    def integer_cel(self) -> bool:
        return False

    @property
    def currency(self) -> str:
        return str(self.definition.get("currency", "CNY"))

    def json_schema(self) -> dict[str, Any]:
        schema = super().json_schema()
        # Bounds apply to numbers only; strings are checked by ``clean``.
        schema["type"] = [schema["type"], "string"]
        schema["pattern"] = DECIMAL_TEXT.pattern
        return schema

    def ui_hints(self) -> dict[str, Any]:
        return {**super().ui_hints(), "widget": "money", "currency": self.currency}

    def aggregate_expression(self) -> Expression:
        return Cast(
            KT(self.lookup), DecimalField(max_digits=19, decimal_places=self.stored_decimals)
        )

    def parse_cell_text(self, text: str) -> Decimal:
        """Also drops currency marks: ``¥1,234.50``, ``CNY 1234.5``, ``1234.5元``."""
        return super().parse_cell_text(CURRENCY_MARKS.sub("", halfwidth(text).upper()))

    def example_value(self, faker: Any) -> Any:
        """Whole amounts as people quote them: hundreds when the range is wide enough
        (default range 100 to 100,000)."""
        low = self.bound("min")
        high = self.bound("max")
        if low is None:
            low = Decimal(100) if high is None or high >= 100 else min(Decimal(0), high)
        high = max(low, Decimal(100_000) if high is None else high)
        first, last = math.ceil(low), math.floor(high)
        if first > last:
            return self.clean(low)
        amount = faker.random_int(first, last)
        if last - first >= 1000:
            amount = min(max(round(amount, -2), first), last)
        return self.clean(Decimal(amount))
