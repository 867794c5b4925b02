"""A workspace's calendar, built from its :class:`WorkCalendar` row and cached.

The process-level cache is keyed by the workspace, the row's ``updated_at`` and the
workspace's time zone, so an edit (which moves ``updated_at``) is seen by every process
on its next lookup without any invalidation message. Each lookup costs one small query
(the row's ``updated_at``); a miss costs one more.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections import OrderedDict
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dajian.platform.calendars.business import DEFAULT_TIME_ZONE, BusinessCalendar
from dajian.platform.models import WorkCalendar, Workspace

logger = logging.getLogger(__name__)

_CACHE_SIZE = 512
_CacheKey = tuple[int, dt.datetime | None, str]


class _CalendarCache:
    """A small thread-safe LRU of built calendars."""

    def __init__(self) -> None:
        self._items: OrderedDict[_CacheKey, BusinessCalendar] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: _CacheKey) -> BusinessCalendar | None:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
            return found

    def put(self, key: _CacheKey, calendar: BusinessCalendar) -> None:
        with self._lock:
            self._items[key] = calendar
            while len(self._items) > _CACHE_SIZE:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


cache = _CalendarCache()


def time_zone_of(workspace: Workspace) -> ZoneInfo:
    """The workspace's zone; the default (``Asia/Shanghai``) when the name is unknown."""
    try:
        return ZoneInfo(workspace.time_zone or DEFAULT_TIME_ZONE)
    except (ZoneInfoNotFoundError, ValueError):
        logger.warning(
            "workspace %s has an unknown time zone %r", workspace.pk, workspace.time_zone
        )
        return ZoneInfo(DEFAULT_TIME_ZONE)


def _build(row: WorkCalendar | None, time_zone: ZoneInfo) -> BusinessCalendar:
    if row is None:
        return BusinessCalendar(time_zone=time_zone)
    try:
        return BusinessCalendar.build(
            time_zone=time_zone.key,
            country=row.country,
            weekend=row.weekend,
            working_hours=row.working_hours,
            extra_holidays=row.extra_holidays,
            extra_workdays=row.extra_workdays,
        )
    except (ValueError, TypeError):
        # Rows are validated on save; a hand-edited bad row must not stop SLAs and
        # timers, so the workspace falls back to the default calendar (and we say so).
        logger.exception(
            "work calendar of workspace %s is invalid; using defaults", row.workspace_id
        )
        return BusinessCalendar(time_zone=time_zone)


def calendar_for(workspace: Workspace) -> BusinessCalendar:
    """The workspace's business calendar (defaults when it has no row)."""
    time_zone = time_zone_of(workspace)
    stamp = (
        WorkCalendar.objects.filter(workspace_id=workspace.pk)
        .values_list("updated_at", flat=True)
        .first()
    )
    found = cache.get((workspace.pk, stamp, time_zone.key))
    if found is not None:
        return found
    row = WorkCalendar.objects.filter(workspace_id=workspace.pk).first() if stamp else None
    calendar = _build(row, time_zone)
    # Keyed by the row actually read: an edit between the two queries is not cached
    # under the older stamp.
    cache.put((workspace.pk, row.updated_at if row else None, time_zone.key), calendar)
    return calendar
