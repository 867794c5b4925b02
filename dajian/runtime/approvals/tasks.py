"""Approval task rows: created in bulk, decided, cancelled, with their SLA timers.

An :class:`ApprovalTask` is two rows (the polymorphic ``Task`` parent and the child);
Django refuses ``bulk_create`` for multi-table inheritance, so :func:`create_tasks`
inserts all parents in one statement (ids returned) and all children in a second one.

Slots: the tasks of one step and round are numbered by ``position`` (the approver's
place in the step's plan). A delegation or an escalation adds a task in the *same*
slot, so modes count decisions per slot, never per task, and deciding one task of a
slot cancels its siblings.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import cast

from django.db.models import F, Q, QuerySet

from dajian.runtime.inbox.rows import insert_tasks
from dajian.runtime.models import ApprovalTask, Task, TaskKind, TaskStatus, Timer
from dajian.runtime.timers import schedule_timers

SLA_TIMER = "approval.sla"


def task_rows() -> QuerySet[Task]:
    """Plain ``Task`` rows: no polymorphic subclass queries (DESIGN §7)."""
    return cast("QuerySet[Task]", Task.objects.non_polymorphic())


def approval_task_rows() -> QuerySet[ApprovalTask]:
    """``ApprovalTask`` rows (parent joined), without polymorphic post-processing."""
    return cast("QuerySet[ApprovalTask]", ApprovalTask.objects.non_polymorphic())


def timer_key(request_id: int, task_id: int) -> str:
    return f"approval:{request_id}:{task_id}:sla"


def request_timer_prefix(request_id: int) -> str:
    return f"approval:{request_id}:"


def task_timer_prefix(request_id: int, task_id: int) -> str:
    return f"approval:{request_id}:{task_id}:"


def create_tasks(tasks: Sequence[ApprovalTask], with_timers: bool = True) -> list[ApprovalTask]:
    """Insert ``tasks`` (unsaved) in two statements and, for those with ``due_at``, their
    SLA timers in a third; returns them with ids."""
    if not tasks:
        return []
    insert_tasks(ApprovalTask, TaskKind.APPROVAL, tasks)
    if with_timers:
        schedule_timers(
            Timer(
                workspace_id=t.workspace_id,
                kind=SLA_TIMER,
                key=timer_key(t.request_id, t.pk),
                due_at=t.due_at,
                payload={"request": t.request_id, "task": t.pk},
            )
            for t in tasks
            if t.due_at is not None
        )
    return list(tasks)


def close_task(
    task: ApprovalTask,
    decision: str,
    decided_by_id: int | None,
    comment: str,
    now: dt.datetime,
) -> None:
    """Mark ``task`` (locked by the caller) done with ``decision``; cancel its timer."""
    task.status = TaskStatus.DONE
    task.decision = decision
    task.decided_by_id = decided_by_id
    task.comment = comment
    task.completed_at = now
    task.version += 1
    task_rows().filter(pk=task.pk).update(
        status=task.status,
        decision=decision,
        decided_by_id=decided_by_id,
        comment=comment,
        completed_at=now,
        version=task.version,
    )
    cancel_timers(Q(key__startswith=task_timer_prefix(task.request_id, task.pk)), now)


def cancel_open_tasks(
    request_id: int,
    now: dt.datetime,
    step_index: int | None = None,
    round: int | None = None,
    position: int | None = None,
) -> list[int]:
    """Cancel the open tasks of a request (optionally of one step/round/slot) and their
    timers in set-based statements; returns the cancelled task ids."""
    open_tasks = approval_task_rows().filter(request_id=request_id, status=TaskStatus.OPEN)
    if step_index is not None:
        open_tasks = open_tasks.filter(step_index=step_index)
    if round is not None:
        open_tasks = open_tasks.filter(round=round)
    if position is not None:
        open_tasks = open_tasks.filter(position=position)
    ids = list(open_tasks.values_list("pk", flat=True))
    if not ids:
        return []
    task_rows().filter(pk__in=ids).update(
        status=TaskStatus.CANCELLED, completed_at=now, version=F("version") + 1
    )
    if step_index is None and round is None and position is None:
        cancel_timers(Q(key__startswith=request_timer_prefix(request_id)), now)
    else:
        which = Q()
        for pk in ids:
            which |= Q(key__startswith=task_timer_prefix(request_id, pk))
        cancel_timers(which, now)
    return ids


def cancel_timers(which: Q, now: dt.datetime) -> None:
    """Cancel the pending timers matching ``which``, skipping rows a timer sweep has
    claimed (``SKIP LOCKED``): waiting for them while holding the record lock could
    deadlock with the sweep, and their action re-checks the task and does nothing."""
    pending = Timer.objects.filter(which, fired_at__isnull=True, cancelled_at__isnull=True)
    ids = list(pending.select_for_update(skip_locked=True).values_list("pk", flat=True))
    if ids:
        Timer.objects.filter(pk__in=ids).update(cancelled_at=now)
