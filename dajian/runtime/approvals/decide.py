"""Deciding an approval task: approve, reject, return, delegate, confirm, appeal.

Every check happens with the rows locked (record → request → task), so ten clicks on
the same task record exactly one decision; the other nine see ``ALREADY_DECIDED``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from dajian.builder.metadata.approval_chain import Decision, StepMode
from dajian.platform.actors import Actor
from dajian.platform.errors import DajianError, ErrorDetail, not_found
from dajian.platform.models import Attachment, Membership
from dajian.runtime.approvals.errors import ApprovalErrorCode, approval_error, message
from dajian.runtime.approvals.flow import Flow, lock_record, lock_request
from dajian.runtime.approvals.lifecycle import (
    advance,
    finish,
    new_task,
    open_slot,
    reject_step,
    return_to_step,
)
from dajian.runtime.approvals.routing import (
    PlannedStep,
    StepOutcome,
    previous_planned,
    step_outcome,
)
from dajian.runtime.approvals.tasks import (
    approval_task_rows,
    cancel_open_tasks,
    close_task,
    create_tasks,
)
from dajian.runtime.models import ApprovalRequest, ApprovalTask, RequestStatus, TaskStatus
from dajian.runtime.notifications import notify

MAX_COMMENT = 2000


@dataclass
class DecisionResult:
    task: ApprovalTask
    request: ApprovalRequest
    delegated_task: ApprovalTask | None = None


def parse_decision(value: object) -> Decision:
    """``approve`` / ``APPROVE`` / an enum member → :class:`Decision`."""
    raw = str(getattr(value, "value", value)).lower()
    try:
        return Decision(raw)
    except ValueError:
        raise approval_error(
            ApprovalErrorCode.DECISION_NOT_ALLOWED, field="decision", decision=raw
        ) from None


def lock_task(actor: Actor, task_id: int) -> tuple[Flow, ApprovalTask]:
    """Lock the task's record, request and task, in that order; NOT_FOUND for a task of
    another workspace (or not an approval task)."""
    row = (
        approval_task_rows()
        .filter(workspace_id=actor.workspace.pk, pk=task_id)
        .values_list("record_id", "request_id")
        .first()
    )
    if row is None:
        raise not_found("Task")
    record = lock_record(actor.workspace.pk, row[0])
    request = lock_request(row[1])
    task = approval_task_rows().select_for_update(of=("self", "task_ptr")).get(pk=task_id)
    return Flow.open(actor, record, request, timezone.now()), task


def decide_task(
    actor: Actor,
    task_id: int,
    decision: object,
    comment: str = "",
    attachments: Sequence[int] = (),
    return_to: str | None = None,
    delegate_to: int | None = None,
) -> DecisionResult:
    """Decide ``task_id`` as its assignee. Refusals (nothing changes): NOT_FOUND,
    NOT_ASSIGNEE, ALREADY_DECIDED, DECISION_NOT_ALLOWED, SELF_APPROVAL, REASON_REQUIRED,
    EVIDENCE_REQUIRED, INVALID_RETURN_STEP, DELEGATE_INVALID, NOT_FOUND (``delegateTo``,
    ``attachments.N``), INVALID_INPUT (a comment over 2,000 characters)."""
    choice = parse_decision(decision)
    comment = (comment or "").strip()
    with transaction.atomic():
        flow, task = lock_task(actor, task_id)
        target = check_decision(
            flow, task, choice, comment, list(attachments), return_to, delegate_to
        )
        delegated = apply_decision(
            flow, task, choice, comment, list(attachments), target, delegate_to
        )
        flow.save("approval.decided")
    return DecisionResult(task=task, request=flow.request, delegated_task=delegated)


def check_decision(
    flow: Flow,
    task: ApprovalTask,
    decision: Decision,
    comment: str,
    attachments: list[int],
    return_to: str | None,
    delegate_to: int | None,
) -> PlannedStep | None:
    """Raise the refusal for this decision, if any; returns the step to return to."""
    actor = flow.actor
    if actor.user is not None and task.assignee_id != actor.user_id:
        raise approval_error(ApprovalErrorCode.NOT_ASSIGNEE, field="taskId")
    if task.status != TaskStatus.OPEN or flow.request.status != RequestStatus.PENDING:
        raise approval_error(ApprovalErrorCode.ALREADY_DECIDED, field="taskId")
    step = flow.step(task.step_index)
    if decision not in step.decisions:
        raise approval_error(
            ApprovalErrorCode.DECISION_NOT_ALLOWED, field="decision", decision=decision.value
        )
    if (
        decision != Decision.DELEGATE
        and actor.user is not None
        and actor.user_id == flow.request.submitted_by_id
        and not flow.chain.allow_self_approval
    ):
        raise approval_error(ApprovalErrorCode.SELF_APPROVAL, field="taskId")
    errors = _attachment_errors(flow, attachments)
    if len(comment) > MAX_COMMENT:
        errors.append(
            ErrorDetail(
                code="INVALID_INPUT",
                message=f"A comment is at most {MAX_COMMENT} characters.",
                field="comment",
                path="comment",
            )
        )
    if decision == Decision.REJECT and not comment:
        errors.append(_detail(ApprovalErrorCode.REASON_REQUIRED, "comment"))
    if decision == Decision.APPEAL and len(set(attachments)) < step.appeal_min_evidence:
        errors.append(
            _detail(
                ApprovalErrorCode.EVIDENCE_REQUIRED, "attachments", count=step.appeal_min_evidence
            )
        )
    target = None
    if decision == Decision.RETURN and return_to:
        target = flow.planned(flow.chain.step_index(return_to))
        if target is None or target.index >= task.step_index:
            errors.append(_detail(ApprovalErrorCode.INVALID_RETURN_STEP, "returnTo"))
    if decision == Decision.DELEGATE:
        errors.extend(_delegate_errors(flow, delegate_to))
    if errors:
        raise DajianError(errors)
    return target


def _detail(
    code: ApprovalErrorCode, field: str, path: str | None = None, **params: object
) -> ErrorDetail:
    return ErrorDetail(code=code, message=message(code, **params), field=field, path=path or field)


def _attachment_errors(flow: Flow, attachments: list[int]) -> list[ErrorDetail]:
    if not attachments:
        return []
    found = set(
        Attachment.objects.filter(
            workspace_id=flow.request.workspace_id, pk__in=attachments
        ).values_list("pk", flat=True)
    )
    return [
        ErrorDetail(
            code="NOT_FOUND",
            message="Attachment not found.",
            field="attachments",
            path=f"attachments.{i}",
        )
        for i, pk in enumerate(attachments)
        if pk not in found
    ]


def _delegate_errors(flow: Flow, delegate_to: int | None) -> list[ErrorDetail]:
    if delegate_to is None:
        return [_detail(ApprovalErrorCode.DELEGATE_INVALID, "delegateTo")]
    member = (
        Membership.objects.filter(workspace_id=flow.request.workspace_id, user_id=delegate_to)
        .values_list("is_active", flat=True)
        .first()
    )
    if member is None:
        return [
            ErrorDetail(
                code="NOT_FOUND", message="User not found.", field="delegateTo", path="delegateTo"
            )
        ]
    submitter = flow.request.submitted_by_id
    busy = (
        approval_task_rows()
        .filter(request_id=flow.request.pk, assignee_id=delegate_to, status=TaskStatus.OPEN)
        .exists()
    )
    if (
        not member
        or delegate_to == flow.actor.user_id
        or (delegate_to == submitter and not flow.chain.allow_self_approval)
        or busy
    ):
        return [_detail(ApprovalErrorCode.DELEGATE_INVALID, "delegateTo")]
    return []


def apply_decision(
    flow: Flow,
    task: ApprovalTask,
    decision: Decision,
    comment: str = "",
    attachments: Sequence[int] = (),
    return_target: PlannedStep | None = None,
    delegate_to: int | None = None,
    kind: str = "decided",
) -> ApprovalTask | None:
    """Record ``decision`` on the (checked, locked) task and move the request on.
    Returns the delegate's new task for a delegation."""
    planned = flow.planned(task.step_index)
    assert planned is not None, "an open task belongs to a planned step"
    step = flow.step(task.step_index)
    by_system = flow.actor.user is None
    close_task(task, decision.value, flow.actor.user_id, comment, flow.now)
    flow.event(
        kind,
        step.key,
        comment,
        attachments,
        by_system=by_system,
        task=task.pk,
        decision=decision.value,
        assignee=task.assignee_id,
        round=task.round,
        **({"delegate_to": delegate_to} if delegate_to else {}),
    )
    flow.change("task", None, task.pk)
    flow.change("decision", None, decision.value)
    flow.emit("approval.decided", task=task.pk, decision=decision.value)
    if decision == Decision.DELEGATE:
        assert delegate_to is not None
        return _delegate(flow, planned, task, delegate_to)
    if decision == Decision.CONFIRM:
        finish(flow, RequestStatus.APPROVED)
    elif decision == Decision.RETURN:
        target = return_target or previous_planned(flow.plan, planned.index)
        if target is None:
            finish(flow, RequestStatus.RETURNED)
        else:
            return_to_step(flow, target)
    else:
        _count(flow, planned, task)
    return None


