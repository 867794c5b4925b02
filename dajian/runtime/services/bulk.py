"""Creating many records at once: template sample data, large imports.

Every row is validated exactly as :func:`~dajian.runtime.services.records.create_record`
validates one (field cleaning, JSON Schema, formulas, conditions, CEL rules with their
flags, duplicate rules, unique fields, references, autonumbers), but the work is done a
batch at a time with a constant number of queries per batch: references, unique values
and duplicate keys are looked up once for the whole batch, autonumbers are reserved in
one statement per field and period, records are inserted with COPY on PostgreSQL (ids
reserved from the sequence first) and audit events appended with one chain-head lock.

Differences from one-by-one creates, on purpose:
- no outbox events: bulk-created records do not fire automations (sample data must not
  notify anyone or open to-dos), and no stage time-limit timers are scheduled;
- the caller (a workspace admin) may set each record's owner, creation time and its path
  through the workflow's stages (stage history included), so sample data can look like
  months of work.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, transaction
from django.db.models.fields.json import KT
from django.utils import timezone

from dajian.builder.definitions import FormDefinition
from dajian.builder.fields.base import Reference
from dajian.builder.models import AutonumberCounter, Form
from dajian.platform.actors import Actor
from dajian.platform.audit import diff_values, record_events
from dajian.platform.errors import DajianError, ErrorDetail, permission_denied
from dajian.platform.i18n import localize
from dajian.platform.models import Membership
from dajian.platform.sql import copy_rows
from dajian.runtime.dedupe import DedupeKey, dedupe_keys
from dajian.runtime.errors import RecordErrorCode, message
from dajian.runtime.models import Record, RecordDedupeKey, StageEntry
from dajian.runtime.policies import policy_for
from dajian.runtime.references import _existing
from dajian.runtime.services.records import POSSIBLE_DUPLICATE, get_form_for_write
from dajian.runtime.stages.definitions import workflow_for
from dajian.runtime.validation import (
    ValidatedRecord,
    WriteContext,
    record_system_values,
    validate_record,
)

BATCH_SIZE = 1000
_RECORD_COLUMNS = tuple(f.attname for f in Record._meta.concrete_fields)
_ENTRY_COLUMNS = tuple(f.attname for f in StageEntry._meta.concrete_fields if not f.primary_key)
_ACTOR = object()  # BulkRow.owner_id default: the acting user


@dataclass(frozen=True)
class StageVisit:
    """A stay in a stage: entered at ``entered_at`` (with ``reason`` for stages that
    ask for one, e.g. why a deal was lost)."""

    stage: str
    entered_at: dt.datetime
    reason: str = ""


@dataclass
class BulkRow:
    """One record to create. ``owner_id`` defaults to the actor (None: the public
    pool); ``created_at`` to now and ``updated_at`` to ``created_at``; ``stages`` is
    the record's path through its workflow, oldest first (default: the initial stage,
    entered at ``created_at``)."""

    data: Mapping[str, Any]
    owner_id: Any = _ACTOR
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None
    stages: Sequence[StageVisit] = ()


@dataclass
class BulkResult:
    """The created records in input order, and the refused rows' errors by row index
    (only when the caller collects errors instead of failing)."""

    records: list[Record] = field(default_factory=list)
    errors: dict[int, list[ErrorDetail]] = field(default_factory=dict)


@dataclass
class _Row:
    index: int
    record: Record
    incoming: Mapping[str, Any]
    stages: list[StageVisit]
    validated: ValidatedRecord | None = None
    keys: list[DedupeKey] = field(default_factory=list)
    errors: list[ErrorDetail] = field(default_factory=list)


def bulk_create_records(
    actor: Actor,
    app_key: str,
    form_key: str,
    rows: Sequence[BulkRow],
    *,
    collect_errors: bool = False,
    batch_size: int = BATCH_SIZE,
) -> BulkResult:
    """Create ``rows`` as records of ``app_key/form_key`` in one transaction.

    Refused rows raise :class:`DajianError` (paths ``rows.<i>.<field>``) and nothing is
    created, unless ``collect_errors``: then the valid rows are created and the others
    reported in :attr:`BulkResult.errors` (a blocking duplicate among the rows themselves
    refuses the later row). Setting another owner than oneself, a creation time or
    stages needs a workspace admin.
    """
    form, definition = get_form_for_write(actor, app_key, form_key)
    policy = policy_for(actor, form)
    if not policy.can_create:
        raise permission_denied()
    if not actor.is_admin and any(_needs_admin(actor, row) for row in rows):
        raise permission_denied("Only workspace admins set owners, times or stages.")
    result = BulkResult()
    with transaction.atomic():
        for start in range(0, len(rows), batch_size):
            batch = _prepare(actor, form, definition, rows, start, start + batch_size)
            refused = {r.index: r.errors for r in batch if r.errors}
            if refused and not collect_errors:
                raise DajianError(
                    ErrorDetail(
                        code=e.code,
                        message=e.message,
                        field="rows",
                        path=f"rows.{i}.{e.path}" if e.path else f"rows.{i}",
                    )
                    for i, errors in refused.items()
                    for e in errors
                )
            result.errors.update(refused)
            result.records.extend(
                _insert(actor, form, definition, [r for r in batch if not r.errors])
            )
    return result


def _needs_admin(actor: Actor, row: BulkRow) -> bool:
    return (
        (row.owner_id is not _ACTOR and row.owner_id != actor.user_id)
        or row.created_at is not None
        or row.updated_at is not None
        or bool(row.stages)
    )


# --- validation ---------------------------------------------------------------------------


def _prepare(
    actor: Actor,
    form: Form,
    definition: FormDefinition,
    rows: Sequence[BulkRow],
    start: int,
    end: int,
) -> list[_Row]:
    """Validate rows ``start:end``; each row's ``errors`` says why it is refused."""
    now = timezone.now()
    policy = policy_for(actor, form)
    workflow = workflow_for(form)
    batch = []
    for index in range(start, min(end, len(rows))):
        row = rows[index]
        created_at = row.created_at or now
        owner_id = actor.user_id if row.owner_id is _ACTOR else row.owner_id
        stages = list(row.stages)
        if not stages and workflow is not None and workflow.initial in workflow.stage_map:
            stages = [StageVisit(workflow.initial, created_at)]
        record = Record(
            workspace=actor.workspace,
            form=form,
            form_version=form.published,
            owner_id=owner_id,
            created_by=actor.user,
            updated_by=actor.user,
            created_at=created_at,
            updated_at=row.updated_at or created_at,
            stage=stages[-1].stage if stages else None,
            stage_entered_at=stages[-1].entered_at if stages else None,
        )
        item = _Row(index=index, record=record, incoming=row.data, stages=stages)
        ctx = WriteContext(
            actor=actor,
            definition=definition,
            policy=policy,
            now=created_at,
            app_id=form.app_id,
            record_system=record_system_values(record),
            check_references=False,
        )
        try:
            item.validated = validate_record(ctx, row.data)
        except DajianError as exc:
            item.errors = list(exc.errors)
        if stages and (workflow is None or any(s.stage not in workflow.stage_map for s in stages)):
            item.errors.append(ErrorDetail("UNKNOWN_STAGE", "No such stage.", "stage", "stage"))
        batch.append(item)
    valid = [r for r in batch if not r.errors]
    _check_references(actor, form, definition, valid)
    _check_owners(actor, [r for r in valid if not r.errors])
    _check_unique(form, definition, [r for r in valid if not r.errors])
    _check_duplicates(form, definition, [r for r in valid if not r.errors])
    return batch


