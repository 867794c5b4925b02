"""Moving records between stages (R7): ``advance_stage`` checks and moves (or hands the
move to an approval chain); ``complete_transition`` performs a move.

A record's stage changes only here: ``stage`` is a system column that record writes
and imports cannot set.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils import timezone

from dajian.builder.metadata.workflow import Reason, WorkflowDefinition
from dajian.platform.actors import Actor
from dajian.platform.audit import record_event
from dajian.platform.errors import CommonErrorCode, DajianError
from dajian.platform.i18n import localize
from dajian.platform.permissions import Action
from dajian.platform.sql import insert_row
from dajian.runtime.errors import RecordErrorCode, message
from dajian.runtime.models import Record, RecordStatus, StageEntry, Task, TaskStatus, TodoTask
from dajian.runtime.services.records import emit_event, locked_record
from dajian.runtime.stages.definitions import role_allows, stage_label, workflow_for
from dajian.runtime.stages.errors import WorkflowErrorCode as Code
from dajian.runtime.stages.errors import workflow_error, workflow_message
from dajian.runtime.stages.requirements import missing_requirements
from dajian.runtime.stages.timing import stage_timers, timer_prefix
from dajian.runtime.timers import cancel_timers, schedule_timers

if TYPE_CHECKING:
    from dajian.runtime.models import ApprovalRequest

MAX_COMMENT_CHARS = 2000
_ENTRY_COLUMNS = tuple(f for f in StageEntry._meta.concrete_fields if not f.primary_key)


@dataclass
class AdvanceResult:
    """The record after the call; ``request`` is the approval request started when the
    transition needs one (the record then stays in its stage, ``in_approval``)."""

    record: Record
    request: ApprovalRequest | None = None


def advance_stage(
    actor: Actor,
    record_id: int,
    to: str,
    expected_version: int | None = None,
    comment: str = "",
    reason: str | None = None,
) -> AdvanceResult:
    """Move the record to stage ``to`` in one transaction, or refuse and change nothing.

    Refusals, checked in this order: ``NOT_FOUND`` / ``PERMISSION_DENIED`` (update row
    scope), ``STALE_VERSION`` (``expected_version`` given and not current),
    ``NO_WORKFLOW``, ``UNKNOWN_STAGE`` (field ``to``), ``APPROVAL_PENDING`` /
    ``RECORD_FROZEN``, ``TRANSITION_NOT_ALLOWED`` (no transition from the current stage
    to ``to``, or the actor's role may not use it), ``REASON_REQUIRED`` (the target is
    a stage with reasons and ``reason`` is not one of their keys), ``INVALID_INPUT``
    (a reason for a stage without reasons, a comment over 2,000 characters),
    ``GUARD_FAILED`` alone (the transition's guard message) when the guard is all that
    fails, else ``STAGE_LOCKED``: its first error is ``STAGE_LOCKED`` and the following
    ones are exactly the ``missing`` entries that ``availableTransitions`` lists for
    this transition (its ``GUARD_FAILED`` included). The stage's requirements are not
    checked for a transition with ``check_requirements`` false.

    When the transition names an approval chain the record does not move: the request
    is started (:func:`dajian.runtime.approvals.services.start_request`) and returned;
    the approval engine completes the move with :func:`complete_transition`.
    """
    with transaction.atomic():
        record, form = locked_record(actor, record_id, Action.UPDATE)
        record.form = form
        if expected_version is not None and expected_version != record.version:
            raise DajianError.single(
                RecordErrorCode.STALE_VERSION,
                message(RecordErrorCode.STALE_VERSION, current=record.version),
                field="expectedVersion",
            )
        workflow = workflow_for(form)
        if workflow is None:
            raise DajianError(workflow_error(Code.NO_WORKFLOW))
        target = workflow.stage_map.get(to)
        if target is None:
            raise DajianError(workflow_error(Code.UNKNOWN_STAGE, "to", to=to))
        if record.status in (RecordStatus.IN_APPROVAL, RecordStatus.FROZEN):
            code = (
                RecordErrorCode.APPROVAL_PENDING
                if record.status == RecordStatus.IN_APPROVAL
                else RecordErrorCode.RECORD_FROZEN
            )
            raise DajianError.single(code, message(code))
        current = stage_label(workflow, record.stage)
        transition = workflow.transition(record.stage, to)
        if transition is None:
            raise DajianError(
                workflow_error(
                    Code.TRANSITION_NOT_ALLOWED, "to", stage=current, to=localize(target.label)
                )
            )
        if not role_allows(actor, transition):
            text = workflow_message("ROLE_NOT_ALLOWED", stage=current, to=localize(target.label))
            raise DajianError(workflow_error(Code.TRANSITION_NOT_ALLOWED, "to", message=text))
        _check_inputs(target.reasons, reason, comment, localize(target.label))
        now = timezone.now()
        stage = (
            workflow.stage_map.get(record.stage or "") if transition.check_requirements else None
        )
        missing = missing_requirements(actor, record, stage, transition, now, form=form)
        if missing and all(m.code == Code.GUARD_FAILED for m in missing):
            raise DajianError(missing)
        if missing:
            locked = workflow_error(Code.STAGE_LOCKED, "to", stage=current, count=len(missing))
            raise DajianError([locked, *missing])
        if transition.approval:
            from dajian.runtime.approvals.services import start_request

            request = start_request(
                actor, record, transition.approval, transition_to=to, comment=comment, reason=reason
            )
            return AdvanceResult(record=record, request=request)
        complete_transition(actor, record, to, comment, reason=reason, workflow=workflow)
        return AdvanceResult(record=record)


def _check_inputs(
    reasons: tuple[Reason, ...], reason: str | None, comment: str, target: str
) -> None:
    """REASON_REQUIRED / INVALID_INPUT for the reason and comment of a move."""
    keys = [r.key for r in reasons]
    if keys and reason not in keys:
        labels = ", ".join(f"{localize(r.label)} ({r.key})" for r in reasons)
        raise DajianError(workflow_error(Code.REASON_REQUIRED, "reason", to=target, reasons=labels))
    if reason and not keys:
        raise DajianError.single(
            CommonErrorCode.INVALID_INPUT, f"{target} takes no reason.", field="reason"
        )
    if len(comment or "") > MAX_COMMENT_CHARS:
        raise DajianError.single(
            CommonErrorCode.INVALID_INPUT,
            f"A comment has at most {MAX_COMMENT_CHARS} characters.",
            field="comment",
        )


def complete_transition(
    actor: Actor,
    record: Record,
    to: str,
    comment: str = "",
    request: ApprovalRequest | None = None,
    reason: str | None = None,
    workflow: WorkflowDefinition | None = None,
) -> StageEntry:
    """Move ``record`` (locked ``FOR UPDATE`` by the caller, inside its transaction) to
    stage ``to`` without re-checking requirements, roles or status — the approval
    engine calls this when a chain approves a transition.

    Closes the open stage entry (exit time, mover, next stage), opens the entry of
    ``to`` (with ``comment`` and ``reason``, entered by the mover), updates the record's
    stage, entry time, version and updated-by, cancels the old stage's timers and
    schedules the new stage's, writes the outbox event and then the audit event
    ``record.stage_changed``.
    Raises ``UNKNOWN_STAGE`` if the published workflow no longer has ``to``. Returns
    the new open entry.

    The mover is ``actor``, or with ``request`` its submitter: the person who asked
    for the move (the approvers are in the request's history).
    """
    workflow = workflow or workflow_for(record.form)
    target = workflow.stage_map.get(to) if workflow is not None else None
    if target is None:
        raise DajianError(workflow_error(Code.UNKNOWN_STAGE, "to", to=to))
    now = timezone.now()
    previous = record.stage
    mover_id = request.submitted_by_id if request is not None else actor.user_id
    StageEntry.objects.filter(record_id=record.pk, exited_at__isnull=True).update(
        exited_at=now, exited_by_id=mover_id, next_stage=to
    )
    _cancel_escalation_todos(record.pk, now)
    entry = StageEntry(
        workspace_id=record.workspace_id,
        form_id=record.form_id,
        record_id=record.pk,
        stage=to,
        entered_at=now,
        entered_by_id=mover_id,
        exited_at=None,
        exited_by_id=None,
        next_stage=None,
        comment=comment or "",
        reason=reason or "",
    )
    entry.pk = insert_row(
        StageEntry, {f.attname: getattr(entry, f.attname) for f in _ENTRY_COLUMNS}
    )
    record.stage, record.stage_entered_at = to, now
    record.version += 1
    record.updated_at, record.updated_by = now, actor.user
    record.save(update_fields=["stage", "stage_entered_at", "version", "updated_at", "updated_by"])
    cancel_timers(timer_prefix(record.pk), now)
    timers = stage_timers(actor.workspace, record.pk, entry.pk, target, now)
    if timers:
        schedule_timers(timers)
    extra = {"from": previous, "to": to, "request": request.pk if request else None}
    emit_event(actor, "record.stage_changed", record, **extra)
    # The audit append locks the workspace's chain head until commit: it goes last.
    diff: dict[str, Any] = {"stage": [previous, to]}
    if reason:
        diff["stage_reason"] = [None, reason]
    record_event(actor, "record.stage_changed", "Record", str(record.pk), diff)
    return entry


def _cancel_escalation_todos(record_id: int, now: Any) -> None:
    """An overdue stay's escalation to-dos are moot once the record moves on."""
    moot = TodoTask.objects.filter(
        record_id=record_id, status=TaskStatus.OPEN, source__startswith="stage."
    ).values("pk")
    Task.objects.filter(pk__in=moot).update(status=TaskStatus.CANCELLED, completed_at=now)
