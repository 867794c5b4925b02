"""Deadlines as database rows (not broker ETAs): a periodic task claims the due ones
with one set-based query and applies their action once."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from dajian.platform.models import Workspace


class Timer(models.Model):
    """Fire ``kind`` (a registered timer action) with ``payload`` at ``due_at``. ``key``
    is unique, so scheduling the same deadline twice keeps one row; ``fired_at`` is set
    in the transaction that applies the action, ``cancelled_at`` when it no longer
    applies (the stage was left, the task decided)."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=48)
    key = models.CharField(max_length=200, unique=True)
    due_at = models.DateTimeField()
    payload = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    fired_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    result = models.CharField(max_length=200, blank=True, default="")

    class Meta:
        indexes = [
            models.Index(
                fields=["due_at", "id"],
                condition=models.Q(fired_at__isnull=True, cancelled_at__isnull=True),
                name="timer_due",
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} at {self.due_at:%Y-%m-%d %H:%M}"
