"""Deadlines as rows: schedule, cancel, and fire the due ones exactly once.

An engine registers one action per timer ``kind`` (``@timer_action("approval.sla")``).
:func:`fire_due_timers` finds due rows with one set-based indexed query, then applies
each action in the same transaction that locks (``FOR UPDATE SKIP LOCKED``) and marks its
row fired, so running it twice, or on two workers at once, acts once. Actions re-check
that the deadline still applies (the task is still open, the record still in that stage).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from django.core import checks
from django.db import OperationalError, connection, transaction
from django.utils import timezone

from dajian.runtime.models import Timer

logger = logging.getLogger(__name__)
TimerAction = Callable[[Timer, dt.datetime], str]
_actions: dict[str, TimerAction] = {}
_conflicts: list[str] = []
LOCK_TIMEOUT_MS = 5000  # a sweep never waits longer than this for a record lock


def timer_action(kind: str) -> Callable[[TimerAction], TimerAction]:
    """Decorator: the function that applies timers of ``kind``; returns a short result."""

    def register(func: TimerAction) -> TimerAction:
        if kind in _actions and _actions[kind] is not func:
            _conflicts.append(
                f"timer kind {kind!r} registered by {_actions[kind].__module__} "
                f"and {func.__module__}"
            )
        else:
            _actions[kind] = func
        return func

    return register


def check_timer_actions(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    return [
        checks.Error(c, hint="Register each timer kind once.", id="dajian.E001") for c in _conflicts
    ]


def schedule_timer(
    workspace_id: int,
    kind: str,
    key: str,
    due_at: dt.datetime,
    payload: Mapping[str, Any] | None = None,
) -> None:
    """Create the timer ``key`` unless it exists (scheduling is idempotent)."""
    Timer.objects.get_or_create(
        key=key,
        defaults={
            "workspace_id": workspace_id,
            "kind": kind,
            "due_at": due_at,
            "payload": dict(payload or {}),
        },
    )


def schedule_timers(timers: Iterable[Timer]) -> None:
    """Bulk variant of :func:`schedule_timer`; keys that exist are left alone."""
    Timer.objects.bulk_create(list(timers), ignore_conflicts=True)


def cancel_timers(key_prefix: str, now: dt.datetime | None = None) -> int:
    """Cancel the pending timers whose key starts with ``key_prefix``."""
    return Timer.objects.filter(
        key__startswith=key_prefix, fired_at__isnull=True, cancelled_at__isnull=True
    ).update(cancelled_at=now or timezone.now())


def due_timer_ids(now: dt.datetime, limit: int) -> list[int]:
    """The scan: ids of due, pending timers, oldest first (one indexed query)."""
    return list(
        Timer.objects.filter(fired_at__isnull=True, cancelled_at__isnull=True, due_at__lte=now)
        .order_by("due_at", "id")
        .values_list("pk", flat=True)[:limit]
    )


def fire_due_timers(now: dt.datetime | None = None, batch: int = 200) -> int:
    """Apply every due timer once; returns how many fired.

    Each timer fires in its own short transaction that locks its row (``SKIP LOCKED``:
    another worker firing it is left alone), re-checks that it is still pending, applies
    the action and marks the row. One transaction per timer, not per batch, because an
    action locks a record and then the workspace's audit chain head: holding the head
    from an earlier action while waiting for the next record would deadlock with a user
    writing that record. An action that raises is rolled back and its timer marked with
    the error; one that hits a lock conflict or deadlock is left pending for the next run.
    """
    now = now or timezone.now()
    fired = 0
    while True:
        ids = due_timer_ids(now, batch)
        progressed = 0
        for pk in ids:
            if _fire_one(pk, now):
                progressed += 1
        fired += progressed
        if len(ids) < batch or not progressed:
            return fired


def _fire_one(pk: int, now: dt.datetime) -> bool:
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                # Losing this commit in a crash loses the action with it (same transaction),
                # so the timer simply fires again: safe without waiting for the WAL flush.
                cursor.execute("SET LOCAL synchronous_commit TO OFF")
                cursor.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT_MS}ms'")
        timer = (
            Timer.objects.select_for_update(skip_locked=True)
            .filter(pk=pk, fired_at__isnull=True, cancelled_at__isnull=True)
            .first()
        )
        if timer is None:
            return False  # fired, cancelled, or being fired by another worker
        result = _apply(timer, now)
        if result is None:
            return False
        Timer.objects.filter(pk=pk).update(fired_at=now, result=result[:200])
        return True


def _apply(timer: Timer, now: dt.datetime) -> str | None:
    """The action's result, an ``error: …`` text, or None to retry on the next run."""
    action = _actions.get(timer.kind)
    if action is None:
        logger.error("no action registered for timer kind %s", timer.kind)
        return "error: unknown kind"
    try:
        with transaction.atomic():
            return action(timer, now) or "done"
    except OperationalError as exc:  # lock timeout or deadlock: try again next run
        logger.warning("timer %s (%s) hit a lock conflict, retrying: %s", timer.pk, timer.kind, exc)
        return None
    except Exception as exc:  # one bad timer must not block the others
        logger.exception("timer %s (%s) failed", timer.pk, timer.kind)
        return f"error: {type(exc).__name__}: {exc}"
