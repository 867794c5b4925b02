"""Durations in metadata: ``{"days": 2, "hours": 4, "minutes": 30}`` plus a calendar
flag ``"business": true`` meaning "counted on the workspace's working calendar"."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Duration:
    """A span of time; with ``business`` the days are working days and the hours and
    minutes are working hours of the workspace calendar."""

    days: int = 0
    hours: int = 0
    minutes: int = 0
    business: bool = False

    @classmethod
    def parse(cls, raw: Mapping[str, Any] | None, business: bool = False) -> Duration | None:
        if not raw:
            return None
        return cls(
            days=int(raw.get("days", 0)),
            hours=int(raw.get("hours", 0)),
            minutes=int(raw.get("minutes", 0)),
            business=bool(raw.get("business", business)),
        )

    @property
    def natural(self) -> dt.timedelta:
        """The duration on the wall clock (ignoring the calendar)."""
        return dt.timedelta(days=self.days, hours=self.hours, minutes=self.minutes)

    def as_dict(self) -> dict[str, Any]:
        return {
            "days": self.days,
            "hours": self.hours,
            "minutes": self.minutes,
            "business": self.business,
        }
