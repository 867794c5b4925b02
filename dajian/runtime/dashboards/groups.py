"""The dimensions a widget groups by (``group_by`` items), one class per kind.

A dimension gives the SQL expression of its group key, turns what the database returns
into a key (``decode``), and for a key: its API form (global ids for people, units and
records), its label in the viewer's language, its place in the natural order, and the
filter that selects exactly its records (the drill-down). Grouping by ``org_unit`` groups
by owner in SQL and maps owners to their units here (``remap``), over the groups only.
Grouping by a relation loads the related records' titles for the groups shown only
(``load_labels``, called by the widget's shape once it knows them).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any, ClassVar

from django.db.models import (
    Case,
    DateField,
    Expression,
    F,
    FloatField,
    Func,
    IntegerField,
    Q,
    Value,
    When,
)
from django.db.models.functions import Trunc
from django.db.models.lookups import IsNull, LessThan

from dajian.builder.fields.base import FieldType, global_id
from dajian.builder.filters import cyclic_expression, field_kind
from dajian.builder.metadata.workflow import WorkflowDefinition
from dajian.builder.models import Form
from dajian.platform.actors import Actor
from dajian.platform.i18n import current_locale, localize
from dajian.runtime.dashboards.labels import Labels, text
from dajian.runtime.dashboards.sources import Source
from dajian.runtime.models import RecordStatus

Key = Any
WEEKDAYS = {
    "zh-CN": ["周一", "周二", "周三", "周四", "周五", "周六", "周日"],
    "en": ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"],
}
TRUNCATED = ("day", "week", "month", "quarter", "year")


def _sort_none_last(value: Any) -> tuple[int, Any]:
    return (1, "") if value is None else (0, value)


class Dimension:
    """One ``group_by`` item of a widget."""

    # Keys listed even when no record has them (weekdays, hours): heatmap axes.
    complete: ClassVar[bool] = False
    # Labels read only for the keys whose labels are used (the groups shown, or all of
    # them when they are ordered by label): :meth:`load_labels` is called once with those.
    deferred_labels: ClassVar[bool] = False

    def __init__(self, spec: Mapping[str, Any], labels: Labels):
        self.spec = spec
        self.field: str = spec["field"]
        self.labels = labels

    def expression(self, source: Source) -> Expression | F:
        raise NotImplementedError

    def decode(self, raw: Any) -> Key:
        return raw

    def remap(self, keys: Iterable[Key]) -> None:
        """Load what ``decode`` and the labels need for these raw values as the database
        returned them (a query at most)."""

    def load_labels(self, keys: Iterable[Key]) -> None:
        """Load the labels of these keys (a query at most): see ``deferred_labels``."""

    def api_key(self, key: Key) -> Any:
        return key

    def label(self, key: Key) -> str:
        return text("empty") if key is None else str(key)

    def order(self, key: Key) -> Any:
        return _sort_none_last(key)

    def drill(self, key: Key) -> dict[str, Any]:
        if key is None:
            return {"field": self.field, "op": "isnull", "value": True}
        return {"field": self.field, "op": "eq", "value": self.api_key(key)}

    def all_keys(self) -> list[Key]:
        return []

    def describe(self, title: str) -> dict[str, Any]:
        out = {"field": self.field, "label": title}
        for option in ("bucket", "bins"):
            if option in self.spec:
                out[option] = self.spec[option]
        return out


def _number(raw: Any) -> int | float | None:
    if raw is None:
        return None
    value = float(Decimal(str(raw)))
    return int(value) if value.is_integer() else value


class ValueDimension(Dimension):
    """A field's stored value: choices, text, yes/no, a person, an org unit, a number."""

    def __init__(self, spec: Mapping[str, Any], labels: Labels, field_type: FieldType):
        super().__init__(spec, labels)
        self.field_type = field_type
        self.kind = field_kind(field_type)

    def expression(self, source: Source) -> Expression | F:
        return source.value(self.field)

    def decode(self, raw: Any) -> Key:
        if raw is None:
            return None
        if self.kind == "boolean":
            return raw in (True, 1, "true")
        if self.kind in ("user", "department"):
            return int(raw)
        if self.field_type.can_aggregate:
            return _number(raw)
        return str(raw)

    def remap(self, keys: Iterable[Key]) -> None:
        if self.kind == "user":
            self.labels.load_users(int(k) for k in keys if k is not None)
        elif self.kind == "department":
            self.labels.load_units(int(k) for k in keys if k is not None)

    def api_key(self, key: Key) -> Any:
        if key is not None and self.kind in ("user", "department"):
            return global_id("User" if self.kind == "user" else "OrgUnit", key)
        return key

    def label(self, key: Key) -> str:
        if key is None:
            return text("empty")
        if self.kind == "single_select":
            return self.field_type.label_of(key)  # type: ignore[attr-defined,no-any-return]
        if self.kind == "boolean":
            return text("yes" if key else "no")
        if self.kind == "user":
            return self.labels.user(key)
        if self.kind == "department":
            return self.labels.unit(key)
        return str(key)

    def order(self, key: Key) -> Any:
        if self.kind == "single_select":
            values = self.field_type.values  # type: ignore[attr-defined]
            return (0, values.index(key)) if key in values else (1, 0)
        if self.kind in ("user", "department"):
            return _sort_none_last(None if key is None else self.label(key))
        return _sort_none_last(key)


