"""The structured JSON filter language (DESIGN §3), compiled to one SQL condition.

    filter    := {"and": [filter, ...]} | {"or": [filter, ...]} | {"not": filter} | condition
    condition := {"field": <field key or system field>, "op": <operator>, "value": <json>}

Operators per field come from the field type's ``filter_ops``; values are normalised by
the field type exactly like stored values, so ``"eq"`` on a phone field matches however
the number was typed. System fields: ``id``, ``stage``, ``status``, ``owner``,
``created_by``, ``created_at``, ``updated_at``, ``version``, and — unless the form has a
field of that key — ``stage_entered_at`` and ``flags``. Limits: nesting depth 6 and 100
conditions; hidden fields (by permission) cannot be filtered on.

Dates and date-times also take a value relative to the moment the filter is compiled:
``{"ago": {"hours": 48}}`` or ``{"ahead": {"days": 60}}`` (days, hours, minutes), so a
saved view or a scheduled automation ("not updated for 48 hours") means the same thing
every day. A date field compares with the local date of that moment.

Operators that dashboards' drill-downs need (docs/dashboards.md):

- ``{"field": "owner", "op": "in_unit", "value": <OrgUnit id or list of ids>}``: the
  owner is a member of that org unit or one of its sub-units (in the record's workspace);
- ``{"field": "created_at" | "updated_at" | "stage_entered_at" | <date or date-time
  field>, "op": "weekday" | "hour", "value": n, "zone": "Asia/Shanghai"}``: the ISO
  weekday (1 = Monday … 7 = Sunday) or the hour (0–23) of the moment in ``zone`` (an
  IANA name; default the current time zone, which runs in the workspace's); dates have
  a weekday but no hour and no zone;
- ``{"field": "flags", "op": "contains" | "ncontains", "value": "pending_verification"}``;
- ``{"field": "stage", "op": "entered", "value": <stage key>}``: the record has been in
  that stage at some time (registered by the runtime, which keeps the stage history:
  :func:`register_system_op`).

``compile_filter(..., columns={"region": "t1", ...})`` compiles the same filter onto rows
whose field values are typed columns (the promoted facts of dashboards) instead of the
``data`` JSON: the conditions mean the same on both.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db.models import (
    BooleanField,
    DateField,
    DateTimeField,
    Exists,
    Expression,
    F,
    Func,
    OuterRef,
    Q,
    Value,
)
from django.db.models.fields.json import KT
from django.db.models.functions import ExtractHour, ExtractIsoWeekDay, StrIndex, Substr
from django.db.models.lookups import Exact, GreaterThan
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from dajian.builder.definitions import FormDefinition
from dajian.builder.fields.base import FieldType, FieldValueError, parse_ref
from dajian.platform.errors import DajianError, ErrorDetail
from dajian.platform.models import Membership

MAX_DEPTH = 6
MAX_CONDITIONS = 100
MAX_UNITS = 100

_ORDERED = frozenset({"eq", "ne", "in", "nin", "lt", "lte", "gt", "gte", "isnull"})
_CYCLIC = frozenset({"weekday", "hour"})
# system field → (column, operators, value parser)
_SYSTEM: dict[str, tuple[str, frozenset[str], str]] = {
    "id": ("pk", frozenset({"eq", "ne", "in", "nin"}), "record"),
    "stage": ("stage", frozenset({"eq", "ne", "in", "nin", "isnull"}), "text"),
    "status": ("status", frozenset({"eq", "ne", "in", "nin"}), "text"),
    "owner": ("owner_id", frozenset({"eq", "ne", "in", "nin", "isnull", "in_unit"}), "user"),
    "created_by": ("created_by_id", frozenset({"eq", "ne", "in", "nin"}), "user"),
    "created_at": ("created_at", (_ORDERED - {"isnull"}) | _CYCLIC, "datetime"),
    "updated_at": ("updated_at", (_ORDERED - {"isnull"}) | _CYCLIC, "datetime"),
    "version": ("version", _ORDERED - {"isnull"}, "int"),
    "stage_entered_at": ("stage_entered_at", _ORDERED | _CYCLIC, "datetime"),
    "flags": ("flags", frozenset({"contains", "ncontains"}), "text"),
}
# System names added after forms could already use them as field keys: a field wins.
_YIELDING = frozenset({"stage_entered_at", "flags"})
DATE_SYSTEM_FIELDS = frozenset({"created_at", "updated_at", "stage_entered_at"})

# (system field, operator) → builds the condition from the value and the row's pk column.
SystemOp = Callable[[Any], Q]
_system_ops: dict[tuple[str, str], SystemOp] = {}


def register_system_op(field: str, op: str, build: SystemOp) -> None:
    """Add operator ``op`` on system field ``field``, compiled by ``build(value)`` (the
    runtime registers ``stage entered``: the builder cannot read stage history)."""
    _system_ops[(field, op)] = build


class FilterErrorCode:
    INVALID_FILTER = "INVALID_FILTER"
    UNKNOWN_FIELD = "UNKNOWN_FIELD"
    UNSUPPORTED_OPERATOR = "UNSUPPORTED_OPERATOR"
    INVALID_VALUE = "INVALID_VALUE"
    LIMIT_EXCEEDED = "LIMIT_EXCEEDED"


def compile_filter(
    definition: FormDefinition | Mapping[str, Any],
    filter: Mapping[str, Any] | None,
    *,
    hidden: frozenset[str] = frozenset(),
    path: str = "filter",
    now: datetime | None = None,
    zone: dt.tzinfo | None = None,
    columns: Mapping[str, str] | None = None,
) -> Q:
    """The ``Q`` for ``filter`` on records of ``definition``; raises :class:`DajianError`
    listing every problem (paths like ``filter.and.1.value``). ``zone`` is the time zone
    of ``weekday`` / ``hour`` conditions without their own (default: the current one);
    ``columns`` maps field keys to typed columns of the rows filtered (see the module
    docstring)."""
    if not isinstance(definition, FormDefinition):
        definition = FormDefinition(definition)
    if filter is None or filter == {}:
        return Q()
    compiler = _Compiler(
        definition, hidden, now or timezone.now(), zone or timezone.get_current_timezone(), columns
    )
    q = compiler.node(filter, path, 1)
    if compiler.errors:
        raise DajianError(compiler.errors)
    return q


def pin_filter(
    definition: FormDefinition | Mapping[str, Any],
    filter: Mapping[str, Any] | None,
    *,
    now: datetime | None = None,
    zone: dt.tzinfo | None = None,
) -> dict[str, Any]:
    """``filter`` with every relative value replaced by the moment (or date) it means at
    ``now`` and every ``weekday`` / ``hour`` of a moment given its ``zone``: the same
    records whenever and wherever it is compiled again (a drill-down behind a figure).
    The filter must compile (:func:`compile_filter`)."""
    if not isinstance(definition, FormDefinition):
        definition = FormDefinition(definition)
    if not filter:
        return {}
    zone = zone or timezone.get_current_timezone()
    compiler = _Compiler(definition, frozenset(), now or timezone.now(), zone, None)
    return compiler.pin(filter)  # type: ignore[no-any-return]


def field_kind(field_type: FieldType) -> str:
    """The type a field's values have: a formula's result type, else the field's type."""
    if field_type.type == "formula":
        return str(field_type.definition.get("result_type", "number"))
    return field_type.type