def _check_references(
    actor: Actor, form: Form, definition: FormDefinition, rows: list[_Row]
) -> None:
    """What :func:`~dajian.runtime.references.check_references` checks, one query per
    kind of reference for the whole batch."""
    refs: list[tuple[_Row, str, Reference]] = []
    for row in rows:
        assert row.validated is not None
        data = row.validated.data
        for key in set(row.incoming) & set(data):
            refs.extend(
                (row, key, ref)
                for ref in definition.field_types[key].references(data[key])
                if ref.ids
            )
    wanted: dict[tuple[str, str | None], set[int]] = defaultdict(set)
    for _, _, ref in refs:
        wanted[(ref.kind, ref.target)].update(ref.ids)
    found = {
        (kind, target): _existing(actor, form.app_id, kind, target, ids)
        for (kind, target), ids in wanted.items()
    }
    for row, key, ref in refs:
        present = found[(ref.kind, ref.target)]
        for ref_id in ref.ids:
            wrong = (
                ref_id in present and ref.accept is not None and present[ref_id] not in ref.accept
            )
            if ref_id not in present or wrong:
                path = f"{key}.{ref.path}" if ref.path else key
                text = message(RecordErrorCode.INVALID_REFERENCE, id=ref_id)
                row.errors.append(ErrorDetail(RecordErrorCode.INVALID_REFERENCE, text, key, path))


