"""``create_todo``: a to-do in the inbox of each person the ``assignee`` specs name.

One :class:`~dajian.runtime.models.TodoTask` per resolved person and record, with a
``title`` and a ``message`` rendered from the record, ``suggested_actions`` as given and
``source`` naming the automation. ``due`` is a duration from the run's time, on the
workspace's working calendar with ``"business": true``.

A batch costs a handful of queries: recipients are resolved once per distinct owner
(:func:`~.notify.recipients_by_target`), and since Django refuses ``bulk_create`` for
multi-table inheritance, the polymorphic parents go in one INSERT (ids returned) and
the to-do rows in a second (as :func:`dajian.runtime.approvals.tasks.create_tasks`
does for approval tasks).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from dajian.builder.metadata.checks_workflow import check_duration, duplicates
from dajian.platform import calendars
from dajian.platform.durations import Duration
from dajian.platform.errors import ErrorDetail
from dajian.runtime.automations.actions import action
from dajian.runtime.automations.actions.base import ActionType, CheckContext
from dajian.runtime.automations.actions.notify import (
    RECIPIENTS_SCHEMA,
    TEMPLATE_SCHEMA,
    check_recipient_list,
    recipients_by_target,
)
from dajian.runtime.automations.context import Outcome, RunContext, Target
from dajian.runtime.automations.templates import check_template, render
from dajian.runtime.inbox.rows import insert_tasks
from dajian.runtime.models import TaskKind, TaskStatus, TodoTask

# Rows per INSERT of to-do children (5 parameters each): well under SQLite's limit.

DURATION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "anyOf": [{"required": ["days"]}, {"required": ["hours"]}, {"required": ["minutes"]}],
    "properties": {
        "days": {"type": "integer", "minimum": 0, "maximum": 3660},
        "hours": {"type": "integer", "minimum": 0, "maximum": 87840},
        "minutes": {"type": "integer", "minimum": 0, "maximum": 5270400},
        "business": {"type": "boolean"},
    },
}


@action
class CreateTodoAction(ActionType):
    """Spec: ``assignee`` (recipient specs), ``title`` and ``message`` (templates),
    ``suggested_actions`` (``[{"key", "label"}]``), ``due`` (a duration)."""

    type = "create_todo"
    label = {"zh-CN": "创建待办", "en": "Create a to-do"}
    schema = {
        "type": "object",
        "required": ["type", "assignee", "title"],
        "additionalProperties": False,
        "properties": {
            "type": {"const": "create_todo"},
            "assignee": RECIPIENTS_SCHEMA,
            "title": TEMPLATE_SCHEMA,
            "message": TEMPLATE_SCHEMA,
            "suggested_actions": {
                "type": "array",
                "maxItems": 10,
                "items": {
                    "type": "object",
                    "required": ["key", "label"],
                    "additionalProperties": False,
                    "properties": {
                        "key": {"type": "string", "pattern": "^[a-z][a-z0-9_]{0,62}$"},
                        "label": TEMPLATE_SCHEMA,
                    },
                },
            },
            "due": DURATION_SCHEMA,
        },
    }

    def check(self, spec: Mapping[str, Any], path: str, ctx: CheckContext) -> list[ErrorDetail]:
        errors = check_recipient_list(spec["assignee"], f"{path}.assignee", ctx)
        for name in ("title", "message"):
            if name in spec:
                errors.extend(check_template(spec[name], f"{path}.{name}", ctx.names))
        errors.extend(duplicates(spec.get("suggested_actions", []), f"{path}.suggested_actions"))
        errors.extend(check_duration(spec.get("due"), f"{path}.due"))
        return errors

    def run(self, ctx: RunContext, targets: Sequence[Target]) -> list[Outcome]:
        spec = ctx.spec
        due = _due_at(ctx)
        assignees = recipients_by_target(ctx, targets, spec["assignee"])
        tasks: list[TodoTask] = []
        for target, user_ids in zip(targets, assignees, strict=True):
            if not user_ids:
                continue
            variables = target.template_vars
            title = render(spec["title"], variables)
            message = render(spec["message"], variables) if "message" in spec else {}
            tasks.extend(
                TodoTask(
                    workspace_id=ctx.automation.workspace_id,
                    assignee_id=uid,
                    kind=TaskKind.TODO,
                    status=TaskStatus.OPEN,
                    title=title,
                    record_id=target.record.pk,
                    created_at=ctx.now,
                    due_at=due,
                    message=message,
                    suggested_actions=list(spec.get("suggested_actions", [])),
                    source=ctx.automation.source,
                )
                for uid in user_ids
            )
        create_todos(tasks)
        by_record: dict[int, list[int]] = {}
        for task in tasks:
            by_record.setdefault(task.record_id, []).append(task.pk)  # type: ignore[arg-type]
        return [
            Outcome.done(tasks=by_record.get(t.record.pk, []), assignees=ids)
            for t, ids in zip(targets, assignees, strict=True)
        ]


def _due_at(ctx: RunContext) -> dt.datetime | None:
    duration = Duration.parse(ctx.spec.get("due"))
    if duration is None:
        return None
    return calendars.deadline(ctx.actor.workspace, ctx.now, duration)


def create_todos(tasks: Sequence[TodoTask]) -> None:
    """Insert ``tasks`` (unsaved) in bulk; sets their ids."""
    insert_tasks(TodoTask, TaskKind.TODO, tasks)
