"""Working-time arithmetic on a workspace's business calendar.

- :mod:`.business`: :class:`BusinessCalendar`, the arithmetic (no database);
- :mod:`.public_holidays`: public holidays and adjusted working weekends (``holidays``);
- :mod:`.store`: :func:`calendar_for`, the cached calendar of a workspace;
- :mod:`.editing`: :func:`save_work_calendar`, validated and audited changes.

Callers elsewhere use the three functions below; ``deadline`` and ``elapsed`` with a
natural (non-business) duration never touch the database.
"""

from __future__ import annotations

import datetime as dt

from dajian.platform.calendars.business import (
    MAX_BUSINESS_DAYS,
    BusinessCalendar,
    CalendarDay,
    CalendarError,
    natural_deadline,
    within_business_limit,
)
from dajian.platform.calendars.editing import save_work_calendar
from dajian.platform.calendars.store import calendar_for, time_zone_of
from dajian.platform.durations import Duration
from dajian.platform.models import Workspace

__all__ = [
    "MAX_BUSINESS_DAYS",
    "BusinessCalendar",
    "CalendarDay",
    "CalendarError",
    "calendar_for",
    "deadline",
    "elapsed",
    "is_working_day",
    "save_work_calendar",
    "time_zone_of",
    "within_business_limit",
]


def deadline(workspace: Workspace, start: dt.datetime, duration: Duration) -> dt.datetime:
    """When ``duration`` after ``start`` ends, in UTC (on working time when
    ``duration.business``; see :meth:`BusinessCalendar.deadline` for the rules).
    Raises :class:`CalendarError` for a business duration past :data:`MAX_BUSINESS_DAYS`."""
    if not duration.business:
        return natural_deadline(start, duration, time_zone_of(workspace))
    return calendar_for(workspace).deadline(start, duration)


def elapsed(
    workspace: Workspace, start: dt.datetime, end: dt.datetime, business: bool
) -> dt.timedelta:
    """Time between ``start`` and ``end``: working time only when ``business``
    (negative when ``end`` is before ``start``)."""
    if not business:
        return end - start
    return calendar_for(workspace).elapsed(start, end)


def is_working_day(workspace: Workspace, day: dt.date) -> bool:
    """Whether ``day`` (a local date of the workspace) is a working day."""
    return calendar_for(workspace).is_working_day(day)