def is_system_field(definition: FormDefinition, key: str) -> bool:
    """Whether ``key`` names a system column in filters on ``definition``'s records."""
    return key in _SYSTEM and not (key in _YIELDING and key in definition.field_types)


# --- time expressions shared with dashboards ------------------------------------------------


class JsonInstant(Func):
    """A date-time field's stored UTC text (``2026-01-05T09:30:00Z``) as a timestamp, so
    the database's date functions (truncation, weekday, hour in a zone) apply to it."""

    output_field = DateTimeField()

    def __init__(self, key: str):
        super().__init__(KT(f"data__{key}"))

    def as_postgresql(self, compiler, connection, **extra):  # type: ignore[no-untyped-def]
        sql, params = compiler.compile(self.source_expressions[0])
        return f"({sql})::timestamptz", params

    def as_sqlite(self, compiler, connection, **extra):  # type: ignore[no-untyped-def]
        # Django's SQLite date functions parse "YYYY-MM-DD HH:MM:SS" (UTC here).
        sql, params = compiler.compile(self.source_expressions[0])
        return f"REPLACE(REPLACE({sql}, 'T', ' '), 'Z', '')", params


class JsonDate(Func):
    """A date field's stored text (``2026-01-05``) as a date."""

    output_field = DateField()

    def __init__(self, key: str):
        super().__init__(KT(f"data__{key}"))

    def as_postgresql(self, compiler, connection, **extra):  # type: ignore[no-untyped-def]
        sql, params = compiler.compile(self.source_expressions[0])
        return f"({sql})::date", params

    def as_sqlite(self, compiler, connection, **extra):  # type: ignore[no-untyped-def]
        return compiler.compile(self.source_expressions[0])


