"""The submitter takes a pending request back."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from dajian.platform.actors import Actor
from dajian.platform.errors import not_found, permission_denied
from dajian.runtime.approvals.errors import ApprovalErrorCode, approval_error
from dajian.runtime.approvals.flow import Flow, lock_record, lock_request
from dajian.runtime.approvals.tasks import cancel_open_tasks
from dajian.runtime.models import ApprovalRequest, RecordStatus, RequestStatus


def lock_request_of(actor: Actor, request_id: int) -> Flow:
    """Lock the request's record, then the request (NOT_FOUND for other workspaces)."""
    record_id = (
        ApprovalRequest.objects.filter(workspace_id=actor.workspace.pk, pk=request_id)
        .values_list("record_id", flat=True)
        .first()
    )
    if record_id is None:
        raise not_found("Approval request")
    record = lock_record(actor.workspace.pk, record_id)
    return Flow.open(actor, record, lock_request(request_id), timezone.now())


def withdraw_approval(actor: Actor, request_id: int) -> ApprovalRequest:
    """Withdraw a pending request: its open tasks and their timers are cancelled and the
    record is editable again. Only the submitter or a workspace admin; ``NOT_PENDING``
    once the request has ended (for instance, approved a moment earlier)."""
    with transaction.atomic():
        flow = lock_request_of(actor, request_id)
        request = flow.request
        if not actor.is_admin and request.submitted_by_id != actor.user_id:
            raise permission_denied("Only the submitter or an admin can withdraw a request.")
        if request.status != RequestStatus.PENDING:
            raise approval_error(ApprovalErrorCode.NOT_PENDING, field="requestId")
        cancel_open_tasks(request.pk, flow.now)
        flow.change("status", request.status, RequestStatus.WITHDRAWN.value)
        request.status = RequestStatus.WITHDRAWN
        request.decided_at = flow.now
        request.current_step = None
        flow.set_record_status(RecordStatus.ACTIVE)
        flow.event("withdrawn", status=RequestStatus.WITHDRAWN.value)
        flow.emit("approval.withdrawn")
        flow.save("approval.withdrawn")
        return request