def _check_owners(actor: Actor, rows: list[_Row]) -> None:
    wanted = {r.record.owner_id for r in rows if r.record.owner_id is not None}
    if not wanted:
        return
    members = set(
        Membership.objects.filter(
            workspace=actor.workspace, user_id__in=wanted, is_active=True
        ).values_list("user_id", flat=True)
    )
    for row in rows:
        if row.record.owner_id is not None and row.record.owner_id not in members:
            text = message(RecordErrorCode.INVALID_REFERENCE, id=row.record.owner_id)
            row.errors.append(
                ErrorDetail(RecordErrorCode.INVALID_REFERENCE, text, "owner", "owner")
            )


def _unique_text(value: Any) -> str:
    """A value as the unique index compares it (``data ->> key``)."""
    return value if isinstance(value, str) else json.dumps(value)


def _check_unique(form: Form, definition: FormDefinition, rows: list[_Row]) -> None:
    """Unique fields: against stored records (one query per field) and earlier rows."""
    for spec in definition.fields:
        if not spec.get("unique"):
            continue
        key = spec["key"]
        values = [
            r.validated.data[key]
            for r in rows
            if r.validated is not None and r.validated.data.get(key) is not None
        ]
        if not values:
            continue
        taken = _taken_values(form, key, values)
        for row in rows:
            assert row.validated is not None
            value = row.validated.data.get(key)
            if value is None or row.errors:
                continue
            text = _unique_text(value)
            if text in taken:
                row.errors.append(
                    ErrorDetail(
                        RecordErrorCode.DUPLICATE_VALUE,
                        message(RecordErrorCode.DUPLICATE_VALUE),
                        key,
                        key,
                    )
                )
            taken.add(text)


def _taken_values(form: Form, key: str, values: list[Any]) -> set[str]:
    """Which of ``values`` records of the form already hold in ``key``, as text. On
    PostgreSQL the lookup is the unique index's own expression (``data ->> key``), so
    the index serves it."""
    records = Record.objects.filter(form_id=form.pk)
    if connection.vendor == "postgresql":
        texts = [_unique_text(v) for v in values]
        indexed = records.annotate(value=KT(f"data__{key}")).filter(value__in=texts)
        return set(indexed.values_list("value", flat=True))
    found = records.filter(**{f"data__{key}__in": values})
    return {_unique_text(v) for v in found.values_list(f"data__{key}", flat=True)}


def _check_duplicates(form: Form, definition: FormDefinition, rows: list[_Row]) -> None:
    """Duplicate rules: one query for the batch's keys; a blocking match (stored, or an
    earlier row) refuses the row, a warning match flags it."""
    for row in rows:
        assert row.validated is not None
        row.keys = dedupe_keys(definition, row.validated.data)
    hashes = {k.key_hash for r in rows for k in r.keys}
    if not hashes:
        return
    seen = set(
        RecordDedupeKey.objects.filter(form=form, key_hash__in=hashes).values_list(
            "rule", "key_hash"
        )
    )
    for row in rows:
        hits = [k for k in row.keys if (k.rule, k.key_hash) in seen]
        blocking = [k for k in hits if k.blocking]
        if blocking and not row.errors:
            for key in blocking:
                text = (
                    localize(key.message)
                    if key.message
                    else message(RecordErrorCode.DUPLICATE_RECORD)
                )
                row.errors.extend(
                    ErrorDetail(RecordErrorCode.DUPLICATE_RECORD, text, f, f) for f in key.fields
                )
            continue
        if row.errors:
            continue
        if hits:
            assert row.validated is not None
            row.validated.flags = [*row.validated.flags, POSSIBLE_DUPLICATE]
        seen.update((k.rule, k.key_hash) for k in row.keys)


# --- writing ------------------------------------------------------------------------------