class JsonListHas(Func):
    """True when the JSON list in ``column`` (e.g. a record's ``flags``) holds ``item``;
    one condition on PostgreSQL and SQLite."""

    output_field = BooleanField()

    def __init__(self, column: str, item: str):
        super().__init__(F(column))
        self.item = item

    def as_postgresql(self, compiler, connection, **extra):  # type: ignore[no-untyped-def]
        import json

        sql, params = compiler.compile(self.source_expressions[0])
        return f"COALESCE({sql} @> %s::jsonb, false)", (*params, json.dumps([self.item]))

    def as_sqlite(self, compiler, connection, **extra):  # type: ignore[no-untyped-def]
        sql, params = compiler.compile(self.source_expressions[0])
        return (
            f"EXISTS (SELECT 1 FROM json_each({sql}) WHERE json_each.value = %s)",
            (*params, self.item),
        )


def instant_expression(
    key: str, definition: FormDefinition, columns: Mapping[str, str] | None = None
) -> Expression | F:
    """The moment or date of a system time (``created_at``…), a date-time or a date
    field, typed for the database's date functions."""
    if key in DATE_SYSTEM_FIELDS and is_system_field(definition, key):
        return F(key)
    if columns is not None and key in columns:
        return F(columns[key])
    field_type = definition.field_types[key]
    return JsonDate(key) if field_kind(field_type) == "date" else JsonInstant(key)


def cyclic_expression(
    op: str, expression: Expression | F, zone: dt.tzinfo | None, is_date: bool
) -> Expression:
    """ISO weekday (1 = Monday) or hour of ``expression``; in ``zone`` unless a date."""
    if op == "weekday":
        return ExtractIsoWeekDay(expression, tzinfo=None if is_date else zone)
    return ExtractHour(expression, tzinfo=zone)


# --- compiling ------------------------------------------------------------------------------


