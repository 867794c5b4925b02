"""Moving a request along its plan: open a step, advance after a decided step, return
to an earlier step or to the submitter, and finish (approved / rejected / frozen)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from dajian.builder.metadata.approval_chain import OnReject, Step, StepMode
from dajian.platform.calendars import deadline
from dajian.platform.i18n import SUPPORTED_LOCALES, localize
from dajian.platform.recipients import RecipientContext, resolve_recipients
from dajian.runtime.approvals.flow import Flow
from dajian.runtime.approvals.routing import PlannedStep, next_planned
from dajian.runtime.approvals.tasks import cancel_open_tasks, create_tasks
from dajian.runtime.models import ApprovalTask, RecordStatus, RequestStatus
from dajian.runtime.notifications import notify

OUTCOME_TEXT = {
    RequestStatus.APPROVED: {"en": "approved", "zh-CN": "已通过"},
    RequestStatus.REJECTED: {"en": "rejected", "zh-CN": "已驳回"},
    RequestStatus.RETURNED: {"en": "returned to you", "zh-CN": "已退回"},
}


def task_title(flow: Flow, step: Step) -> dict[str, str]:
    """``{locale: "chain · step"}`` for the inbox."""
    return {
        loc: f"{localize(flow.chain.label, loc)} · {localize(step.label, loc)}"
        for loc in SUPPORTED_LOCALES
    }


def new_task(
    flow: Flow,
    planned: PlannedStep,
    assignee_id: int,
    position: int,
    due_at: dt.datetime | Literal["sla"] | None = "sla",
    **extra: Any,
) -> ApprovalTask:
    """An unsaved task of ``planned`` for ``assignee_id``; due (by default) when the
    step's SLA ends on the workspace calendar."""
    step = flow.step(planned.index)
    if due_at == "sla":
        due_at = deadline(flow.record.workspace, flow.now, step.sla.within) if step.sla else None
    return ApprovalTask(
        workspace_id=flow.request.workspace_id,
        assignee_id=assignee_id,
        title=task_title(flow, step),
        record_id=flow.record.pk,
        created_at=flow.now,
        due_at=due_at,
        request_id=flow.request.pk,
        step_index=planned.index,
        step_key=planned.key,
        round=flow.request.round,
        position=position,
        **extra,
    )


def open_step(flow: Flow, planned: PlannedStep) -> list[ApprovalTask]:
    """Make ``planned`` the current step: its tasks (only the first approver's in a
    sequential step), their SLA timers, notifications to approvers and CC."""
    step = flow.step(planned.index)
    flow.request.current_step = planned.index
    first = planned.approvers[:1] if step.mode == StepMode.SEQUENTIAL else planned.approvers
    tasks = create_tasks([new_task(flow, planned, uid, pos) for pos, uid in enumerate(first)])
    flow.event("step_started", step.key, round=flow.request.round, approvers=list(first))
    _notify_approvers(flow, step, [t.assignee_id for t in tasks])
    if step.cc:
        ctx = RecipientContext(
            workspace=flow.record.workspace,
            owner_id=flow.record.owner_id,
            submitter_id=flow.request.submitted_by_id,
            data=flow.record.data,
        )
        cc = resolve_recipients(step.cc, ctx)
        if cc:
            notify(
                flow.request.workspace_id,
                cc,
                "approval.cc",
                {
                    "en": f"For your information: {task_title(flow, step)['en']}",
                    "zh-CN": f"抄送：{task_title(flow, step)['zh-CN']}",
                },
                record_id=flow.record.pk,
                payload={"request": flow.request.pk, "step": step.key},
                now=flow.now,
            )
            flow.event("cc", step.key, recipients=cc)
    return tasks


def open_slot(flow: Flow, planned: PlannedStep, position: int) -> ApprovalTask:
    """The next approver's turn in a sequential step."""
    step = flow.step(planned.index)
    task = create_tasks([new_task(flow, planned, planned.approvers[position], position)])[0]
    _notify_approvers(flow, step, [task.assignee_id])
    return task


def _notify_approvers(flow: Flow, step: Step, user_ids: list[int]) -> None:
    title = task_title(flow, step)
    notify(
        flow.request.workspace_id,
        user_ids,
        "approval.task",
        {"en": f"Waiting for your decision: {title['en']}", "zh-CN": f"待你审批：{title['zh-CN']}"},
        record_id=flow.record.pk,
        payload={"request": flow.request.pk, "step": step.key},
        now=flow.now,
    )


def advance(flow: Flow, completed: PlannedStep) -> None:
    """After ``completed`` is approved: open the next step that applies, or finish."""
    cancel_open_tasks(flow.request.pk, flow.now)
    following = next_planned(flow.plan, completed.index)
    if following is None:
        finish(flow, RequestStatus.APPROVED)
    else:
        open_step(flow, following)


def reject_step(flow: Flow, planned: PlannedStep) -> None:
    """Apply the step's ``on_reject``: reject, reject and freeze, or return."""
    step = flow.step(planned.index)
    cancel_open_tasks(flow.request.pk, flow.now)
    if step.on_reject == OnReject.FREEZE:
        finish(flow, RequestStatus.REJECTED, RecordStatus.FROZEN)
    elif step.on_reject == OnReject.RETURN:
        target = flow.planned(flow.chain.step_index(step.return_to)) if step.return_to else None
        if target is not None and target.index < planned.index:
            return_to_step(flow, target)
        else:
            finish(flow, RequestStatus.RETURNED)
    else:
        finish(flow, RequestStatus.REJECTED)


def return_to_step(flow: Flow, target: PlannedStep) -> None:
    """Start ``target`` again in a new round (the earlier round's tasks stay as history)."""
    cancel_open_tasks(flow.request.pk, flow.now)
    flow.change("round", flow.request.round, flow.request.round + 1)
    flow.request.round += 1
    flow.event("returned", target.key, to=target.key, round=flow.request.round)
    open_step(flow, target)


def finish(
    flow: Flow, status: RequestStatus, record_status: RecordStatus = RecordStatus.ACTIVE
) -> None:
    """End the request with ``status``; the record becomes ``record_status`` (active, or
    frozen after a freezing veto). An approved request that was started by a stage
    transition completes that transition now."""
    request = flow.request
    cancel_open_tasks(request.pk, flow.now)
    flow.change("status", request.status, str(status))
    request.status = status
    request.decided_at = flow.now
    request.current_step = None
    flow.set_record_status(record_status)
    flow.event(str(status), status=str(status), record_status=str(record_status))
    flow.emit("approval.completed", status=str(status))
    if request.submitted_by_id is not None:
        text = OUTCOME_TEXT[status]
        label = {loc: localize(flow.chain.label, loc) for loc in SUPPORTED_LOCALES}
        notify(
            request.workspace_id,
            [request.submitted_by_id],
            "approval.completed",
            {
                "en": f"Your request ({label['en']}) was {text['en']}.",
                "zh-CN": f"你的申请（{label['zh-CN']}）{text['zh-CN']}。",
            },
            record_id=flow.record.pk,
            payload={"request": request.pk, "status": str(status)},
            now=flow.now,
        )
    if status == RequestStatus.APPROVED and request.transition_to:
        from dajian.runtime.stages.engine import complete_transition

        flow.flush_record()
        complete_transition(
            flow.actor,
            flow.record,
            request.transition_to,
            comment=request.transition_comment,
            request=request,
            reason=request.transition_reason or None,
        )
