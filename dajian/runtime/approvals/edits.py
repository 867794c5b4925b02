"""Record writes while an approval is pending or after a freezing veto.

``update_record`` calls :func:`guard_pending_edit` with the record locked, before
validating, and :func:`reroute_after_edit` after saving when the guard said so;
``delete_record`` calls :func:`guard_pending_delete`. Workspace admins lift a freeze
with :func:`unfreeze_record`.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from dajian.builder.metadata.approval_chain import EditWhilePending
from dajian.builder.metadata.loaders import chain_view
from dajian.platform.actors import Actor
from dajian.platform.audit import record_event
from dajian.platform.errors import DajianError, permission_denied
from dajian.runtime.approvals.errors import ApprovalErrorCode, approval_error
from dajian.runtime.approvals.flow import Flow, lock_record, lock_request
from dajian.runtime.approvals.lifecycle import finish, open_step
from dajian.runtime.approvals.routing import build_plan, plan_to_json
from dajian.runtime.approvals.snapshot import take_snapshot
from dajian.runtime.approvals.tasks import cancel_open_tasks
from dajian.runtime.errors import RecordErrorCode
from dajian.runtime.errors import message as record_message
from dajian.runtime.models import (
    ApprovalEvent,
    ApprovalRequest,
    Record,
    RecordStatus,
    RequestStatus,
)
from dajian.runtime.services.records import emit_event


def _refuse(code: RecordErrorCode) -> DajianError:
    return DajianError.single(code, record_message(code))


def _pending_request(record: Record) -> ApprovalRequest | None:
    return (
        ApprovalRequest.objects.select_related("chain", "chain_version")
        .filter(record_id=record.pk, status=RequestStatus.PENDING)
        .first()
    )


def guard_pending_edit(actor: Actor, record: Record) -> bool:
    """May ``actor`` change ``record`` (locked) now? A frozen record only by workspace
    admins (``RECORD_FROZEN``); a record in approval only when its chain re-routes
    edits (``APPROVAL_PENDING`` otherwise). Returns True when the edit must be followed
    by :func:`reroute_after_edit` in the same transaction."""
    if record.status == RecordStatus.FROZEN:
        if actor.is_admin:
            return False
        raise _refuse(RecordErrorCode.RECORD_FROZEN)
    if record.status != RecordStatus.IN_APPROVAL:
        return False
    request = _pending_request(record)
    if request is None:
        return (
            False  # no pending request: nothing to protect (status repaired by the next decision)
        )
    chain = chain_view(request.chain, request.chain_version)
    if chain.edit_while_pending == EditWhilePending.REROUTE:
        return True
    raise _refuse(RecordErrorCode.APPROVAL_PENDING)


def guard_pending_delete(actor: Actor, record: Record) -> None:
    """A record in approval cannot be deleted (withdraw first); a frozen one only by
    workspace admins."""
    if record.status == RecordStatus.IN_APPROVAL:
        raise _refuse(RecordErrorCode.APPROVAL_PENDING)
    if record.status == RecordStatus.FROZEN and not actor.is_admin:
        raise _refuse(RecordErrorCode.RECORD_FROZEN)


def reroute_after_edit(actor: Actor, record: Record) -> ApprovalRequest | None:
    """Restart the pending request of ``record`` (just saved, still locked) after an
    accepted edit: open tasks cancelled, a new snapshot and hash, the next round, the
    route planned again (conditions re-evaluated) from the first applying step."""
    request_id = (
        ApprovalRequest.objects.filter(record_id=record.pk, status=RequestStatus.PENDING)
        .values_list("pk", flat=True)
        .first()
    )
    if request_id is None:
        return None
    now = timezone.now()
    flow = Flow.open(actor, record, lock_request(request_id), now)
    request = flow.request
    cancel_open_tasks(request.pk, now)
    plan = build_plan(actor, record, record.form, flow.chain, request.submitted_by_id, now)
    snapshot = take_snapshot(record)
    flow.change("snapshot_hash", request.snapshot_hash, snapshot.hash)
    flow.change("round", request.round, request.round + 1)
    request.snapshot = snapshot.data
    request.snapshot_hash = snapshot.hash
    request.snapshot_version = snapshot.version
    request.round += 1
    flow.plan = plan
    flow.event(
        "rerouted",
        plan=plan_to_json(plan),
        snapshot_hash=snapshot.hash,
        snapshot_version=snapshot.version,
        round=request.round,
    )
    flow.emit("approval.rerouted")
    if plan:
        open_step(flow, plan[0])
    else:
        finish(flow, RequestStatus.APPROVED)
    flow.save("approval.rerouted")
    return request


def unfreeze_record(actor: Actor, record_id: int, comment: str = "") -> Record:
    """Make a frozen record editable again (workspace admins only; ``NOT_FROZEN``
    otherwise). The latest request's history notes who lifted the freeze and why."""
    if not actor.is_admin:
        raise permission_denied("Only workspace admins can unfreeze a record.")
    with transaction.atomic():
        record = lock_record(actor.workspace.pk, record_id)
        if record.status != RecordStatus.FROZEN:
            raise approval_error(ApprovalErrorCode.NOT_FROZEN, field="id")
        now = timezone.now()
        record.status = RecordStatus.ACTIVE
        record.version += 1
        record.updated_at = now
        record.save(update_fields=["status", "version", "updated_at"])
        latest = (
            ApprovalRequest.objects.filter(record_id=record.pk)
            .order_by("-submitted_at", "-id")
            .values_list("pk", flat=True)
            .first()
        )
        if latest is not None:
            ApprovalEvent.objects.create(
                workspace_id=record.workspace_id,
                request_id=latest,
                kind="unfrozen",
                actor=actor.user,
                actor_label=actor.label[:150],
                at=now,
                comment=comment,
            )
        emit_event(actor, "record.unfrozen", record)
        record_event(
            actor,
            "record.unfrozen",
            "Record",
            str(record.pk),
            {
                "status": [RecordStatus.FROZEN.value, RecordStatus.ACTIVE.value],
                "comment": [None, comment],
            },
        )
        return record