class RelationDimension(Dimension):
    """A single relation: the related record (key: its id; in the API its global id),
    labelled with the record's title as the viewer may see it — ``#<id>`` when the
    record is outside their read scope, gone, or has no title they may see
    (:meth:`Labels.load_records`). Titles are read in one query, for the groups shown.
    Ordered by title (records named by id after the titled ones, the empty group last)."""

    deferred_labels = True

    def __init__(
        self,
        spec: Mapping[str, Any],
        labels: Labels,
        actor: Actor,
        target: Callable[[], Form | None],
    ):
        super().__init__(spec, labels)
        self.actor = actor
        self.target = target  # the related form, looked up only when titles are needed
        self.form: Form | None = None

    def expression(self, source: Source) -> Expression | F:
        return source.value(self.field)

    def decode(self, raw: Any) -> Key:
        return None if raw is None else int(raw)

    def load_labels(self, keys: Iterable[Key]) -> None:
        ids = [k for k in keys if k is not None]
        if ids:
            self.form = self.target()
            self.labels.load_records(self.actor, self.form, ids)

    def title(self, key: int) -> str | None:
        return None if self.form is None else self.labels.record(self.form.pk, key)

    def api_key(self, key: Key) -> Any:
        return None if key is None else global_id("Record", key)

    def label(self, key: Key) -> str:
        if key is None:
            return text("empty")
        return self.title(key) or f"#{key}"

    def order(self, key: Key) -> Any:
        if key is None:
            return (2, "")
        title = self.title(key)
        return (0, title) if title else (1, key)


class BinsDimension(Dimension):
    """A number in ranges: ``< b1``, ``b1–b2`` … ``≥ bn`` (keys 0…n)."""

    def __init__(self, spec: Mapping[str, Any], labels: Labels):
        super().__init__(spec, labels)
        self.bins: list[float] = list(spec["bins"])

    def expression(self, source: Source) -> Expression:
        value = source.number(self.field)
        whens = [When(IsNull(value, True), then=Value(None))]
        whens += [When(LessThan(value, Value(b)), then=Value(i)) for i, b in enumerate(self.bins)]
        return Case(*whens, default=Value(len(self.bins)), output_field=IntegerField())

    def decode(self, raw: Any) -> Key:
        return None if raw is None else int(raw)

    def label(self, key: Key) -> str:
        if key is None:
            return text("empty")
        bins = [_number(b) for b in self.bins]
        if key == 0:
            return f"< {bins[0]}"
        if key == len(bins):
            return f"≥ {bins[-1]}"
        return f"{bins[key - 1]}–{bins[key]}"

    def drill(self, key: Key) -> dict[str, Any]:
        if key is None:
            return super().drill(None)
        low = None if key == 0 else self.bins[key - 1]
        high = None if key == len(self.bins) else self.bins[key]
        parts = []
        if low is not None:
            parts.append({"field": self.field, "op": "gte", "value": low})
        if high is not None:
            parts.append({"field": self.field, "op": "lt", "value": high})
        return parts[0] if len(parts) == 1 else {"and": parts}


class LocalDateBucket(Func):
    """PostgreSQL: the bucket of a fact's local date column (``created_on``, ``d1_on``…)
    with no time-zone conversion: the date itself (day), ``date_trunc`` of it as a
    timestamp without zone (week to year: the bucket's first day at midnight), or the
    ISO weekday by day arithmetic (0001-01-01 was a Monday)."""

    output_field = DateField()

    def __init__(self, column: str, bucket: str):
        super().__init__(F(column))
        self.bucket = bucket

    def as_sql(self, compiler, connection, **extra):  # type: ignore[no-untyped-def]
        sql, params = compiler.compile(self.source_expressions[0])
        if self.bucket == "day":
            return sql, params
        if self.bucket == "weekday":
            return f"((({sql} - DATE '0001-01-01') %% 7 + 7) %% 7 + 1)", params
        return f"date_trunc('{self.bucket}', {sql}::timestamp)", params


