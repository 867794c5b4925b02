"""Stage history: one row per stay of a record in a stage (R10)."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from dajian.builder.models import Form
from dajian.platform.models import Workspace
from dajian.runtime.models.records import Record


class StageEntry(models.Model):
    """A record's stay in one stage: entered and (once it moved on) exited, with the
    actors and server times. ``exited_at`` is null for the current stage."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    form = models.ForeignKey(Form, on_delete=models.CASCADE, related_name="+")
    record = models.ForeignKey(Record, on_delete=models.CASCADE, related_name="stage_entries")
    stage = models.CharField(max_length=63)
    entered_at = models.DateTimeField()
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    exited_at = models.DateTimeField(null=True, blank=True)
    exited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    next_stage = models.CharField(max_length=63, null=True, blank=True)
    comment = models.TextField(blank=True, default="")
    reason = models.CharField(max_length=63, blank=True, default="")

    class Meta:
        indexes = [
            models.Index(fields=["record", "entered_at"], name="stageentry_record"),
            models.Index(fields=["workspace", "form", "stage"], name="stageentry_ws_form_stage"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["record"],
                condition=models.Q(exited_at__isnull=True),
                name="stageentry_one_open_per_record",
            )
        ]

    def __str__(self) -> str:
        return f"{self.record_id}@{self.stage}"