class _Compiler:
    def __init__(
        self,
        definition: FormDefinition,
        hidden: frozenset[str],
        now: datetime,
        zone: dt.tzinfo,
        columns: Mapping[str, str] | None,
    ):
        self.definition = definition
        self.hidden = hidden
        self.now = now
        self.zone = zone
        self.columns = columns
        self.errors: list[ErrorDetail] = []
        self.count = 0

    def fail(self, code: str, message: str, path: str) -> Q:
        self.errors.append(ErrorDetail(code=code, message=message, field="filter", path=path))
        return Q()

    def node(self, node: Any, path: str, depth: int) -> Q:
        if depth > MAX_DEPTH:
            return self.fail(FilterErrorCode.LIMIT_EXCEEDED, "Filter nested too deeply.", path)
        if not isinstance(node, Mapping):
            return self.fail(FilterErrorCode.INVALID_FILTER, "A filter is an object.", path)
        if "and" in node or "or" in node:
            op = "and" if "and" in node else "or"
            items = node[op]
            if len(node) != 1 or not isinstance(items, list) or not items:
                return self.fail(
                    FilterErrorCode.INVALID_FILTER, f"{op!r} takes a non-empty list.", path
                )
            parts = [self.node(item, f"{path}.{op}.{i}", depth + 1) for i, item in enumerate(items)]
            q = parts[0]
            for part in parts[1:]:
                q = (q & part) if op == "and" else (q | part)
            return q
        if "not" in node:
            if len(node) != 1:
                return self.fail(FilterErrorCode.INVALID_FILTER, "'not' stands alone.", path)
            return ~self.node(node["not"], f"{path}.not", depth + 1)
        return self.condition(node, path)

    def condition(self, node: Mapping[str, Any], path: str) -> Q:
        self.count += 1
        if self.count > MAX_CONDITIONS:
            return self.fail(
                FilterErrorCode.LIMIT_EXCEEDED, f"At most {MAX_CONDITIONS} conditions.", path
            )
        extra = set(node) - {"field", "op", "value", "zone"}
        if extra or not isinstance(node.get("field"), str) or not isinstance(node.get("op"), str):
            return self.fail(
                FilterErrorCode.INVALID_FILTER,
                "A condition is {field, op, value}.",
                path,
            )
        key, op, value = node["field"], node["op"], node.get("value")
        if "zone" in node and op not in _CYCLIC:
            return self.fail(
                FilterErrorCode.INVALID_FILTER, "Only weekday and hour take a zone.", f"{path}.zone"
            )
        if isinstance(value, Mapping) and _is_relative(value):
            value = self.relative(key, value, f"{path}.value")
            if value is None:
                return Q()
        if op in ("in", "nin") and not isinstance(value, list):
            return self.fail(
                FilterErrorCode.INVALID_VALUE, f"{op!r} takes a list.", f"{path}.value"
            )
        if op in ("in", "nin") and isinstance(value, list) and len(value) > 500:
            return self.fail(FilterErrorCode.LIMIT_EXCEEDED, "At most 500 values.", f"{path}.value")
        if is_system_field(self.definition, key):
            return self.system(key, op, value, node, path)
        field_type = self.definition.field_types.get(key)
        if field_type is None or key in self.hidden:
            return self.fail(FilterErrorCode.UNKNOWN_FIELD, f"No field {key!r}.", f"{path}.field")
        if op in _CYCLIC:
            return self.cyclic(key, node, path, field_type)
        if not field_type.can_filter or op not in field_type.filter_ops:
            return self.fail(
                FilterErrorCode.UNSUPPORTED_OPERATOR,
                f"Field {key!r} cannot be filtered with {op!r}.",
                f"{path}.op",
            )
        try:
            cleaned = field_type.filter_value(op, value) if value is not None else None
        except FieldValueError as exc:
            return self.fail(FilterErrorCode.INVALID_VALUE, exc.message, f"{path}.value")
        if cleaned is None and op != "isnull":
            return self.fail(FilterErrorCode.INVALID_VALUE, "A value is needed.", f"{path}.value")
        if self.columns is not None:
            column = self.columns.get(key)
            if column is None:
                return self.fail(
                    FilterErrorCode.UNKNOWN_FIELD, f"{key!r} has no column.", f"{path}.field"
                )
            return column_q(column, op, column_value(field_type, cleaned, self.zone))
        return field_type.filter_q(op, cleaned)

    def pin(self, node: Any) -> Any:
        if not isinstance(node, Mapping):
            return node
        if "and" in node or "or" in node:
            op = "and" if "and" in node else "or"
            return {op: [self.pin(item) for item in node[op]]}
        if "not" in node:
            return {"not": self.pin(node["not"])}
        pinned = dict(node)
        key = str(node.get("field"))
        if _is_relative(node.get("value")):
            pinned["value"] = self.relative(key, node["value"], "value")
        if node.get("op") in _CYCLIC and "zone" not in node:
            field = self.definition.field_types.get(key)
            if is_system_field(self.definition, key) or (
                field is not None and field_kind(field) == "datetime"
            ):
                pinned["zone"] = getattr(self.zone, "key", str(self.zone))
        return pinned

    def relative(self, key: str, value: Mapping[str, Any], path: str) -> str | None:
        """The ISO text of ``{"ago" | "ahead": duration}`` for a date or date-time field."""
        ((direction, amount),) = value.items()
        try:
            delta = timedelta(**{u: int(amount.get(u, 0)) for u in ("days", "hours", "minutes")})
        except (TypeError, ValueError, OverflowError):
            delta = None
        if delta is None or set(amount) - {"days", "hours", "minutes"}:
            self.fail(
                FilterErrorCode.INVALID_VALUE,
                "A relative value is {ago|ahead: {days, hours, minutes}}.",
                path,
            )
            return None
        moment = self.now - delta if direction == "ago" else self.now + delta
        if key in DATE_SYSTEM_FIELDS and is_system_field(self.definition, key):
            return moment.isoformat()
        field_type = self.definition.field_types.get(key)
        kind = field_kind(field_type) if field_type is not None else None
        if kind == "date":
            return timezone.localtime(moment).date().isoformat()
        if kind == "datetime":
            return moment.isoformat()
        self.fail(FilterErrorCode.INVALID_VALUE, "Relative values apply to dates and times.", path)
        return None

    def system(self, key: str, op: str, value: Any, node: Mapping[str, Any], path: str) -> Q:
        column, ops, kind = _SYSTEM[key]
        custom = _system_ops.get((key, op))
        if op not in ops and custom is None:
            return self.fail(
                FilterErrorCode.UNSUPPORTED_OPERATOR,
                f"{key!r} cannot be filtered with {op!r}.",
                f"{path}.op",
            )
        if custom is not None:
            if not isinstance(value, str) or not value:
                return self.fail(FilterErrorCode.INVALID_VALUE, "Expected text.", f"{path}.value")
            return custom(value)
        if op in _CYCLIC:
            return self.cyclic(key, node, path, None)
        if op == "isnull":
            return Q(**{f"{column}__isnull": bool(value)})
        if op == "in_unit":
            return self.in_unit(value, f"{path}.value")
        try:
            cleaned = (
                [_system_value(kind, v) for v in value]
                if op in ("in", "nin")
                else _system_value(kind, value)
            )
        except (ValueError, FieldValueError) as exc:
            return self.fail(FilterErrorCode.INVALID_VALUE, str(exc), f"{path}.value")
        if op == "eq":
            return Q(**{column: cleaned})
        if op == "ne":
            return ~Q(**{column: cleaned})
        if op == "nin":
            return ~Q(**{f"{column}__in": cleaned})
        if op == "contains":
            return Q(JsonListHas(column, str(cleaned)))
        if op == "ncontains":
            return ~Q(JsonListHas(column, str(cleaned)))
        return Q(**{f"{column}__{op}": cleaned})

    def in_unit(self, value: Any, path: str) -> Q:
        """Owners who are members of the units or their sub-units. A unit's path lists
        the ids of its ancestors and itself (``/1/4/9/``), so "under unit 4" is the
        members whose unit's path holds ``/4/`` — in the record's own workspace."""
        values = value if isinstance(value, list) else [value]
        if not values or len(values) > MAX_UNITS:
            return self.fail(
                FilterErrorCode.INVALID_VALUE, f"Give 1 to {MAX_UNITS} org units.", path
            )
        try:
            ids = [parse_ref(v, "OrgUnit") for v in values]
        except FieldValueError as exc:
            return self.fail(FilterErrorCode.INVALID_VALUE, exc.message, path)
        units = Q()
        for unit_id in ids:
            units |= Q(org_unit__path__contains=f"/{unit_id}/")
        members = Membership.objects.filter(
            units, workspace_id=OuterRef("workspace_id"), user_id=OuterRef("owner_id")
        )
        return Q(Exists(members))

    def cyclic(self, key: str, node: Mapping[str, Any], path: str, field: FieldType | None) -> Q:
        """``weekday`` (1–7, ISO) or ``hour`` (0–23) of a moment in a zone."""
        op, value = node["op"], node.get("value")
        kind = field_kind(field) if field is not None else "datetime"
        if kind not in ("date", "datetime") or (kind == "date" and op == "hour"):
            return self.fail(
                FilterErrorCode.UNSUPPORTED_OPERATOR,
                f"{key!r} cannot be filtered with {op!r}.",
                f"{path}.op",
            )
        low, high = (1, 7) if op == "weekday" else (0, 23)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            return self.fail(
                FilterErrorCode.INVALID_VALUE,
                f"Expected a whole number from {low} to {high}.",
                f"{path}.value",
            )
        zone = self.zone
        if "zone" in node:
            try:
                zone = ZoneInfo(str(node["zone"]))
            except (ZoneInfoNotFoundError, ValueError):
                return self.fail(
                    FilterErrorCode.INVALID_VALUE, "Unknown time zone.", f"{path}.zone"
                )
        promoted = self.columns is not None and key in self.columns
        if field is not None and self.columns is not None and not promoted:
            return self.fail(
                FilterErrorCode.UNKNOWN_FIELD, f"{key!r} has no column.", f"{path}.field"
            )
        expression = instant_expression(key, self.definition, self.columns)
        if kind == "date" and promoted:
            # a promoted date is the instant of its local midnight in the compile zone
            return Q(Exact(cyclic_expression(op, expression, self.zone, False), value))
        return Q(Exact(cyclic_expression(op, expression, zone, kind == "date"), value))


