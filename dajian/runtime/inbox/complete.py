"""Completing a to-do or verification task (approval tasks are decided instead)."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from dajian.platform.actors import Actor
from dajian.platform.audit import record_event
from dajian.platform.errors import CommonErrorCode, DajianError, not_found
from dajian.runtime.approvals.decide import MAX_COMMENT
from dajian.runtime.approvals.errors import ApprovalErrorCode, approval_error
from dajian.runtime.approvals.tasks import task_rows
from dajian.runtime.inbox.errors import InboxErrorCode, inbox_error
from dajian.runtime.models import Task, TaskKind, TaskStatus


def complete_task(actor: Actor, task_id: int, comment: str = "") -> Task:
    """Mark the actor's open to-do or verification task done, with the task row locked
    so two clicks complete it once. Refusals (nothing changes): NOT_FOUND (also for a
    task of another workspace), NOT_ASSIGNEE, USE_DECIDE_TASK (an approval task),
    ALREADY_DECIDED (not open), INVALID_INPUT (a comment over 2,000 characters)."""
    comment = (comment or "").strip()
    if len(comment) > MAX_COMMENT:
        raise DajianError.single(
            CommonErrorCode.INVALID_INPUT,
            f"A comment is at most {MAX_COMMENT} characters.",
            field="comment",
        )
    with transaction.atomic():
        task = (
            task_rows()
            .select_for_update()
            .filter(workspace_id=actor.workspace.pk, pk=task_id)
            .first()
        )
        if task is None:
            raise not_found("Task")
        if actor.user is not None and task.assignee_id != actor.user_id:
            raise approval_error(ApprovalErrorCode.NOT_ASSIGNEE, field="taskId")
        if task.kind == TaskKind.APPROVAL:
            raise inbox_error(InboxErrorCode.USE_DECIDE_TASK, field="taskId")
        if task.status != TaskStatus.OPEN:
            raise approval_error(ApprovalErrorCode.ALREADY_DECIDED, field="taskId")
        task.status = TaskStatus.DONE
        task.completed_at = timezone.now()
        task.decided_by_id = actor.user_id
        task.comment = comment
        task.version += 1
        task_rows().filter(pk=task.pk).update(
            status=task.status,
            completed_at=task.completed_at,
            decided_by_id=task.decided_by_id,
            comment=comment,
            version=task.version,
        )
        diff = {"status": [TaskStatus.OPEN.value, TaskStatus.DONE.value]}
        if comment:
            diff["comment"] = ["", comment]
        record_event(actor, "task.completed", "Task", task.pk, diff)
    return task
