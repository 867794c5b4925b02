"""Deadlines as rows: schedule, cancel, and fire the due ones exactly once.

An engine registers one action per timer ``kind`` (``@timer_action("approval.sla")``).
:func:`fire_due_timers` claims due rows with one set-based ``SELECT … FOR UPDATE SKIP
LOCKED`` and applies each action in the same transaction that marks the row fired, so
running it twice, or on two workers at once, acts once. Actions re-check that the
deadline still applies (the task is still open, the record still in that stage).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from django.core import checks
from django.db import transaction
from django.utils import timezone

from dajian.runtime.models import Timer

logger = logging.getLogger(__name__)
TimerAction = Callable[[Timer, dt.datetime], str]
_actions: dict[str, TimerAction] = {}
_conflicts: list[str] = []


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


def due_timers_query(now: dt.datetime, limit: int):  # type: ignore[no-untyped-def]
    """The claim: due, pending timers, oldest first, skipping rows another worker holds."""
    return (
        Timer.objects.select_for_update(skip_locked=True)
        .filter(fired_at__isnull=True, cancelled_at__isnull=True, due_at__lte=now)
        .order_by("due_at", "id")[:limit]
    )


def fire_due_timers(now: dt.datetime | None = None, batch: int = 200) -> int:
    """Apply every due timer once; returns how many fired. Each batch is one
    transaction; an action that raises is logged, rolled back to its savepoint and
    its timer marked with the error (it is not retried forever)."""
    now = now or timezone.now()
    fired = 0
    while True:
        with transaction.atomic():
            rows = list(due_timers_query(now, batch))
            for timer in rows:
                timer.result = _apply(timer, now)[:200]
                timer.fired_at = now
            Timer.objects.bulk_update(rows, ["fired_at", "result"])
        fired += len(rows)
        if len(rows) < batch:
            return fired


def _apply(timer: Timer, now: dt.datetime) -> str:
    action = _actions.get(timer.kind)
    if action is None:
        logger.error("no action registered for timer kind %s", timer.kind)
        return "error: unknown kind"
    try:
        with transaction.atomic():
            return action(timer, now) or "done"
    except Exception as exc:  # one bad timer must not block the others
        logger.exception("timer %s (%s) failed", timer.pk, timer.kind)
        return f"error: {type(exc).__name__}: {exc}"
