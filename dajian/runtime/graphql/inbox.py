"""GraphQL of the task inbox: ``myTasks`` (with ``counts``), ``decideTask``,
``bulkDecideTasks`` and ``completeTask``. A page of tasks costs a fixed number of queries (see
:mod:`dajian.runtime.inbox.selectors`); the requests of the page are registered with the
approval loader, so asking for their steps or history adds one query each per page."""

from __future__ import annotations

from typing import Any

import graphene
from django.utils import timezone
from graphene.types.generic import GenericScalar
from graphql_relay import to_global_id

from dajian.platform.actors import Actor
from dajian.platform.errors import DajianError
from dajian.platform.graphql.base import DajianMutation, Error, current_actor, graphql_error
from dajian.platform.i18n import localize
from dajian.runtime.approvals.services import decide_task
from dajian.runtime.approvals.tasks import task_rows
from dajian.runtime.graphql.approvals import (
    ApprovalDecision,
    ApprovalRequestType,
    TaskRecord,
    TaskStatusEnum,
    loader,
    parse_id,
)
from dajian.runtime.graphql.paging import PageInfo, page_info
from dajian.runtime.inbox.bulk import bulk_decide
from dajian.runtime.inbox.complete import complete_task
from dajian.runtime.inbox.selectors import (
    SlaColor,
    TaskItem,
    my_tasks,
    task_counts,
    task_items,
)
from dajian.runtime.models import TaskKind

TaskKindEnum = graphene.Enum("TaskKind", [(k.name, k.value) for k in TaskKind])
SlaColorEnum = graphene.Enum(
    "SlaColor", [(n, getattr(SlaColor, n)) for n in ("NONE", "GREEN", "YELLOW", "RED")]
)


class TaskStep(graphene.ObjectType):
    index = graphene.Int(required=True)
    key = graphene.String(required=True)
    label = graphene.String(required=True)


class TaskNode(graphene.ObjectType):
    """One task of the caller's inbox (approval, to-do or verification)."""

    class Meta:
        name = "Task"

    id = graphene.ID(required=True)
    kind = graphene.Field(TaskKindEnum, required=True)
    status = graphene.Field(TaskStatusEnum, required=True)
    title = graphene.String(required=True)
    record = graphene.Field(TaskRecord)
    due_at = graphene.DateTime()
    sla_color = graphene.Field(
        SlaColorEnum,
        required=True,
        description="RED overdue, YELLOW under a quarter of the time left, NONE when closed.",
    )
    allowed_decisions = graphene.List(graphene.NonNull(ApprovalDecision), required=True)
    request = graphene.Field(ApprovalRequestType)
    step = graphene.Field(TaskStep)
    escalated = graphene.Boolean(required=True)
    created_at = graphene.DateTime(required=True)
    completed_at = graphene.DateTime()
    decision = graphene.Field(ApprovalDecision)
    comment = graphene.String(required=True)
    message = graphene.String(description="A to-do's message; null for other kinds.")
    suggested_actions = graphene.List(
        graphene.NonNull(GenericScalar),
        required=True,
        description='A to-do\'s suggestions, e.g. {"type": "open_record", "record": 23}.',
    )

    def resolve_id(item: TaskItem, info: Any) -> str:
        return to_global_id("Task", item.task.pk)

    def resolve_kind(item: TaskItem, info: Any) -> str:
        return str(item.task.kind)

    def resolve_status(item: TaskItem, info: Any) -> str:
        return str(item.task.status)

    def resolve_title(item: TaskItem, info: Any) -> str:
        return localize(item.task.title)

    def resolve_record(item: TaskItem, info: Any) -> Any:
        return item.record

    def resolve_due_at(item: TaskItem, info: Any) -> Any:
        return item.task.due_at

    def resolve_sla_color(item: TaskItem, info: Any) -> str:
        return item.sla_color

    def resolve_allowed_decisions(item: TaskItem, info: Any) -> list[str]:
        return item.allowed_decisions

    def resolve_request(item: TaskItem, info: Any) -> Any:
        return item.approval.request if item.approval else None

    def resolve_step(item: TaskItem, info: Any) -> TaskStep | None:
        if item.approval is None:
            return None
        step = item.approval.step
        return TaskStep(index=item.approval.step_index, key=step.key, label=localize(step.label))

    def resolve_escalated(item: TaskItem, info: Any) -> bool:
        return bool(item.approval and item.approval.escalated)

    def resolve_created_at(item: TaskItem, info: Any) -> Any:
        return item.task.created_at

    def resolve_completed_at(item: TaskItem, info: Any) -> Any:
        return item.task.completed_at

    def resolve_decision(item: TaskItem, info: Any) -> str | None:
        return item.task.decision or None

    def resolve_comment(item: TaskItem, info: Any) -> str:
        return item.task.comment

    def resolve_message(item: TaskItem, info: Any) -> str | None:
        return localize(item.todo.message) if item.todo else None

    def resolve_suggested_actions(item: TaskItem, info: Any) -> list[Any]:
        return item.todo.suggested_actions if item.todo else []


