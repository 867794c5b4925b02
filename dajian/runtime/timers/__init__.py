"""Deadlines as rows: schedule, cancel, and fire the due ones exactly once.

An engine registers one action per timer ``kind`` (``@timer_action("approval.sla")``).
:func:`fire_due_timers` claims due rows with one set-based ``SELECT … FOR UPDATE SKIP
LOCKED`` and applies each action in the transaction that marks its row fired, so running
it twice, or on two workers at once, acts once. Actions re-check
that the deadline still applies (the task is still open, the record still in that stage).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from django.db import OperationalError, connection, transaction
from django.utils import timezone

from dajian.platform.registry import Registry
from dajian.platform.sql import skip_commit_wait
from dajian.runtime.models import Timer

logger = logging.getLogger(__name__)
TimerAction = Callable[[Timer, dt.datetime], str]
_registry: Registry[TimerAction] = Registry("timer kind")
_conflicts = _registry.conflicts
check_timer_actions = _registry.check
register_checks = _registry.register_checks
LOCK_TIMEOUT_MS = 200  # an action never waits longer than this for a lock
BATCH_SECONDS = 0.2  # a batch commits after this long, releasing what it holds


def timer_action(kind: str) -> Callable[[TimerAction], TimerAction]:
    """Decorator: the function that applies timers of ``kind``; returns a short result."""

    def register(func: TimerAction) -> TimerAction:
        return _registry.add(kind, func, func.__module__)

    return register


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


def fire_due_timers(now: dt.datetime | None = None, batch: int = 200) -> int:
    """Apply every due timer once; returns how many fired.

    A batch is one transaction: due rows are claimed with ``FOR UPDATE SKIP LOCKED``
    (another worker's rows are left alone), each action runs in a savepoint and its row
    is marked in the same transaction. An action locks a record and then the
    workspace's audit chain head, so a batch holding the head could wait for a record
    that a user holds while that user waits for the head. Two limits keep that short
    and deadlock-free: an action never waits longer than ``LOCK_TIMEOUT_MS`` for a lock
    (it is rolled back and left pending for the next run), and a batch commits after
    ``BATCH_SECONDS``. An action that raises anything else is rolled back and its timer
    marked with the error.
    """
    now = now or timezone.now()
    fired = 0
    while True:
        try:
            claimed, progressed = _fire_batch(now, batch)
        except OperationalError as exc:  # the batch rolled back whole: retried next run
            logger.warning("timer batch rolled back by a lock conflict: %s", exc)
            return fired
        fired += progressed
        if not progressed or (claimed < batch and progressed == claimed):
            return fired


def _fire_batch(now: dt.datetime, batch: int) -> tuple[int, int]:
    with transaction.atomic():
        if connection.vendor == "postgresql":
            # Losing this commit in a crash loses the actions with it (same
            # transaction), so the timers simply fire again.
            skip_commit_wait()
            with connection.cursor() as cursor:
                cursor.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT_MS}ms'")
                # Django's foreign keys are deferred: checked (and their rows locked) at
                # COMMIT, outside the action's savepoint. Checked immediately, a lock
                # conflict fails the one action instead of the whole batch.
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        rows = list(
            Timer.objects.select_for_update(skip_locked=True)
            .filter(fired_at__isnull=True, cancelled_at__isnull=True, due_at__lte=now)
            .order_by("due_at", "id")[:batch]
        )
        started = time.monotonic()
        done: list[Timer] = []
        for timer in rows:
            result = _apply(timer, now)
            if result is not None:
                timer.fired_at, timer.result = now, result[:200]
                done.append(timer)
            if time.monotonic() - started > BATCH_SECONDS:
                break  # commit: release the audit chain heads this batch holds
        Timer.objects.bulk_update(done, ["fired_at", "result"])
    return len(rows), len(done)


def _apply(timer: Timer, now: dt.datetime) -> str | None:
    """The action's result, an ``error: …`` text, or None to retry on the next run."""
    action = _registry.get(timer.kind)
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
