"""GraphQL of the approval engine: request types, the record fields ``approval`` and
``approvalRequests``, the queries ``approvalRequest`` and ``myRequests``, and the
mutations ``submitForApproval``, ``withdrawApproval`` and ``unfreezeRecord``. Resolvers
are thin; the work is in :mod:`dajian.runtime.approvals`.

No N+1: every request handed to GraphQL is registered with the per-request
:class:`ApprovalLoader`, which loads the tasks, history and record summaries of all
registered requests in one query each the first time any of them is asked for.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import graphene
from graphene.types.generic import GenericScalar
from graphql_relay import to_global_id

from dajian.builder.fields.base import FieldValueError, parse_ref
from dajian.builder.metadata.approval_chain import Decision, Step, StepMode
from dajian.platform.errors import DajianError
from dajian.platform.graphql.base import current_actor, graphql_error
from dajian.platform.i18n import localize
from dajian.runtime.approvals import selectors
from dajian.runtime.approvals.flow import PLAN_EVENTS
from dajian.runtime.graphql.paging import PageInfo, page_info
from dajian.runtime.inbox.selectors import request_chain
from dajian.runtime.models import (
    ApprovalEvent,
    ApprovalRequest,
    ApprovalTask,
    Record,
    RequestStatus,
    TaskStatus,
)
from dajian.runtime.selectors import RecordView

USER_REF = "dajian.runtime.graphql.types.UserRef"  # types.py imports this module

ApprovalDecision = graphene.Enum.from_enum(Decision, name="ApprovalDecision")
ApprovalRequestStatus = graphene.Enum(
    "ApprovalRequestStatus", [(s.name, s.value) for s in RequestStatus]
)
TaskStatusEnum = graphene.Enum("TaskStatus", [(s.name, s.value) for s in TaskStatus])
StepModeEnum = graphene.Enum.from_enum(StepMode, name="ApprovalStepMode")


def parse_id(value: Any, type_name: str, field: str) -> int:
    """The id of a global id of ``type_name``; anything else reads as NOT_FOUND."""
    try:
        return parse_ref(value, type_name)
    except FieldValueError:
        raise DajianError.single("NOT_FOUND", f"{type_name} not found.", field=field) from None


class ApprovalLoader:
    """Batches per GraphQL request (see the module docstring)."""

    def __init__(self) -> None:
        self.known: dict[int, ApprovalRequest] = {}
        self._tasks: dict[int, list[ApprovalTask]] = {}
        self._events: dict[int, list[ApprovalEvent]] = {}
        self._records: dict[int, dict[str, Any]] = {}
        self.latest: dict[int, ApprovalRequest | None] = {}
        self.all_of_record: dict[int, list[ApprovalRequest]] = {}

    def add(self, requests: Iterable[ApprovalRequest | None]) -> None:
        for r in requests:
            if r is not None:
                self.known.setdefault(r.pk, r)

    def _batch(self, cache: dict[int, Any], request: ApprovalRequest, load: Any) -> Any:
        if request.pk not in cache:
            self.add([request])
            ids = [pk for pk in self.known if pk not in cache]
            found = load(ids)
            for pk in ids:
                cache[pk] = found.get(pk, [])
        return cache[request.pk]

    def tasks(self, request: ApprovalRequest) -> list[ApprovalTask]:
        return self._batch(self._tasks, request, selectors.tasks_of_requests)  # type: ignore[no-any-return]

    def events(self, request: ApprovalRequest) -> list[ApprovalEvent]:
        return self._batch(self._events, request, selectors.events_of_requests)  # type: ignore[no-any-return]

    def record(self, request: ApprovalRequest) -> dict[str, Any] | None:
        def load(ids: list[int]) -> dict[int, Any]:
            record_ids = {self.known[pk].record_id: pk for pk in ids}
            rows = Record.objects.filter(pk__in=list(record_ids)).values(
                "id", "stage", "status", "form__key", "form__app__key"
            )
            return {record_ids[r["id"]]: r for r in rows}

        return self._batch(self._records, request, load) or None  # type: ignore[no-any-return]

    def for_record_page(self, view: RecordView, everything: bool) -> Any:
        """The latest request (or all requests) of every record of the view's page."""
        record_id = view.record.pk
        cache = self.all_of_record if everything else self.latest
        if record_id not in cache:
            ids = list(getattr(view.record, "page_ids", [record_id]))
            found: Any = (
                selectors.requests_of_records(ids) if everything else selectors.latest_requests(ids)
            )
            for pk in ids:
                cache[pk] = found.get(pk, [] if everything else None)
            for value in found.values():
                self.add(value if everything else [value])
        return cache[record_id]


def loader(info: Any) -> ApprovalLoader:
    return info.context.__dict__.setdefault("_approval_loader", ApprovalLoader())  # type: ignore[no-any-return]


