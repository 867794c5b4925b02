"""Rollups: an aggregate of related records, computed in SQL when read (R1, R21).

"Visits of this customer in the last 30 days": the source form (visits) has a single
relation field pointing at this form (customers); the rollup is a correlated subquery
over the source records whose relation holds the outer record's id, optionally filtered
(the structured filter of DESIGN §3) and windowed in time. It is never stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import (
    Avg,
    Count,
    Expression,
    F,
    IntegerField,
    JSONField,
    Max,
    Min,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
)
from django.db.models.fields.json import (  # type: ignore[attr-defined]
    KeyTransform,
    compile_json_path,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from dajian.builder.fields import registry
from dajian.builder.fields.base import FieldType, FieldValueError, definition_path
from dajian.builder.fields.registry import register
from dajian.builder.fields.relation import RelationField
from dajian.platform.errors import DajianError, ErrorDetail

FUNCTIONS = ("count", "sum", "avg", "min", "max", "latest")
PERIODS = ("month",)
_PARENT = "_rollup_parent"


class JsonValue(KeyTransform):
    """``data -> key`` as JSON on SQLite too: Django's key transform returns strings
    unquoted there, which a subquery's JSON column cannot decode back (SQLite ≥ 3.38)."""

    def as_sqlite(self, compiler, connection):  # type: ignore[no-untyped-def]
        lhs, params, keys = self.preprocess_lhs(compiler, connection)
        return f"({lhs} -> %s)", (*params, compile_json_path(keys))