def _insert(actor: Actor, form: Form, definition: FormDefinition, rows: list[_Row]) -> list[Record]:
    if not rows:
        return []
    _assign_autonumbers(form, definition, rows)
    for row in rows:
        assert row.validated is not None
        row.record.data = row.validated.data
        row.record.flags = row.validated.flags
        row.keys = dedupe_keys(definition, row.validated.data)
    records = [r.record for r in rows]
    _insert_records(records)
    RecordDedupeKey.objects.bulk_create(
        [
            RecordDedupeKey(
                record_id=r.record.pk,
                form_id=form.pk,
                rule=k.rule,
                key_hash=k.key_hash,
                blocking=k.blocking,
            )
            for r in rows
            for k in r.keys
        ],
        batch_size=BATCH_SIZE,
    )
    _insert_stage_history(actor, rows)
    # The audit append locks the workspace's chain head until commit: it goes last.
    record_events(actor, _audit_events(rows))
    return records


def _assign_autonumbers(form: Form, definition: FormDefinition, rows: list[_Row]) -> None:
    """Numbers in row order, reserved with one statement per field and period."""
    for key, field_type in definition.field_types.items():
        if field_type.type != "autonumber":
            continue
        by_period: dict[str, list[_Row]] = defaultdict(list)
        for row in rows:
            by_period[field_type.period(row.record.created_at)].append(row)  # type: ignore[attr-defined]
        for period, members in by_period.items():
            last = _reserve(form.pk, key, period, len(members))
            for number, row in enumerate(members, start=last - len(members) + 1):
                assert row.validated is not None
                row.validated.data[key] = field_type.format(number, row.record.created_at)  # type: ignore[attr-defined]


def _reserve(form_id: int, field_key: str, period: str, count: int) -> int:
    """Move the field's counter ``count`` numbers on; returns the last one."""
    table = connection.ops.quote_name(AutonumberCounter._meta.db_table)
    sql = (
        f"INSERT INTO {table} (form_id, field_key, period, value) VALUES (%s, %s, %s, %s) "
        "ON CONFLICT (form_id, field_key, period) "
        f"DO UPDATE SET value = {table}.value + %s RETURNING value"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [form_id, field_key, period, count, count])
        return int(cursor.fetchone()[0])


def _insert_records(records: list[Record]) -> None:
    """Insert with ids: PostgreSQL reserves them from the sequence and COPYs the rows;
    elsewhere ``bulk_create`` returns them."""
    if connection.vendor == "postgresql":
        table = Record._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                [table, len(records)],
            )
            ids = [row[0] for row in cursor.fetchall()]
        for record, pk in zip(records, ids, strict=True):
            record.pk = pk
        copy_rows(
            Record,
            _RECORD_COLUMNS,
            ([getattr(r, name) for name in _RECORD_COLUMNS] for r in records),
        )
    else:
        Record.objects.bulk_create(records, batch_size=500)
    for record in records:
        record._state.adding = False


def _insert_stage_history(actor: Actor, rows: list[_Row]) -> None:
    """One entry per stay: closed ones exited when the next began, the last one open."""
    entries = []
    for row in rows:
        record = row.record
        mover = record.owner_id or actor.user_id
        for i, visit in enumerate(row.stages):
            following = row.stages[i + 1] if i + 1 < len(row.stages) else None
            entries.append(
                StageEntry(
                    workspace_id=record.workspace_id,
                    form_id=record.form_id,
                    record_id=record.pk,
                    stage=visit.stage,
                    entered_at=visit.entered_at,
                    entered_by_id=actor.user_id if i == 0 else mover,
                    exited_at=following.entered_at if following else None,
                    exited_by_id=mover if following else None,
                    next_stage=following.stage if following else None,
                    comment="",
                    reason=visit.reason,
                )
            )
    if entries:
        copy_rows(
            StageEntry,
            _ENTRY_COLUMNS,
            ([getattr(e, name) for name in _ENTRY_COLUMNS] for e in entries),
        )


def _audit_events(rows: list[_Row]) -> list[tuple[str, str, Any, Mapping[str, Any] | None]]:
    events: list[tuple[str, str, Any, Mapping[str, Any] | None]] = []
    for row in rows:
        pk = row.record.pk
        events.append(("record.created", "Record", pk, diff_values({}, row.record.data)))
        for before, after in zip(row.stages, row.stages[1:], strict=False):
            diff: dict[str, Any] = {"stage": [before.stage, after.stage]}
            if after.reason:
                diff["stage_reason"] = [None, after.reason]
            events.append(("record.stage_changed", "Record", pk, diff))
    return events
