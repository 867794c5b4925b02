"""Celery tasks that send deliveries: ``dajian.deliveries.send`` right after commit and
``dajian.deliveries.send_due`` (beat, every 30 s) for retries and anything not enqueued.

An attempt never holds a row lock while it talks to the network. A short transaction
claims the row (pending and due, locked with ``SKIP LOCKED``): it counts the attempt and
moves ``next_attempt_at`` past the longest an attempt can take, so no other worker picks
it up meanwhile. Then it sends, and a second short update records the result, only if
the row is still the one claimed. Either the delivery is ``delivered``, or it waits
``min(cap, base · 2^(attempts−1))`` seconds, or after ``max_attempts`` it is ``gave_up``.
A delivered row is never claimed again, so running a task twice sends once.
"""

from __future__ import annotations

import datetime as dt

from celery import shared_task
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from dajian.runtime.deliveries import sender
from dajian.runtime.models import Delivery, DeliveryStatus

SEND_DUE_BATCH = 200
MAX_ERROR_CHARS = 1000


def backoff(attempts: int) -> dt.timedelta:
    """The wait after the ``attempts``-th failed attempt."""
    base = float(settings.DAJIAN["WEBHOOK_BACKOFF_SECONDS"])
    cap = float(settings.DAJIAN["WEBHOOK_BACKOFF_CAP_SECONDS"])
    return dt.timedelta(seconds=min(cap, base * 2 ** max(attempts - 1, 0)))


def _lease() -> dt.timedelta:
    # Resolving, connecting, writing and reading are each bounded by the timeout.
    return dt.timedelta(seconds=max(60.0, 5 * float(settings.DAJIAN["WEBHOOK_TIMEOUT_SECONDS"])))


def _claim(delivery_id: int) -> Delivery | None:
    now = timezone.now()
    with transaction.atomic():
        delivery = (
            Delivery.objects.select_for_update(skip_locked=True)
            .filter(pk=delivery_id, status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
            .first()
        )
        if delivery is None:
            return None
        delivery.attempts += 1
        delivery.next_attempt_at = now + _lease()
        delivery.save(update_fields=["attempts", "next_attempt_at"])
    return delivery


def _record(delivery: Delivery, result: sender.Attempt) -> None:
    now = timezone.now()
    changes: dict[str, object] = {
        "last_status_code": result.status_code,
        "last_error": result.error[:MAX_ERROR_CHARS],
    }
    if result.ok:
        changes.update(status=DeliveryStatus.DELIVERED, delivered_at=now)
    elif delivery.attempts >= delivery.max_attempts:
        changes.update(status=DeliveryStatus.GAVE_UP)
    else:
        changes.update(next_attempt_at=now + backoff(delivery.attempts))
    # Only the claim that made this attempt may record it.
    Delivery.objects.filter(
        pk=delivery.pk, status=DeliveryStatus.PENDING, attempts=delivery.attempts
    ).update(**changes)


def attempt_delivery(delivery_id: int) -> bool | None:
    """Make one attempt if the delivery is pending and due: True when delivered, False
    when it failed, None when there was nothing to do."""
    delivery = _claim(delivery_id)
    if delivery is None:
        return None
    result = sender.attempt(delivery)
    _record(delivery, result)
    return result.ok


# typing=False: Celery would otherwise bind the arguments with inspect on every delay().
@shared_task(name="dajian.deliveries.send", acks_late=True, typing=False)
def send(delivery_id: int) -> bool | None:
    """Send one delivery now if it is pending and due (see :func:`attempt_delivery`)."""
    return attempt_delivery(delivery_id)


@shared_task(name="dajian.deliveries.send_due")
def send_due(limit: int = SEND_DUE_BATCH) -> int:
    """Attempt every pending delivery whose time has come, oldest due first (at most
    ``limit``); returns how many attempts were made."""
    ids = list(
        Delivery.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=timezone.now())
        .order_by("next_attempt_at", "id")
        .values_list("pk", flat=True)[:limit]
    )
    return sum(attempt_delivery(delivery_id) is not None for delivery_id in ids)
