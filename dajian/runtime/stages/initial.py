"""Putting records into their workflow's initial stage: on create, and all at once
when a form's first workflow is published."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import connection, models

from dajian.builder.metadata.workflow import WorkflowDefinition
from dajian.builder.models import Form
from dajian.platform.actors import Actor
from dajian.platform.errors import DajianError
from dajian.platform.sql import insert_row
from dajian.runtime.models import Record, StageEntry, Timer
from dajian.runtime.stages.definitions import workflow_for
from dajian.runtime.stages.errors import WorkflowErrorCode as Code
from dajian.runtime.stages.errors import workflow_error
from dajian.runtime.stages.timing import (
    OVERDUE_TIMER,
    WARNING_TIMER,
    WorkTime,
    limit_times,
    stage_timers,
    timer_prefix,
)
from dajian.runtime.timers import schedule_timers

_COLUMNS = tuple(f for f in StageEntry._meta.concrete_fields if not f.primary_key)


def stage_before_insert(record: Record, now: dt.datetime) -> WorkflowDefinition | None:
    """Before a new record is inserted: set its initial stage and entry time when its
    form has a published workflow. One query; returns the workflow (None: no stages)
    to hand to :func:`enter_initial_stage` once the row exists."""
    workflow = workflow_for(record.form)
    if workflow is not None and workflow.initial in workflow.stage_map:
        record.stage, record.stage_entered_at = workflow.initial, now
        return workflow
    return None


def enter_initial_stage(
    actor: Actor,
    record: Record,
    now: dt.datetime,
    workflow: WorkflowDefinition | None = None,
) -> StageEntry | None:
    """Open the stage-history entry of an inserted record's initial stage and schedule
    that stage's time-limit timers (inside the creating transaction).

    ``workflow`` is what :func:`stage_before_insert` returned; without it the workflow
    is looked up and, if the record was inserted without its stage, the row is updated.
    Returns the open entry, or None when the form has no workflow.
    """
    workflow = workflow or workflow_for(record.form)
    if workflow is None or workflow.initial not in workflow.stage_map:
        return None
    if record.stage != workflow.initial or record.stage_entered_at is None:
        record.stage, record.stage_entered_at = workflow.initial, now
        Record.objects.filter(pk=record.pk).update(stage=record.stage, stage_entered_at=now)
    entered_at = record.stage_entered_at
    assert entered_at is not None
    entry = StageEntry(
        workspace_id=record.workspace_id,
        form_id=record.form_id,
        record_id=record.pk,
        stage=workflow.initial,
        entered_at=entered_at,
        entered_by_id=actor.user_id,
        exited_at=None,
        exited_by_id=None,
        next_stage=None,
        comment="",
        reason="",
    )
    entry.pk = insert_row(StageEntry, {f.attname: getattr(entry, f.attname) for f in _COLUMNS})
    timers = stage_timers(
        actor.workspace, record.pk, entry.pk, workflow.stage_map[workflow.initial], entered_at
    )
    if timers:
        schedule_timers(timers)
    return entry


def initialize_existing_records(form: Form, workflow: WorkflowDefinition, now: dt.datetime) -> int:
    """Put every record of ``form`` that has no stage into ``workflow``'s initial
    stage, entered ``now`` by the system: one UPDATE, one INSERT … SELECT of their
    stage entries and (when the stage has a time limit) one INSERT … SELECT of their
    timers, whatever the number of records. Returns how many records moved."""
    stage = workflow.stage_map.get(workflow.initial)
    if stage is None:
        return 0
    moved = Record.objects.filter(form_id=form.pk, stage__isnull=True).update(
        stage=stage.key, stage_entered_at=now
    )
    if not moved:
        return 0
    quote = connection.ops.quote_name
    record_table, entry_table = quote(Record._meta.db_table), quote(StageEntry._meta.db_table)
    with connection.cursor() as cursor:
        # Records in the initial stage without an open entry are exactly the ones moved.
        cursor.execute(
            f"INSERT INTO {entry_table} (workspace_id, form_id, record_id, stage, entered_at,"
            " comment, reason)"
            f" SELECT r.workspace_id, r.form_id, r.id, r.stage, r.stage_entered_at, '', ''"
            f" FROM {record_table} r WHERE r.form_id = %s AND r.stage = %s"
            f" AND NOT EXISTS (SELECT 1 FROM {entry_table} e"
            "  WHERE e.record_id = r.id AND e.exited_at IS NULL)",
            [form.pk, stage.key],
        )
        warning_at, overdue_at = limit_times(WorkTime(form.workspace), stage, now)
        for kind, level, due_at in (
            (WARNING_TIMER, "warning", warning_at),
            (OVERDUE_TIMER, "overdue", overdue_at),
        ):
            if due_at is not None:
                _insert_timers_for_entries(cursor, form, stage.key, now, kind, level, due_at)
    return moved


def _insert_timers_for_entries(
    cursor: Any,
    form: Form,
    stage_key: str,
    entered_at: dt.datetime,
    kind: str,
    level: str,
    due_at: dt.datetime,
) -> None:
    """One INSERT … SELECT: a ``kind`` timer for every open entry of ``stage_key``
    entered at ``entered_at``; keys as :func:`~.timing.timer_key` builds them."""
    quote = connection.ops.quote_name
    entry_table, timer_table = quote(StageEntry._meta.db_table), quote(Timer._meta.db_table)
    prefix = timer_prefix(0)[: -len("0:")]  # "stage:"
    record_id = "CAST(e.record_id AS TEXT)" if connection.vendor != "sqlite" else "e.record_id"
    entry_id = "CAST(e.id AS TEXT)" if connection.vendor != "sqlite" else "e.id"
    payload = _prep(Timer, "payload", {"stage": stage_key})
    cursor.execute(
        f"INSERT INTO {timer_table} (workspace_id, kind, {quote('key')}, due_at, payload,"
        " created_at, result)"
        f" SELECT e.workspace_id, %s, %s || {record_id} || ':' || {entry_id} || %s, %s, %s,"
        f" %s, '' FROM {entry_table} e"
        " WHERE e.form_id = %s AND e.stage = %s AND e.entered_at = %s"
        " AND e.exited_at IS NULL",
        [
            kind,
            prefix,
            f":{level}",
            _prep(Timer, "due_at", due_at),
            payload,
            _prep(Timer, "created_at", entered_at),
            form.pk,
            stage_key,
            _prep(StageEntry, "entered_at", entered_at),
        ],
    )


def _prep(model: type[models.Model], name: str, value: Any) -> Any:
    """``value`` as the database stores it in ``model.name`` (for raw SQL)."""
    field = model._meta.get_field(name)
    assert isinstance(field, models.Field)
    return field.get_db_prep_save(value, connection)


def check_removed_stages(form: Form, workflow: WorkflowDefinition) -> None:
    """Refuse (``STAGE_IN_USE``, path ``stages``, one error per stage) a workflow that
    lacks a stage records of ``form`` are in: they would have no way out. One query."""
    stranded = (
        Record.objects.filter(form_id=form.pk, stage__isnull=False)
        .exclude(stage__in=list(workflow.stage_map))
        .values("stage")
        .annotate(count=models.Count("pk"))
        .order_by("stage")
        .values_list("stage", "count")
    )
    errors = [
        workflow_error(Code.STAGE_IN_USE, "stages", stage=stage, count=count)
        for stage, count in stranded
    ]
    if errors:
        raise DajianError(errors)


def on_workflow_published(actor: Actor, metadata: Any, version: Any) -> None:
    """Metadata publish hook: when a form's workflow is published, refuse it if it
    drops a stage that records are in (:func:`check_removed_stages`); records created
    before it get its initial stage (a no-op for other kinds of metadata, and for
    records that already have a stage)."""
    from django.utils import timezone

    from dajian.builder.metadata.loaders import workflow_view
    from dajian.builder.models import MetadataKind

    if metadata.kind != MetadataKind.WORKFLOW or metadata.form_id is None:
        return
    workflow = workflow_view(version)
    check_removed_stages(metadata.form, workflow)
    initialize_existing_records(metadata.form, workflow, timezone.now())
