"""Deliveries under concurrent senders (PostgreSQL SKIP LOCKED claims, real threads):
however many workers sweep at once, each due delivery is sent once per attempt."""

from __future__ import annotations

from collections import Counter

import pytest
from django.utils import timezone

from dajian.runtime.deliveries import enqueue_delivery
from dajian.runtime.deliveries.tasks import send, send_due
from dajian.runtime.models import Delivery, DeliveryChannel, DeliveryStatus
from tests.integration.threads import outcome, run_at_once
from tests.runtime.delivery_helpers import HookServer, Reply, allow

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def server():
    hook = HookServer().start()
    yield hook
    hook.stop()


def _ids_received(server: HookServer) -> Counter[str]:
    return Counter(r.headers["webhook-id"] for r in server.requests)


@pytest.mark.parametrize("repetition", range(5))
def test_racing_sweeps_send_each_delivery_once(workspace, server, repetition):
    allow(workspace)
    server.default = Reply(200, delay=0.05)
    deliveries = [
        enqueue_delivery(workspace.pk, DeliveryChannel.WEBHOOK, server.url(), {"n": n})
        for n in range(12)
    ]

    results = run_at_once(lambda i: send_due() if i % 2 else send(deliveries[i].pk), threads=8)

    assert outcome(results)["ok"] == 8, results
    received = _ids_received(server)
    assert set(received) == {d.message_id for d in deliveries}
    assert max(received.values()) == 1, received
    rows = Delivery.objects.filter(pk__in=[d.pk for d in deliveries])
    assert all(d.status == DeliveryStatus.DELIVERED and d.attempts == 1 for d in rows)


def test_racing_retries_make_one_attempt_each(workspace, server):
    allow(workspace)
    server.default = Reply(500)
    delivery = enqueue_delivery(workspace.pk, DeliveryChannel.WEBHOOK, server.url(), {"n": 1})

    for attempt in range(1, 4):
        Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
        run_at_once(lambda i: send(delivery.pk) if i % 2 else send_due(), threads=6)
        delivery.refresh_from_db()
        assert delivery.attempts == attempt and len(server.requests) == attempt
