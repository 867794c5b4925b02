"""Outbound deliveries: signed webhooks, IM group robot messages and e-mails.

An action asks for a delivery with :func:`enqueue_delivery`, which writes the
:class:`~dajian.runtime.models.Delivery` row in the caller's transaction and hands its
id to the ``dajian.deliveries.send`` task once that transaction commits (the outbox
rule: nothing leaves before the change that caused it is saved). Sending, retries with
backoff and the address guard are in :mod:`.tasks`, :mod:`.sender` and :mod:`.ssrf`.
See docs/deliveries.md.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

from dajian.runtime.models import ActionExecution, Delivery

logger = logging.getLogger(__name__)

__all__ = ["enqueue_delivery"]


def enqueue_delivery(
    workspace_id: int,
    channel: str,
    target: str,
    payload: Mapping[str, Any],
    execution: ActionExecution | None = None,
    max_attempts: int | None = None,
) -> Delivery:
    """Write a pending delivery now and send it after commit. ``target`` is the URL (or
    the e-mail addresses); ``payload`` is stored as JSON (datetimes and decimals as
    strings); ``max_attempts`` defaults to ``WEBHOOK_MAX_ATTEMPTS``."""
    now = timezone.now()
    delivery = Delivery.objects.create(
        workspace_id=workspace_id,
        execution=execution,
        channel=channel,
        target=target,
        payload=json.loads(json.dumps(payload, cls=DjangoJSONEncoder)),
        message_id="msg_" + uuid.uuid4().hex,
        max_attempts=max_attempts or settings.DAJIAN["WEBHOOK_MAX_ATTEMPTS"],
        next_attempt_at=now,
        created_at=now,
    )
    delivery_id = delivery.pk
    transaction.on_commit(lambda: _send_later(delivery_id))
    return delivery


def _send_later(delivery_id: int) -> None:
    from dajian.runtime.deliveries.tasks import send

    try:
        send.delay(delivery_id)
    except Exception:  # noqa: BLE001 - the send_due sweep sends what was not enqueued
        logger.warning("could not enqueue delivery %s; send_due will send it", delivery_id)
