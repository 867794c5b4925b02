"""The structured JSON filter language (DESIGN §3), compiled to one SQL condition.

    filter    := {"and": [filter, ...]} | {"or": [filter, ...]} | {"not": filter} | condition
    condition := {"field": <field key or system field>, "op": <operator>, "value": <json>}

Operators per field come from the field type's ``filter_ops``; values are normalised by
the field type exactly like stored values, so ``"eq"`` on a phone field matches however
the number was typed. System fields: ``id``, ``stage``, ``status``, ``owner``,
``created_by``, ``created_at``, ``updated_at``, ``version``. Limits: nesting depth 6 and
100 conditions; hidden fields (by permission) cannot be filtered on.

Dates and date-times also take a value relative to the moment the filter is compiled:
``{"ago": {"hours": 48}}`` or ``{"ahead": {"days": 60}}`` (days, hours, minutes), so a
saved view or a scheduled automation ("not updated for 48 hours") means the same thing
every day. A date field compares with the local date of that moment.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from dajian.builder.definitions import FormDefinition
from dajian.builder.fields.base import FieldValueError, parse_ref
from dajian.platform.errors import DajianError, ErrorDetail

MAX_DEPTH = 6
MAX_CONDITIONS = 100

_ORDERED = frozenset({"eq", "ne", "in", "nin", "lt", "lte", "gt", "gte", "isnull"})
# system field → (column, operators, value parser)
_SYSTEM: dict[str, tuple[str, frozenset[str], str]] = {
    "id": ("pk", frozenset({"eq", "ne", "in", "nin"}), "record"),
    "stage": ("stage", frozenset({"eq", "ne", "in", "nin", "isnull"}), "text"),
    "status": ("status", frozenset({"eq", "ne", "in", "nin"}), "text"),
    "owner": ("owner_id", frozenset({"eq", "ne", "in", "nin", "isnull"}), "user"),
    "created_by": ("created_by_id", frozenset({"eq", "ne", "in", "nin"}), "user"),
    "created_at": ("created_at", _ORDERED - {"isnull"}, "datetime"),
    "updated_at": ("updated_at", _ORDERED - {"isnull"}, "datetime"),
    "version": ("version", _ORDERED - {"isnull"}, "int"),
}


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
) -> Q:
    """The ``Q`` for ``filter`` on records of ``definition``; raises :class:`DajianError`
    listing every problem (paths like ``filter.and.1.value``)."""
    if not isinstance(definition, FormDefinition):
        definition = FormDefinition(definition)
    if filter is None or filter == {}:
        return Q()
    compiler = _Compiler(definition, hidden, now or timezone.now())
    q = compiler.node(filter, path, 1)
    if compiler.errors:
        raise DajianError(compiler.errors)
    return q


class _Compiler:
    def __init__(self, definition: FormDefinition, hidden: frozenset[str], now: datetime):
        self.definition = definition
        self.hidden = hidden
        self.now = now
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
        extra = set(node) - {"field", "op", "value"}
        if extra or not isinstance(node.get("field"), str) or not isinstance(node.get("op"), str):
            return self.fail(
                FilterErrorCode.INVALID_FILTER,
                "A condition is {field, op, value}.",
                path,
            )
        key, op, value = node["field"], node["op"], node.get("value")
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
        if key in _SYSTEM:
            return self.system(key, op, value, path)
        field_type = self.definition.field_types.get(key)
        if field_type is None or key in self.hidden:
            return self.fail(FilterErrorCode.UNKNOWN_FIELD, f"No field {key!r}.", f"{path}.field")
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
        return field_type.filter_q(op, cleaned)

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
        if key in ("created_at", "updated_at"):
            return moment.isoformat()
        field_type = self.definition.field_types.get(key)
        kind = None
        if field_type is not None:
            kind = field_type.definition.get("result_type") or field_type.type
        if kind == "date":
            return timezone.localtime(moment).date().isoformat()
        if kind == "datetime":
            return moment.isoformat()
        self.fail(FilterErrorCode.INVALID_VALUE, "Relative values apply to dates and times.", path)
        return None

    def system(self, key: str, op: str, value: Any, path: str) -> Q:
        column, ops, kind = _SYSTEM[key]
        if op not in ops:
            return self.fail(
                FilterErrorCode.UNSUPPORTED_OPERATOR,
                f"{key!r} cannot be filtered with {op!r}.",
                f"{path}.op",
            )
        if op == "isnull":
            return Q(**{f"{column}__isnull": bool(value)})
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
        return Q(**{f"{column}__{op}": cleaned})


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
