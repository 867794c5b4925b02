"""A member of the workspace (one, or several with ``multiple``).

:class:`UserField` is also the base of the other id-valued types (``department``,
``relation``): they differ only in the Relay type name of their ids, the reference kind
checked by the runtime and their UI hints.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, ClassVar

from django.db import NotSupportedError
from django.db.models import BooleanField, F, Func, Q

from dajian.builder.fields.base import (
    FieldType,
    FieldValueError,
    Reference,
    definition_path,
    global_id,
    parse_ref,
)
from dajian.builder.fields.registry import register
from dajian.platform.errors import ErrorDetail

_CELL_SEPARATORS = re.compile("[\\s,;\uff0c\uff1b\u3001]+")  # also full-width , ; and 、


class JsonArrayHas(Func):
    """True when the JSON array ``data -> key`` holds ``item`` (one SQL condition on
    PostgreSQL and SQLite, usable in ``Q(...)``)."""

    output_field = BooleanField()

    def __init__(self, key: str, item: int):
        super().__init__(F("data"))
        self.json_key = key
        self.item = item

    def as_sql(self, compiler, connection, **extra):  # type: ignore[no-untyped-def]
        raise NotSupportedError(f"JSON array search is not implemented for {connection.vendor}")

    def as_sqlite(self, compiler, connection, **extra):  # type: ignore[no-untyped-def]
        data_sql, params = compiler.compile(self.source_expressions[0])
        sql = f"EXISTS (SELECT 1 FROM json_each({data_sql}, %s) WHERE json_each.value = %s)"
        return sql, (*params, f'$."{self.json_key}"', self.item)

    def as_postgresql(self, compiler, connection, **extra):  # type: ignore[no-untyped-def]
        data_sql, params = compiler.compile(self.source_expressions[0])
        sql = f"COALESCE(({data_sql} -> %s) @> %s::jsonb, false)"
        return sql, (*params, self.json_key, json.dumps([self.item]))


def empty_q(lookup: str) -> Q:
    """The key is missing, JSON null or an empty list."""
    return Q(**{f"{lookup}__isnull": True}) | Q(**{lookup: None}) | Q(**{lookup: []})


def ids_to_cell(value: Any) -> Any:
    """Ids in one spreadsheet cell: ``"3, 8"``."""
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return value


def ids_from_cell(cell: Any, multiple: bool) -> Any:
    """Ids from a cell separated by commas, semicolons, spaces or their full-width forms;
    ``clean`` then checks them like API values."""
    if isinstance(cell, float) and cell.is_integer():
        cell = int(cell)
    if isinstance(cell, str):
        parts = [p for p in _CELL_SEPARATORS.split(cell.strip()) if p]
        if multiple:
            return parts
        return parts[0] if len(parts) == 1 else cell
    if multiple and cell is not None and not isinstance(cell, list):
        return [cell]
    return cell


@register
class UserField(FieldType):
    """A user id (``multiple``: a list of user ids, in the order given, without repeats).

    Clients may send ints, digit strings or Relay global ids (``User:5``); the API returns
    global ids. Options: ``multiple`` (bool), ``max_items`` (only with ``multiple``,
    default 50). Codes: ``INVALID_TYPE``, ``INVALID_REFERENCE``, ``TOO_MANY_ITEMS``.
    Filters: ``eq`` (single: is; multiple: includes), ``in`` (is / includes any of),
    ``isnull``. Not sortable: ids have no meaningful order.
    """

    type = "user"
    label = {"zh-CN": "成员", "en": "User"}
    cel_type = "int"
    can_sort = False
    filter_ops = frozenset({"eq", "in", "isnull"})
    options_schema = {
        "type": "object",
        "properties": {
            "multiple": {"type": "boolean"},
            "max_items": {"type": "integer", "minimum": 1, "maximum": 500},
        },
    }
    # The Relay type of the ids and the kind of :class:`Reference` the runtime checks.
    node_type: ClassVar[str] = "User"
    reference_kind: ClassVar[str] = "user"
    widget: ClassVar[str] = "user-picker"
    default_max_items: ClassVar[int] = 50

    def __init__(self, definition: Mapping[str, Any]):
        super().__init__(definition)
        self.multiple = bool(definition.get("multiple", False))
        self.max_items = int(definition.get("max_items", self.default_max_items))
        self.cel_type = "list(int)" if self.multiple else "int"  # type: ignore[misc]

    # --- definition --------------------------------------------------------------------
    def check_definition(self, form_definition: Mapping[str, Any]) -> list[ErrorDetail]:
        if "max_items" in self.definition and not self.multiple:
            path = f"{definition_path(form_definition, self.key)}.max_items"
            return [
                ErrorDetail(
                    code="INVALID_OPTION",
                    message="max_items needs multiple: true.",
                    field="fields",
                    path=path,
                )
            ]
        return []

    # --- values ------------------------------------------------------------------------
    def json_schema(self) -> dict[str, Any]:
        one = {"type": ["integer", "string"], "minimum": 1, "minLength": 1, "maxLength": 200}
        if self.multiple:
            return {"type": "array", "items": one, "maxItems": self.max_items}
        return one

    def ui_hints(self) -> dict[str, Any]:
        hints: dict[str, Any] = {"widget": self.widget, "multiple": self.multiple}
        if self.multiple:
            hints["maxItems"] = self.max_items
        return hints

    def clean(self, value: Any) -> Any:
        if not self.multiple:
            if isinstance(value, list | dict):
                raise FieldValueError("INVALID_TYPE", f"Expected one {self.node_type} id.")
            return parse_ref(value, self.node_type)
        if not isinstance(value, list):
            raise FieldValueError("INVALID_TYPE", f"Expected a list of {self.node_type} ids.")
        ids: list[int] = []
        for i, item in enumerate(value):
            try:
                ref = parse_ref(item, self.node_type)
            except FieldValueError as exc:
                raise FieldValueError(exc.code, exc.message, path=str(i)) from None
            if ref not in ids:
                ids.append(ref)
        if len(ids) > self.max_items:
            raise FieldValueError(
                "TOO_MANY_ITEMS", f"At most {self.max_items} items.", max_items=self.max_items
            )
        return ids

    def ids(self, value: Any) -> tuple[int, ...]:
        """The ids of a cleaned value."""
        if value is None:
            return ()
        return tuple(value) if isinstance(value, list) else (value,)

    def references(self, value: Any) -> list[Reference]:
        return [Reference(self.reference_kind, self.ids(value))]

    def to_api(self, value: Any) -> Any:
        if isinstance(value, list):
            return [global_id(self.node_type, v) for v in value]
        return global_id(self.node_type, value)

    def to_cel(self, value: Any) -> Any:
        return list(value) if isinstance(value, list) else value

    # --- SQL ---------------------------------------------------------------------------
    def filter_value(self, op: str, value: Any) -> Any:
        if op == "isnull":
            return bool(value)
        if op == "in":
            if not isinstance(value, list):
                raise FieldValueError("INVALID_TYPE", "Expected a list of ids.")
            return [parse_ref(v, self.node_type) for v in value]
        return parse_ref(value, self.node_type)

    def filter_q(self, op: str, value: Any) -> Q:
        if op == "isnull":
            return empty_q(self.lookup) if value else ~empty_q(self.lookup)
        if not self.multiple:
            return super().filter_q(op, value)
        if op == "eq":
            return Q(JsonArrayHas(self.key, value))
        if op == "in":
            q = Q()
            for item in value:
                q |= Q(JsonArrayHas(self.key, item))
            return q if value else Q(pk__in=[])
        raise ValueError(f"unsupported operator {op}")

    # --- spreadsheets ------------------------------------------------------------------
    def to_cell(self, value: Any) -> Any:
        return ids_to_cell(value)

    def from_cell(self, cell: Any) -> Any:
        return ids_from_cell(cell, self.multiple)

    def example_value(self, faker: Any) -> Any:
        # Ids of real rows cannot be known here; demo data assigns them itself.
        return None
