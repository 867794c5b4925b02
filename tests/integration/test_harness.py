"""The integration harness itself: a real PostgreSQL server and a real Celery worker."""

from __future__ import annotations

import uuid

import pytest
from django.db import connection

from dajian.celery import app as celery_app
from dajian.platform.models import Workspace
from tests.integration.conftest import CREATE_WORKSPACE_TASK, wait_until

pytestmark = pytest.mark.django_db


def test_the_database_is_postgresql_14_or_newer():
    assert connection.vendor == "postgresql"
    assert connection.pg_version >= 140000
    assert connection.settings_dict["NAME"].startswith("test_")


def test_the_database_answers_queries():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)


def test_a_real_worker_runs_a_task_sent_through_the_broker(celery_worker_process):
    # given
    slug = f"from-worker-{uuid.uuid4().hex[:12]}"
    assert celery_worker_process.broker_url.startswith("redis://")

    # when
    celery_app.send_task(CREATE_WORKSPACE_TASK, args=[slug])

    # then
    written = wait_until(lambda: Workspace.objects.filter(slug=slug).exists(), timeout=30)
    assert written, f"the worker wrote no workspace; its log:\n{celery_worker_process.log()}"
