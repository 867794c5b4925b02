"""A request being worked on inside one transaction: its rows locked, its history
collected, and everything written at the end (events, request row, outbox, audit).

Lock order, everywhere in the approval engine (and in record updates that re-route):
the record, then the request, then tasks. A fixed order means two writers never wait
for each other in a cycle.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from dajian.builder.metadata.approval_chain import ChainDefinition, Step
from dajian.builder.metadata.loaders import chain_view
from dajian.platform.actors import Actor
from dajian.platform.audit import record_event
from dajian.platform.errors import not_found
from dajian.runtime.approvals.routing import Plan, PlannedStep, plan_from_json
from dajian.runtime.models import ApprovalEvent, ApprovalRequest, Record, RecordStatus
from dajian.runtime.services.records import emit_event

PLAN_EVENTS = ("submitted", "rerouted")


def lock_record(workspace_id: int, record_id: int) -> Record:
    """The record row, locked (NOT_FOUND when gone or in another workspace)."""
    record = (
        Record.objects.select_for_update(of=("self",))
        .select_related("form__app", "form__published")
        .filter(workspace_id=workspace_id, pk=record_id)
        .first()
    )
    if record is None:
        raise not_found("Record")
    return record


def lock_request(request_id: int) -> ApprovalRequest:
    """The request row, locked, with its chain and chain version (one query)."""
    return (
        ApprovalRequest.objects.select_for_update(of=("self",))
        .select_related("chain", "chain_version")
        .get(pk=request_id)
    )


def load_plan(request: ApprovalRequest) -> Plan:
    """The plan the request follows: stored with its latest submitted/rerouted event."""
    payload = (
        ApprovalEvent.objects.filter(request_id=request.pk, kind__in=PLAN_EVENTS)
        .order_by("-at", "-id")
        .values_list("payload", flat=True)
        .first()
    )
    return plan_from_json((payload or {}).get("plan", []))


@dataclass
class Flow:
    """One operation on one request. ``actor`` is who acts (the system actor for timer
    actions); ``record`` and ``request`` are locked; ``now`` is the operation's time."""

    actor: Actor
    record: Record
    request: ApprovalRequest
    chain: ChainDefinition
    plan: Plan
    now: dt.datetime
    events: list[ApprovalEvent] = field(default_factory=list)
    audit: dict[str, list[Any]] = field(default_factory=dict)
    topics: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    record_changed: bool = False

    @classmethod
    def open(cls, actor: Actor, record: Record, request: ApprovalRequest, now: dt.datetime) -> Flow:
        chain = chain_view(request.chain, request.chain_version)
        return cls(actor, record, request, chain, load_plan(request), now)

    def step(self, index: int) -> Step:
        return self.chain.steps[index]

    def planned(self, index: int | None) -> PlannedStep | None:
        return next((p for p in self.plan if p.index == index), None)

    def event(
        self,
        kind: str,
        step_key: str = "",
        comment: str = "",
        attachments: Iterable[int] = (),
        by_system: bool = False,
        **payload: Any,
    ) -> None:
        """Add an entry to the request's history (written by :meth:`save`)."""
        user = None if by_system else self.actor.user
        self.events.append(
            ApprovalEvent(
                workspace_id=self.request.workspace_id,
                request=self.request,
                kind=kind,
                step_key=step_key,
                actor=user,
                actor_label=(user.get_username() if user is not None else "system")[:150],
                at=self.now,
                comment=comment,
                attachments=list(attachments),
                payload=payload,
            )
        )

    def change(self, name: str, old: Any, new: Any) -> None:
        """Note a change for the audit event (first old value, last new value win)."""
        if name in self.audit:
            self.audit[name][1] = new
        else:
            self.audit[name] = [old, new]

    def emit(self, topic: str, **extra: Any) -> None:
        self.topics.append((topic, extra))

    def set_record_status(self, status: RecordStatus) -> None:
        if self.record.status != status:
            self.change("record_status", self.record.status, str(status))
            self.record.status = status
            self.record_changed = True

    def flush_record(self) -> None:
        """Write the record's new status now (before another engine saves the row)."""
        if self.record_changed:
            self.record.version += 1
            self.record.updated_at = self.now
            self.record.save(update_fields=["status", "version", "updated_at"])
            self.record_changed = False

    def save(self, action: str) -> None:
        """Write the history, the request (``version`` + 1), the record when its status
        changed, the outbox events, and the audit event ``action`` last (it locks the
        workspace's audit chain head until commit)."""
        ApprovalEvent.objects.bulk_create(self.events)
        self.events = []
        self.request.version += 1
        self.request.save()
        self.flush_record()
        for topic, extra in self.topics:
            emit_event(self.actor, topic, self.record, request=self.request.pk, **extra)
        self.topics = []
        record_event(self.actor, action, "ApprovalRequest", str(self.request.pk), self.audit)