class LocalHour(Func):
    """PostgreSQL: the hour (0–23) of a fact's instant in a time zone, as ``date_part``'s
    float rather than ``EXTRACT``'s slower numeric."""

    output_field = FloatField()

    def __init__(self, expression: Expression | F, zone: dt.tzinfo):
        super().__init__(expression)
        self.zone_name = str(getattr(zone, "key", zone))

    def as_sql(self, compiler, connection, **extra):  # type: ignore[no-untyped-def]
        sql, params = compiler.compile(self.source_expressions[0])
        return f"date_part('hour', {sql} AT TIME ZONE %s)", (*params, self.zone_name)


class BucketDimension(Dimension):
    """A moment's (or date's) day, week, month, quarter or year in the workspace's time
    zone (keys: the local date the bucket starts), or its weekday (1 = Monday) or hour."""

    def __init__(
        self,
        spec: Mapping[str, Any],
        labels: Labels,
        zone: dt.tzinfo,
        kind: str,
    ):
        super().__init__(spec, labels)
        self.bucket: str = spec["bucket"]
        self.zone = zone
        self.kind = kind  # "date" or "datetime" (system times are datetimes)
        self.complete = self.bucket in ("weekday", "hour")  # type: ignore[misc]

    def _zone_for(self, source: Source) -> dt.tzinfo | None:
        # A stored date has no zone; a promoted date is its local midnight in the zone.
        if self.kind == "date" and not (source.columns and self.field in source.columns):
            return None
        return self.zone

    def expression(self, source: Source) -> Expression:
        if source.is_facts:
            local = source.local_date(self.field) if self.bucket != "hour" else None
            if local is not None:
                return LocalDateBucket(local, self.bucket)
            if self.bucket == "hour":
                return LocalHour(source.instant(self.field), self.zone)
        moment = source.instant(self.field)
        zone = self._zone_for(source)
        if self.bucket in TRUNCATED:
            return Trunc(moment, self.bucket, output_field=DateField(), tzinfo=zone)
        return cyclic_expression(self.bucket, moment, zone, zone is None)

    def decode(self, raw: Any) -> Key:
        if raw is None:
            return None
        if self.bucket in TRUNCATED:
            if isinstance(raw, dt.datetime):  # date_trunc of a local date: its midnight
                raw = raw.date()
            return raw.isoformat() if isinstance(raw, dt.date) else str(raw)[:10]
        return int(raw)

    def label(self, key: Key) -> str:
        if key is None:
            return text("empty")
        if self.bucket == "weekday":
            return WEEKDAYS["en" if current_locale() == "en" else "zh-CN"][key - 1]
        if self.bucket == "hour":
            return f"{key:02d}:00"
        day = dt.date.fromisoformat(key)
        if self.bucket == "week":
            year, week, _ = day.isocalendar()
            return f"{year}-W{week:02d}"
        if self.bucket == "month":
            return f"{day.year}-{day.month:02d}"
        if self.bucket == "quarter":
            return f"{day.year}-Q{(day.month - 1) // 3 + 1}"
        if self.bucket == "year":
            return str(day.year)
        return key  # type: ignore[no-any-return]

    def all_keys(self) -> list[Key]:
        if self.bucket == "weekday":
            return list(range(1, 8))
        if self.bucket == "hour":
            return list(range(24))
        return []

    def _end(self, start: dt.date) -> dt.date:
        if self.bucket == "day":
            return start + dt.timedelta(days=1)
        if self.bucket == "week":
            return start + dt.timedelta(days=7)
        months = {"month": 1, "quarter": 3, "year": 12}[self.bucket]
        index = start.year * 12 + start.month - 1 + months
        return dt.date(index // 12, index % 12 + 1, 1)

    def drill(self, key: Key) -> dict[str, Any]:
        if key is None:
            return super().drill(None)
        if not self.complete:
            start = dt.date.fromisoformat(key)
            end = self._end(start)
            if self.kind == "date":
                low, high = start.isoformat(), end.isoformat()
            else:
                low, high = (
                    dt.datetime.combine(d, dt.time(), self.zone).isoformat() for d in (start, end)
                )
            return {
                "and": [
                    {"field": self.field, "op": "gte", "value": low},
                    {"field": self.field, "op": "lt", "value": high},
                ]
            }
        condition = {"field": self.field, "op": self.bucket, "value": key}
        if self.kind != "date":
            condition["zone"] = getattr(self.zone, "key", str(self.zone))
        return condition


class StageDimension(Dimension):
    """The record's current stage, in the workflow's order (every stage listed)."""

    complete = True

    def __init__(self, spec: Mapping[str, Any], labels: Labels, workflow: WorkflowDefinition):
        super().__init__(spec, labels)
        self.workflow = workflow
        self.keys = [s.key for s in workflow.stages]

    def expression(self, source: Source) -> F:
        return F("stage")

    def label(self, key: Key) -> str:
        stage = self.workflow.stage_map.get(key) if key is not None else None
        if stage is None:
            return text("no_stage") if key is None else str(key)
        return localize(stage.label) or stage.key

    def order(self, key: Key) -> Any:
        return (0, self.keys.index(key)) if key in self.keys else (1, str(key))

    def all_keys(self) -> list[Key]:
        return list(self.keys)


class StatusDimension(Dimension):
    """The record's status: active, in approval, frozen."""

    complete = True
    ORDER: ClassVar[list[str]] = [s.value for s in RecordStatus]

    def expression(self, source: Source) -> F:
        return F("status")

    def label(self, key: Key) -> str:
        return text(f"status_{key}") if key in self.ORDER else str(key)

    def order(self, key: Key) -> Any:
        return (0, self.ORDER.index(key)) if key in self.ORDER else (1, str(key))

    def all_keys(self) -> list[Key]:
        return list(self.ORDER)


class OwnerDimension(Dimension):
    """The record's owner (None: the public pool)."""

    def expression(self, source: Source) -> F:
        return F("owner_id")

    def remap(self, keys: Iterable[Key]) -> None:
        self.labels.load_users([int(k) for k in keys if k is not None])

    def api_key(self, key: Key) -> Any:
        return None if key is None else global_id("User", key)

    def label(self, key: Key) -> str:
        return text("no_owner") if key is None else self.labels.user(key)

    def order(self, key: Key) -> Any:
        return _sort_none_last(None if key is None else self.label(key))


class OrgUnitDimension(Dimension):
    """The owner's org unit (their membership's). SQL groups by owner; ``decode`` maps
    each owner to the unit after :meth:`remap` loaded the memberships."""

    def expression(self, source: Source) -> F:
        return F("owner_id")

    def remap(self, keys: Iterable[Key]) -> None:
        self.labels.load_memberships([int(k) for k in keys if k is not None])

    def decode(self, raw: Any) -> Key:
        return None if raw is None else self.labels.unit_of(int(raw))

    def api_key(self, key: Key) -> Any:
        return None if key is None else global_id("OrgUnit", key)

    def label(self, key: Key) -> str:
        return text("no_unit") if key is None else self.labels.unit(key)

    def order(self, key: Key) -> Any:
        return _sort_none_last(None if key is None else self.label(key))

    def drill(self, key: Key) -> dict[str, Any]:
        """Owners in exactly this unit: in it, not in any of its sub-units; for no unit,
        owners in none of the workspace's top units (or no owner at all)."""
        if key is None:
            roots = self.labels.root_units()
            if not roots:
                return {}
            value = [global_id("OrgUnit", r) for r in roots]
            return {"not": {"field": "owner", "op": "in_unit", "value": value}}
        inside = {"field": "owner", "op": "in_unit", "value": global_id("OrgUnit", key)}
        children = self.labels.children(key)
        if not children:
            return inside
        below = [global_id("OrgUnit", c) for c in children]
        return {"and": [inside, {"not": {"field": "owner", "op": "in_unit", "value": below}}]}


def and_filters(parts: Sequence[Mapping[str, Any] | None]) -> dict[str, Any]:
    """The conjunction of the non-empty ``parts`` ({} when none)."""
    present = [dict(p) for p in parts if p]
    if not present:
        return {}
    if len(present) == 1:
        return present[0]
    return {"and": present}


def owner_present() -> dict[str, Any]:
    return {"field": "owner", "op": "isnull", "value": False}


def q_and(*parts: Q) -> Q:
    out = Q()
    for part in parts:
        out &= part
    return out
