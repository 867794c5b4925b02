"""The measures of a widget, one class per ``function``.

A measure contributes SQL aggregates to the widget's one grouped query as *partials*
that add up (a sum and a count for an average, numerator and denominator counts for a
ratio), so groups that ``org_unit`` merges in Python stay exact; then it turns partials
into its value and gives the drill-down filters of each figure. ``avg_stage_hours``
reads the stage history in a query of its own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any, ClassVar

from django.db.models import (
    Aggregate,
    Count,
    DateTimeField,
    FloatField,
    Func,
    IntegerField,
    Max,
    Min,
    Q,
    QuerySet,
    Sum,
    Value,
)
from django.db.models.expressions import Star
from django.db.models.functions import Coalesce

from dajian.builder.fields.base import FieldType
from dajian.builder.filters import pin_filter
from dajian.builder.metadata.workflow import WorkflowDefinition
from dajian.platform.i18n import localize
from dajian.runtime.dashboards.groups import and_filters
from dajian.runtime.dashboards.labels import text
from dajian.runtime.dashboards.sources import Source
from dajian.runtime.models import StageEntry

Partial = dict[str, Any]
DECIMALS = 6


def rounded(value: Any) -> float | None:
    """A figure as JSON: floats rounded to 6 decimals, so the record and the fact paths
    (doubles vs. decimals) agree to the last digit shown."""
    if value is None:
        return None
    return round(float(value), DECIMALS)


def _add(a: Any, b: Any) -> Any:
    if a is None:
        return b
    if b is None:
        return a
    return a + b


def _aggregate(cls: type[Aggregate], expression: Any, condition: Q) -> Aggregate:
    return cls(expression, filter=condition) if condition else cls(expression)


class CountRows(Aggregate):
    """``COUNT(*)``, with ``FILTER (WHERE …)`` when given a condition: rows, without
    testing a column for NULL on each (Django's ``Count("*")`` refuses a filter). Where
    the database has no FILTER clause it counts a CASE of the condition."""

    function = "COUNT"
    name = "CountRows"
    output_field = IntegerField()
    empty_result_set_value = 0

    def __init__(self, filter: Q | None = None):
        super().__init__(Star(), filter=filter)

    def as_sql(self, compiler, connection, **extra):  # type: ignore[no-untyped-def]
        if self.filter is not None and not connection.features.supports_aggregate_filter_clause:
            condition, params = compiler.compile(self.filter)
            return f"COUNT(CASE WHEN {condition} THEN 1 END)", params
        return super().as_sql(compiler, connection, **extra)


def _count(condition: Q) -> Aggregate:
    """The number of rows meeting ``condition`` (all rows when it is empty)."""
    return CountRows(filter=condition) if condition else CountRows()


class Measure:
    """One entry of a widget's ``measures``."""

    functions: ClassVar[tuple[str, ...]] = ()
    separate: ClassVar[bool] = False  # computed by a query of its own
    default_format: ClassVar[str] = "number"

    def __init__(
        self,
        spec: Mapping[str, Any],
        index: int,
        path: str,
        source: Source,
        field_type: FieldType | None,
    ):
        self.spec = spec
        self.key: str = spec["key"]
        self.function: str = spec["function"]
        self.alias = f"m{index}"
        self.path = path
        self.source = source
        self.field_type = field_type
        self.condition = source.filter(spec.get("filter"), f"{path}.filter")
        self.pinned = self.pin(spec.get("filter"))

    def pin(self, raw: Mapping[str, Any] | None) -> dict[str, Any]:
        return pin_filter(self.source.definition, raw, now=self.source.now, zone=self.source.zone)

    @property
    def label(self) -> str:
        if self.spec.get("label"):
            return localize(self.spec["label"])
        field = localize(self.field_type.definition.get("label")) if self.field_type else ""
        return text(self.function, field=field)

    @property
    def format(self) -> str:
        if self.field_type is not None and self.field_type.type in ("money", "percent"):
            return self.field_type.type
        return self.default_format

    def describe(self, widget_format: str | None) -> dict[str, Any]:
        return {"key": self.key, "label": self.label, "format": widget_format or self.format}

    # --- SQL and partials -----------------------------------------------------------------
    def aggregates(self) -> dict[str, Aggregate]:
        raise NotImplementedError

    def partial(self, row: Mapping[str, Any]) -> Partial:
        """This measure's partials out of a row of the grouped query."""
        prefix = f"{self.alias}_"
        return {k[len(prefix) :]: v for k, v in row.items() if k.startswith(prefix)}

    def merge(self, a: Partial, b: Partial) -> Partial:
        return {k: _add(a.get(k), b.get(k)) for k in set(a) | set(b)}

    def value(self, partial: Partial | None) -> Any:
        raise NotImplementedError

    # --- drill-down ------------------------------------------------------------------------
    def drills(
        self, widget_filter: Mapping[str, Any], groups: Sequence[Mapping[str, Any]]
    ) -> dict[str, dict[str, Any]]:
        """Filters of the records behind one figure (``drill``; a ratio also has
        ``drill_numerator``): the widget's filter, the group's, the measure's."""
        return {"drill": and_filters([widget_filter, *groups, self.pinned])}


class CountMeasure(Measure):
    functions = ("count",)

    def aggregates(self) -> dict[str, Aggregate]:
        return {f"{self.alias}_n": _count(self.condition)}

    def value(self, partial: Partial | None) -> int:
        return int((partial or {}).get("n") or 0)


class FieldMeasure(Measure):
    """``sum``, ``avg``, ``min`` and ``max`` of a number field."""

    functions = ("sum", "avg", "min", "max")

    def aggregates(self) -> dict[str, Aggregate]:
        value = self.source.number(self.spec["field"])
        alias, condition = self.alias, self.condition
        if self.function == "sum":
            return {f"{alias}_s": _aggregate(Sum, value, condition)}
        if self.function == "avg":
            return {
                f"{alias}_s": _aggregate(Sum, value, condition),
                f"{alias}_c": _aggregate(Count, value, condition),
            }
        cls = Min if self.function == "min" else Max
        return {f"{alias}_v": _aggregate(cls, value, condition)}

    def merge(self, a: Partial, b: Partial) -> Partial:
        if self.function in ("min", "max"):
            values = [v for v in (a.get("v"), b.get("v")) if v is not None]
            pick = min if self.function == "min" else max
            return {"v": pick(values) if values else None}
        return super().merge(a, b)

    def value(self, partial: Partial | None) -> float | None:
        partial = partial or {}
        if self.function == "sum":
            return rounded(partial.get("s") or 0)
        if self.function == "avg":
            count = partial.get("c") or 0
            return rounded(Decimal(str(partial["s"])) / count) if count else None
        return rounded(partial.get("v"))


class RatioMeasure(Measure):
    """count(numerator) / count(denominator), both within the widget's records."""

    functions = ("ratio",)
    default_format = "percent"

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        parts = {}
        for part in ("numerator", "denominator"):
            raw = self.spec[part].get("filter")
            parts[part] = (
                self.source.filter(raw, f"{self.path}.{part}.filter"),
                self.pin(raw),
            )
        self.numerator, self.denominator = parts["numerator"], parts["denominator"]

    @property
    def format(self) -> str:
        return "percent"

    def aggregates(self) -> dict[str, Aggregate]:
        return {
            f"{self.alias}_num": _count(self.condition & self.numerator[0]),
            f"{self.alias}_den": _count(self.condition & self.denominator[0]),
        }

    def value(self, partial: Partial | None) -> float | None:
        partial = partial or {}
        denominator = partial.get("den") or 0
        return rounded((partial.get("num") or 0) / denominator) if denominator else None

    def counts(self, partial: Partial | None) -> dict[str, int]:
        partial = partial or {}
        return {"numerator": partial.get("num") or 0, "denominator": partial.get("den") or 0}

    def drills(
        self, widget_filter: Mapping[str, Any], groups: Sequence[Mapping[str, Any]]
    ) -> dict[str, dict[str, Any]]:
        base = [widget_filter, *groups, self.pinned]
        return {
            "drill": and_filters([*base, self.denominator[1]]),
            "drill_numerator": and_filters([*base, self.numerator[1]]),
        }


class FilledMeasure(Measure):
    """The share of the listed fields that hold a value, over the records (R30)."""

    functions = ("filled",)
    default_format = "percent"

    @property
    def format(self) -> str:
        return "percent"

    def aggregates(self) -> dict[str, Aggregate]:
        out = {f"{self.alias}_n": _count(self.condition)}
        for i, key in enumerate(self.spec["fields"]):
            filled = self.condition & ~self.source.empty(key)
            out[f"{self.alias}_f{i}"] = _count(filled)
        return out

    def value(self, partial: Partial | None) -> float | None:
        partial = partial or {}
        records = partial.get("n") or 0
        if not records:
            return None
        filled = sum(partial.get(f"f{i}") or 0 for i in range(len(self.spec["fields"])))
        return rounded(filled / (records * len(self.spec["fields"])))


class HoursBetween(Func):
    """Hours from the first moment to the second, as a float, on both databases."""

    output_field = FloatField()

    def as_postgresql(self, compiler, connection, **extra):  # type: ignore[no-untyped-def]
        start, params_a = compiler.compile(self.source_expressions[0])
        end, params_b = compiler.compile(self.source_expressions[1])
        return f"(EXTRACT(EPOCH FROM ({end}) - ({start})) / 3600.0)", (*params_b, *params_a)

    def as_sqlite(self, compiler, connection, **extra):  # type: ignore[no-untyped-def]
        start, params_a = compiler.compile(self.source_expressions[0])
        end, params_b = compiler.compile(self.source_expressions[1])
        return f"((julianday({end}) - julianday({start})) * 24.0)", (*params_b, *params_a)


class StageHoursMeasure(Measure):
    """Average hours the widget's records spent in each stage (a record's stays in a
    stage add up; the current stay counts until now; terminal stages have none)."""

    functions = ("avg_stage_hours",)
    separate = True
    default_format = "hours"

    @property
    def format(self) -> str:
        return "hours"

    def compute(self, rows: QuerySet[Any], workflow: WorkflowDefinition) -> dict[Any, Partial]:
        """``{stage: partial}`` over ``rows`` (the widget's records): one query."""
        open_stages = [s.key for s in workflow.stages if not s.terminal]
        ids = rows.filter(self.condition).values("pk")
        now = Value(self.source.now, output_field=DateTimeField())
        hours = HoursBetween("entered_at", Coalesce("exited_at", now))
        found = (
            StageEntry.objects.filter(record_id__in=ids, stage__in=open_stages)
            .values("stage")
            .annotate(h=Sum(hours), n=Count("record_id", distinct=True))
            .order_by()
        )
        return {row["stage"]: {"h": row["h"], "n": row["n"]} for row in found}

    def aggregates(self) -> dict[str, Aggregate]:
        return {}

    def value(self, partial: Partial | None) -> float | None:
        partial = partial or {}
        records = partial.get("n") or 0
        return rounded(partial["h"] / records) if records else None

    def stage_drills(
        self, widget_filter: Mapping[str, Any], stage: str | None
    ) -> dict[str, dict[str, Any]]:
        entered = {"field": "stage", "op": "entered", "value": stage} if stage else None
        return {"drill": and_filters([widget_filter, self.pinned, entered])}


MEASURES: dict[str, type[Measure]] = {
    function: cls
    for cls in (CountMeasure, FieldMeasure, RatioMeasure, FilledMeasure, StageHoursMeasure)
    for function in cls.functions
}


def build_measure(spec: Mapping[str, Any], index: int, path: str, source: Source) -> Measure:
    field_type = source.definition.field_types.get(spec.get("field", ""))
    return MEASURES[spec["function"]](spec, index, path, source, field_type)


__all__ = ["MEASURES", "Measure", "build_measure", "rounded"]
