"""Where a widget's rows come from: the records (fields in the ``data`` JSON) or, on
PostgreSQL, the promoted facts of the form (fields in typed columns, DESIGN §4).

Both sources start from the viewer's read scope and give the same SQL vocabulary —
a field's numeric value, its groupable value, its moment, its emptiness, a compiled
filter — so a widget is one aggregate query whichever it reads, with the same result.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.models import Expression, F, Q, QuerySet
from django.db.models.fields.json import KT

from dajian.builder.definitions import FormDefinition
from dajian.builder.filters import compile_filter, instant_expression, is_system_field
from dajian.builder.models import Form
from dajian.platform.actors import Actor
from dajian.platform.permissions import Action
from dajian.runtime.dashboards import facts
from dajian.runtime.models import Record
from dajian.runtime.policies import policy_for


@dataclass
class Source:
    """The permitted rows of one form for one viewer, and how to read their fields:
    ``columns`` is None for records, else the promoted field → column map of facts."""

    rows: QuerySet[Any]
    definition: FormDefinition
    now: dt.datetime
    zone: dt.tzinfo
    hidden: frozenset[str]
    columns: Mapping[str, str] | None = None

    @property
    def is_facts(self) -> bool:
        return self.columns is not None

    def filter(self, raw: Mapping[str, Any] | None, path: str = "filter") -> Q:
        return compile_filter(
            self.definition,
            raw,
            hidden=self.hidden,
            path=path,
            now=self.now,
            zone=self.zone,
            columns=self.columns,
        )

    def number(self, key: str) -> Expression | F:
        """The field's numeric value, to sum, average or bin."""
        if self.columns is not None:
            return F(self.columns[key])
        return self.definition.field_types[key].aggregate_expression()

    def value(self, key: str) -> Expression | F:
        """The field's value as stored, to group by (text, ids, numbers, booleans)."""
        if self.columns is not None:
            return F(self.columns[key])
        return KT(f"data__{key}")

    def instant(self, key: str) -> Expression | F:
        """A system time's or a date / date-time field's moment, for buckets."""
        return instant_expression(key, self.definition, self.columns)

    def local_date(self, key: str) -> str | None:
        """The fact column holding the local date (workspace time zone) of a system time
        or a promoted date / date-time field (``created_on``, ``d1_on``…), or None (the
        records, or a time without one: ``updated_at``): day to weekday buckets read it
        instead of converting every row's instant."""
        if self.columns is None:
            return None
        if key == "created_at" and is_system_field(self.definition, key):
            return facts.LOCAL_DATES[key]
        slot = self.columns.get(key)
        return facts.LOCAL_DATES.get(slot) if slot is not None else None

    def empty(self, key: str) -> Q:
        """The field has no value (what the ``isnull`` filter means)."""
        if self.columns is not None:
            return Q(**{f"{self.columns[key]}__isnull": True})
        field_type = self.definition.field_types[key]
        if "isnull" in field_type.filter_ops:
            return field_type.filter_q("isnull", True)
        return Q(**{f"data__{key}__isnull": True}) | Q(**{f"data__{key}": None})


def record_source(
    actor: Actor, form: Form, definition: FormDefinition, now: dt.datetime, zone: dt.tzinfo
) -> Source:
    policy = policy_for(actor, form)
    return Source(
        rows=Record.objects.permitted(actor, form, Action.READ),
        definition=definition,
        now=now,
        zone=zone,
        hidden=policy.hidden_fields,
    )


def fact_source(
    actor: Actor,
    form: Form,
    definition: FormDefinition,
    now: dt.datetime,
    zone: dt.tzinfo,
    columns: Mapping[str, str],
) -> Source:
    policy = policy_for(actor, form)
    return Source(
        rows=facts.fact_queryset(actor, form),
        definition=definition,
        now=now,
        zone=zone,
        hidden=policy.hidden_fields,
        columns=columns,
    )


def facts_available() -> bool:
    return connection.vendor == "postgresql"