def _delegate(
    flow: Flow, planned: PlannedStep, task: ApprovalTask, delegate_to: int
) -> ApprovalTask:
    created = create_tasks(
        [
            new_task(
                flow,
                planned,
                delegate_to,
                task.position,
                due_at=task.due_at,
                delegated_from_id=task.pk,
            )
        ]
    )[0]
    notify(
        flow.request.workspace_id,
        [delegate_to],
        "approval.task",
        {
            "en": f"Delegated to you: {created.title['en']}",
            "zh-CN": f"转交给你：{created.title['zh-CN']}",
        },
        record_id=flow.record.pk,
        payload={"request": flow.request.pk, "task": created.pk},
        now=flow.now,
    )
    return created


def _count(flow: Flow, planned: PlannedStep, task: ApprovalTask) -> None:
    """Approve / appeal / reject: settle the slot, then see whether the step is decided."""
    step = flow.step(planned.index)
    cancel_open_tasks(
        flow.request.pk,
        flow.now,
        step_index=planned.index,
        round=task.round,
        position=task.position,
    )
    decided = dict(
        approval_task_rows()
        .filter(
            request_id=flow.request.pk,
            round=task.round,
            step_index=planned.index,
            status=TaskStatus.DONE,
        )
        .exclude(decision=Decision.DELEGATE.value)
        .values_list("position", "decision")
    )
    outcome = step_outcome(step, planned, decided)
    if outcome == StepOutcome.APPROVED:
        advance(flow, planned)
    elif outcome == StepOutcome.REJECTED:
        reject_step(flow, planned)
    elif step.mode == StepMode.SEQUENTIAL and task.position + 1 < len(planned.approvers):
        open_slot(flow, planned, task.position + 1)
