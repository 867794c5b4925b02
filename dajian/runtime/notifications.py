"""In-app notifications (CC of approvals, reminders, stage warnings, escalations)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from django.utils import timezone

from dajian.runtime.models import Notification


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
