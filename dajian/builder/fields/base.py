"""The field-type contract (one subclass per type, one module per subclass).

A field type knows, for the values of one field definition:
- its JSON Schema fragment (:meth:`json_schema`) and the schema of its own options on the
  definition (:attr:`options_schema`);
- UI hints for the generated form (:meth:`ui_hints`);
- how to normalise a value or refuse it with a coded error (:meth:`clean`);
- which other rows a value points at (:meth:`references`), checked in one query per kind;
- its typed CEL value (:meth:`to_cel`) and CEL type name (:attr:`cel_type`);
- its SQL: filter conditions, sort and aggregate expressions on the record's ``data``;
- spreadsheet cell in/out and an example value for demo data.

Capability flags: ``can_filter``, ``can_sort``, ``can_aggregate``, ``read_only`` (the value
is computed, never written by users) and ``stored`` (False for values computed at read time,
such as rollups).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from django.db.models import Expression, F, Q, Value
from django.db.models.fields.json import KT, KeyTransform
from django.db.models.functions import StrIndex, Substr
from django.db.models.lookups import Exact, GreaterThan
from graphql_relay import from_global_id, to_global_id

from dajian.platform.errors import ErrorDetail


class FieldValueError(Exception):
    """A value refused by a field type. ``path`` is relative to the field (``2.qty``)."""

    def __init__(self, code: str, message: str, path: str | None = None, **params: Any):
        self.code = code
        self.message = message
        self.path = path
        self.params = params
        super().__init__(message)


@dataclass(frozen=True)
class Reference:
    """Ids a value points at: ``kind`` is ``user``, ``org_unit``, ``attachment`` or
    ``record`` (then ``target`` is the related form's key)."""

    kind: str
    ids: tuple[int, ...]
    target: str | None = None
    path: str | None = None
    # For attachments: the accepted ``Attachment.kind`` values (None = any).
    accept: frozenset[str] | None = None


def parse_ref(value: Any, type_name: str) -> int:
    """An id from an int, a digit string or a Relay global id of ``type_name``.

    Raises :class:`FieldValueError` (``INVALID_REFERENCE``) for anything else.
    """
    if isinstance(value, bool):
        raise FieldValueError("INVALID_REFERENCE", f"Expected a {type_name} id.")
    if isinstance(value, int) and value > 0:
        return value
    if isinstance(value, str):
        if value.isdigit() and len(value) < 19:
            return int(value)
        try:
            kind, raw = from_global_id(value)
        except Exception:  # noqa: BLE001 - any undecodable id is simply invalid
            kind, raw = "", ""
        if kind == type_name and raw.isdigit() and len(raw) < 19:
            return int(raw)
    raise FieldValueError("INVALID_REFERENCE", f"Expected a {type_name} id.")


def global_id(type_name: str, pk: int) -> str:
    return to_global_id(type_name, pk)


def definition_path(form_definition: Mapping[str, Any], key: str) -> str:
    """``fields.<i>`` of the field ``key`` in a form definition (for error paths)."""
    for i, f in enumerate(form_definition.get("fields", [])):
        if isinstance(f, Mapping) and f.get("key") == key:
            return f"fields.{i}"
    return "fields"


def definition_error(
    form_definition: Mapping[str, Any], key: str, option: str, code: str, message: str
) -> ErrorDetail:
    """A problem of one option of field ``key``: path ``fields.<i>.<option>``."""
    path = f"{definition_path(form_definition, key)}.{option}"
    return ErrorDetail(code=code, message=message, field="fields", path=path)


class FieldType:
    """Base of every field type. Subclasses set ``type`` and override what differs."""

    type: ClassVar[str] = ""
    label: ClassVar[Mapping[str, str]] = {}
    cel_type: ClassVar[str] = "dyn"
    can_filter: ClassVar[bool] = True
    can_sort: ClassVar[bool] = True
    can_aggregate: ClassVar[bool] = False
    read_only: ClassVar[bool] = False
    stored: ClassVar[bool] = True
    # True when ``clean`` checks the JSON shape itself and reports every problem (composite
    # types such as subtables): the runtime then skips its JSON Schema pass for the field.
    clean_checks_shape: ClassVar[bool] = False
    filter_ops: ClassVar[frozenset[str]] = frozenset({"eq", "ne", "in", "nin", "isnull"})
    # JSON Schema (2020-12) of the type-specific keys of a field definition.
    options_schema: ClassVar[dict[str, Any]] = {}

    def __init__(self, definition: Mapping[str, Any]):
        self.definition = definition
        self.key: str = definition["key"]

    # --- definition --------------------------------------------------------------------
    def check_definition(self, form_definition: Mapping[str, Any]) -> list[ErrorDetail]:
        """Semantic checks beyond ``options_schema`` (references to other fields...)."""
        return []

    # --- values -----------------------------------------------------------------------
    def json_schema(self) -> dict[str, Any]:
        """JSON Schema of a (non-null) value of this field."""
        return {}

    def ui_hints(self) -> dict[str, Any]:
        """Widget and display hints for the generated form."""
        return {"widget": self.type}

    def clean(self, value: Any) -> Any:
        """Return the normalised value or raise :class:`FieldValueError`.

        Called after JSON Schema validation passed; ``None`` never reaches it.
        """
        return value

    def references(self, value: Any) -> list[Reference]:
        """Other rows this (cleaned) value points at."""
        return []

    def to_api(self, value: Any) -> Any:
        """The stored value as API clients see it (e.g. ids as Relay global ids)."""
        return value

    def to_cel(self, value: Any) -> Any:
        """The value as the CEL activation needs it (ints stay ints, money is a double,
        datetimes are timestamps)."""
        return value

    def empty(self, value: Any) -> bool:
        """Whether the value counts as missing for ``required``."""
        return value is None or value == "" or value == [] or value == {}

    # --- SQL ---------------------------------------------------------------------------
    @property
    def lookup(self) -> str:
        """The Django lookup path of this field's value on a record."""
        return f"data__{self.key}"

    def sql_value(self) -> Expression:
        """The JSON value of this field (used for filters and indexes)."""
        return KeyTransform(self.key, "data")

    def sql_text(self) -> Expression:
        """The value as text (``data ->> key``)."""
        return KT(f"data__{self.key}")

    def filter_q(self, op: str, value: Any) -> Q:
        """The SQL condition for ``op`` (already checked against ``filter_ops``).

        Written to give the same rows on PostgreSQL and SQLite: a JSON ``null`` counts as
        empty for ``isnull``; range operators never match an empty value; ``ne`` and
        ``nin`` keep empty values; ``between`` includes both ends; ``contains`` and
        ``startswith`` are case-sensitive substring tests on the text value (on a JSON
        key Django's own ``contains`` is JSON containment on PostgreSQL and unsupported on
        SQLite, and SQLite's ``LIKE`` ignores ASCII case).
        """
        lookup = self.lookup
        json_null = Q(**{lookup: None})
        if op == "isnull":
            empty = Q(**{f"{lookup}__isnull": True}) | json_null
            return empty if value else ~empty
        if op == "eq":
            return Q(**{lookup: value})
        if op == "ne":
            return ~Q(**{lookup: value}) | self.filter_q("isnull", True)
        if op == "in":
            return Q(**{f"{lookup}__in": list(value)})
        if op == "nin":
            return ~Q(**{f"{lookup}__in": list(value)}) | self.filter_q("isnull", True)
        if op in ("lt", "lte", "gt", "gte"):
            return Q(**{f"{lookup}__{op}": value}) & ~json_null
        if op == "between":
            low, high = value
            return Q(**{f"{lookup}__gte": low, f"{lookup}__lte": high}) & ~json_null
        if op == "contains":
            return Q(GreaterThan(StrIndex(KT(lookup), Value(value)), 0))
        if op == "icontains":
            return Q(**{f"{lookup}__icontains": value})
        if op == "startswith":
            return Q(Exact(Substr(KT(lookup), 1, len(value)), Value(value)))
        raise ValueError(f"unsupported operator {op}")

    def filter_value(self, op: str, value: Any) -> Any:
        """Normalise a filter operand like a stored value (``clean`` by default)."""
        if op == "isnull":
            return bool(value)
        if op in ("in", "nin"):
            return [self.clean(v) for v in value]
        if op == "between":
            if not isinstance(value, list | tuple) or len(value) != 2:
                raise FieldValueError("INVALID_VALUE", "'between' takes [low, high].")
            return [self.clean(value[0]), self.clean(value[1])]
        return self.clean(value)

    def sort_expression(self) -> Expression | F:
        return KeyTransform(self.key, "data")

    def aggregate_expression(self) -> Expression:
        """A numeric SQL expression to aggregate (``can_aggregate`` types only)."""
        raise NotImplementedError

    # --- spreadsheets and demo data ----------------------------------------------------------
    def to_cell(self, value: Any) -> Any:
        return value

    def from_cell(self, cell: Any) -> Any:
        return cell

    def example_value(self, faker: Any) -> Any:
        return None
