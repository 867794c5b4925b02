"""Phone numbers."""

from __future__ import annotations

import re
from typing import Any

from dajian.builder.fields._scalar import TEXT_OPS, halfwidth
from dajian.builder.fields.base import FieldValueError
from dajian.builder.fields.registry import register
from dajian.builder.fields.text import TextField

# What people put between digits: spaces, dashes, dots, slashes, parentheses.
SEPARATORS = re.compile(r"[\s\-./()]")
PHONE = re.compile(r"^\+?\d{5,20}$")


@register
class PhoneField(TextField):
    """A phone number stored as its digits, with a leading ``+`` kept (``+8613800138000``,
    ``02188886666``): spaces, dashes, dots, slashes and parentheses are dropped, full-width
    digits become ASCII; 5 to 20 digits. Equal numbers compare equal however they were typed
    (filters normalise the same way; ``contains`` searches digits)."""

    type = "phone"
    label = {"zh-CN": "电话", "en": "Phone"}
    filter_ops = TEXT_OPS
    options_schema = {"type": "object", "properties": {"placeholder": {"$ref": "#/$defs/text"}}}
    default_max_length = 40

    def json_schema(self) -> dict[str, Any]:
        return {"type": "string", "minLength": 5, "maxLength": 40}

    def ui_hints(self) -> dict[str, Any]:
        return {**super().ui_hints(), "widget": "phone", "inputMode": "tel"}

    @staticmethod
    def digits(text: str) -> str:
        return SEPARATORS.sub("", halfwidth(text))

    def clean(self, value: Any) -> Any:
        if not isinstance(value, str):
            raise FieldValueError("INVALID_TYPE", "Expected a phone number as text.")
        number = self.digits(value)
        if not PHONE.match(number):
            raise FieldValueError(
                "INVALID_FORMAT", "A phone number has 5 to 20 digits, optionally after a +."
            )
        return number

    def filter_value(self, op: str, value: Any) -> Any:
        if op in ("contains", "icontains", "startswith"):
            part = self.digits(value) if isinstance(value, str) else ""
            if not re.fullmatch(r"\+?\d{1,20}", part):
                raise FieldValueError("INVALID_FORMAT", "Search a phone number by its digits.")
            return part
        return super().filter_value(op, value)

    def from_cell(self, cell: Any) -> Any:
        if cell is None or (isinstance(cell, str) and not cell.strip()):
            return None
        if isinstance(cell, bool):
            raise FieldValueError("INVALID_TYPE", "Expected a phone number.")
        # Spreadsheets turn long numbers into floats: 13800138000.0
        if isinstance(cell, float) and cell.is_integer():
            cell = int(cell)
        return self.clean(str(cell))

    def example_value(self, faker: Any) -> Any:
        return self.clean(faker.phone_number())
