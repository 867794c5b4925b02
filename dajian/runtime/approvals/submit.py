"""Submitting a record to an approval chain (and re-submitting after a return)."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from dajian.builder.metadata.loaders import published_chain
from dajian.platform.actors import Actor
from dajian.platform.errors import DajianError
from dajian.platform.permissions import Action
from dajian.runtime.approvals.errors import ApprovalErrorCode, approval_error
from dajian.runtime.approvals.flow import Flow
from dajian.runtime.approvals.lifecycle import finish, open_step
from dajian.runtime.approvals.routing import build_plan, plan_to_json
from dajian.runtime.approvals.snapshot import take_snapshot
from dajian.runtime.errors import RecordErrorCode
from dajian.runtime.errors import message as record_message
from dajian.runtime.models import ApprovalRequest, Record, RecordStatus, RequestStatus
from dajian.runtime.services.records import locked_record

# A new submission links to the last unsuccessful one (a resubmission after changes).
RESUBMITTABLE = (RequestStatus.REJECTED, RequestStatus.RETURNED, RequestStatus.WITHDRAWN)


def check_record_open(record: Record) -> None:
    """RECORD_FROZEN / APPROVAL_PENDING unless the record is active."""
    if record.status == RecordStatus.FROZEN:
        raise DajianError.single(
            RecordErrorCode.RECORD_FROZEN, record_message(RecordErrorCode.RECORD_FROZEN)
        )
    if record.status == RecordStatus.IN_APPROVAL:
        raise DajianError.single(
            RecordErrorCode.APPROVAL_PENDING, record_message(RecordErrorCode.APPROVAL_PENDING)
        )


def start_request(
    actor: Actor,
    record: Record,
    chain_key: str,
    transition_to: str | None = None,
    comment: str = "",
    reason: str | None = None,
) -> ApprovalRequest:
    """Submit ``record`` (locked by the caller, who checked the actor's rights) to the
    published chain ``chain_key`` of its form, as ``actor``. ``comment`` and ``reason``
    are the mover's, kept for the stage entry when ``transition_to`` completes.

    Plans the route (conditions, approvers: ``NO_APPROVER`` when an applying step has
    nobody), snapshots the data with its hash, opens the first step's tasks and sets the
    record ``in_approval``; with no applying step the request is approved at once (and
    ``transition_to``, when given, completed). Refusals: ``UNKNOWN_CHAIN``,
    ``RECORD_FROZEN``, ``APPROVAL_PENDING``, ``NO_APPROVER``.
    """
    check_record_open(record)
    form = record.form
    found = published_chain(form.app_id, chain_key)
    if found is None or found[0].form_id != form.pk:
        raise approval_error(ApprovalErrorCode.UNKNOWN_CHAIN, field="chain", chain=chain_key)
    metadata, version, chain = found
    now = timezone.now()
    plan = build_plan(actor, record, form, chain, actor.user_id, now)
    snapshot = take_snapshot(record)
    previous = (
        ApprovalRequest.objects.filter(record_id=record.pk, chain_id=metadata.pk)
        .order_by("-submitted_at", "-id")
        .only("pk", "status", "round")
        .first()
    )
    if previous is not None and previous.status not in RESUBMITTABLE:
        previous = None
    request = ApprovalRequest.objects.create(
        workspace_id=record.workspace_id,
        record=record,
        form_id=form.pk,
        chain=metadata,
        chain_version=version,
        transition_to=transition_to or None,
        transition_comment=comment or "",
        transition_reason=reason or "",
        status=RequestStatus.PENDING,
        submitted_by=actor.user,
        submitted_at=now,
        snapshot=snapshot.data,
        snapshot_hash=snapshot.hash,
        snapshot_version=snapshot.version,
        round=previous.round + 1 if previous else 1,
        version=0,  # Flow.save makes it 1
        previous=previous,
    )
    flow = Flow(actor, record, request, chain, plan, now)
    flow.event(
        "submitted",
        plan=plan_to_json(plan),
        snapshot_hash=snapshot.hash,
        snapshot_version=snapshot.version,
        transition_to=transition_to,
        previous=previous.pk if previous else None,
    )
    flow.change("status", None, RequestStatus.PENDING.value)
    flow.emit("approval.submitted", chain=chain.key)
    if plan:
        flow.set_record_status(RecordStatus.IN_APPROVAL)
        open_step(flow, plan[0])
    else:
        finish(flow, RequestStatus.APPROVED)
    flow.save("approval.submitted")
    return request


def submit_for_approval(actor: Actor, record_id: int, chain_key: str) -> ApprovalRequest:
    """Submit a record the actor may update (row scope) to ``chain_key``; see
    :func:`start_request`. A new submission after a rejection, return or withdrawal
    links to it (``previous``) and counts the next ``round``."""
    with transaction.atomic():
        record, form = locked_record(actor, record_id, Action.UPDATE)
        record.form = form
        return start_request(actor, record, chain_key)
