"""Helpers shared by the approval and inbox tests (fixtures: ``approval_plugin``).

Org chart: ``director`` (role sales_director) manages ``manager``, who manages ``rep``
and ``rep2``; ``finance`` and ``product`` hold their roles; ``boss`` is the workspace
admin. The form ``sales/contract`` has a title, an amount and a salesperson field.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from dajian.platform.actors import Actor
from dajian.platform.files import store_upload
from dajian.platform.models import AuditEvent
from dajian.runtime.models import (
    ApprovalEvent,
    ApprovalRequest,
    ApprovalTask,
    Notification,
    OutboxEvent,
    Record,
    Task,
    TaskStatus,
    Timer,
)
from dajian.runtime.services.records import create_record
from tests.factories import build_chain, make_actor

CONTRACT_FIELDS = [
    {"key": "title", "type": "text", "label": "Title", "required": True},
    {"key": "amount", "type": "number", "label": "Amount", "precision": 2},
    {"key": "salesperson", "type": "user", "label": "Salesperson"},
    {"key": "note", "type": "text", "label": "Note"},
]

# Manager first; the sales director too when the amount is over 500,000 (R11).
CONTRACT_CHAIN: dict[str, Any] = {
    "schema_version": 1,
    "label": {"en": "Contract approval", "zh-CN": "合同审批"},
    "steps": [
        {
            "key": "manager",
            "label": {"en": "Manager", "zh-CN": "直属上级"},
            "approvers": [{"type": "manager"}],
            "decisions": ["approve", "reject", "return", "delegate"],
        },
        {
            "key": "director",
            "label": {"en": "Sales director", "zh-CN": "销售总监"},
            "condition": "amount > 500000.0",
            "approvers": [{"type": "role", "role": "sales_director"}],
            "decisions": ["approve", "reject", "return"],
        },
    ],
}


@dataclass
class Org:
    workspace: Any
    admin: Any
    director: Any
    manager: Any
    rep: Any
    rep2: Any
    finance: Any
    product: Any

    def actor(self, user: Any) -> Actor:
        return make_actor(user, self.workspace)


def chain(admin_actor: Actor, form: Any, key: str = "contract_approval", **changes: Any) -> Any:
    """Publish ``CONTRACT_CHAIN`` (with top-level ``changes``) as chain ``key``."""
    return build_chain(admin_actor, form, key, {**CONTRACT_CHAIN, **changes})


def step(key: str, approvers: list[dict[str, Any]], **options: Any) -> dict[str, Any]:
    return {"key": key, "label": key.title(), "approvers": approvers, **options}


def new_contract(actor: Actor, **data: Any) -> Any:
    values = {"title": "Big deal", "amount": 1000, **data}
    return create_record(actor, "sales", "contract", values).record


def open_tasks(request: Any) -> list[ApprovalTask]:
    return list(
        ApprovalTask.objects.non_polymorphic()
        .filter(request=request, status=TaskStatus.OPEN)
        .order_by("step_index", "position", "id")
    )


def open_task_of(request: Any, user: Any) -> ApprovalTask:
    return next(t for t in open_tasks(request) if t.assignee_id == user.pk)


def screenshot(actor: Actor, name: str = "screenshot.png") -> Any:
    """An uploaded PNG (an Attachment row of the actor's workspace)."""
    buffer = io.BytesIO()
    Image.new("RGB", (4, 3), (200, 30, 30)).save(buffer, format="PNG")
    return store_upload(actor, SimpleUploadedFile(name, buffer.getvalue(), "image/png"))


def db_state() -> dict[str, Any]:
    """Everything an approval operation may change, to prove a refusal changed nothing."""
    return {
        "requests": list(
            ApprovalRequest.objects.order_by("id").values_list(
                "id", "status", "version", "round", "current_step", "snapshot_hash"
            )
        ),
        "tasks": list(
            Task.objects.non_polymorphic()
            .order_by("id")
            .values_list("id", "assignee_id", "status", "decision", "version")
        ),
        "records": list(Record.objects.order_by("id").values_list("id", "status", "version")),
        "events": ApprovalEvent.objects.count(),
        "audit": AuditEvent.objects.count(),
        "outbox": OutboxEvent.objects.count(),
        "notifications": Notification.objects.count(),
        "timers": list(Timer.objects.order_by("id").values_list("id", "cancelled_at", "fired_at")),
    }
