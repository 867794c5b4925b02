"""Approval requests and their decision history (R11–R16)."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from dajian.builder.models import Form, Metadata, MetadataVersion
from dajian.platform.models import Workspace
from dajian.runtime.models.records import Record


class RequestStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    RETURNED = "returned", "Returned to the submitter"
    WITHDRAWN = "withdrawn", "Withdrawn"


class ApprovalRequest(models.Model):
    """One submission of a record to an approval chain. ``snapshot`` is the record's
    data when submitted (re-taken on re-routing) and ``snapshot_hash`` its SHA-256;
    ``version`` is the row version every decision checks under ``SELECT … FOR UPDATE``.
    At most one request per record is pending."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    record = models.ForeignKey(Record, on_delete=models.CASCADE, related_name="approval_requests")
    form = models.ForeignKey(Form, on_delete=models.CASCADE, related_name="+")
    chain = models.ForeignKey(Metadata, on_delete=models.PROTECT, related_name="+")
    chain_version = models.ForeignKey(MetadataVersion, on_delete=models.PROTECT, related_name="+")
    transition_to = models.CharField(max_length=63, null=True, blank=True)
    # What the mover said when the move waits for this request; used when it completes.
    transition_comment = models.TextField(blank=True, default="")
    transition_reason = models.CharField(max_length=63, blank=True, default="")
    status = models.CharField(
        max_length=16, choices=RequestStatus.choices, default=RequestStatus.PENDING
    )
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    submitted_at = models.DateTimeField()
    decided_at = models.DateTimeField(null=True, blank=True)
    snapshot = models.JSONField(default=dict)
    snapshot_hash = models.CharField(max_length=64)
    snapshot_version = models.PositiveIntegerField(default=1)
    current_step = models.IntegerField(null=True, blank=True)
    round = models.PositiveIntegerField(default=1)
    version = models.PositiveIntegerField(default=1)
    previous = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        indexes = [
            models.Index(
                fields=["workspace", "submitted_by", "status", "-submitted_at"],
                name="approvalrequest_submitter",
            ),
            models.Index(fields=["record", "-submitted_at"], name="approvalrequest_record"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["record"],
                condition=models.Q(status="pending"),
                name="approvalrequest_one_pending_per_record",
            )
        ]

    def __str__(self) -> str:
        return f"request {self.pk} ({self.status})"


class ApprovalEvent(models.Model):
    """One entry of a request's history: submitted, each decision, re-routing, reminders,
    escalations, CCs and the outcome; the system actor's entries have no user."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    request = models.ForeignKey(ApprovalRequest, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=32)
    step_key = models.CharField(max_length=63, blank=True, default="")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor_label = models.CharField(max_length=150, default="")
    at = models.DateTimeField()
    comment = models.TextField(blank=True, default="")
    attachments = models.JSONField(default=list, blank=True)
    payload = models.JSONField(default=dict, blank=True)

    class Meta:
        indexes = [models.Index(fields=["request", "at"], name="approvalevent_request")]

    def __str__(self) -> str:
        return f"{self.kind} on {self.request_id}"
