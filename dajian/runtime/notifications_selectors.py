"""Reading the caller's in-app notifications: newest first, page by page, with keyset
pagination on (created at, id) over the ``notification_inbox`` index. A page costs
two queries: the notifications and their records."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db.models import Q, QuerySet

from dajian.platform.actors import Actor
from dajian.runtime.inbox.selectors import decode_cursor, encode_cursor, page_size
from dajian.runtime.models import Notification, Record


def my_notification_rows(actor: Actor) -> QuerySet[Notification]:
    """The actor's own notifications in the actor's workspace: every read starts here."""
    return Notification.objects.filter(workspace_id=actor.workspace.pk, recipient_id=actor.user_id)


@dataclass
class NotificationItem:
    notification: Notification
    record: dict[str, Any] | None


@dataclass
class NotificationPage:
    items: list[NotificationItem]
    cursors: list[str]
    has_next: bool
    has_previous: bool
    start_cursor: str | None
    end_cursor: str | None
    actor: Actor = field(repr=False)


def my_notifications(
    actor: Actor,
    unread_only: bool = False,
    first: int | None = None,
    after: str | None = None,
) -> NotificationPage:
    """The actor's notifications (only unread ones with ``unread_only``), newest first.
    Refusals: LIMIT_EXCEEDED (``first`` outside 1–100), INVALID_CURSOR."""
    limit = page_size(first)
    qs = my_notification_rows(actor)
    if unread_only:
        qs = qs.filter(read_at__isnull=True)
    if after:
        at, pk = decode_cursor(after)
        qs = qs.filter(Q(created_at__lt=at) | Q(created_at=at, id__lt=pk))
    rows = list(qs.defer("payload").order_by("-created_at", "-id")[: limit + 1])
    has_next = len(rows) > limit
    rows = rows[:limit]
    record_ids = {n.record_id for n in rows if n.record_id is not None}
    records = (
        {
            r["id"]: r
            for r in Record.objects.filter(pk__in=record_ids).values(
                "id", "stage", "status", "form__key", "form__app__key"
            )
        }
        if record_ids
        else {}
    )
    items = [
        NotificationItem(n, dict(records[n.record_id]) if n.record_id in records else None)
        for n in rows
    ]
    cursors = [encode_cursor(n.created_at, n.pk) for n in rows]
    return NotificationPage(
        items=items,
        cursors=cursors,
        has_next=has_next,
        has_previous=bool(after),
        start_cursor=cursors[0] if cursors else None,
        end_cursor=cursors[-1] if cursors else None,
        actor=actor,
    )


def unread_notification_count(actor: Actor) -> int:
    return my_notification_rows(actor).filter(read_at__isnull=True).count()
