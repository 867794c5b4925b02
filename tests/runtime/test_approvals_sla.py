"""Step SLAs: timers that remind, escalate, or decide as the system actor, once."""

from __future__ import annotations

import datetime as dt

from dajian.platform.audit import verify_chain
from dajian.platform.calendars import deadline
from dajian.platform.durations import Duration
from dajian.platform.models import AuditEvent
from dajian.runtime.approvals.services import decide_task, submit_for_approval
from dajian.runtime.models import ApprovalEvent, ApprovalTask, Notification, Timer
from dajian.runtime.timers import fire_due_timers
from tests.runtime.approval_fixtures import (
    chain,
    db_state,
    new_contract,
    open_task_of,
    open_tasks,
    step,
)

pytest_plugins = ["tests.runtime.approval_plugin"]

CHAIN = "contract_approval"
FOUR_HOURS = {"within": {"hours": 4}}


def with_sla(admin_actor, form, then, approvers=None, **sla):
    steps = [
        step(
            "manager",
            approvers or [{"type": "manager"}],
            sla={**FOUR_HOURS, "then": then, **sla},
        )
    ]
    chain(admin_actor, form, steps=steps)


def submitted(org, user=None):
    user = user or org.rep
    record = new_contract(org.actor(user))
    return submit_for_approval(org.actor(user), record.pk, CHAIN)


def after_due(task, minutes=1):
    return task.due_at + dt.timedelta(minutes=minutes)


def test_due_time_and_timer_come_from_the_step_sla(org, admin_actor, contract_form):
    with_sla(admin_actor, contract_form, "remind", within={"hours": 2, "business": True})
    request = submitted(org)
    task = open_task_of(request, org.manager)
    expected = deadline(org.workspace, task.created_at, Duration(hours=2, business=True))
    assert task.due_at == expected
    timer = Timer.objects.get(kind="approval.sla")
    assert timer.key == f"approval:{request.pk}:{task.pk}:sla"
    assert timer.due_at == task.due_at and timer.payload == {"request": request.pk, "task": task.pk}


def test_nothing_fires_before_the_due_time(org, admin_actor, contract_form):
    with_sla(admin_actor, contract_form, "approve")
    request = submitted(org)
    task = open_task_of(request, org.manager)
    assert fire_due_timers(task.due_at - dt.timedelta(minutes=1)) == 0
    assert open_task_of(request, org.manager).pk == task.pk


def test_remind_notifies_the_assignee_once(org, admin_actor, contract_form):
    with_sla(admin_actor, contract_form, "remind")
    request = submitted(org)
    task = open_task_of(request, org.manager)

    assert fire_due_timers(after_due(task)) == 1
    assert fire_due_timers(after_due(task, 5)) == 0

    assert Notification.objects.filter(recipient=org.manager, kind="approval.reminder").count() == 1
    event = ApprovalEvent.objects.get(request=request, kind="reminded")
    assert (event.actor_id, event.actor_label, event.payload["task"]) == (None, "system", task.pk)
    assert AuditEvent.objects.get(action="approval.reminded").actor_label == "system"
    assert Timer.objects.get(kind="approval.sla").result == "reminded"
    assert open_task_of(request, org.manager).status == "open"


def test_escalate_gives_the_managers_manager_a_task_in_the_same_slot(
    org, admin_actor, contract_form
):
    with_sla(admin_actor, contract_form, "escalate")
    request = submitted(org)
    task = open_task_of(request, org.manager)

    fire_due_timers(after_due(task))

    escalated = open_task_of(request, org.director)
    assert escalated.escalated and escalated.position == task.position
    assert open_task_of(request, org.manager).pk == task.pk  # the original stays open
    assert ApprovalEvent.objects.get(request=request, kind="escalated").payload["to"] == (
        org.director.pk
    )
    assert Notification.objects.filter(recipient=org.director, kind="approval.escalated").exists()
    assert not Timer.objects.filter(key__contains=f":{escalated.pk}:").exists()

    decide_task(org.actor(org.director), escalated.pk, "approve")

    request.refresh_from_db()
    task.refresh_from_db()
    assert request.status == "approved" and task.status == "cancelled"


def test_escalation_without_a_manager_reminds(org, admin_actor, contract_form):
    with_sla(
        admin_actor,
        contract_form,
        "escalate",
        approvers=[{"type": "role", "role": "sales_director"}],
    )
    request = submitted(org)
    task = open_task_of(request, org.director)
    fire_due_timers(after_due(task))
    assert [t.pk for t in open_tasks(request)] == [task.pk]
    assert Timer.objects.get(kind="approval.sla").result == "no manager to escalate to: reminded"
    assert ApprovalEvent.objects.filter(request=request, kind="reminded").count() == 1


def test_auto_approve_decides_as_the_system(org, admin_actor, contract_form):
    with_sla(admin_actor, contract_form, "approve")
    request = submitted(org)
    task = open_task_of(request, org.manager)

    fire_due_timers(after_due(task))

    task.refresh_from_db()
    request.refresh_from_db()
    assert (task.status, task.decision, task.decided_by_id) == ("done", "approve", None)
    assert request.status == "approved"
    event = ApprovalEvent.objects.get(request=request, kind="auto_approved")
    assert event.actor_label == "system" and event.payload["task"] == task.pk
    audit = AuditEvent.objects.filter(action="approval.decided").get()
    assert audit.actor_id is None and audit.actor_label == "system"
    assert verify_chain(org.workspace).ok


def test_auto_reject_applies_the_steps_rejection(org, admin_actor, contract_form):
    with_sla(admin_actor, contract_form, "reject")
    request = submitted(org)
    task = open_task_of(request, org.manager)
    fire_due_timers(after_due(task))
    request.refresh_from_db()
    task.refresh_from_db()
    assert request.status == "rejected" and task.decision == "reject"
    assert task.comment.startswith("Rejected automatically")
    assert ApprovalEvent.objects.filter(request=request, kind="auto_rejected").exists()


def test_a_timer_of_a_closed_task_does_nothing(org, admin_actor, contract_form):
    with_sla(admin_actor, contract_form, "approve")
    request = submitted(org)
    task = open_task_of(request, org.manager)
    decide_task(org.actor(org.manager), task.pk, "reject", comment="no")
    assert Timer.objects.get(kind="approval.sla").cancelled_at is not None
    # Even a timer left pending (say, cancelled by a transaction that lost a race):
    Timer.objects.update(cancelled_at=None)
    before = db_state()

    assert fire_due_timers(after_due(task)) == 1

    assert Timer.objects.get(kind="approval.sla").result == "skipped: task closed"
    after = db_state()
    assert {k: v for k, v in after.items() if k != "timers"} == {
        k: v for k, v in before.items() if k != "timers"
    }
    assert ApprovalTask.objects.get(pk=task.pk).decision == "reject"
