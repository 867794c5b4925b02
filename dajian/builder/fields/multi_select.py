"""Several values out of the choices: tags."""

from __future__ import annotations

import json
import re
from typing import Any

from django.db.models import BooleanField, F, Func, Q

from dajian.builder.fields._scalar import halfwidth
from dajian.builder.fields.base import FieldValueError
from dajian.builder.fields.registry import register
from dajian.builder.fields.single_select import CHOICE_SCHEMA, SingleSelectField

MAX_NEW_TAG = 50
MAX_TAGS = 100
# Full-width commas and semicolons are made ASCII first (``halfwidth``).
CELL_SEPARATORS = re.compile(r"[,;、|\n]")


class ArrayHas(Func):
    """True when ``data[key]`` is a JSON array holding the string ``item``; false (never
    NULL) when the key is missing, so negations behave the same on both databases."""

    output_field = BooleanField()

    def __init__(self, key: str, item: str):
        super().__init__(F("data"))
        self.key = key
        self.item = item

    def as_sql(
        self,
        compiler: Any,
        connection: Any,
        function: str | None = None,
        template: str | None = None,
        arg_joiner: str | None = None,
        **extra_context: Any,
    ) -> tuple[str, tuple[Any, ...]]:
        # PostgreSQL: jsonb containment; serves GIN indexes if one is ever added.
        data, params = compiler.compile(self.source_expressions[0])
        sql = f"COALESCE(({data} -> %s) @> %s::jsonb, false)"
        return sql, (*params, self.key, json.dumps([self.item]))

    def as_sqlite(
        self, compiler: Any, connection: Any, **extra: Any
    ) -> tuple[str, tuple[Any, ...]]:
        data, params = compiler.compile(self.source_expressions[0])
        sql = f"EXISTS (SELECT 1 FROM json_each({data}, %s) AS tag WHERE tag.value = %s)"
        # Field keys are [a-z0-9_], so the quoted key is a valid JSON path member.
        return sql, (*params, f"$.{json.dumps(self.key)}", self.item)


@register
class MultiSelectField(SingleSelectField):
    """A list of distinct choice values (tags), stored as a JSON array of strings in the
    order given; duplicates are dropped (the first stays). ``allow_new`` also keeps
    unknown tags (trimmed, 1 to 50 characters); ``max_items`` caps the count (default: the
    number of choices, or 100 with ``allow_new``). CEL ``list(string)``.

    Filters: ``contains`` (has every given tag), ``in`` (has any), ``nin`` (has none,
    empty lists included), ``isnull`` (missing, null or ``[]``)."""

    type = "multi_select"
    label = {"zh-CN": "多选/标签", "en": "Multi select / tags"}
    cel_type = "list(string)"
    can_sort = False
    filter_ops = frozenset({"contains", "in", "nin", "isnull"})
    options_schema = {
        "type": "object",
        "properties": {
            "choices": {"type": "array", "maxItems": 500, "items": CHOICE_SCHEMA},
            "max_items": {"type": "integer", "minimum": 1, "maximum": MAX_TAGS},
            "allow_new": {"type": "boolean"},
            "display": {"enum": ["dropdown", "checkbox", "tags"]},
        },
        # Without new tags there must be something to pick.
        "if": {"not": {"properties": {"allow_new": {"const": True}}, "required": ["allow_new"]}},
        "then": {"required": ["choices"], "properties": {"choices": {"minItems": 1}}},
    }

    @property
    def allow_new(self) -> bool:
        return bool(self.definition.get("allow_new", False))

    @property
    def max_items(self) -> int:
        default = MAX_TAGS if self.allow_new else max(1, len(self.values))
        return int(self.definition.get("max_items", default))

    def json_schema(self) -> dict[str, Any]:
        item: dict[str, Any] = {"type": "string", "enum": self.values}
        if self.allow_new:
            new = {"type": "string", "minLength": 1, "maxLength": MAX_NEW_TAG}
            item = {"anyOf": [item, new]} if self.values else new
        return {"type": "array", "items": item, "maxItems": self.max_items}

    def ui_hints(self) -> dict[str, Any]:
        return {
            **super().ui_hints(),
            "widget": self.definition.get("display", "tags" if self.allow_new else "dropdown"),
            "multiple": True,
            "allowNew": self.allow_new,
            "maxItems": self.max_items,
        }

    def clean_item(self, item: Any, index: int) -> str:
        if not isinstance(item, str):
            raise FieldValueError("INVALID_TYPE", "Expected a tag text.", path=str(index))
        if item in self.values:
            return item
        if not self.allow_new:
            raise FieldValueError(
                "INVALID_CHOICE", f"{item!r} is not one of the choices.", path=str(index)
            )
        tag = item.strip()
        if not tag:
            raise FieldValueError("INVALID_VALUE", "A tag cannot be empty.", path=str(index))
        if len(tag) > MAX_NEW_TAG:
            raise FieldValueError(
                "TOO_LONG",
                f"A tag has at most {MAX_NEW_TAG} characters.",
                path=str(index),
                max_length=MAX_NEW_TAG,
            )
        return tag

    def clean(self, value: Any) -> Any:
        if not isinstance(value, list):
            raise FieldValueError("INVALID_TYPE", "Expected a list of tags.")
        tags = list(dict.fromkeys(self.clean_item(item, i) for i, item in enumerate(value)))
        if len(tags) > self.max_items:
            raise FieldValueError(
                "TOO_MANY_ITEMS", f"At most {self.max_items} tags.", max_items=self.max_items
            )
        return tags

    def to_cel(self, value: Any) -> Any:
        return [str(tag) for tag in value]

    # --- SQL -------------------------------------------------------------------------
    def filter_value(self, op: str, value: Any) -> Any:
        if op == "isnull":
            return bool(value)
        items = value if isinstance(value, list) else [value]
        if not items:
            raise FieldValueError("INVALID_VALUE", "Give at least one tag.")
        return [self.clean_item(item, i) for i, item in enumerate(items)]

    def filter_q(self, op: str, value: Any) -> Q:
        if op == "isnull":
            lookup = self.lookup
            empty = Q(**{f"{lookup}__isnull": True}) | Q(**{lookup: None}) | Q(**{lookup: []})
            return empty if value else ~empty
        has = [Q(ArrayHas(self.key, tag)) for tag in value]
        combined = has[0]
        for q in has[1:]:
            combined = (combined & q) if op == "contains" else (combined | q)
        if op == "nin":
            return ~combined
        if op in ("contains", "in"):
            return combined
        raise ValueError(f"unsupported operator {op}")

    # --- spreadsheets and demo data --------------------------------------------------
    def to_cell(self, value: Any) -> Any:
        return ", ".join(self.label_of(tag) for tag in value)

    def from_cell(self, cell: Any) -> Any:
        if cell is None or (isinstance(cell, str) and not cell.strip()):
            return None
        parts = [p.strip() for p in CELL_SEPARATORS.split(halfwidth(str(cell))) if p.strip()]
        return self.clean([self.value_of(p) or p for p in parts])

    def example_value(self, faker: Any) -> Any:
        if not self.values:
            return [faker.word()]
        count = faker.random_int(1, min(3, len(self.values), self.max_items))
        return faker.random_elements(self.values, length=count, unique=True)