class TaskRecord(graphene.ObjectType):
    """What a task or request shows of its record (no field data: read it with
    ``record(id)``, which applies the reader's permissions)."""

    id = graphene.ID(required=True)
    app = graphene.String(required=True)
    form = graphene.String(required=True)
    stage = graphene.String()
    status = graphene.String(required=True)

    def resolve_id(row: dict[str, Any], info: Any) -> str:
        return to_global_id("Record", row["id"])

    def resolve_app(row: dict[str, Any], info: Any) -> str:
        return row["form__app__key"]  # type: ignore[no-any-return]

    def resolve_form(row: dict[str, Any], info: Any) -> str:
        return row["form__key"]  # type: ignore[no-any-return]

    def resolve_stage(row: dict[str, Any], info: Any) -> str | None:
        return row["stage"]  # type: ignore[no-any-return]

    def resolve_status(row: dict[str, Any], info: Any) -> str:
        return row["status"]  # type: ignore[no-any-return]


class ApprovalStepTask(graphene.ObjectType):
    """One approver's task on a step (all rounds; ``round`` tells them apart)."""

    id = graphene.ID(required=True)
    assignee = graphene.Field(USER_REF, required=True)
    status = graphene.Field(TaskStatusEnum, required=True)
    decision = graphene.Field(ApprovalDecision)
    comment = graphene.String(required=True)
    due_at = graphene.DateTime()
    decided_at = graphene.DateTime()
    round = graphene.Int(required=True)
    position = graphene.Int(required=True)
    escalated = graphene.Boolean(required=True)
    delegated_from = graphene.ID()

    def resolve_id(task: ApprovalTask, info: Any) -> str:
        return to_global_id("Task", task.pk)

    def resolve_assignee(task: ApprovalTask, info: Any) -> Any:
        return task.assignee

    def resolve_status(task: ApprovalTask, info: Any) -> str:
        return str(task.status)

    def resolve_decision(task: ApprovalTask, info: Any) -> str | None:
        return task.decision or None

    def resolve_decided_at(task: ApprovalTask, info: Any) -> Any:
        return task.completed_at if task.status == TaskStatus.DONE else None

    def resolve_delegated_from(task: ApprovalTask, info: Any) -> str | None:
        return to_global_id("Task", task.delegated_from_id) if task.delegated_from_id else None


@dataclass
class StepView:
    index: int
    step: Step
    applies: bool
    active: bool
    tasks: list[ApprovalTask]


class ApprovalStep(graphene.ObjectType):
    index = graphene.Int(required=True)
    key = graphene.String(required=True)
    label = graphene.String(required=True)
    mode = graphene.Field(StepModeEnum, required=True)
    applies = graphene.Boolean(
        required=True, description="False when the step's condition left it out."
    )
    active = graphene.Boolean(required=True, description="The step waiting for decisions.")
    decisions = graphene.List(graphene.NonNull(ApprovalDecision), required=True)
    tasks = graphene.List(graphene.NonNull(ApprovalStepTask), required=True)

    def resolve_key(view: StepView, info: Any) -> str:
        return view.step.key

    def resolve_label(view: StepView, info: Any) -> str:
        return localize(view.step.label)

    def resolve_mode(view: StepView, info: Any) -> str:
        return view.step.mode.value

    def resolve_decisions(view: StepView, info: Any) -> list[str]:
        return [d.value for d in Decision if d in view.step.decisions]


class ApprovalHistoryEvent(graphene.ObjectType):
    kind = graphene.String(required=True)
    step = graphene.String()
    actor = graphene.String(required=True, description="Username, or `system`.")
    at = graphene.DateTime(required=True)
    comment = graphene.String(required=True)
    attachments = graphene.List(graphene.NonNull(graphene.ID), required=True)
    payload = GenericScalar()

    def resolve_step(event: ApprovalEvent, info: Any) -> str | None:
        return event.step_key or None

    def resolve_actor(event: ApprovalEvent, info: Any) -> str:
        return event.actor_label

    def resolve_attachments(event: ApprovalEvent, info: Any) -> list[str]:
        return [to_global_id("Attachment", pk) for pk in event.attachments or []]


