"""One value out of a fixed list of choices."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property
from typing import Any

from django.db.models import Case, Expression, IntegerField, Q, Value, When

from dajian.builder.fields._scalar import EQUALITY_OPS, halfwidth
from dajian.builder.fields.base import FieldType, FieldValueError, definition_error
from dajian.builder.fields.registry import register
from dajian.platform.errors import ErrorDetail
from dajian.platform.i18n import localize

CHOICE_SCHEMA = {
    "type": "object",
    "required": ["value", "label"],
    "additionalProperties": False,
    "properties": {
        "value": {"type": "string", "minLength": 1, "maxLength": 100},
        "label": {"$ref": "#/$defs/text"},
        # A hex colour or an Ant Design preset name ("red", "geekblue").
        "color": {"type": "string", "pattern": "^(#[0-9a-fA-F]{6}|[a-z]{3,12})$"},
    },
}


@register
class SingleSelectField(FieldType):
    """The ``value`` string of one of ``choices`` ([{value, label, color?}], non-empty,
    unique values). Stored as that string; CEL ``string``. Sorted in choice order.
    Spreadsheet cells may hold the value or any of its labels."""

    type = "single_select"
    label = {"zh-CN": "单选", "en": "Single select"}
    cel_type = "string"
    filter_ops = EQUALITY_OPS
    options_schema = {
        "type": "object",
        "required": ["choices"],
        "properties": {
            "choices": {"type": "array", "minItems": 1, "maxItems": 500, "items": CHOICE_SCHEMA},
            "display": {"enum": ["dropdown", "radio"]},
        },
    }

    @cached_property
    def choices(self) -> list[Mapping[str, Any]]:
        return list(self.definition.get("choices", []))

    @cached_property
    def values(self) -> list[str]:
        return [c["value"] for c in self.choices]

    @cached_property
    def _by_text(self) -> dict[str, str]:
        """Case-folded value and every label text → value (for spreadsheet cells)."""
        found: dict[str, str] = {}
        for choice in self.choices:
            label = choice.get("label")
            texts = list(label.values()) if isinstance(label, Mapping) else [label]
            for text in [choice["value"], *texts]:
                if isinstance(text, str):
                    found.setdefault(halfwidth(text).casefold(), choice["value"])
        return found

    def check_definition(self, form_definition: Mapping[str, Any]) -> list[ErrorDetail]:
        errors, seen = [], set()
        for i, value in enumerate(self.values):
            if value in seen:
                errors.append(
                    definition_error(
                        form_definition,
                        self.key,
                        f"choices.{i}.value",
                        "DUPLICATE_CHOICE",
                        f"The choice value {value!r} is used twice.",
                    )
                )
            seen.add(value)
        return errors

    def json_schema(self) -> dict[str, Any]:
        return {"type": "string", "enum": self.values}

    def ui_hints(self) -> dict[str, Any]:
        return {
            "widget": "radio" if self.definition.get("display") == "radio" else "select",
            "options": [
                {"value": c["value"], "label": c["label"], "color": c.get("color")}
                for c in self.choices
            ],
        }

    def clean(self, value: Any) -> Any:
        if not isinstance(value, str):
            raise FieldValueError("INVALID_TYPE", "Expected a choice value.")
        if value not in self.values:
            raise FieldValueError("INVALID_CHOICE", f"{value!r} is not one of the choices.")
        return value

    def sort_expression(self) -> Expression:
        return Case(
            *(When(Q(**{self.lookup: v}), then=Value(i)) for i, v in enumerate(self.values)),
            default=None,
            output_field=IntegerField(),
        )

    def label_of(self, value: str) -> str:
        choice = next((c for c in self.choices if c["value"] == value), None)
        return localize(choice["label"]) if choice else value

    def value_of(self, text: str) -> str | None:
        """The choice value a cell's text names (a value or a label), else None."""
        if text in self.values:
            return text
        return self._by_text.get(halfwidth(text).casefold())

    def to_cell(self, value: Any) -> Any:
        return self.label_of(value)

    def from_cell(self, cell: Any) -> Any:
        if cell is None or (isinstance(cell, str) and not cell.strip()):
            return None
        text = str(cell)
        value = self.value_of(text)
        if value is None:
            raise FieldValueError("INVALID_CHOICE", f"{text!r} is not one of the choices.")
        return value

    def example_value(self, faker: Any) -> Any:
        return faker.random_element(self.values)
