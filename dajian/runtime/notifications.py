"""In-app notifications (CC of approvals, reminders, stage warnings, escalations):
writing them and marking them read. Reads are in :mod:`notifications_selectors`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from django.conf import settings
from django.utils import timezone

from dajian.platform.actors import Actor
from dajian.platform.errors import CommonErrorCode, DajianError
from dajian.runtime.models import Notification
from dajian.runtime.notifications_selectors import my_notification_rows


def notify(
    workspace_id: int,
    recipient_ids: Iterable[int],
    kind: str,
    message: Mapping[str, str],
    record_id: int | None = None,
    payload: Mapping[str, Any] | None = None,
    now: dt.datetime | None = None,
) -> int:
    """Write one notification per distinct recipient in one INSERT; returns the count.
    ``message`` is a ``{locale: text}`` map (``zh-CN`` and ``en``)."""
    at = now or timezone.now()
    rows = [
        Notification(
            workspace_id=workspace_id,
            recipient_id=uid,
            kind=kind,
            record_id=record_id,
            message=dict(message),
            payload=dict(payload or {}),
            created_at=at,
        )
        for uid in dict.fromkeys(recipient_ids)
    ]
    Notification.objects.bulk_create(rows)
    return len(rows)


def mark_read(actor: Actor, ids: Sequence[int] | None = None, everything: bool = False) -> int:
    """Mark the actor's unread notifications among ``ids`` (or all of them with
    ``everything``) read; returns how many changed. Ids of other users' notifications
    count as unknown and are skipped, so the answer never tells whether they exist.
    Refusals: INVALID_INPUT (neither or both of ids / all), LIMIT_EXCEEDED (more ids
    than a page holds)."""
    if everything == (ids is not None):
        raise DajianError.single(
            CommonErrorCode.INVALID_INPUT, "Give either ids or all.", field="ids"
        )
    limit = settings.DAJIAN["MAX_PAGE_SIZE"]
    if ids is not None and len(ids) > limit:
        raise DajianError.single(
            CommonErrorCode.LIMIT_EXCEEDED, f"At most {limit} ids at once.", field="ids"
        )
    unread = my_notification_rows(actor).filter(read_at__isnull=True)
    if ids is not None:
        unread = unread.filter(pk__in=ids)
    return unread.update(read_at=timezone.now())
