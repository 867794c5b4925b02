"""The work calendar in GraphQL: query ``workCalendar`` (any member) and mutation
``saveWorkCalendar`` (workspace admins). Thin: the calendar package does the work."""

from __future__ import annotations

import datetime as dt
from typing import Any

import graphene

from dajian.platform.actors import Actor
from dajian.platform.calendars import BusinessCalendar, CalendarDay, calendar_for
from dajian.platform.calendars import save_work_calendar as save_calendar
from dajian.platform.calendars.editing import NO_COUNTRY
from dajian.platform.errors import CommonErrorCode, DajianError
from dajian.platform.graphql.base import DajianMutation, Error, current_actor, graphql_error
from dajian.platform.i18n import current_locale

# Years the holiday listing answers for (the tables are estimates far from today).
MIN_YEAR, MAX_YEAR = 1970, 2100


def _clock(since_midnight: dt.timedelta) -> str:
    minutes = int(since_midnight.total_seconds()) // 60
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _check_year(year: int) -> None:
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise graphql_error(
            DajianError.single(
                CommonErrorCode.INVALID_INPUT,
                f"year must be between {MIN_YEAR} and {MAX_YEAR}.",
                field="year",
            )
        )


class WorkingPeriod(graphene.ObjectType):
    """Working hours of a day, local ``HH:MM`` (``end`` may be ``24:00``)."""

    start = graphene.String(required=True)
    end = graphene.String(required=True)


class CalendarDayType(graphene.ObjectType):
    """A named day: ``source`` is ``country`` (public tables) or ``workspace``."""

    class Meta:
        name = "CalendarDay"

    date = graphene.String(required=True, description="ISO date (YYYY-MM-DD).")
    name = graphene.String(required=True)
    source = graphene.String(required=True)

    def resolve_date(day: CalendarDay, info: Any) -> str:
        return day.date.isoformat()


class WorkCalendarType(graphene.ObjectType):
    """The workspace's business calendar, used for every deadline on working time."""

    class Meta:
        name = "WorkCalendar"

    country = graphene.String(
        description="Public holidays of this country (ISO code); null: no public holidays."
    )
    weekend = graphene.List(
        graphene.NonNull(graphene.Int), required=True, description="0 = Monday … 6 = Sunday."
    )
    working_hours = graphene.List(graphene.NonNull(WorkingPeriod), required=True)
    extra_holidays = graphene.List(graphene.NonNull(graphene.String), required=True)
    extra_workdays = graphene.List(graphene.NonNull(graphene.String), required=True)
    time_zone = graphene.String(required=True)
    holidays = graphene.List(
        graphene.NonNull(CalendarDayType),
        required=True,
        year=graphene.Int(required=True),
        description="Named non-working days of the year after the workspace's overrides "
        "(plain weekends are not listed).",
    )
    adjusted_workdays = graphene.List(
        graphene.NonNull(CalendarDayType),
        required=True,
        year=graphene.Int(required=True),
        description="Working days of the year on a weekend or public holiday.",
    )

    def resolve_weekend(cal: BusinessCalendar, info: Any) -> list[int]:
        return sorted(cal.weekend)

    def resolve_working_hours(cal: BusinessCalendar, info: Any) -> list[WorkingPeriod]:
        return [WorkingPeriod(start=_clock(a), end=_clock(b)) for a, b in cal.working_hours]

    def resolve_extra_holidays(cal: BusinessCalendar, info: Any) -> list[str]:
        return [d.isoformat() for d in sorted(cal.extra_holidays)]

    def resolve_extra_workdays(cal: BusinessCalendar, info: Any) -> list[str]:
        return [d.isoformat() for d in sorted(cal.extra_workdays)]

    def resolve_time_zone(cal: BusinessCalendar, info: Any) -> str:
        return cal.time_zone.key

    def resolve_holidays(cal: BusinessCalendar, info: Any, year: int) -> list[CalendarDay]:
        _check_year(year)
        return cal.holidays_in(year, current_locale())

    def resolve_adjusted_workdays(cal: BusinessCalendar, info: Any, year: int) -> list[CalendarDay]:
        _check_year(year)
        return cal.adjusted_workdays_in(year, current_locale())


class WorkingPeriodInput(graphene.InputObjectType):
    start = graphene.String(required=True, description="HH:MM")
    end = graphene.String(required=True, description="HH:MM (24:00 = end of the day)")


class SaveWorkCalendarInput(graphene.InputObjectType):
    """Settings to change; an omitted one keeps its value."""

    country = graphene.String(description='ISO code; "" or null: no public holidays.')
    weekend = graphene.List(graphene.NonNull(graphene.Int))
    working_hours = graphene.List(graphene.NonNull(WorkingPeriodInput))
    extra_holidays = graphene.List(graphene.NonNull(graphene.String))
    extra_workdays = graphene.List(graphene.NonNull(graphene.String))


class SaveWorkCalendar(DajianMutation):
    calendar = graphene.Field(WorkCalendarType)

    class Arguments:
        input = SaveWorkCalendarInput(required=True)

    class Meta:
        description = (
            "Change the workspace's business calendar: country of the public holidays, "
            "weekend days, working hours, extra holidays and workdays (ISO dates)."
        )
        permission = "workspace admin"
        error_type = Error

    @classmethod
    def perform(cls, root: Any, info: Any, actor: Actor, input: Any) -> SaveWorkCalendar:
        changes = {
            name: input.get(name)
            for name in ("country", "weekend", "extra_holidays", "extra_workdays")
        }
        if "country" in input and input["country"] is None:
            changes["country"] = NO_COUNTRY  # an explicit null: no public holidays
        hours = input.get("working_hours")
        changes["working_hours"] = [dict(p) for p in hours] if hours is not None else None
        save_calendar(actor, changes)
        return cls(calendar=calendar_for(actor.workspace), errors=[])


class CalendarQuery(graphene.ObjectType):
    work_calendar = graphene.Field(
        WorkCalendarType, required=True, description="The workspace's business calendar."
    )

    def resolve_work_calendar(root: Any, info: Any) -> BusinessCalendar:
        return calendar_for(current_actor(info).workspace)


class CalendarMutation(graphene.ObjectType):
    save_work_calendar = SaveWorkCalendar.Field()
