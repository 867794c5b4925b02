"""Reading the caller's in-app notifications: newest first, page by page, with keyset
pagination on (created at, id) over the ``notification_inbox`` index. A page costs
two queries: the notifications and their records."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet

from dajian.platform.actors import Actor
from dajian.runtime.inbox.selectors import record_summaries
from dajian.runtime.models import Notification
from dajian.runtime.paging import Page, newest_first


def my_notification_rows(actor: Actor) -> QuerySet[Notification]:
    """The actor's own notifications in the actor's workspace: every read starts here."""
    return Notification.objects.filter(workspace_id=actor.workspace.pk, recipient_id=actor.user_id)


@dataclass
class NotificationItem:
    notification: Notification
    record: dict[str, Any] | None


def my_notifications(
    actor: Actor,
    unread_only: bool = False,
    first: int | None = None,
    after: str | None = None,
) -> Page[NotificationItem]:
    """The actor's notifications (only unread ones with ``unread_only``), newest first.
    Refusals: LIMIT_EXCEEDED (``first`` outside 1–100), INVALID_CURSOR."""
    qs = my_notification_rows(actor)
    if unread_only:
        qs = qs.filter(read_at__isnull=True)
    page = newest_first(qs.defer("payload"), "created_at", first, after)
    records = record_summaries(n.record_id for n in page.items)
    items = [
        NotificationItem(n, dict(records[n.record_id]) if n.record_id in records else None)
        for n in page.items
    ]
    return Page(items, page.cursors, page.has_next, page.has_previous)


def unread_notification_count(actor: Actor) -> int:
    return my_notification_rows(actor).filter(read_at__isnull=True).count()
