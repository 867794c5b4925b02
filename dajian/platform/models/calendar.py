"""A workspace's business-day calendar (weekends, public holidays, working hours)."""

from __future__ import annotations

from django.db import models

from dajian.platform.models.workspace import Workspace


def _default_weekend() -> list[int]:
    return [5, 6]  # Saturday, Sunday (Monday is 0)


def _default_hours() -> list[list[str]]:
    return [["09:00", "12:00"], ["13:00", "18:00"]]


class WorkCalendar(models.Model):
    """Which days and hours count as working time in a workspace. Public holidays and
    the adjusted working weekends come from the ``holidays`` library for ``country``;
    ``extra_holidays`` and ``extra_workdays`` (ISO dates) override it. A workspace
    without a row uses the defaults (mainland China, Monday–Friday, 09–12 and 13–18)."""

    workspace = models.OneToOneField(Workspace, on_delete=models.CASCADE, related_name="calendar")
    country = models.CharField(max_length=8, default="CN")
    weekend = models.JSONField(default=_default_weekend)
    working_hours = models.JSONField(default=_default_hours)
    extra_holidays = models.JSONField(default=list, blank=True)
    extra_workdays = models.JSONField(default=list, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"calendar of {self.workspace_id}"
