"""The append-only audit log, hash-chained per workspace."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from dajian.platform.models.workspace import Workspace


class AuditEvent(models.Model):
    """One change: who, when (server time), what, the diff, and the chain hashes.

    ``hash = sha256(prev_hash + canonical JSON of the event)``; editing or removing any
    event breaks every later hash, which ``dajian verify-audit`` reports.
    """

    workspace = models.ForeignKey(Workspace, on_delete=models.PROTECT, related_name="+")
    seq = models.BigIntegerField()
    # PROTECT: the chain hashes the actor id, so users are deactivated, never deleted.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    actor_label = models.CharField(max_length=200, blank=True)
    at = models.DateTimeField()
    action = models.CharField(max_length=64)
    object_type = models.CharField(max_length=64)
    object_id = models.CharField(max_length=64)
    diff = models.JSONField(default=dict)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "seq"], name="audit_unique_seq"),
        ]
        indexes = [
            models.Index(fields=["workspace", "object_type", "object_id"], name="audit_object"),
        ]

    def __str__(self) -> str:
        return f"{self.workspace_id}#{self.seq} {self.action}"


class AuditChainHead(models.Model):
    """The tip of a workspace's chain; its row lock serialises appends."""

    workspace = models.OneToOneField(
        Workspace, on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    seq = models.BigIntegerField(default=0)
    last_hash = models.CharField(max_length=64, default="0" * 64)

    def __str__(self) -> str:
        return f"{self.workspace_id}#{self.seq}"
