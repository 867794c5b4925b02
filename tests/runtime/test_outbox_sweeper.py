"""Outbox events left pending (the broker was down at commit) are picked up again."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from dajian.celery import app as celery_app
from dajian.runtime.models import OutboxEvent
from dajian.runtime.tasks import sweep_outbox


@pytest.fixture
def eager():
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = False


def test_sweeper_processes_old_pending_events_only(workspace, eager):
    old = OutboxEvent.objects.create(
        workspace=workspace,
        topic="record.created",
        created_at=timezone.now() - timedelta(minutes=5),
    )
    fresh = OutboxEvent.objects.create(workspace=workspace, topic="record.created")
    assert sweep_outbox(older_than_seconds=60) == 1
    old.refresh_from_db()
    fresh.refresh_from_db()
    assert old.processed_at is not None and old.attempts == 1
    assert fresh.processed_at is None
    assert sweep_outbox(older_than_seconds=60) == 0  # nothing left to do


def test_sweeper_is_scheduled():
    entry = settings.CELERY_BEAT_SCHEDULE["sweep-outbox"]
    assert entry["task"] == sweep_outbox.name