def column_q(column: str, op: str, value: Any) -> Q:
    """``op`` on a typed column, meaning what the field type's condition means on the
    JSON: empty values never match ranges, ``ne`` and ``nin`` keep them."""
    if op == "isnull":
        return Q(**{f"{column}__isnull": bool(value)})
    if op == "eq":
        return Q(**{column: value})
    if op == "ne":
        return ~Q(**{column: value}) | Q(**{f"{column}__isnull": True})
    if op == "in":
        return Q(**{f"{column}__in": list(value)})
    if op == "nin":
        return ~Q(**{f"{column}__in": list(value)}) | Q(**{f"{column}__isnull": True})
    if op in ("lt", "lte", "gt", "gte"):
        return Q(**{f"{column}__{op}": value})
    if op == "between":
        low, high = value
        return Q(**{f"{column}__gte": low, f"{column}__lte": high})
    if op == "contains":
        return Q(GreaterThan(StrIndex(F(column), Value(value)), 0))
    if op == "icontains":
        return Q(**{f"{column}__icontains": value})
    if op == "startswith":
        return Q(Exact(Substr(F(column), 1, len(value)), Value(value)))
    raise ValueError(f"unsupported operator {op}")


def column_value(field_type: FieldType, value: Any, zone: dt.tzinfo) -> Any:
    """A cleaned filter operand as its promoted column stores it (the facts of
    :mod:`dajian.runtime.dashboards.facts`): ids as text, a date as the instant of its
    local midnight in ``zone`` (the workspace's), date-times as instants."""
    if isinstance(value, list):
        return [column_value(field_type, v, zone) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    kind = field_kind(field_type)
    if kind == "date":
        day = dt.date.fromisoformat(value)
        return datetime(day.year, day.month, day.day, tzinfo=zone)
    if kind == "datetime":
        return datetime.fromisoformat(value)
    if isinstance(value, int) and field_type.type in ("user", "department", "relation"):
        return str(value)
    return value


def _is_relative(value: Any) -> bool:
    return (
        isinstance(value, Mapping)
        and len(value) == 1
        and next(iter(value)) in ("ago", "ahead")
        and isinstance(next(iter(value.values())), Mapping)
    )


def _system_value(kind: str, value: Any) -> Any:
    if kind == "record":
        return parse_ref(value, "Record")
    if kind == "user":
        return parse_ref(value, "User")
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError("Expected an integer.")
        return value
    if kind == "datetime":
        parsed = parse_datetime(value) if isinstance(value, str) else None
        if not isinstance(parsed, datetime) or parsed.tzinfo is None:
            raise ValueError("Expected an ISO-8601 date-time with a time zone.")
        return parsed
    if not isinstance(value, str):
        raise ValueError("Expected text.")
    return value
