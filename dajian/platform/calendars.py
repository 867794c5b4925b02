"""Working-time arithmetic on a workspace's business calendar.

STUB: natural time only; being replaced by the real calendar (holidays library,
weekends, working hours, extra holidays and workdays)."""

from __future__ import annotations

import datetime as dt

from dajian.platform.durations import Duration
from dajian.platform.models import Workspace


def deadline(workspace: Workspace, start: dt.datetime, duration: Duration) -> dt.datetime:
    """When ``duration`` after ``start`` ends (on working time when ``duration.business``)."""
    return start + duration.natural


def elapsed(
    workspace: Workspace, start: dt.datetime, end: dt.datetime, business: bool
) -> dt.timedelta:
    """Time between ``start`` and ``end`` (working time only when ``business``)."""
    return end - start
