"""Changing a workspace's work calendar: validation of every setting, then one audited
write. Input keys are the service's (``working_hours``); error paths use the API's
spelling (``workingHours.1.end``) because that is what clients sent."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

from django.db import transaction

from dajian.platform.actors import Actor
from dajian.platform.audit import diff_values, record_event
from dajian.platform.calendars.business import DEFAULT_COUNTRY, DEFAULT_HOURS, parse_clock
from dajian.platform.calendars.errors import CalendarErrorCode as Code
from dajian.platform.calendars.errors import calendar_error
from dajian.platform.calendars.public_holidays import supported_countries
from dajian.platform.errors import DajianError, ErrorDetail, permission_denied
from dajian.platform.models import WorkCalendar

MAX_EXTRA_DATES = 1000
MAX_PERIODS = 12
MIN_DAILY_MINUTES = 60
NO_COUNTRY = ""  # stored for "no public holidays"; BusinessCalendar reads it as None
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
SETTINGS = ("country", "weekend", "working_hours", "extra_holidays", "extra_workdays")
_API_NAME = {
    "country": "country",
    "weekend": "weekend",
    "working_hours": "workingHours",
    "extra_holidays": "extraHolidays",
    "extra_workdays": "extraWorkdays",
}


def settings_of(row: WorkCalendar | None) -> dict[str, Any]:
    """The stored settings (the defaults for a workspace without a row)."""
    if row is None:
        return {
            "country": DEFAULT_COUNTRY,
            "weekend": [5, 6],
            "working_hours": [list(p) for p in DEFAULT_HOURS],
            "extra_holidays": [],
            "extra_workdays": [],
        }
    return {name: getattr(row, name) for name in SETTINGS}


def _country(value: Any) -> tuple[Any, list[ErrorDetail]]:
    """An ISO code with a public holiday table, or ``""``: no public holidays (the
    calendar then knows only the weekend and the extra dates)."""
    code = value.strip().upper() if isinstance(value, str) else value
    if code == "":
        return NO_COUNTRY, []
    if not isinstance(code, str) or code not in supported_countries():
        return value, [calendar_error(Code.UNSUPPORTED_COUNTRY, "country", country=value)]
    return code, []


def _weekend(value: Any) -> tuple[Any, list[ErrorDetail]]:
    if not isinstance(value, list | tuple):
        return value, [calendar_error(Code.INVALID_WEEKDAY, "weekend")]
    errors = [
        calendar_error(Code.INVALID_WEEKDAY, f"weekend.{i}")
        for i, day in enumerate(value)
        if isinstance(day, bool) or not isinstance(day, int) or not 0 <= day <= 6
    ]
    days = sorted(set(value)) if not errors else list(value)
    if not errors and len(days) == 7:
        errors.append(calendar_error(Code.NO_WORKING_DAYS, "weekend"))
    return days, errors


def _working_hours(value: Any) -> tuple[Any, list[ErrorDetail]]:
    if not isinstance(value, list | tuple) or not value:
        return value, [
            calendar_error(Code.NO_WORKING_HOURS, "workingHours", minutes=MIN_DAILY_MINUTES)
        ]
    if len(value) > MAX_PERIODS:
        return value, [calendar_error(Code.TOO_MANY_ITEMS, "workingHours", limit=MAX_PERIODS)]
    errors: list[ErrorDetail] = []
    periods: list[list[str]] = []
    previous_end = dt.timedelta(0)
    total = dt.timedelta(0)
    for i, period in enumerate(value):
        path = f"workingHours.{i}"
        if not isinstance(period, Mapping):
            errors.append(calendar_error(Code.INVALID_PERIOD, path))
            continue
        clocks = {key: parse_clock(period.get(key)) for key in ("start", "end")}
        bad = [key for key, clock in clocks.items() if clock is None]
        errors.extend(calendar_error(Code.INVALID_TIME, f"{path}.{key}") for key in bad)
        start, end = clocks["start"], clocks["end"]
        if start is None or end is None:
            continue
        if start >= end:
            errors.append(calendar_error(Code.INVALID_PERIOD, path))
            continue
        if start < previous_end:
            errors.append(calendar_error(Code.OVERLAPPING_PERIODS, path))
        previous_end = max(previous_end, end)
        total += end - start
        periods.append([period["start"], period["end"]])
    if not errors and total < dt.timedelta(minutes=MIN_DAILY_MINUTES):
        errors.append(
            calendar_error(Code.NO_WORKING_HOURS, "workingHours", minutes=MIN_DAILY_MINUTES)
        )
    return periods, errors


def _dates(value: Any, api_name: str) -> tuple[Any, list[ErrorDetail]]:
    if not isinstance(value, list | tuple):
        return value, [calendar_error(Code.INVALID_DATE, api_name)]
    if len(value) > MAX_EXTRA_DATES:
        return value, [calendar_error(Code.TOO_MANY_ITEMS, api_name, limit=MAX_EXTRA_DATES)]
    errors: list[ErrorDetail] = []
    days: set[dt.date] = set()
    for i, text in enumerate(value):
        try:
            if not isinstance(text, str) or not _ISO_DATE.match(text):
                raise ValueError(text)
            days.add(dt.date.fromisoformat(text))
        except ValueError:
            errors.append(calendar_error(Code.INVALID_DATE, f"{api_name}.{i}"))
    return [d.isoformat() for d in sorted(days)], errors


def _clashes(merged: Mapping[str, Any], changes: Mapping[str, Any]) -> list[ErrorDetail]:
    """Dates that are both an extra holiday and an extra workday, reported on the list
    the caller sent (the workdays when both were)."""
    clash = sorted(set(merged["extra_holidays"]) & set(merged["extra_workdays"]))
    name = "extra_workdays" if changes.get("extra_workdays") is not None else "extra_holidays"
    sent = list(changes.get(name) or ())
    return [
        calendar_error(
            Code.DATE_CONFLICT,
            f"{_API_NAME[name]}.{sent.index(day)}" if day in sent else _API_NAME[name],
            date=day,
        )
        for day in clash
    ]


def validate_changes(
    current: Mapping[str, Any], changes: Mapping[str, Any]
) -> tuple[dict[str, Any], list[ErrorDetail]]:
    """The settings after ``changes`` (keys of :data:`SETTINGS`; None or missing =
    unchanged), normalised, with every problem found."""
    merged = dict(current)
    errors: list[ErrorDetail] = []
    checks = {
        "country": _country,
        "weekend": _weekend,
        "working_hours": _working_hours,
        "extra_holidays": lambda v: _dates(v, "extraHolidays"),
        "extra_workdays": lambda v: _dates(v, "extraWorkdays"),
    }
    for name, check in checks.items():
        if changes.get(name) is not None:
            merged[name], found = check(changes[name])
            errors.extend(found)
    if not errors:
        errors.extend(_clashes(merged, changes))
    return merged, errors


def save_work_calendar(actor: Actor, changes: Mapping[str, Any]) -> WorkCalendar:
    """Apply ``changes`` to the actor's workspace calendar (workspace admins only).

    All or nothing: an invalid setting raises :class:`DajianError` with every problem
    and writes nothing; a valid change is saved with the audit event
    ``calendar.updated`` (its diff lists the changed settings)."""
    if not actor.is_admin:
        raise permission_denied("Only workspace admins can change the work calendar.")
    unknown = set(changes) - set(SETTINGS)
    if unknown:
        raise ValueError(f"unknown calendar settings: {sorted(unknown)}")
    with transaction.atomic():
        row, created = WorkCalendar.objects.select_for_update().get_or_create(
            workspace=actor.workspace
        )
        before = settings_of(None if created else row)
        after, errors = validate_changes(before, changes)
        if errors:
            raise DajianError(errors)
        for name in SETTINGS:
            setattr(row, name, after[name])
        row.save()
        record_event(actor, "calendar.updated", "WorkCalendar", row.pk, diff_values(before, after))
    return row
