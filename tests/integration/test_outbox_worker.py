"""The outbox end to end: a committed write is handed to a real Celery worker once."""

from __future__ import annotations

import pytest

from dajian.platform.errors import DajianError
from dajian.runtime import tasks
from dajian.runtime.models import OutboxEvent
from dajian.runtime.services.records import create_record, update_record
from tests.integration.conftest import wait_until

FIELDS = [{"key": "name", "type": "text", "label": "Name"}]


def test_committed_writes_reach_the_worker(celery_worker_process, admin_actor, form_factory):
    form_factory(FIELDS)
    record = create_record(admin_actor, "sales", "customer", {"name": "Acme"}).record
    update_record(admin_actor, record.pk, {"name": "Acme 2"})

    def processed() -> bool:
        events = OutboxEvent.objects.filter(payload__record=record.pk)
        return events.count() == 2 and not events.filter(processed_at__isnull=True).exists()

    assert wait_until(processed, timeout=30), celery_worker_process.log()
    topics = sorted(OutboxEvent.objects.values_list("topic", flat=True))
    assert topics == ["record.created", "record.updated"]
    assert all(e.attempts == 1 for e in OutboxEvent.objects.all())


def test_processing_an_event_twice_does_it_once(celery_worker_process, admin_actor, form_factory):
    form_factory(FIELDS)
    record = create_record(admin_actor, "sales", "customer", {"name": "Once"}).record
    event = OutboxEvent.objects.get(payload__record=record.pk)
    assert wait_until(
        lambda: OutboxEvent.objects.filter(pk=event.pk, processed_at__isnull=False).exists()
    ), celery_worker_process.log()
    # a redelivered message finds the event done and changes nothing
    assert tasks.process_outbox_event(event.pk) is False
    assert OutboxEvent.objects.get(pk=event.pk).attempts == 1


def test_failed_writes_enqueue_nothing(celery_worker_process, admin_actor, form_factory):
    form_factory([{"key": "name", "type": "text", "label": "Name", "required": True}])
    with pytest.raises(DajianError):
        create_record(admin_actor, "sales", "customer", {})
    assert OutboxEvent.objects.count() == 0