@register
class RollupField(FieldType):
    """A number or value aggregated from the records of another form of the app.

    Options: ``source: {"form", "field"}`` (``field`` is a single relation field of that
    form whose target is this form), ``function`` (count, sum, avg, min, max, latest),
    ``value_field`` (a source field; required except for count, where it counts the
    records that have a value; numeric for sum/avg), ``filter`` (structured filter on
    the source records), ``window: {"field": "created_at" or a date/datetime source
    field, "days": 1..3650}`` (the last ``days`` days up to now) or ``window: {"field",
    "period": "month"}`` (this calendar month: from 00:00 of its first day in the current
    time zone up to now). ``latest`` is the value of the most recent record (by
    ``created_at``) that has one. Empty sets give 0 for count and sum, null otherwise.

    Read it with :meth:`annotation`. Flags are off for filtering and sorting because the
    query must carry the annotation first; :attr:`alias`, :meth:`filter_q` and
    :meth:`sort_expression` work on a queryset annotated as ``{alias: annotation(...)}``.
    Definition codes: ``REQUIRED`` (value_field), ``ROLLUP_INVALID_SOURCE``,
    ``UNKNOWN_REFERENCE``, ``ROLLUP_NOT_NUMERIC``, ``ROLLUP_NOT_COMPARABLE``,
    ``ROLLUP_INVALID_WINDOW`` (a window field that is not a date, or both ``days`` and
    ``period``) and the filter's own codes.
    """

    type = "rollup"
    label = {"zh-CN": "汇总", "en": "Rollup"}
    cel_type = "dyn"
    read_only = True
    stored = False
    can_filter = False
    can_sort = False
    filter_ops = frozenset({"eq", "ne", "lt", "lte", "gt", "gte", "isnull"})
    options_schema = {
        "type": "object",
        "required": ["source", "function"],
        "properties": {
            "source": {
                "type": "object",
                "required": ["form", "field"],
                "additionalProperties": False,
                "properties": {"form": {"$ref": "#/$defs/key"}, "field": {"$ref": "#/$defs/key"}},
            },
            "function": {"enum": list(FUNCTIONS)},
            "value_field": {"$ref": "#/$defs/key"},
            "filter": {"type": "object"},
            "window": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "field": {"$ref": "#/$defs/key"},
                    "days": {"type": "integer", "minimum": 1, "maximum": 3650},
                    "period": {"enum": list(PERIODS)},
                },
                # days, unless the window is a calendar period (both: check_definition)
                "if": {"not": {"required": ["period"]}},
                "then": {"required": ["days"]},
            },
        },
    }

    def __init__(self, definition: Mapping[str, Any]):
        super().__init__(definition)
        self.source: Mapping[str, str] = definition["source"]
        self.function: str = definition["function"]
        self.value_field: str | None = definition.get("value_field")
        self.filter: Mapping[str, Any] | None = definition.get("filter") or None
        self.window: Mapping[str, Any] | None = definition.get("window")
        if self.function == "count":
            self.cel_type = "int"  # type: ignore[misc]
        elif self.function in ("sum", "avg"):
            self.cel_type = "double"  # type: ignore[misc]

    @property
    def alias(self) -> str:
        """The annotation name a queryset carries this rollup under."""
        return f"_rollup_{self.key}"

    # --- definition --------------------------------------------------------------------
    def check_definition(self, form_definition: Mapping[str, Any]) -> list[ErrorDetail]:
        """Checks that need only this form; :meth:`check_source` checks the rest (the
        source form belongs to the app, which the caller has)."""
        path = definition_path(form_definition, self.key)
        errors = []
        if self.window and "days" in self.window and "period" in self.window:
            errors.append(
                ErrorDetail(
                    code="ROLLUP_INVALID_WINDOW",
                    message="A window is the last N days or a calendar period, not both.",
                    field="fields",
                    path=f"{path}.window.period",
                )
            )
        if self.function != "count" and not self.value_field:
            errors.append(
                ErrorDetail(
                    code="REQUIRED",
                    message=f"{self.function} needs a value_field.",
                    field="fields",
                    path=f"{path}.value_field",
                )
            )
        elif self.source["form"] == form_definition.get("key"):
            errors.extend(self.check_source(form_definition, form_definition))
        return errors

    def check_source(
        self, form_definition: Mapping[str, Any], source_definition: Mapping[str, Any]
    ) -> list[ErrorDetail]:
        """Problems of the options against the source form's definition."""
        from dajian.builder.filters import compile_filter

        path = definition_path(form_definition, self.key)
        errors: list[ErrorDetail] = []

        def error(code: str, message: str, where: str) -> None:
            errors.append(ErrorDetail(code=code, message=message, field="fields", path=where))

        source_fields = {f["key"]: f for f in source_definition.get("fields", [])}
        relation = source_fields.get(self.source["field"])
        relation_type = registry.build(relation) if relation else None
        if (
            not isinstance(relation_type, RelationField)
            or relation_type.multiple
            or relation_type.target != form_definition.get("key")
        ):
            error(
                "ROLLUP_INVALID_SOURCE",
                f"{self.source['form']}.{self.source['field']} is not a single relation to "
                "this form.",
                f"{path}.source.field",
            )
        if self.value_field:
            value_def = source_fields.get(self.value_field)
            value_type = registry.build(value_def) if value_def else None
            where = f"{path}.value_field"
            if value_type is None or not value_type.stored:
                error("UNKNOWN_REFERENCE", f"No stored field {self.value_field!r}.", where)
            elif self.function in ("sum", "avg") and not value_type.can_aggregate:
                error("ROLLUP_NOT_NUMERIC", f"{self.function} needs a numeric field.", where)
            elif self.function in ("min", "max") and not (
                value_type.can_aggregate or value_type.can_sort
            ):
                error("ROLLUP_NOT_COMPARABLE", f"{self.function} needs an ordered field.", where)
        if self.window and _window_kind(self.window, source_fields) is None:
            error(
                "ROLLUP_INVALID_WINDOW",
                "The window's field is created_at or a date/datetime field of the source.",
                f"{path}.window.field",
            )
        if self.filter:
            try:
                compile_filter(source_definition, self.filter, path=f"{path}.filter")
            except DajianError as exc:
                for e in exc.errors:
                    error(e.code, e.message, e.path or f"{path}.filter")
        return errors

    # --- SQL ---------------------------------------------------------------------------
    def annotation(
        self,
        *,
        record_model: Any,
        source_form_id: int,
        source_definition: Mapping[str, Any],
        now: datetime,
        extra_q: Q | None = None,
    ) -> Expression | Subquery:
        """The rollup as a correlated subquery over ``record_model`` (the record table),
        for a queryset of this form's records: ``qs.annotate(**{f.alias: f.annotation(...)})``.

        ``extra_q`` is the rollup's ``filter`` already compiled (then it is not compiled
        again); without it the filter is compiled with ``builder.filters.compile_filter``.
        """
        source_fields = {f["key"]: f for f in source_definition.get("fields", [])}
        relation = registry.build(source_fields[self.source["field"]])
        assert isinstance(relation, RelationField)
        records = (
            record_model.objects.filter(form_id=source_form_id)
            .annotate(**{_PARENT: relation.sql_id()})
            .filter(**{_PARENT: OuterRef("pk")})
        )
        condition = extra_q
        if condition is None and self.filter:
            from dajian.builder.filters import compile_filter

            condition = compile_filter(source_definition, self.filter)
        if condition is not None:
            records = records.filter(condition)
        if self.window:
            records = records.filter(self._window_q(source_fields, now))
        records = records.order_by()

        value = registry.build(source_fields[self.value_field]) if self.value_field else None
        if self.function == "latest":
            assert value is not None
            newest = (
                records.filter(value.filter_q("isnull", False))
                .order_by("-created_at", "-pk")
                .annotate(_rollup_value=JsonValue(value.key, "data"))
                .values("_rollup_value")[:1]
            )
            return Subquery(newest, output_field=JSONField())
        if self.function == "count":
            if value is not None:
                records = records.filter(value.filter_q("isnull", False))
            grouped = records.values(_PARENT).annotate(_rollup_value=Count("pk"))
            return Coalesce(
                Subquery(grouped.values("_rollup_value")[:1]),
                Value(0),
                output_field=IntegerField(),
            )
        assert value is not None
        if self.function in ("sum", "avg") or value.can_aggregate:
            operand = value.aggregate_expression()
        else:
            operand = value.sql_text()  # dates and text compare as text
        aggregate = {"sum": Sum, "avg": Avg, "min": Min, "max": Max}[self.function](operand)
        grouped = records.values(_PARENT).annotate(_rollup_value=aggregate)
        subquery = Subquery(grouped.values("_rollup_value")[:1])
        if self.function == "sum":
            return Coalesce(subquery, Value(0.0), output_field=aggregate.output_field)
        return subquery

    def _window_q(self, source_fields: Mapping[str, Mapping[str, Any]], now: datetime) -> Q:
        assert self.window is not None
        kind = _window_kind(self.window, source_fields)
        key = self.window.get("field", "created_at")
        today = timezone.localtime(now).date()
        if "period" in self.window:  # "month": the only period
            first_day = today.replace(day=1)
            since = timezone.make_aware(datetime.combine(first_day, time.min))
        else:
            days = int(self.window["days"])
            first_day, since = today - timedelta(days=days), now - timedelta(days=days)
        if kind == "created_at":
            return Q(created_at__gte=since, created_at__lte=now)
        field_type = registry.build(source_fields[key])
        if kind == "date":
            low, high = first_day.isoformat(), today.isoformat()
        else:
            low, high = since.isoformat(), now.isoformat()
        after = field_type.filter_q("gte", field_type.filter_value("gte", low))
        return after & field_type.filter_q("lte", field_type.filter_value("lte", high))

    def filter_value(self, op: str, value: Any) -> Any:
        return bool(value) if op == "isnull" else self.clean(value)

    def filter_q(self, op: str, value: Any) -> Q:
        """A condition on a queryset annotated with this rollup under :attr:`alias`."""
        if op == "isnull":
            return Q(**{f"{self.alias}__isnull": bool(value)})
        if op == "ne":
            return ~Q(**{self.alias: value})
        lookup = self.alias if op == "eq" else f"{self.alias}__{op}"
        return Q(**{lookup: value})

    def sort_expression(self) -> Expression | F:
        return F(self.alias)

    # --- values ------------------------------------------------------------------------
    def clean(self, value: Any) -> Any:
        """Rollups are never written; this normalises filter operands."""
        numeric = self.function in ("count", "sum", "avg")
        if numeric and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise FieldValueError("INVALID_TYPE", "Expected a number.")
        return value

    def to_api(self, value: Any) -> Any:
        """Aggregates come back from SQL as ``Decimal`` for money sums; clients get JSON
        numbers (an int when the value is whole)."""
        if isinstance(value, Decimal):
            return int(value) if value == value.to_integral_value() else float(value)
        return value

    def to_cel(self, value: Any) -> Any:
        """Sums and averages are doubles in CEL (their ``cel_type``) even when the value
        is whole, so ``purchases_12m * 0.03`` works for 500,000 as for 500,000.5."""
        if self.function in ("sum", "avg") and isinstance(value, int | Decimal):
            return float(value)
        return value

    def json_schema(self) -> dict[str, Any]:
        if self.function == "count":
            return {"type": "integer", "minimum": 0}
        if self.function in ("sum", "avg"):
            return {"type": "number"}
        return {}

    def ui_hints(self) -> dict[str, Any]:
        return {"widget": "rollup", "function": self.function, "readOnly": True}


def _window_kind(
    window: Mapping[str, Any], source_fields: Mapping[str, Mapping[str, Any]]
) -> str | None:
    """``created_at``, ``date`` or ``datetime``: how the window's field is compared."""
    key = window.get("field", "created_at")
    if key == "created_at":
        return "created_at"
    spec = source_fields.get(key)
    if spec is None:
        return None
    kind = spec.get("result_type") if spec.get("type") == "formula" else spec.get("type")
    return kind if kind in ("date", "datetime") else None
