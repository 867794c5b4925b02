"""Stage time limits (R8, R9): how long a record has been in its stage, its colour,
and the timer rows that warn and escalate when a limit passes.

Every time is measured from the server's stage-entry time; limits marked
``business`` are counted on the workspace's working calendar
(:mod:`dajian.platform.calendars`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from dajian.builder.metadata.workflow import Stage, WorkflowDefinition
from dajian.platform import calendars
from dajian.platform.durations import Duration
from dajian.platform.i18n import current_locale
from dajian.platform.models import Workspace
from dajian.runtime.models import Record, Timer

WARNING_TIMER = "stage.warning"
OVERDUE_TIMER = "stage.overdue"


class TimingLevel(StrEnum):
    """``NONE``: the stage has no time limit; ``OK`` (green), ``WARNING`` (yellow)
    and ``OVERDUE`` (red) once the respective limit has passed."""

    NONE = "NONE"
    OK = "OK"
    WARNING = "WARNING"
    OVERDUE = "OVERDUE"


class WorkTime:
    """Working-time arithmetic for one workspace that reads its calendar at most once
    (each :func:`calendars.calendar_for` costs a query): make one per request or
    per page, never one per record."""

    def __init__(self, workspace: Workspace):
        self.workspace = workspace
        self._calendar: calendars.BusinessCalendar | None = None

    @property
    def calendar(self) -> calendars.BusinessCalendar:
        if self._calendar is None:
            self._calendar = calendars.calendar_for(self.workspace)
        return self._calendar

    def deadline(self, start: dt.datetime, duration: Duration) -> dt.datetime:
        """:func:`calendars.deadline` (natural durations never read the calendar)."""
        if not duration.business:
            return calendars.deadline(self.workspace, start, duration)
        return self.calendar.deadline(start, duration)

    def elapsed(self, start: dt.datetime, end: dt.datetime, business: bool) -> dt.timedelta:
        """:func:`calendars.elapsed`."""
        if not business:
            return calendars.elapsed(self.workspace, start, end, False)
        return self.calendar.elapsed(start, end)


@dataclass(frozen=True)
class StageTiming:
    entered_at: dt.datetime | None
    elapsed: dt.timedelta | None
    level: TimingLevel
    warning_at: dt.datetime | None
    overdue_at: dt.datetime | None


def limit_times(
    clock: WorkTime, stage: Stage | None, entered_at: dt.datetime
) -> tuple[dt.datetime | None, dt.datetime | None]:
    """``(warning_at, overdue_at)`` of a stay in ``stage`` that began at ``entered_at``."""
    limit = stage.time_limit if stage is not None else None
    if limit is None:
        return None, None
    return (
        clock.deadline(entered_at, limit.warning) if limit.warning else None,
        clock.deadline(entered_at, limit.overdue) if limit.overdue else None,
    )


def stage_timing(
    record: Record,
    workflow: WorkflowDefinition | None,
    now: dt.datetime,
    clock: WorkTime | None = None,
) -> StageTiming:
    """The record's time in its current stage and its level at ``now``.

    ``elapsed`` is working time when the stage's limit counts business time, wall-clock
    time otherwise. When listing records pass one ``clock`` for all of them (the
    default reads ``record.workspace`` and its calendar).
    """
    entered_at = record.stage_entered_at
    stage = workflow.stage_map.get(record.stage or "") if workflow else None
    if entered_at is None or stage is None:
        return StageTiming(entered_at, None, TimingLevel.NONE, None, None)
    clock = clock or WorkTime(record.workspace)
    limit = stage.time_limit
    business = bool(limit and any(d and d.business for d in (limit.warning, limit.overdue)))
    elapsed = clock.elapsed(entered_at, max(now, entered_at), business)
    warning_at, overdue_at = limit_times(clock, stage, entered_at)
    if limit is None or (warning_at is None and overdue_at is None):
        level = TimingLevel.NONE
    elif overdue_at is not None and now >= overdue_at:
        level = TimingLevel.OVERDUE
    elif warning_at is not None and now >= warning_at:
        level = TimingLevel.WARNING
    else:
        level = TimingLevel.OK
    return StageTiming(entered_at, elapsed, level, warning_at, overdue_at)


def timer_prefix(record_id: int) -> str:
    """Every stage timer of a record starts with this; leaving a stage cancels them."""
    return f"stage:{record_id}:"


def timer_key(record_id: int, entry_id: int, level: str) -> str:
    return f"{timer_prefix(record_id)}{entry_id}:{level}"


def parse_timer_key(key: str) -> tuple[int, int]:
    """``(record id, stage entry id)`` of a key made by :func:`timer_key`."""
    _, record_id, entry_id, _ = key.split(":")
    return int(record_id), int(entry_id)


def stage_timers(
    workspace: Workspace, record_id: int, entry_id: int, stage: Stage, entered_at: dt.datetime
) -> list[Timer]:
    """The unsaved warning / overdue timers of one stay (none without a time limit)."""
    warning_at, overdue_at = limit_times(WorkTime(workspace), stage, entered_at)
    timers = []
    for kind, level, due_at in (
        (WARNING_TIMER, "warning", warning_at),
        (OVERDUE_TIMER, "overdue", overdue_at),
    ):
        if due_at is not None:
            timers.append(
                Timer(
                    workspace_id=workspace.pk,
                    kind=kind,
                    key=timer_key(record_id, entry_id, level),
                    due_at=due_at,
                    payload={"stage": stage.key},
                )
            )
    return timers


_UNITS = {
    # (natural singular, natural plural, business singular, business plural)
    "en": (
        ("day", "days", "working day", "working days"),
        ("hour", "hours", "working hour", "working hours"),
        ("minute", "minutes", "working minute", "working minutes"),
    ),
    "zh-CN": (
        ("天", "天", "个工作日", "个工作日"),
        ("小时", "小时", "个工作小时", "个工作小时"),
        ("分钟", "分钟", "工作分钟", "工作分钟"),
    ),
}


def describe_duration(duration: Duration, locale: str | None = None) -> str:
    """``"3 working days 4 working hours"`` / ``"3 个工作日 4 个工作小时"`` for messages."""
    locale = "en" if (locale or current_locale()) == "en" else "zh-CN"
    parts = []
    amounts = (duration.days, duration.hours, duration.minutes)
    for amount, names in zip(amounts, _UNITS[locale], strict=True):
        if amount:
            index = (2 if duration.business else 0) + (0 if amount == 1 else 1)
            parts.append(f"{amount} {names[index]}")
    return " ".join(parts) or ("0 minutes" if locale == "en" else "0 分钟")
