"""Uploaded files. Everything but the original name is measured by the server."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from dajian.platform.models.workspace import Workspace


class Attachment(models.Model):
    """One uploaded file: sniffed type, sha256, server time, EXIF time and GPS if any."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="attachments")
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    file = models.FileField(upload_to="attachments/%Y/%m/")
    original_name = models.CharField(max_length=255, blank=True)
    content_type = models.CharField(max_length=100)
    kind = models.CharField(max_length=20)  # image | audio | video | document | other
    size = models.BigIntegerField()
    sha256 = models.CharField(max_length=64, db_index=True)
    uploaded_at = models.DateTimeField()
    width = models.IntegerField(null=True, blank=True)
    height = models.IntegerField(null=True, blank=True)
    captured_at = models.DateTimeField(null=True, blank=True)
    gps = models.JSONField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["workspace", "uploaded_at"], name="attachment_ws_time")]

    def __str__(self) -> str:
        return self.original_name or self.sha256
