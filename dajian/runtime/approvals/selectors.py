"""Reading requests: one request, the actor's own requests, and the batches the GraphQL
layer loads per page (latest request per record, tasks and history per request)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from django.db.models import OuterRef, Subquery

from dajian.platform.actors import Actor
from dajian.platform.errors import not_found
from dajian.platform.permissions import Action
from dajian.runtime.approvals.tasks import approval_task_rows
from dajian.runtime.inbox.selectors import REQUEST_DEFERRED
from dajian.runtime.models import ApprovalEvent, ApprovalRequest, ApprovalTask, Record
from dajian.runtime.paging import Page, newest_first

USER_DEFERRED = ("assignee__password", "assignee__last_login")


def get_request(actor: Actor, request_id: int) -> ApprovalRequest:
    """A request the actor may see: workspace admins, its submitter, anyone with a task
    on it, and whoever may read its record. NOT_FOUND otherwise (and across workspaces)."""
    request = (
        ApprovalRequest.objects.select_related("chain", "chain_version", "submitted_by", "form")
        .defer(*REQUEST_DEFERRED)
        .filter(workspace_id=actor.workspace.pk, pk=request_id)
        .first()
    )
    if request is None or not can_see(actor, request):
        raise not_found("Approval request")
    return request


def can_see(actor: Actor, request: ApprovalRequest) -> bool:
    if actor.is_admin or (actor.user_id and request.submitted_by_id == actor.user_id):
        return True
    if approval_task_rows().filter(request_id=request.pk, assignee_id=actor.user_id).exists():
        return True
    return (
        Record.objects.permitted(actor, request.form, Action.READ)
        .filter(pk=request.record_id)
        .exists()
    )


def my_requests(
    actor: Actor, status: str | None = None, first: int | None = None, after: str | None = None
) -> Page[ApprovalRequest]:
    """Requests the actor submitted, newest first (index ``approvalrequest_submitter``)."""
    qs = ApprovalRequest.objects.filter(
        workspace_id=actor.workspace.pk, submitted_by_id=actor.user_id
    )
    if status:
        qs = qs.filter(status=status)
    qs = qs.select_related("chain", "chain_version", "submitted_by").defer(*REQUEST_DEFERRED)
    return newest_first(qs, "submitted_at", first, after)


def latest_requests(record_ids: Iterable[int]) -> dict[int, ApprovalRequest]:
    """The newest request of each record (one query)."""
    ids = list(record_ids)
    if not ids:
        return {}
    newest = (
        ApprovalRequest.objects.filter(record_id=OuterRef("record_id"))
        .order_by("-submitted_at", "-id")
        .values("pk")[:1]
    )
    rows = (
        ApprovalRequest.objects.filter(record_id__in=ids, pk=Subquery(newest))
        .select_related("chain", "chain_version", "submitted_by")
        .defer(*REQUEST_DEFERRED)
    )
    return {r.record_id: r for r in rows}


def requests_of_records(record_ids: Iterable[int]) -> dict[int, list[ApprovalRequest]]:
    """Every request of each record, newest first (one query)."""
    out: dict[int, list[ApprovalRequest]] = defaultdict(list)
    rows = (
        ApprovalRequest.objects.filter(record_id__in=list(record_ids))
        .select_related("chain", "chain_version", "submitted_by")
        .defer(*REQUEST_DEFERRED)
        .order_by("-submitted_at", "-id")
    )
    for r in rows:
        out[r.record_id].append(r)
    return out


def tasks_of_requests(request_ids: Iterable[int]) -> dict[int, list[ApprovalTask]]:
    """The approval tasks of each request with their assignees, oldest first (one query)."""
    out: dict[int, list[ApprovalTask]] = defaultdict(list)
    rows = (
        approval_task_rows()
        .filter(request_id__in=list(request_ids))
        .select_related("assignee")
        .defer(*USER_DEFERRED)
        .order_by("created_at", "id")
    )
    for t in rows:
        out[t.request_id].append(t)
    return out


def events_of_requests(request_ids: Iterable[int]) -> dict[int, list[ApprovalEvent]]:
    """The history of each request, in order (one query)."""
    out: dict[int, list[ApprovalEvent]] = defaultdict(list)
    for e in ApprovalEvent.objects.filter(request_id__in=list(request_ids)).order_by("at", "id"):
        out[e.request_id].append(e)
    return out
