"""Working-time arithmetic on one business calendar (no database access).

A calendar says which days are working days (weekends, public holidays and adjusted
working weekends of a country, plus the workspace's own extra holidays and workdays)
and which hours of a working day count (periods such as 09:00–12:00 and 13:00–18:00,
on the wall clock of the workspace's time zone). Every working day has the same periods.

Instants go in and come out as aware datetimes (results in UTC); all stepping is done
on local dates and times of day, one day at a time at most, never minute by minute.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from zoneinfo import ZoneInfo

from dajian.platform.calendars.public_holidays import holiday_names, year_days
from dajian.platform.durations import Duration

# Longest business duration a deadline is computed for, in working days; metadata with
# a longer one is refused when it is saved (see :func:`within_business_limit`).
MAX_BUSINESS_DAYS = 366
# A calendar without a single working day in this many consecutive days is broken.
_MAX_GAP_DAYS = 366
_DAY = dt.timedelta(days=1)
_ZERO = dt.timedelta(0)
_CLOCK = re.compile(r"^(?:([01]\d|2[0-3]):([0-5]\d)|(24):(00))$")

DEFAULT_TIME_ZONE = "Asia/Shanghai"
DEFAULT_COUNTRY = "CN"
DEFAULT_WEEKEND: frozenset[int] = frozenset({5, 6})  # Saturday, Sunday (Monday is 0)
DEFAULT_HOURS: tuple[tuple[str, str], ...] = (("09:00", "12:00"), ("13:00", "18:00"))

Period = tuple[dt.timedelta, dt.timedelta]

_LABELS: Mapping[str, Mapping[str, str]] = {
    "workspace_holiday": {"zh-CN": "公司假日", "en": "Workspace holiday"},
    "adjusted_workday": {"zh-CN": "调休上班", "en": "Adjusted working day"},
    "workspace_workday": {"zh-CN": "公司工作日", "en": "Workspace working day"},
}


class CalendarError(ValueError):
    """The calendar cannot answer: no working day within a year, or a duration longer
    than :data:`MAX_BUSINESS_DAYS`."""


def parse_clock(text: object) -> dt.timedelta | None:
    """``"HH:MM"`` (``00:00``–``23:59``, or ``24:00`` for midnight at the end of the day)
    as the time since midnight; None when ``text`` is not such a string."""
    match = _CLOCK.match(text) if isinstance(text, str) else None
    if match is None:
        return None
    hours, minutes = (match.group(1), match.group(2)) if match.group(1) else ("24", "00")
    return dt.timedelta(hours=int(hours), minutes=int(minutes))


def parse_periods(pairs: Iterable[Iterable[str]]) -> tuple[Period, ...]:
    """``[["09:00", "12:00"], …]`` as periods; :class:`CalendarError` on a bad clock."""
    periods = []
    for pair in pairs:
        start, end = (parse_clock(text) for text in pair)
        if start is None or end is None:
            raise CalendarError(f"invalid working period {pair!r}")
        periods.append((start, end))
    return tuple(periods)


def within_business_limit(duration: Duration) -> bool:
    """Whether a duration is short enough to compute: natural ones always are; business
    ones have at most :data:`MAX_BUSINESS_DAYS` working days, and working hours and
    minutes worth at most as many 24-hour days (calendar-independent, so metadata can
    be checked when it is saved)."""
    if not duration.business:
        return True
    minutes = duration.hours * 60 + duration.minutes
    return 0 <= duration.days <= MAX_BUSINESS_DAYS and 0 <= minutes <= MAX_BUSINESS_DAYS * 24 * 60


def natural_deadline(start: dt.datetime, duration: Duration, time_zone: ZoneInfo) -> dt.datetime:
    """``start`` plus the days on the local wall clock (the same time of day even across
    a daylight-saving change), then plus the hours and minutes as elapsed time; in UTC."""
    if start.tzinfo is None:
        raise ValueError("naive datetime; use django.utils.timezone")
    # Aware datetime + timedelta keeps the wall clock; the offset is recomputed.
    local = start.astimezone(time_zone) + dt.timedelta(days=duration.days)
    return local.astimezone(dt.UTC) + dt.timedelta(hours=duration.hours, minutes=duration.minutes)


@dataclass(frozen=True)
class CalendarDay:
    """A named day of a year's listing; ``source`` is ``country`` (the public holiday
    tables) or ``workspace`` (the workspace's own extra days)."""

    date: dt.date
    name: str
    source: str


@dataclass(frozen=True, eq=False)
class BusinessCalendar:
    """Which days and hours are working time. ``working_hours`` are ordered,
    non-overlapping periods of the local day; ``country`` None means no public holidays.
    """

    time_zone: ZoneInfo = field(default_factory=lambda: ZoneInfo(DEFAULT_TIME_ZONE))
    country: str | None = DEFAULT_COUNTRY
    weekend: frozenset[int] = DEFAULT_WEEKEND
    working_hours: tuple[Period, ...] = field(default_factory=lambda: parse_periods(DEFAULT_HOURS))
    extra_holidays: frozenset[dt.date] = frozenset()
    extra_workdays: frozenset[dt.date] = frozenset()

    def __post_init__(self) -> None:
        previous_end = _ZERO
        for start, end in self.working_hours:
            if not (previous_end <= start < end <= _DAY):
                raise CalendarError("working hours must be ordered, non-overlapping periods")
            previous_end = end
        if not self.working_hours:
            raise CalendarError("a calendar needs at least one working period")

    @classmethod
    def build(
        cls,
        time_zone: str = DEFAULT_TIME_ZONE,
        country: str | None = DEFAULT_COUNTRY,
        weekend: Iterable[int] = DEFAULT_WEEKEND,
        working_hours: Iterable[Iterable[str]] = DEFAULT_HOURS,
        extra_holidays: Iterable[str] = (),
        extra_workdays: Iterable[str] = (),
    ) -> BusinessCalendar:
        """A calendar from stored settings (clock strings and ISO dates, as validated
        by :mod:`dajian.platform.calendars.editing`)."""
        return cls(
            time_zone=ZoneInfo(time_zone),
            country=country or None,
            weekend=frozenset(int(d) for d in weekend),
            working_hours=parse_periods(working_hours),
            extra_holidays=frozenset(dt.date.fromisoformat(d) for d in extra_holidays),
            extra_workdays=frozenset(dt.date.fromisoformat(d) for d in extra_workdays),
        )

    @cached_property
    def daily_working_time(self) -> dt.timedelta:
        """Working time in one working day."""
        return sum((end - start for start, end in self.working_hours), _ZERO)

    # --- days ---------------------------------------------------------------------------
    def is_working_day(self, day: dt.date) -> bool:
        """The workspace's extra workdays and holidays win; then the country's public
        holidays and adjusted working weekends; then the weekly weekend."""
        if day in self.extra_workdays:
            return True
        if day in self.extra_holidays:
            return False
        if self.country:
            year = year_days(self.country, day.year)
            if day in year.holidays:
                return False
            if day in year.weekend_workdays:
                return True
        return day.weekday() not in self.weekend

    def next_working_day(self, day: dt.date) -> dt.date:
        """The first working day on or after ``day``."""
        for offset in range(_MAX_GAP_DAYS + 1):
            candidate = day + dt.timedelta(days=offset)
            if self.is_working_day(candidate):
                return candidate
        raise CalendarError(f"no working day within {_MAX_GAP_DAYS} days of {day}")

    # --- instants -------------------------------------------------------------------------
    def _local(self, instant: dt.datetime) -> tuple[dt.date, dt.timedelta]:
        if instant.tzinfo is None:
            raise ValueError("naive datetime; use django.utils.timezone")
        local = instant.astimezone(self.time_zone)
        since_midnight = dt.timedelta(
            hours=local.hour,
            minutes=local.minute,
            seconds=local.second,
            microseconds=local.microsecond,
        )
        return local.date(), since_midnight

    def _instant(self, day: dt.date, since_midnight: dt.timedelta) -> dt.datetime:
        # Aware datetime + timedelta is wall-clock arithmetic: 09:00 local on ``day``.
        midnight = dt.datetime.combine(day, dt.time(), tzinfo=self.time_zone)
        return (midnight + since_midnight).astimezone(dt.UTC)

    def _working_position(
        self, day: dt.date, since_midnight: dt.timedelta
    ) -> tuple[dt.date, dt.timedelta]:
        """The first working instant at or after the local position: itself when it is
        inside a period, else the next period's start (today's or a later working day's)."""
        if self.is_working_day(day):
            for start, end in self.working_hours:
                if since_midnight < end:
                    return day, max(since_midnight, start)
        return self.next_working_day(day + _DAY), self.working_hours[0][0]

    def _add_working_time(
        self, day: dt.date, since_midnight: dt.timedelta, amount: dt.timedelta
    ) -> tuple[dt.date, dt.timedelta]:
        """Move a working position forward by ``amount`` of working time; an end that
        falls exactly on a period's end stays there (``16:00 + 2h = 18:00``)."""
        remaining = amount
        for start, end in self.working_hours:
            if since_midnight >= end:
                continue
            position = max(since_midnight, start)
            if remaining <= end - position:
                return day, position + remaining
            remaining -= end - position
        day = self.next_working_day(day + _DAY)
        while remaining > self.daily_working_time:
            remaining -= self.daily_working_time
            day = self.next_working_day(day + _DAY)
        for start, end in self.working_hours:
            if remaining <= end - start:
                return day, start + remaining
            remaining -= end - start
        raise AssertionError("unreachable: the day's periods hold the remaining time")

    def deadline(self, start: dt.datetime, duration: Duration) -> dt.datetime:
        """When ``duration`` after ``start`` ends, in UTC.

        Natural durations: the days on the local wall clock (the same time of day),
        then the hours and minutes as elapsed time. Business durations: counting starts
        at the first working instant at or after ``start``; each day is a working day
        and keeps the time of day; hours and minutes count only inside working periods.
        Raises :class:`CalendarError` past :data:`MAX_BUSINESS_DAYS`.
        """
        if not duration.business:
            return natural_deadline(start, duration, self.time_zone)
        if not within_business_limit(duration):
            raise CalendarError(f"business durations are limited to {MAX_BUSINESS_DAYS} days")
        day, since_midnight = self._working_position(*self._local(start))
        for _ in range(duration.days):
            day = self.next_working_day(day + _DAY)
        amount = dt.timedelta(hours=duration.hours, minutes=duration.minutes)
        day, since_midnight = self._add_working_time(day, since_midnight, amount)
        return self._instant(day, since_midnight)

    def _worked(self, day: dt.date, since: dt.timedelta, until: dt.timedelta) -> dt.timedelta:
        """Working time of ``day`` between two local times of day."""
        if not self.is_working_day(day):
            return _ZERO
        total = _ZERO
        for start, end in self.working_hours:
            overlap = min(end, until) - max(start, since)
            if overlap > _ZERO:
                total += overlap
        return total

    def elapsed(self, start: dt.datetime, end: dt.datetime) -> dt.timedelta:
        """Working time between two instants (negative when ``end`` is before ``start``)."""
        if end < start:
            return -self.elapsed(end, start)
        first_day, since = self._local(start)
        last_day, until = self._local(end)
        if first_day == last_day:
            return self._worked(first_day, since, until)
        total = self._worked(first_day, since, _DAY) + self._worked(last_day, _ZERO, until)
        day = first_day + _DAY
        whole_days = 0
        while day < last_day:
            whole_days += self.is_working_day(day)
            day += _DAY
        return total + self.daily_working_time * whole_days

    # --- listings -------------------------------------------------------------------------
    def holidays_in(self, year: int, locale: str) -> list[CalendarDay]:
        """The named non-working days of ``year`` (public holidays not overridden by an
        extra workday, and the workspace's extra holidays), in date order. Plain
        weekends are not listed: :attr:`weekend` says which they are."""
        named: dict[dt.date, CalendarDay] = {}
        label = _LABELS["workspace_holiday"][locale]
        for day in sorted(d for d in self.extra_holidays if d.year == year):
            named[day] = CalendarDay(day, label, "workspace")
        if self.country:
            for day, name in holiday_names(self.country, year, locale).items():
                named[day] = CalendarDay(day, name, "country")
        return [named[d] for d in sorted(named) if not self.is_working_day(d)]

    def adjusted_workdays_in(self, year: int, locale: str) -> list[CalendarDay]:
        """Working days of ``year`` that would otherwise be off: adjusted working
        weekends of the country and the workspace's extra workdays on a weekend or a
        public holiday, in date order."""
        days: dict[dt.date, CalendarDay] = {}
        country_year = year_days(self.country, year) if self.country else None
        if country_year is not None:
            label = _LABELS["adjusted_workday"][locale]
            for day in country_year.weekend_workdays:
                days[day] = CalendarDay(day, label, "country")
        label = _LABELS["workspace_workday"][locale]
        for day in self.extra_workdays:
            normally_off = day.weekday() in self.weekend or (
                country_year is not None and day in country_year.holidays
            )
            if day.year == year and normally_off:
                days[day] = CalendarDay(day, label, "workspace")
        return [days[d] for d in sorted(days) if self.is_working_day(d)]
