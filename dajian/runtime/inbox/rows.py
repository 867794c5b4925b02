"""Inserting tasks in bulk: django-polymorphic's models cannot ``bulk_create`` a child
model, so a batch of approval tasks or to-dos is two statements per chunk — the parent
``Task`` rows with ``bulk_create``, then one multi-row INSERT of the child rows."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from django.contrib.contenttypes.models import ContentType
from django.db import connection

from dajian.runtime.models import Task, TaskStatus

CHUNK = 500
T = TypeVar("T", bound=Task)


def insert_tasks(model: type[T], kind: str, tasks: Sequence[T]) -> list[T]:
    """Insert unsaved ``tasks`` of ``model`` (open, of ``kind``); sets their ids and
    returns them."""
    if not tasks:
        return []
    ctype = ContentType.objects.get_for_model(model, for_concrete_model=False)
    for start in range(0, len(tasks), CHUNK):
        chunk = tasks[start : start + CHUNK]
        parents = [
            Task(
                workspace_id=t.workspace_id,
                assignee_id=t.assignee_id,
                kind=kind,
                status=TaskStatus.OPEN,
                title=t.title,
                record_id=t.record_id,
                created_at=t.created_at,
                due_at=t.due_at,
                polymorphic_ctype=ctype,
            )
            for t in chunk
        ]
        Task.objects.non_polymorphic().bulk_create(parents)  # type: ignore[arg-type]
        for task, parent in zip(chunk, parents, strict=True):
            task.pk = task.id = task.task_ptr_id = parent.pk  # type: ignore[attr-defined]
            task.polymorphic_ctype_id = ctype.pk
            task.kind, task.status = kind, TaskStatus.OPEN
            task._state.adding = False
        _insert_children(model, chunk)
    return list(tasks)


def _insert_children(model: type[Task], tasks: Sequence[Task]) -> None:
    fields = model._meta.local_concrete_fields
    quote = connection.ops.quote_name
    row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    sql = "INSERT INTO {} ({}) VALUES {}".format(
        quote(str(model._meta.db_table)),
        ", ".join(quote(str(f.column)) for f in fields),
        ", ".join([row] * len(tasks)),
    )
    params = [
        f.get_db_prep_save(getattr(task, f.attname), connection) for task in tasks for f in fields
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
