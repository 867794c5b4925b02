"""Yes/no values."""

from __future__ import annotations

from typing import Any

from dajian.builder.fields._scalar import EQUALITY_OPS, halfwidth
from dajian.builder.fields.base import FieldType, FieldValueError
from dajian.builder.fields.registry import register

# Spreadsheet spellings (compared after lower-casing and full-width → ASCII).
TRUE_WORDS = frozenset({"true", "yes", "y", "t", "1", "on", "是", "对", "真", "有", "√", "✓", "✔"})
FALSE_WORDS = frozenset(
    {"false", "no", "n", "f", "0", "off", "否", "错", "假", "无", "不是", "×", "✗", "✘"}
)


@register
class BooleanField(FieldType):
    """``true`` or ``false``, stored as a JSON boolean. The API takes JSON booleans only;
    spreadsheet cells also take 是/否, yes/no, true/false, 1/0, √/×. CEL ``bool``."""

    type = "boolean"
    label = {"zh-CN": "是/否", "en": "Yes/No"}
    cel_type = "bool"
    filter_ops = EQUALITY_OPS
    options_schema = {
        "type": "object",
        "properties": {
            "true_label": {"$ref": "#/$defs/text"},
            "false_label": {"$ref": "#/$defs/text"},
            "display": {"enum": ["switch", "checkbox"]},
        },
    }

    def json_schema(self) -> dict[str, Any]:
        return {"type": "boolean"}

    def ui_hints(self) -> dict[str, Any]:
        return {
            "widget": self.definition.get("display", "switch"),
            "trueLabel": self.definition.get("true_label"),
            "falseLabel": self.definition.get("false_label"),
        }

    def clean(self, value: Any) -> Any:
        if not isinstance(value, bool):
            raise FieldValueError("INVALID_TYPE", "Expected true or false.")
        return value

    def to_cell(self, value: Any) -> Any:
        return bool(value)

    def from_cell(self, cell: Any) -> Any:
        if cell is None or (isinstance(cell, str) and not cell.strip()):
            return None
        if isinstance(cell, bool):
            return cell
        if isinstance(cell, int | float) and cell in (0, 1):
            return bool(cell)
        word = halfwidth(str(cell)).lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
        raise FieldValueError("INVALID_FORMAT", f"{cell!r} is neither yes nor no.")

    def example_value(self, faker: Any) -> Any:
        return faker.pybool()
