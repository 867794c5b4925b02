"""Celery tasks of the runtime. Each is idempotent: running it twice does the work once."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.db import transaction
from django.utils import timezone

from dajian.platform.sql import skip_commit_wait
from dajian.runtime import outbox
from dajian.runtime.models import OutboxEvent


# typing=False: Celery would otherwise bind the arguments with inspect on every delay().
@shared_task(name="dajian.runtime.process_outbox_event", acks_late=True, typing=False)
def process_outbox_event(event_id: int) -> bool:
    """Hand one outbox event to every consumer, once. Returns False if another run
    already processed it (or is processing it right now)."""
    with transaction.atomic():
        # Lost in a crash, this commit takes every effect with it and the event is
        # processed again: no need to wait for the WAL flush.
        skip_commit_wait()
        event = (
            OutboxEvent.objects.select_for_update(skip_locked=True)
            .filter(pk=event_id, processed_at__isnull=True)
            .first()
        )
        if event is None:
            return False
        event.attempts += 1
        for consumer in outbox.consumers():
            consumer(event)
        event.processed_at = timezone.now()
        event.save(update_fields=["attempts", "processed_at"])
    return True


@shared_task(name="dajian.runtime.sweep_outbox")
def sweep_outbox(older_than_seconds: int = 60, limit: int = 500) -> int:
    """Re-enqueue events still pending after a while (broker was down at commit)."""
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    ids = list(
        OutboxEvent.objects.filter(processed_at__isnull=True, created_at__lt=cutoff)
        .order_by("id")
        .values_list("pk", flat=True)[:limit]
    )
    for event_id in ids:
        process_outbox_event.delay(event_id)
    return len(ids)


@shared_task(name="dajian.runtime.fire_due_timers")
def fire_due_timers() -> int:
    """Apply every due stage and approval deadline once (scheduled by beat)."""
    from dajian.runtime.timers import fire_due_timers as fire

    return fire()


@shared_task(name="dajian.automations.run_scheduled", acks_late=True, typing=False)
def run_scheduled(automation_id: int) -> str:
    """The current cron tick of a scheduled automation (beat sends this)."""
    from dajian.runtime.automations.schedules import run_scheduled as run

    result = run(automation_id)
    return f"run {result.pk}: {result.status}" if result is not None else "not scheduled"


@shared_task(name="dajian.automations.scan_date_triggers", acks_late=True)
def scan_date_triggers() -> int:
    """Date-relative automations whose moment has come (beat, every five minutes)."""
    from dajian.runtime.automations.schedules import scan_date_triggers as scan

    return scan()


@shared_task(name="dajian.automations.retry_failed_actions", acks_late=True)
def retry_failed_actions() -> int:
    """Failed automation actions whose backoff has passed (beat, every minute)."""
    from dajian.runtime.automations.engine import retry_failed_actions as retry

    return retry()


@shared_task(name="dajian.automations.run_now", acks_late=True, typing=False)
def run_automation_now(automation_id: int) -> str:
    """An admin's "run now" of a scheduled or date automation."""
    from dajian.runtime.automations.engine import load_automation
    from dajian.runtime.automations.schedules import run_now

    automation = load_automation(automation_id)
    if automation is None:
        return "not published"
    result = run_now(automation)
    return f"run {result.pk}: {result.status}" if result is not None else "nothing to do"


from dajian.runtime.deliveries.tasks import send, send_due  # noqa: E402,F401