class TaskCountType(graphene.ObjectType):
    class Meta:
        name = "TaskCount"

    kind = graphene.Field(TaskKindEnum, required=True)
    status = graphene.Field(TaskStatusEnum, required=True)
    count = graphene.Int(required=True)


class TaskEdge(graphene.ObjectType):
    cursor = graphene.String(required=True)
    node = graphene.Field(TaskNode, required=True)


class TaskConnection(graphene.ObjectType):
    edges = graphene.List(graphene.NonNull(TaskEdge), required=True)
    page_info = graphene.Field(PageInfo, required=True)
    counts = graphene.List(
        graphene.NonNull(TaskCountType),
        required=True,
        description="The caller's tasks per kind and status (all of them, not this page).",
    )

    def resolve_edges(page: Any, info: Any) -> list[TaskEdge]:
        return [TaskEdge(cursor=c, node=i) for c, i in zip(page.cursors, page.items, strict=True)]

    def resolve_page_info(page: Any, info: Any) -> PageInfo:
        return page_info(page)

    def resolve_counts(page: Any, info: Any) -> list[Any]:
        return task_counts(page.extra["actor"])


def _register(info: Any, items: list[TaskItem]) -> list[TaskItem]:
    loader(info).add(i.approval.request for i in items if i.approval is not None)
    return items


class InboxQuery(graphene.ObjectType):
    my_tasks = graphene.Field(
        TaskConnection,
        status=graphene.Argument(TaskStatusEnum, description="Default OPEN."),
        kind=graphene.Argument(TaskKindEnum),
        first=graphene.Int(description="Page size, at most 100 (default 20)."),
        after=graphene.String(),
        description="The caller's tasks, newest first.",
    )

    def resolve_my_tasks(
        root: Any, info: Any, status: Any = None, kind: Any = None, **kwargs: Any
    ) -> Any:
        actor = current_actor(info)
        try:
            page = my_tasks(
                actor,
                status=getattr(status, "value", status) or "open",
                kind=getattr(kind, "value", kind),
                **kwargs,
            )
        except DajianError as exc:
            raise graphql_error(exc) from None
        _register(info, page.items)
        return page


def _items(info: Any, task_ids: list[int]) -> list[TaskItem]:
    rows = {t.pk: t for t in task_rows().filter(pk__in=task_ids)}
    return _register(info, task_items([rows[pk] for pk in task_ids if pk in rows], timezone.now()))


class DecideTaskInput(graphene.InputObjectType):
    task_id = graphene.ID(required=True)
    decision = ApprovalDecision(required=True)
    comment = graphene.String(description="Required to reject.")
    attachments = graphene.List(
        graphene.NonNull(graphene.ID), description="Evidence (required to appeal)."
    )
    return_to = graphene.String(description="RETURN: the key of an earlier step.")
    delegate_to = graphene.ID(description="DELEGATE: a member of the workspace.")


