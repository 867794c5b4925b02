"""Single-line text."""

from __future__ import annotations

from typing import Any

from dajian.builder.fields.base import FieldType, FieldValueError
from dajian.builder.fields.registry import register


@register
class TextField(FieldType):
    """A single line of text; ``max_length`` counts characters (default 200)."""

    type = "text"
    label = {"zh-CN": "单行文本", "en": "Text"}
    cel_type = "string"
    filter_ops = frozenset(
        {"eq", "ne", "in", "nin", "isnull", "contains", "icontains", "startswith"}
    )
    options_schema = {
        "type": "object",
        "properties": {
            "max_length": {"type": "integer", "minimum": 1, "maximum": 10000},
            "min_length": {"type": "integer", "minimum": 0},
            "pattern": {"type": "string", "maxLength": 500},
            "placeholder": {"$ref": "#/$defs/text"},
        },
    }
    default_max_length = 200
    multiline = False

    @property
    def max_length(self) -> int:
        return int(self.definition.get("max_length", self.default_max_length))

    def json_schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "string", "maxLength": self.max_length}
        if "min_length" in self.definition:
            schema["minLength"] = self.definition["min_length"]
        if "pattern" in self.definition:
            schema["pattern"] = self.definition["pattern"]
        return schema

    def ui_hints(self) -> dict[str, Any]:
        return {
            "widget": "textarea" if self.multiline else "input",
            "maxLength": self.max_length,
            "placeholder": self.definition.get("placeholder"),
        }

    def clean(self, value: Any) -> Any:
        if not isinstance(value, str):
            raise FieldValueError("INVALID_TYPE", "Expected text.")
        value = value.strip() if not self.multiline else value.rstrip()
        if "\x00" in value:
            raise FieldValueError("INVALID_VALUE", "Text must not contain NUL characters.")
        if len(value) > self.max_length:
            raise FieldValueError(
                "TOO_LONG",
                f"At most {self.max_length} characters.",
                max_length=self.max_length,
            )
        return value

    def sort_expression(self):  # type: ignore[no-untyped-def]
        return self.sql_text()

    def example_value(self, faker: Any) -> Any:
        """A short phrase of two words (a field ``example`` hint gives better values);
        None when a ``pattern`` constrains the text, since its values cannot be guessed."""
        if "pattern" in self.definition:
            return None
        words = [faker.word(), faker.word()]
        joiner = " " if all(w.isascii() for w in words) else ""
        value = joiner.join(words)
        while len(value) < int(self.definition.get("min_length", 0)):
            value += joiner + faker.word()
        return value[: self.max_length]
