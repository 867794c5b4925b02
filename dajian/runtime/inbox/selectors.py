"""Reading the inbox: a user's tasks, newest first, page by page; counts by kind.

A page costs a fixed number of queries whatever its size: the tasks (one indexed
query on ``task_inbox`` with keyset pagination, the polymorphic subclass *not*
fetched), the approval details of the page's approval tasks, their requests (with
chain and version), the messages of the page's to-dos, and the page's records.
``get_real_instance()`` is never called.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db.models import Count
from django.utils import timezone

from dajian.builder.metadata.approval_chain import ChainDefinition, Decision, Step
from dajian.builder.metadata.loaders import chain_view
from dajian.platform.actors import Actor
from dajian.runtime.approvals.tasks import approval_task_rows, task_rows
from dajian.runtime.models import (
    ApprovalRequest,
    Record,
    Task,
    TaskKind,
    TaskStatus,
    TodoTask,
)
from dajian.runtime.paging import Page, newest_first

# Columns of a request that a task list shows (the snapshot and documents stay behind).
REQUEST_DEFERRED = (
    "snapshot",
    "chain__draft",
    "chain_version__definition",
    "submitted_by__password",
)


class SlaColor:
    NONE = "none"
    GREEN = "green"
    YELLOW = "yellow"
    RED = "red"


def sla_color(task: Task, now: dt.datetime) -> str:
    """``none`` without a due time or once the task is closed; ``red`` when overdue;
    ``yellow`` when less than a quarter of the window (creation → due) remains;
    ``green`` otherwise. The window is wall-clock time, which is what a user sees."""
    if task.due_at is None or task.status != TaskStatus.OPEN:
        return SlaColor.NONE
    if now >= task.due_at:
        return SlaColor.RED
    window = task.due_at - task.created_at
    if task.due_at - now < window / 4:
        return SlaColor.YELLOW
    return SlaColor.GREEN


@dataclass
class ApprovalDetails:
    request: ApprovalRequest
    step_index: int
    step_key: str
    round: int
    position: int
    escalated: bool
    delegated_from_id: int | None
    chain: ChainDefinition

    @property
    def step(self) -> Step:
        return self.chain.steps[self.step_index]


@dataclass
class TodoDetails:
    message: dict[str, str]
    suggested_actions: list[dict[str, Any]]


@dataclass
class TaskItem:
    """One inbox row: the task, what the UI shows of its record, for approval tasks
    the request, step and the decisions the step allows, for to-dos their message."""

    task: Task
    record: dict[str, Any] | None
    approval: ApprovalDetails | None
    sla_color: str
    todo: TodoDetails | None = None

    @property
    def allowed_decisions(self) -> list[str]:
        if self.approval is None or self.task.status != TaskStatus.OPEN:
            return []
        return [d.value for d in Decision if d in self.approval.step.decisions]


def my_tasks(
    actor: Actor,
    status: str = TaskStatus.OPEN,
    kind: str | None = None,
    first: int | None = None,
    after: str | None = None,
    now: dt.datetime | None = None,
) -> Page[TaskItem]:
    """The actor's tasks with ``status`` (and ``kind``), newest first; ``page.extra``
    holds the actor for the counts."""
    qs = task_rows().filter(
        workspace_id=actor.workspace.pk, assignee_id=actor.user_id, status=status
    )
    if kind:
        qs = qs.filter(kind=kind)
    page = newest_first(qs, "created_at", first, after)
    items = task_items(page.items, now or timezone.now())
    return Page(items, page.cursors, page.has_next, page.has_previous, extra={"actor": actor})


def record_summaries(record_ids: Iterable[int | None]) -> dict[int, dict[str, Any]]:
    """``{id: {id, stage, status, form__key, form__app__key}}`` of records a list shows
    beside its rows (one query; none for no ids)."""
    ids = {pk for pk in record_ids if pk is not None}
    if not ids:
        return {}
    rows = Record.objects.filter(pk__in=ids).values(
        "id", "stage", "status", "form__key", "form__app__key"
    )
    return {r["id"]: dict(r) for r in rows}


def task_items(rows: Sequence[Task], now: dt.datetime) -> list[TaskItem]:
    """Inbox rows for ``rows`` (plain ``Task`` rows): four more queries at most."""
    approval_ids = [t.pk for t in rows if t.kind == TaskKind.APPROVAL]
    details = _approval_details(approval_ids)
    todos = _todo_details([t.pk for t in rows if t.kind == TaskKind.TODO])
    records = record_summaries(t.record_id for t in rows)
    return [
        TaskItem(
            task=t,
            record=dict(records[t.record_id]) if t.record_id in records else None,
            approval=details.get(t.pk),
            sla_color=sla_color(t, now),
            todo=todos.get(t.pk),
        )
        for t in rows
    ]


def _todo_details(task_ids: list[int]) -> dict[int, TodoDetails]:
    if not task_ids:
        return {}
    rows = (
        TodoTask.objects.non_polymorphic()
        .filter(pk__in=task_ids)
        .values("task_ptr_id", "message", "suggested_actions")
    )
    return {
        r["task_ptr_id"]: TodoDetails(r["message"] or {}, r["suggested_actions"] or [])
        for r in rows
    }


def _approval_details(task_ids: list[int]) -> dict[int, ApprovalDetails]:
    if not task_ids:
        return {}
    rows = list(
        approval_task_rows()
        .filter(pk__in=task_ids)
        .values(
            "task_ptr_id",
            "request_id",
            "step_index",
            "step_key",
            "round",
            "position",
            "escalated",
            "delegated_from_id",
        )
    )
    requests = requests_by_id({r["request_id"] for r in rows})
    return {
        r["task_ptr_id"]: ApprovalDetails(
            request=requests[r["request_id"]],
            step_index=r["step_index"],
            step_key=r["step_key"],
            round=r["round"],
            position=r["position"],
            escalated=r["escalated"],
            delegated_from_id=r["delegated_from_id"],
            chain=request_chain(requests[r["request_id"]]),
        )
        for r in rows
    }


def requests_by_id(ids: Iterable[int]) -> dict[int, ApprovalRequest]:
    """Requests with their chain, version (definition deferred) and submitter."""
    ids = set(ids)
    if not ids:
        return {}
    return {
        r.pk: r
        for r in ApprovalRequest.objects.filter(pk__in=ids)
        .select_related("chain", "chain_version", "submitted_by")
        .defer(*REQUEST_DEFERRED)
    }


def request_chain(request: ApprovalRequest) -> ChainDefinition:
    """The typed chain of a request; the definition column is read only on a cache miss."""
    return chain_view(request.chain, request.chain_version)


@dataclass(frozen=True)
class TaskCount:
    kind: str
    status: str
    count: int


def task_counts(actor: Actor) -> list[TaskCount]:
    """How many tasks the actor has per kind and status (one GROUP BY)."""
    rows = (
        task_rows()
        .filter(workspace_id=actor.workspace.pk, assignee_id=actor.user_id)
        .values("kind", "status")
        .annotate(n=Count("id"))
        .order_by("kind", "status")
    )
    return [TaskCount(r["kind"], r["status"], r["n"]) for r in rows]
