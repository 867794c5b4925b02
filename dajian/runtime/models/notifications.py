"""In-app notifications: CC of approvals, reminders, stage warnings, escalations."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from dajian.platform.models import Workspace
from dajian.runtime.models.records import Record


class Notification(models.Model):
    """A message for one user; ``message`` is a ``{locale: text}`` map."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    kind = models.CharField(max_length=48)
    record = models.ForeignKey(
        Record, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    message = models.JSONField(default=dict)
    payload = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField()
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["workspace", "recipient", "-created_at"], name="notification_inbox"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} for {self.recipient_id}"
