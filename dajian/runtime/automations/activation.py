"""CEL variables of the records an automation looks at, a batch at a time.

Each target's activation is the record's as validation sees it (every field, ``record``,
``user`` = the system, ``now``) plus its rollup values (computed by the same query that
loads the batch) and ``related``: for every single-relation field, the data of the record
it points at (with that record's rollups), one query per relation field per batch.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from django.db.models import QuerySet
from django.db.models.base import ModelState

from dajian.builder.definitions import FormDefinition
from dajian.builder.models import Form
from dajian.platform.actors import Actor
from dajian.runtime.automations.context import Target
from dajian.runtime.models import Record
from dajian.runtime.policies import definition_of
from dajian.runtime.selectors import ROLLUP_PREFIX, with_rollups
from dajian.runtime.validation import record_activation, record_system_values


def with_rollup_values(
    qs: QuerySet[Record], form: Form, definition: FormDefinition, now: dt.datetime | None = None
) -> Any:
    """``qs`` with the rollups of ``definition`` as of ``now``."""
    return with_rollups(qs, form, definition, now)


_COLUMNS = tuple(f.attname for f in Record._meta.concrete_fields)


def load_records(records: QuerySet[Record]) -> list[Record]:
    """``records`` (with any annotations, e.g. rollups) as :class:`Record` instances,
    built from plain rows: the same attributes ``Model.from_db`` would set, without its
    per-field descriptor calls, which took a third of a scheduled batch's time (bench
    figure 6). Record has no ``pre_init`` / ``post_init`` receivers to skip."""
    names = (*_COLUMNS, *records.query.annotations)
    loaded = []
    for row in records.values_list(*names):
        record = Record.__new__(Record)
        state = ModelState()
        state.adding, state.db = False, records.db
        record.__dict__.update(zip(names, row, strict=True))
        record.__dict__["_state"] = state
        loaded.append(record)
    return loaded


def _rollup_values(record: Record, definition: FormDefinition) -> dict[str, Any]:
    values = {}
    for key, field_type in definition.field_types.items():
        if field_type.type != "rollup":
            continue
        raw = getattr(record, ROLLUP_PREFIX + key, None)
        values[key] = None if raw is None else field_type.to_cel(field_type.to_api(raw))
    return values


def _single_relations(definition: FormDefinition) -> dict[str, Any]:
    return {
        key: t
        for key, t in definition.field_types.items()
        if t.type == "relation" and not t.definition.get("multiple")
    }


def _related(
    actor: Actor,
    form: Form,
    definition: FormDefinition,
    records: Sequence[Record],
    now: dt.datetime,
) -> dict[int, dict[str, Any]]:
    """record id → {relation field key: the related record's variables}."""
    out: dict[int, dict[str, Any]] = {r.pk: {} for r in records}
    relations = _single_relations(definition)
    if not relations:
        return out
    targets = {
        f.key: f
        for f in Form.objects.select_related("published").filter(
            app_id=form.app_id, key__in={t.target for t in relations.values()}
        )
    }
    for key, field_type in relations.items():
        target_form = targets.get(field_type.target)
        target_def = definition_of(target_form) if target_form else None
        if target_form is None or target_def is None:
            continue
        wanted: dict[int, list[int]] = {}
        for record in records:
            ids = field_type.ids(record.data.get(key))
            if ids:
                wanted.setdefault(ids[0], []).append(record.pk)
        if not wanted:
            continue
        rows = with_rollups(
            Record.objects.filter(
                workspace_id=form.workspace_id, form_id=target_form.pk, pk__in=list(wanted)
            ),
            target_form,
            target_def,
            now,
        )
        for row in rows:
            variables = record_activation(actor, target_def, row, now)
            variables.pop("user", None)
            variables.pop("now", None)
            variables.update(_rollup_values(row, target_def))
            for record_id in wanted.get(row.pk, []):
                out[record_id][key] = variables
    return out


class RecordVariables(Mapping[str, Any]):
    """The CEL variables of one stored record, each computed when first read: a scan
    whose condition reads two fields converts two values per record, not every field
    (building every value was a third of a scheduled run's CPU, bench figure 6).
    Reads like the dict :func:`~dajian.runtime.validation.record_activation` returns,
    plus ``extra`` (rollups, ``related``)."""

    __slots__ = ("_cache", "_data", "_extra", "_fields", "_fixed")

    def __init__(
        self,
        definition: FormDefinition,
        record: Record,
        fixed: Mapping[str, Any],
        extra: Mapping[str, Any],
    ):
        self._fields = definition.field_types
        self._data = record.data
        self._fixed = fixed  # record, user, now
        self._extra = extra
        self._cache: dict[str, Any] = {}

    def __getitem__(self, key: str) -> Any:
        if key in self._extra:
            return self._extra[key]
        if key in self._fixed:
            return self._fixed[key]
        try:
            return self._cache[key]
        except KeyError:
            pass
        field_type = self._fields[key]  # KeyError for anything else, as a dict would
        value = self._data.get(key)
        self._cache[key] = converted = None if value is None else field_type.to_cel(value)
        return converted

    def __contains__(self, key: object) -> bool:
        return key in self._extra or key in self._fixed or key in self._fields

    def __iter__(self) -> Iterator[str]:
        yield from self._fields
        yield from (k for k in self._fixed if k not in self._fields)
        yield from (k for k in self._extra if k not in self._fields and k not in self._fixed)

    def __len__(self) -> int:
        return len(set(self._fields) | set(self._fixed) | set(self._extra))


def load_targets(
    actor: Actor,
    form: Form,
    definition: FormDefinition,
    records: Iterable[Record],
    now: dt.datetime,
) -> list[Target]:
    """Targets for ``records`` (loaded with :func:`with_rollup_values` so rollups are set)."""
    records = list(records)
    related = _related(actor, form, definition, records, now)
    user = {"id": actor.user_id or 0, "roles": sorted(actor.roles), "is_admin": actor.is_admin}
    targets = []
    for record in records:
        fixed = {
            "record": {k: v for k, v in record_system_values(record).items() if v is not None},
            "user": user,
            "now": now,
        }
        extra = {**_rollup_values(record, definition), "related": related.get(record.pk, {})}
        variables = RecordVariables(definition, record, fixed, extra)
        targets.append(Target(record=record, activation=variables))
    return targets
