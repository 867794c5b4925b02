"""Helpers shared by the scalar field types (not a field type itself).

:class:`ScalarFilters` gives the same filter results on PostgreSQL and SQLite where the
default JSON key lookups differ:

- a JSON ``null`` counts as empty for ``isnull`` (the default only sees missing keys);
- range operators never match a JSON ``null`` (PostgreSQL orders ``null`` below every
  number and string, SQLite's ``'null'`` text above them);
- ``nin`` keeps empty values, like ``ne`` does;
- ``between`` is ``[low, high]``, both ends included;
- ``contains`` and ``startswith`` are case-sensitive on the text value everywhere (on a
  JSON key the default ``contains`` is JSON containment on PostgreSQL and unsupported on
  SQLite, and SQLite's ``LIKE`` ignores ASCII case).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from typing import Any

from django.db.models import Q, Value
from django.db.models.fields.json import KT
from django.db.models.functions import StrIndex, Substr
from django.db.models.lookups import Exact, GreaterThan

from dajian.builder.fields.base import FieldType, FieldValueError
from dajian.platform.errors import ErrorDetail

EQUALITY_OPS = frozenset({"eq", "ne", "in", "nin", "isnull"})
RANGE_OPS = EQUALITY_OPS | {"lt", "lte", "gt", "gte", "between"}
TEXT_OPS = EQUALITY_OPS | {"contains", "icontains", "startswith"}


class ScalarFilters(FieldType):
    """Mixin (put it before the base type) with portable filter SQL; see the module."""

    def filter_q(self, op: str, value: Any) -> Q:
        lookup = self.lookup
        json_null = Q(**{lookup: None})
        if op == "isnull":
            empty = Q(**{f"{lookup}__isnull": True}) | json_null
            present = Q(**{f"{lookup}__isnull": False}) & ~json_null
            return empty if value else present
        if op == "nin":
            return ~Q(**{f"{lookup}__in": list(value)}) | self.filter_q("isnull", True)
        if op in ("lt", "lte", "gt", "gte"):
            return Q(**{f"{lookup}__{op}": value}) & ~json_null
        if op == "between":
            low, high = value
            return Q(**{f"{lookup}__gte": low, f"{lookup}__lte": high}) & ~json_null
        if op == "contains":
            return Q(GreaterThan(StrIndex(KT(lookup), Value(value)), 0))
        if op == "startswith":
            return Q(Exact(Substr(KT(lookup), 1, len(value)), Value(value)))
        return super().filter_q(op, value)

    def filter_value(self, op: str, value: Any) -> Any:
        if op == "between":
            if not isinstance(value, list | tuple) or len(value) != 2:
                raise FieldValueError("INVALID_VALUE", "'between' takes [low, high].")
            return [self.clean(value[0]), self.clean(value[1])]
        return super().filter_value(op, value)


def halfwidth(text: str) -> str:
    """Full-width digits, letters and punctuation (U+FF11 "1", U+FF0C ",") as ASCII; trimmed."""
    return unicodedata.normalize("NFKC", text).strip()


def field_index(form_definition: Mapping[str, Any], key: str) -> int:
    """The position of field ``key`` in the form definition (for error paths)."""
    for i, f in enumerate(form_definition.get("fields", [])):
        if isinstance(f, Mapping) and f.get("key") == key:
            return i
    return 0


def definition_error(
    form_definition: Mapping[str, Any], key: str, option: str, code: str, message: str
) -> ErrorDetail:
    """A problem of one option of field ``key``: path ``fields.<i>.<option>``."""
    path = f"fields.{field_index(form_definition, key)}.{option}"
    return ErrorDetail(code=code, message=message, field="fields", path=path)
