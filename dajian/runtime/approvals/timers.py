"""The step SLA of approval tasks (timer kind ``approval.sla``).

When a task's SLA ends the action re-checks, with the rows locked, that the task is
still open (a decided, withdrawn or re-routed task's timer does nothing), then applies
the step's ``sla.then`` as the audited system actor: ``remind`` the assignee,
``escalate`` to the assignee's manager (a new task in the same slot, ``escalated``),
or decide the task (``approve`` / ``reject``). Escalated tasks get a due time but no
timer of their own, so an unanswered escalation does not climb the org chart forever.
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction

from dajian.builder.metadata.approval_chain import Decision, SlaAction
from dajian.platform.actors import Actor
from dajian.platform.calendars import deadline
from dajian.platform.errors import DajianError
from dajian.platform.models import Workspace
from dajian.platform.recipients import manager_of
from dajian.runtime.approvals.decide import apply_decision
from dajian.runtime.approvals.flow import Flow, lock_record, lock_request
from dajian.runtime.approvals.lifecycle import new_task
from dajian.runtime.approvals.tasks import (
    SLA_TIMER,
    approval_task_rows,
    create_tasks,
)
from dajian.runtime.models import ApprovalTask, RequestStatus, TaskStatus, Timer
from dajian.runtime.notifications import notify
from dajian.runtime.timers import timer_action

CLOSED = "skipped: task closed"
AUTO_COMMENT = {
    Decision.APPROVE: "Approved automatically: the step's time limit passed.",
    Decision.REJECT: "Rejected automatically: the step's time limit passed.",
}


@timer_action(SLA_TIMER)
def on_task_sla(timer: Timer, now: dt.datetime) -> str:
    """Apply the SLA of the task in ``timer.payload["task"]``; returns what it did."""
    task_id = int(timer.payload["task"])
    row = (
        approval_task_rows()
        .filter(pk=task_id, status=TaskStatus.OPEN)
        .values_list("record_id", "request_id")
        .first()
    )
    if row is None:
        return CLOSED
    workspace = Workspace.objects.get(pk=timer.workspace_id)
    system = Actor.system(workspace)
    # A record another transaction holds makes this wait at most the sweep's lock
    # timeout; the timer is then left pending and retried on the next run.
    try:
        with transaction.atomic():
            record = lock_record(workspace.pk, row[0])
    except DajianError:
        return CLOSED  # the record was deleted meanwhile
    request = lock_request(row[1])
    task = approval_task_rows().select_for_update(of=("self", "task_ptr")).get(pk=task_id)
    if task.status != TaskStatus.OPEN or request.status != RequestStatus.PENDING:
        return CLOSED
    flow = Flow.open(system, record, request, now)
    step = flow.step(task.step_index)
    then = step.sla.then if step.sla else SlaAction.REMIND
    # automations with a time_limit trigger (of: approval) take it from here
    flow.emit("approval.time_limit", task=task.pk, step=step.key, level="overdue", then=then.value)
    if then in (SlaAction.APPROVE, SlaAction.REJECT):
        decision = Decision(then.value)
        kind = "auto_approved" if decision == Decision.APPROVE else "auto_rejected"
        apply_decision(flow, task, decision, AUTO_COMMENT[decision], kind=kind)
        flow.save("approval.decided")
        return kind
    if then == SlaAction.ESCALATE:
        escalated = _escalate(flow, task)
        if escalated is not None:
            flow.save("approval.escalated")
            return f"escalated to user {escalated.assignee_id}"
    _remind(flow, task)
    flow.save("approval.reminded")
    return "reminded" if then == SlaAction.REMIND else "no manager to escalate to: reminded"


def _remind(flow: Flow, task: ApprovalTask) -> None:
    notify(
        flow.request.workspace_id,
        [task.assignee_id],
        "approval.reminder",
        {
            "en": f"Overdue, waiting for your decision: {task.title.get('en', '')}",
            "zh-CN": f"已超时，请尽快审批：{task.title.get('zh-CN', '')}",
        },
        record_id=flow.record.pk,
        payload={"request": flow.request.pk, "task": task.pk},
        now=flow.now,
    )
    flow.event("reminded", task.step_key, by_system=True, task=task.pk, assignee=task.assignee_id)
    flow.change("reminded", None, task.pk)


def _escalate(flow: Flow, task: ApprovalTask) -> ApprovalTask | None:
    """A task for the assignee's manager in the same slot, or None when there is no
    suitable manager (none, the submitter without self-approval, or already on it)."""
    manager = manager_of(flow.record.workspace, task.assignee_id, 1)
    if manager is None or manager == task.assignee_id:
        return None
    if manager == flow.request.submitted_by_id and not flow.chain.allow_self_approval:
        return None
    if (
        approval_task_rows()
        .filter(request_id=flow.request.pk, assignee_id=manager, status=TaskStatus.OPEN)
        .exists()
    ):
        return None
    planned = flow.planned(task.step_index)
    assert planned is not None
    step = flow.step(task.step_index)
    due = deadline(flow.record.workspace, flow.now, step.sla.within) if step.sla else None
    created = create_tasks(
        [new_task(flow, planned, manager, task.position, due_at=due, escalated=True)],
        with_timers=False,
    )[0]
    notify(
        flow.request.workspace_id,
        [manager],
        "approval.escalated",
        {
            "en": f"Escalated to you (overdue): {created.title['en']}",
            "zh-CN": f"超时升级给你审批：{created.title['zh-CN']}",
        },
        record_id=flow.record.pk,
        payload={"request": flow.request.pk, "task": created.pk, "from_task": task.pk},
        now=flow.now,
    )
    flow.event(
        "escalated",
        task.step_key,
        by_system=True,
        task=task.pk,
        escalated_task=created.pk,
        assignee=task.assignee_id,
        to=manager,
    )
    flow.change("escalated_to", None, manager)
    return created
