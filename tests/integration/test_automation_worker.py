"""Automations with a real Celery worker on Redis: record-triggered runs end to end, a
scheduled run, and a worker killed in the middle of a run whose actions still happen
exactly once."""

from __future__ import annotations

import time

from dajian.runtime import tasks
from dajian.runtime.models import (
    ActionExecution,
    AutomationRun,
    ExecutionStatus,
    Notification,
    OutboxEvent,
    RunStatus,
)
from dajian.runtime.services.records import create_record
from tests.automation_helpers import publish_automation
from tests.integration.conftest import wait_until

FIELDS = [
    {"key": "name", "type": "text", "label": "Name"},
    {"key": "amount", "type": "number", "label": "Amount"},
]
NOTIFY = {"type": "notify", "to": [{"type": "owner"}], "message": "new: {{ name }}"}


def test_record_triggered_automations_run_in_the_worker(
    celery_worker_process, admin_actor, form_factory
):
    form = form_factory(FIELDS)
    publish_automation(
        admin_actor,
        form,
        "welcome",
        {
            "trigger": {"type": "record_created"},
            "condition": "amount >= 10.0",
            "actions": [NOTIFY],
        },
    )
    records = [
        create_record(admin_actor, "sales", "customer", {"name": f"c{i}", "amount": i}).record
        for i in range(20)
    ]
    assert wait_until(
        lambda: not OutboxEvent.objects.filter(processed_at__isnull=True).exists(), 60
    ), celery_worker_process.log()
    notified = set(Notification.objects.values_list("record_id", flat=True))
    assert notified == {r.pk for r in records if r.data["amount"] >= 10}
    assert AutomationRun.objects.count() == 10
    assert set(AutomationRun.objects.values_list("status", flat=True)) == {RunStatus.SUCCEEDED}


def test_a_scheduled_run_in_the_worker(celery_worker_process, admin_actor, form_factory):
    form = form_factory(FIELDS)
    for i in range(5):
        create_record(admin_actor, "sales", "customer", {"name": f"c{i}", "amount": 100})
    meta = publish_automation(
        admin_actor,
        form,
        "daily",
        {"trigger": {"type": "schedule", "cron": "0 8 * * *"}, "actions": [NOTIFY]},
    )
    tasks.run_scheduled.delay(meta.pk)
    tasks.run_scheduled.delay(meta.pk)  # beat delivering the same tick twice
    assert wait_until(
        lambda: AutomationRun.objects.filter(status=RunStatus.SUCCEEDED).exists(), 60
    ), celery_worker_process.log()
    time.sleep(1)  # let the second delivery finish too
    assert AutomationRun.objects.count() == 1
    assert Notification.objects.filter(kind="automation").count() == 5


def test_a_worker_killed_mid_run_still_acts_exactly_once(
    worker_factory, admin_actor, form_factory, tmp_path
):
    form = form_factory(FIELDS)
    marker = tmp_path / "stalled"
    publish_automation(
        admin_actor,
        form,
        "fragile",
        {
            "trigger": {"type": "record_created"},
            # the notification is written, then the worker stalls before committing
            "actions": [NOTIFY, {"type": "test_stall_once", "marker": str(marker)}],
        },
    )
    first = worker_factory.start()
    record = create_record(admin_actor, "sales", "customer", {"name": "Acme"}).record
    assert wait_until(marker.exists, 60), first.log()
    time.sleep(0.5)
    worker_factory.kill(first)

    # nothing of the interrupted run was committed
    event = OutboxEvent.objects.get(topic="record.created", payload__record=record.pk)
    assert event.processed_at is None
    assert not Notification.objects.filter(record_id=record.pk).exists()
    assert not AutomationRun.objects.exists()

    second = worker_factory.start()
    # the outbox sweep (beat, every minute) hands the pending event out again
    assert tasks.sweep_outbox(older_than_seconds=0) == 1
    assert wait_until(
        lambda: OutboxEvent.objects.filter(pk=event.pk, processed_at__isnull=False).exists(), 60
    ), second.log()
    # a redelivered message for the same event changes nothing
    tasks.process_outbox_event.delay(event.pk)
    time.sleep(1)

    assert Notification.objects.filter(record_id=record.pk).count() == 1
    run = AutomationRun.objects.get()
    assert (run.status, run.actions_done) == (RunStatus.SUCCEEDED, 2)
    executions = ActionExecution.objects.order_by("action_index")
    assert [(e.action_index, e.status, e.attempts) for e in executions] == [
        (0, ExecutionStatus.DONE, 1),
        (1, ExecutionStatus.DONE, 1),
    ]