class DecideTask(DajianMutation):
    task = graphene.Field(TaskNode)
    delegated_task = graphene.Field(TaskNode, description="The delegate's new task.")
    request = graphene.Field(ApprovalRequestType)

    class Arguments:
        input = DecideTaskInput(required=True)

    class Meta:
        description = (
            "Decide an approval task. Refusals: NOT_FOUND, NOT_ASSIGNEE, ALREADY_DECIDED, "
            "DECISION_NOT_ALLOWED, SELF_APPROVAL, REASON_REQUIRED, EVIDENCE_REQUIRED, "
            "INVALID_RETURN_STEP, DELEGATE_INVALID."
        )
        permission = "the task's assignee"
        error_type = Error

    @classmethod
    def perform(cls, root: Any, info: Any, actor: Actor, input: Any) -> DecideTask:
        attachments = [
            parse_id(a, "Attachment", f"attachments.{i}")
            for i, a in enumerate(input.get("attachments") or [])
        ]
        delegate = input.get("delegate_to")
        result = decide_task(
            actor,
            parse_id(input.task_id, "Task", "taskId"),
            input.decision,
            comment=input.get("comment") or "",
            attachments=attachments,
            return_to=input.get("return_to"),
            delegate_to=parse_id(delegate, "User", "delegateTo") if delegate else None,
        )
        ids = [result.task.pk] + ([result.delegated_task.pk] if result.delegated_task else [])
        items = _items(info, ids)
        loader(info).add([result.request])
        return cls(
            task=items[0],
            delegated_task=items[1] if len(items) > 1 else None,
            request=result.request,
            errors=[],
        )


class BulkDecideTasksInput(graphene.InputObjectType):
    task_ids = graphene.List(graphene.NonNull(graphene.ID), required=True)
    decision = ApprovalDecision(required=True, description="APPROVE, REJECT or CONFIRM.")
    comment = graphene.String()


class BulkDecideTasks(DajianMutation):
    tasks = graphene.List(graphene.NonNull(TaskNode), required=True)

    extra_list_fields = ("tasks",)

    class Arguments:
        input = BulkDecideTasksInput(required=True)

    class Meta:
        description = (
            "Decide several tasks at once, all or nothing; at most MAX_BULK_DECISIONS "
            "(LIMIT_EXCEEDED). Each refusal has the path taskIds.N."
        )
        permission = "the assignee of every task"
        error_type = Error

    @classmethod
    def perform(cls, root: Any, info: Any, actor: Actor, input: Any) -> BulkDecideTasks:
        ids = [parse_id(t, "Task", f"taskIds.{i}") for i, t in enumerate(input.task_ids)]
        results = bulk_decide(actor, ids, input.decision, input.get("comment") or "")
        return cls(tasks=_items(info, [r.task.pk for r in results]), errors=[])


class CompleteTaskInput(graphene.InputObjectType):
    task_id = graphene.ID(required=True)
    comment = graphene.String()


class CompleteTask(DajianMutation):
    task = graphene.Field(TaskNode)

    class Arguments:
        input = CompleteTaskInput(required=True)

    class Meta:
        description = (
            "Mark a to-do or verification task done. Refusals: NOT_FOUND, NOT_ASSIGNEE, "
            "ALREADY_DECIDED, USE_DECIDE_TASK (approval tasks are decided with decideTask)."
        )
        permission = "the task's assignee"
        error_type = Error

    @classmethod
    def perform(cls, root: Any, info: Any, actor: Actor, input: Any) -> CompleteTask:
        task = complete_task(
            actor, parse_id(input.task_id, "Task", "taskId"), input.get("comment") or ""
        )
        return cls(task=_items(info, [task.pk])[0], errors=[])


class InboxMutation(graphene.ObjectType):
    decide_task = DecideTask.Field()
    bulk_decide_tasks = BulkDecideTasks.Field()
    complete_task = CompleteTask.Field()
