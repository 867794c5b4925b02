"""Multi-line text."""

from __future__ import annotations

from typing import Any

from dajian.builder.fields.registry import register
from dajian.builder.fields.text import TextField


@register
class LongTextField(TextField):
    """Multi-line text (line breaks kept, trailing blanks trimmed); ``max_length`` counts
    characters (default 10,000, at most 100,000). Filtered by substring, not sorted."""

    type = "long_text"
    label = {"zh-CN": "多行文本", "en": "Long text"}
    can_sort = False
    filter_ops = frozenset({"isnull", "contains", "icontains"})
    options_schema = {
        "type": "object",
        "properties": {
            "max_length": {"type": "integer", "minimum": 1, "maximum": 100000},
            "min_length": {"type": "integer", "minimum": 0},
            "rows": {"type": "integer", "minimum": 2, "maximum": 30},
            "placeholder": {"$ref": "#/$defs/text"},
        },
    }
    default_max_length = 10000
    multiline = True

    def ui_hints(self) -> dict[str, Any]:
        return {**super().ui_hints(), "rows": self.definition.get("rows", 4)}

    def to_cell(self, value: Any) -> Any:
        return value

    def from_cell(self, cell: Any) -> Any:
        if cell is None or (isinstance(cell, str) and not cell.strip()):
            return None
        return self.clean(str(cell).replace("\r\n", "\n"))

    def example_value(self, faker: Any) -> Any:
        text = faker.paragraph(nb_sentences=3)
        while len(text) < int(self.definition.get("min_length", 0)):
            text += faker.sentence()
        return text[: self.max_length]