class ApprovalRequestType(graphene.ObjectType):
    """One submission of a record to an approval chain, with its steps and history."""

    class Meta:
        name = "ApprovalRequest"

    id = graphene.ID(required=True)
    chain = graphene.String(required=True, description="The chain's key.")
    chain_label = graphene.String(required=True)
    status = graphene.Field(ApprovalRequestStatus, required=True)
    transition_to = graphene.String(description="The stage the approval will move to.")
    submitted_by = graphene.Field(USER_REF)
    submitted_at = graphene.DateTime(required=True)
    decided_at = graphene.DateTime()
    snapshot_hash = graphene.String(
        required=True, description="SHA-256 of the canonical JSON of the submitted data."
    )
    snapshot_version = graphene.Int(required=True)
    round = graphene.Int(required=True)
    version = graphene.Int(required=True)
    previous = graphene.ID(description="The request this one re-submits.")
    record = graphene.Field(TaskRecord)
    current_step = graphene.Field(ApprovalStep)
    steps = graphene.List(graphene.NonNull(ApprovalStep), required=True)
    events = graphene.List(graphene.NonNull(ApprovalHistoryEvent), required=True)

    def resolve_id(request: ApprovalRequest, info: Any) -> str:
        return to_global_id("ApprovalRequest", request.pk)

    def resolve_chain(request: ApprovalRequest, info: Any) -> str:
        return request.chain.key

    def resolve_status(request: ApprovalRequest, info: Any) -> str:
        return str(request.status)  # a TextChoices member right after a write

    def resolve_chain_label(request: ApprovalRequest, info: Any) -> str:
        return localize(request_chain(request).label)

    def resolve_previous(request: ApprovalRequest, info: Any) -> str | None:
        return to_global_id("ApprovalRequest", request.previous_id) if request.previous_id else None

    def resolve_record(request: ApprovalRequest, info: Any) -> Any:
        return loader(info).record(request)

    def resolve_steps(request: ApprovalRequest, info: Any) -> list[StepView]:
        return step_views(info, request)

    def resolve_current_step(request: ApprovalRequest, info: Any) -> StepView | None:
        if request.current_step is None:
            return None
        return next((v for v in step_views(info, request) if v.index == request.current_step), None)

    def resolve_events(request: ApprovalRequest, info: Any) -> list[ApprovalEvent]:
        return loader(info).events(request)


def step_views(info: Any, request: ApprovalRequest) -> list[StepView]:
    chain = request_chain(request)
    events = loader(info).events(request)
    plans = [e.payload.get("plan", []) for e in events if e.kind in PLAN_EVENTS]
    planned = {int(p["index"]) for p in plans[-1]} if plans else set()
    tasks = loader(info).tasks(request)
    return [
        StepView(
            index=i,
            step=step,
            applies=i in planned,
            active=request.status == RequestStatus.PENDING and request.current_step == i,
            tasks=[t for t in tasks if t.step_index == i],
        )
        for i, step in enumerate(chain.steps)
    ]


class RecordApprovalFields(graphene.ObjectType):
    """Fields of the record type (mixed into ``Record``)."""

    approval = graphene.Field(
        ApprovalRequestType, description="The record's latest approval request."
    )
    approval_requests = graphene.List(
        graphene.NonNull(ApprovalRequestType),
        required=True,
        description="Every approval request of the record, newest first.",
    )

    def resolve_approval(view: RecordView, info: Any) -> Any:
        return loader(info).for_record_page(view, everything=False)

    def resolve_approval_requests(view: RecordView, info: Any) -> Any:
        return loader(info).for_record_page(view, everything=True)


class ApprovalRequestEdge(graphene.ObjectType):
    cursor = graphene.String(required=True)
    node = graphene.Field(ApprovalRequestType, required=True)


class ApprovalRequestConnection(graphene.ObjectType):
    edges = graphene.List(graphene.NonNull(ApprovalRequestEdge), required=True)
    page_info = graphene.Field(PageInfo, required=True)

    def resolve_edges(page: Any, info: Any) -> list[ApprovalRequestEdge]:
        return [
            ApprovalRequestEdge(cursor=c, node=r)
            for c, r in zip(page.cursors, page.items, strict=True)
        ]

    def resolve_page_info(page: Any, info: Any) -> PageInfo:
        return page_info(page)


class ApprovalQuery(graphene.ObjectType):
    approval_request = graphene.Field(
        ApprovalRequestType,
        id=graphene.ID(required=True),
        description="A request the caller submitted, decides, administers or whose record "
        "they may read; null otherwise.",
    )
    my_requests = graphene.Field(
        ApprovalRequestConnection,
        status=graphene.Argument(ApprovalRequestStatus),
        first=graphene.Int(description="Page size, at most 100 (default 20)."),
        after=graphene.String(),
        description="The caller's own requests, newest first.",
    )

    def resolve_approval_request(root: Any, info: Any, id: str) -> Any:
        actor = current_actor(info)
        try:
            request = selectors.get_request(actor, parse_id(id, "ApprovalRequest", "id"))
        except DajianError:
            return None
        loader(info).add([request])
        return request

    def resolve_my_requests(root: Any, info: Any, status: Any = None, **kwargs: Any) -> Any:
        actor = current_actor(info)
        try:
            page = selectors.my_requests(actor, getattr(status, "value", status), **kwargs)
        except DajianError as exc:
            raise graphql_error(exc) from None
        loader(info).add(page.items)
        return page
