"""Numbers; also the base of money and percent."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, ClassVar

from django.db.models import Expression, FloatField
from django.db.models.fields.json import KT
from django.db.models.functions import Cast

from dajian.builder.fields._scalar import RANGE_OPS, halfwidth
from dajian.builder.fields.base import FieldType, FieldValueError, definition_error
from dajian.builder.fields.registry import register
from dajian.platform.errors import ErrorDetail

# Stored values are JSON numbers read back as doubles: 15 significant digits survive.
MAX_ABS = Decimal(10) ** 15
DECIMAL_TEXT = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")


def _decimals(value: Decimal) -> int:
    """Decimal places that matter (``1.50`` has 1, ``1E+3`` has 0)."""
    exponent = value.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


@register
class NumberField(FieldType):
    """A number, stored as a JSON number: an ``int`` when ``precision`` is 0, otherwise a
    float with at most ``precision`` decimals (any up to 10 when unset). At most 15
    significant digits. NaN, infinities and booleans are refused. CEL type ``int`` when
    ``precision`` is 0, else ``double``."""

    type = "number"
    label = {"zh-CN": "数字", "en": "Number"}
    cel_type = "double"
    can_aggregate = True
    filter_ops = RANGE_OPS
    options_schema = {
        "type": "object",
        "properties": {
            "precision": {"type": "integer", "minimum": 0, "maximum": 10},
            "min": {"type": "number"},
            "max": {"type": "number"},
            "unit": {"$ref": "#/$defs/text"},
            "placeholder": {"$ref": "#/$defs/text"},
        },
    }
    default_precision: ClassVar[int | None] = None
    max_precision: ClassVar[int] = 10
    # Money also takes decimal strings ("1234.50"); plain numbers take JSON numbers only.
    accepts_text: ClassVar[bool] = False

    def __init__(self, definition: Mapping[str, Any]):
        super().__init__(definition)
        if self.integer_cel:
            self.cel_type = "int"  # type: ignore[misc]  # per definition, see class doc

    # --- options ---------------------------------------------------------------------
    @property
    def precision(self) -> int | None:
        """Decimal places the user works with (``None``: not limited)."""
        return self.definition.get("precision", self.default_precision)

    @property
    def stored_decimals(self) -> int:
        """Decimal places allowed in the stored value."""
        return self.max_precision if self.precision is None else self.precision

    @property
    def integer_cel(self) -> bool:
        return self.precision == 0

    def bound(self, name: str) -> Decimal | None:
        raw = self.definition.get(name)
        return None if raw is None else Decimal(str(raw))

    def check_definition(self, form_definition: Mapping[str, Any]) -> list[ErrorDetail]:
        low, high = self.bound("min"), self.bound("max")
        if low is not None and high is not None and low > high:
            return [
                definition_error(
                    form_definition, self.key, "min", "INVALID_OPTION", "min is above max."
                )
            ]
        return []

    # --- values ----------------------------------------------------------------------
    def json_schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "integer" if self.stored_decimals == 0 else "number"}
        if "min" in self.definition:
            schema["minimum"] = self.definition["min"]
        if "max" in self.definition:
            schema["maximum"] = self.definition["max"]
        return schema

    def ui_hints(self) -> dict[str, Any]:
        return {
            "widget": "number",
            "precision": self.precision,
            "min": self.definition.get("min"),
            "max": self.definition.get("max"),
            "unit": self.definition.get("unit"),
            "placeholder": self.definition.get("placeholder"),
        }

    def to_decimal(self, value: Any) -> Decimal:
        """The exact decimal of an API value, or a coded refusal."""
        if isinstance(value, bool):
            raise FieldValueError("INVALID_TYPE", "Expected a number.")
        if isinstance(value, float):
            if not math.isfinite(value):
                raise FieldValueError("INVALID_VALUE", "NaN and infinity are not numbers.")
            return Decimal(repr(value))
        if isinstance(value, int):
            return Decimal(value)
        if isinstance(value, Decimal):
            if not value.is_finite():
                raise FieldValueError("INVALID_VALUE", "NaN and infinity are not numbers.")
            return value
        if isinstance(value, str) and self.accepts_text:
            text = value.strip()
            if not DECIMAL_TEXT.match(text):
                raise FieldValueError("INVALID_FORMAT", "Expected a decimal number like 1234.50.")
            return Decimal(text)
        raise FieldValueError("INVALID_TYPE", "Expected a number.")

    def clean(self, value: Any) -> Any:
        number = self.to_decimal(value)
        if abs(number) >= MAX_ABS:
            raise FieldValueError(
                "OUT_OF_RANGE", "At most 15 digits before the decimal point.", max=str(MAX_ABS)
            )
        if _decimals(number) > self.stored_decimals:
            raise FieldValueError(
                "TOO_PRECISE",
                f"At most {self.stored_decimals} decimal places.",
                precision=self.stored_decimals,
            )
        low, high = self.bound("min"), self.bound("max")
        if (low is not None and number < low) or (high is not None and number > high):
            raise FieldValueError(
                "OUT_OF_RANGE",
                f"Must be between {self.definition.get('min', '-∞')} and "
                f"{self.definition.get('max', '∞')}.",
                min=self.definition.get("min"),
                max=self.definition.get("max"),
            )
        return self.store(number)

    def store(self, number: Decimal) -> int | float:
        return int(number) if self.stored_decimals == 0 else float(number)

    def to_cel(self, value: Any) -> Any:
        return int(value) if self.integer_cel else float(value)

    # --- SQL -------------------------------------------------------------------------
    def aggregate_expression(self) -> Expression:
        return Cast(KT(self.lookup), FloatField())

    # --- spreadsheets and demo data --------------------------------------------------
    def parse_cell_text(self, text: str) -> Decimal:
        """``1,234.50``, full-width digits, ``(12.5)`` (negative) → a decimal."""
        text = halfwidth(text).replace(",", "").replace("_", "").replace(" ", "")
        negative = text.startswith("(") and text.endswith(")")
        text = text[1:-1] if negative else text
        if not DECIMAL_TEXT.match(text):
            raise FieldValueError("INVALID_FORMAT", f"{text!r} is not a number.")
        return -Decimal(text) if negative else Decimal(text)

    def from_cell(self, cell: Any) -> Any:
        if cell is None or (isinstance(cell, str) and not cell.strip()):
            return None
        if isinstance(cell, str):
            cell = self.parse_cell_text(cell)
        elif isinstance(cell, float) and math.isfinite(cell):
            # Spreadsheets show 15 significant digits; computed cells carry float noise
            # beyond them (0.1 + 0.2 = 0.30000000000000004).
            cell = Decimal(f"{cell:.15g}")
        return self.clean(cell)

    def example_value(self, faker: Any) -> Any:
        low = self.bound("min")
        high = self.bound("max")
        low = Decimal(0) if low is None else low
        high = max(low, Decimal(10000) if high is None else high)
        scale = 10 ** min(self.stored_decimals, 2)
        first, last = math.ceil(low * scale), math.floor(high * scale)
        picked = faker.random_int(first, last) if first <= last else first
        return self.clean(Decimal(picked) / scale)
