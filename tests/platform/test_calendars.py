"""Working-time arithmetic on business calendars (R8, R9, R13 SLAs).

2026 dates of mainland China used below: 2026-03-13 is an ordinary Friday; the
National Day holiday runs 10-01 to 10-07 (10-08 is a working Thursday); 2026-01-02 is a
substituted day off and Sunday 2026-01-04 an adjusted working day (调休).
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from dajian.platform import calendars
from dajian.platform.calendars import (
    MAX_BUSINESS_DAYS,
    BusinessCalendar,
    CalendarError,
    calendar_for,
    deadline,
    elapsed,
    is_working_day,
    save_work_calendar,
    within_business_limit,
)
from dajian.platform.durations import Duration
from dajian.platform.models import WorkCalendar

SHANGHAI = ZoneInfo("Asia/Shanghai")
CHINA = BusinessCalendar()


def at(*parts: int, tz: ZoneInfo = SHANGHAI) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=tz)


def hours(n: int = 0, minutes: int = 0) -> Duration:
    return Duration(hours=n, minutes=minutes, business=True)


def days(n: int) -> Duration:
    return Duration(days=n, business=True)


# --- working days -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "working"),
    [
        (dt.date(2026, 3, 13), True),  # Friday
        (dt.date(2026, 3, 14), False),  # Saturday
        (dt.date(2026, 10, 1), False),  # National Day
        (dt.date(2026, 10, 7), False),  # substituted day off (a Wednesday)
        (dt.date(2026, 10, 8), True),
        (dt.date(2026, 1, 2), False),  # substituted day off (a Friday)
        (dt.date(2026, 1, 4), True),  # adjusted working Sunday
        (dt.date(2026, 10, 10), True),  # adjusted working Saturday
    ],
)
def test_working_days_of_mainland_china(day, working):
    assert CHINA.is_working_day(day) is working


def test_extra_holidays_and_workdays_override_the_country_and_the_weekend():
    calendar = BusinessCalendar(
        extra_holidays=frozenset({dt.date(2026, 3, 13), dt.date(2026, 1, 4)}),
        extra_workdays=frozenset({dt.date(2026, 3, 14), dt.date(2026, 10, 1)}),
    )
    assert not calendar.is_working_day(dt.date(2026, 3, 13))  # a Friday made a holiday
    assert not calendar.is_working_day(dt.date(2026, 1, 4))  # the adjusted Sunday undone
    assert calendar.is_working_day(dt.date(2026, 3, 14))  # a Saturday made a workday
    assert calendar.is_working_day(dt.date(2026, 10, 1))  # National Day worked


def test_a_calendar_without_country_has_only_weekends():
    calendar = BusinessCalendar(country=None)
    assert calendar.is_working_day(dt.date(2026, 10, 1))
    assert not calendar.is_working_day(dt.date(2026, 1, 4))


def test_a_calendar_with_no_working_day_in_a_year_refuses_to_count():
    calendar = BusinessCalendar(country=None, weekend=frozenset(range(7)))
    with pytest.raises(CalendarError):
        calendar.deadline(at(2026, 3, 13, 10), hours(1))


def test_working_periods_must_be_ordered_and_disjoint():
    nine, noon, one = (dt.timedelta(hours=h) for h in (9, 12, 13))
    with pytest.raises(CalendarError):
        BusinessCalendar(working_hours=((one, noon),))
    with pytest.raises(CalendarError):
        BusinessCalendar(working_hours=((nine, one), (noon, one + one)))
    with pytest.raises(CalendarError):
        BusinessCalendar(working_hours=())


# --- deadlines ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "duration", "expected"),
    [
        # Friday 17:00 + 2 working hours: 1 h on Friday, 1 h on Monday.
        (at(2026, 3, 13, 17), hours(2), at(2026, 3, 16, 10)),
        # An end exactly at the close of the day stays on that day.
        (at(2026, 3, 13, 16), hours(2), at(2026, 3, 13, 18)),
        # Before the lunch break, over it.
        (at(2026, 3, 13, 11, 30), hours(1), at(2026, 3, 13, 13, 30)),
        # Starting during lunch counts from 13:00.
        (at(2026, 3, 13, 12, 30), hours(1), at(2026, 3, 13, 14)),
        # Before opening counts from 09:00; after closing from the next working morning.
        (at(2026, 3, 13, 7), hours(2, 30), at(2026, 3, 13, 11, 30)),
        (at(2026, 3, 12, 20), hours(2), at(2026, 3, 13, 11)),
        # Several days of working hours: 8 h a day, Friday then Monday.
        (at(2026, 3, 13, 9), hours(16), at(2026, 3, 16, 18)),
        (at(2026, 3, 13, 9), hours(17), at(2026, 3, 17, 10)),
        # National Day week: from the eve to the first working morning after it.
        (at(2026, 9, 30, 17), hours(2), at(2026, 10, 8, 10)),
        (at(2026, 10, 1, 10), hours(2), at(2026, 10, 8, 11)),
        # Working days keep the time of day and skip the weekend.
        (at(2026, 3, 13, 10, 15), days(1), at(2026, 3, 16, 10, 15)),
        (at(2026, 3, 13, 10), days(5), at(2026, 3, 20, 10)),
        # A holiday start counts from the next working day's opening; the adjusted
        # working Sunday 2026-01-04 is that day.
        (at(2026, 1, 2, 10), days(1), at(2026, 1, 5, 9)),
        (at(2026, 1, 2, 10), hours(3), at(2026, 1, 4, 12)),
        (at(2026, 1, 2, 10), hours(4), at(2026, 1, 4, 14)),
        # Saturday start: Monday morning is where counting begins.
        (at(2026, 3, 14, 15), days(1), at(2026, 3, 17, 9)),
        # Days then hours.
        (at(2026, 3, 13, 17, 30), Duration(days=1, hours=1, business=True), at(2026, 3, 17, 9, 30)),
        # Zero: the first working instant.
        (at(2026, 3, 14, 15), hours(0), at(2026, 3, 16, 9)),
    ],
)
def test_business_deadlines(start, duration, expected):
    result = CHINA.deadline(start, duration)
    assert result == expected
    assert result.tzinfo == dt.UTC


def test_deadline_in_another_time_zone():
    # 09:00–17:00 in Berlin, no public holidays; 16:00 Berlin on Friday 2026-03-13.
    berlin = ZoneInfo("Europe/Berlin")
    calendar = BusinessCalendar.build(
        time_zone="Europe/Berlin", country=None, working_hours=[["09:00", "17:00"]]
    )
    start = at(2026, 3, 13, 15, tz=dt.UTC)  # 16:00 in Berlin (UTC+1 in March)
    assert calendar.deadline(start, hours(2)) == at(2026, 3, 16, 10, tz=berlin)
    # The same instant on the Shanghai calendar is 23:00, after hours.
    assert CHINA.deadline(start, hours(2)) == at(2026, 3, 16, 11)


def test_deadline_across_a_daylight_saving_change_keeps_the_wall_clock():
    berlin = ZoneInfo("Europe/Berlin")
    calendar = BusinessCalendar.build(time_zone="Europe/Berlin", country=None)
    # Clocks go forward on Sunday 2026-03-29.
    result = calendar.deadline(at(2026, 3, 27, 10, tz=berlin), days(1))
    assert result == at(2026, 3, 30, 10, tz=berlin)


def test_natural_durations_ignore_the_calendar():
    start = at(2026, 9, 30, 17)
    assert CHINA.deadline(start, Duration(hours=2)) == at(2026, 9, 30, 19)
    assert CHINA.deadline(start, Duration(days=2, minutes=5)) == at(2026, 10, 2, 17, 5)


def test_natural_days_keep_the_local_wall_clock_across_daylight_saving():
    berlin = ZoneInfo("Europe/Berlin")
    calendar = BusinessCalendar.build(time_zone="Europe/Berlin")
    result = calendar.deadline(at(2026, 3, 28, 10, tz=berlin), Duration(days=1))
    assert result == at(2026, 3, 29, 10, tz=berlin)  # 23 hours later


def test_durations_past_the_limit_are_refused():
    assert within_business_limit(days(MAX_BUSINESS_DAYS))
    assert not within_business_limit(days(MAX_BUSINESS_DAYS + 1))
    assert not within_business_limit(hours(MAX_BUSINESS_DAYS * 24 + 1))
    assert within_business_limit(Duration(days=10_000))  # natural: any length
    CHINA.deadline(at(2026, 3, 13, 10), days(MAX_BUSINESS_DAYS))
    with pytest.raises(CalendarError):
        CHINA.deadline(at(2026, 3, 13, 10), days(MAX_BUSINESS_DAYS + 1))


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError):
        CHINA.deadline(dt.datetime(2026, 3, 13, 10), hours(1))


# --- elapsed working time -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        # Friday 17:00 to Monday 10:00 over a weekend: 1 h + 1 h.
        (at(2026, 3, 13, 17), at(2026, 3, 16, 10), dt.timedelta(hours=2)),
        # Same day across lunch.
        (at(2026, 3, 13, 11), at(2026, 3, 13, 14), dt.timedelta(hours=2)),
        # A whole working week.
        (at(2026, 3, 16, 0), at(2026, 3, 21, 0), dt.timedelta(hours=40)),
        # National Day week: only 09-30 afternoon's last hour and 10-08 morning.
        (at(2026, 9, 30, 17), at(2026, 10, 8, 10, 30), dt.timedelta(hours=2, minutes=30)),
        # Inside a weekend: nothing.
        (at(2026, 3, 14, 9), at(2026, 3, 15, 18), dt.timedelta(0)),
        # The adjusted working Sunday counts.
        (at(2026, 1, 3, 0), at(2026, 1, 5, 0), dt.timedelta(hours=8)),
    ],
)
def test_elapsed_working_time(start, end, expected):
    assert CHINA.elapsed(start, end) == expected


def test_elapsed_backwards_is_negative():
    assert CHINA.elapsed(at(2026, 3, 16, 10), at(2026, 3, 13, 17)) == -dt.timedelta(hours=2)


def test_elapsed_undoes_deadline():
    start = at(2026, 9, 29, 15, 20)
    for amount in (hours(1), hours(9, 45), hours(30), hours(200)):
        end = CHINA.deadline(start, amount)
        assert CHINA.elapsed(start, end) == dt.timedelta(hours=amount.hours, minutes=amount.minutes)


# --- holiday listings ---------------------------------------------------------------------


def test_holidays_of_a_year_with_names_and_overrides():
    calendar = BusinessCalendar(
        extra_holidays=frozenset({dt.date(2026, 3, 13)}),
        extra_workdays=frozenset({dt.date(2026, 10, 7)}),
    )
    listed = {d.date: d for d in calendar.holidays_in(2026, "en")}
    assert listed[dt.date(2026, 10, 1)].name == "National Day"
    assert listed[dt.date(2026, 10, 1)].source == "country"
    assert listed[dt.date(2026, 3, 13)].source == "workspace"
    assert dt.date(2026, 10, 7) not in listed  # worked by the workspace
    assert dt.date(2026, 3, 14) not in listed  # plain weekends are not listed
    assert CHINA.holidays_in(2026, "zh-CN")[0].name == "元旦"


def test_adjusted_workdays_of_a_year():
    calendar = BusinessCalendar(
        extra_workdays=frozenset({dt.date(2026, 3, 14), dt.date(2026, 3, 16)}),
        extra_holidays=frozenset({dt.date(2026, 2, 14)}),
    )
    listed = {d.date: d.source for d in calendar.adjusted_workdays_in(2026, "en")}
    assert listed[dt.date(2026, 1, 4)] == "country"
    assert listed[dt.date(2026, 3, 14)] == "workspace"
    assert dt.date(2026, 3, 16) not in listed  # an ordinary Monday
    assert dt.date(2026, 2, 14) not in listed  # the workspace takes that Saturday off


# --- the workspace's calendar -------------------------------------------------------------


@pytest.fixture(autouse=True)
def _fresh_cache():
    calendars.store.cache.clear()
    yield
    calendars.store.cache.clear()


def test_a_workspace_without_a_row_uses_the_defaults(workspace):
    calendar = calendar_for(workspace)
    assert calendar.country == "CN"
    assert calendar.time_zone.key == "Asia/Shanghai"
    assert deadline(workspace, at(2026, 3, 13, 17), hours(2)) == at(2026, 3, 16, 10)
    assert elapsed(workspace, at(2026, 3, 13, 17), at(2026, 3, 16, 10), True) == dt.timedelta(
        hours=2
    )
    assert elapsed(workspace, at(2026, 3, 13, 17), at(2026, 3, 16, 10), False) == dt.timedelta(
        hours=65
    )
    assert not is_working_day(workspace, dt.date(2026, 10, 1))


def test_the_workspace_time_zone_is_used(workspace):
    workspace.time_zone = "America/New_York"
    workspace.save()
    new_york = ZoneInfo("America/New_York")
    result = deadline(workspace, at(2026, 3, 13, 17, tz=new_york), hours(2))
    assert result == at(2026, 3, 16, 10, tz=new_york)


def test_natural_deadlines_need_no_query(workspace, django_assert_num_queries):
    with django_assert_num_queries(0):
        assert deadline(workspace, at(2026, 3, 13, 17), Duration(hours=2)) == at(2026, 3, 13, 19)


def test_the_cache_costs_one_query_and_sees_every_change(
    workspace, admin_actor, django_assert_num_queries
):
    # given a cached calendar
    first = calendar_for(workspace)
    with django_assert_num_queries(1):
        assert calendar_for(workspace) is first
    # when an admin makes the Friday a holiday
    save_work_calendar(admin_actor, {"extra_holidays": ["2026-03-13"]})
    # then the next lookup sees it
    assert deadline(workspace, at(2026, 3, 13, 10), hours(1)) == at(2026, 3, 16, 10)
    # and another change again
    save_work_calendar(admin_actor, {"extra_holidays": [], "weekend": [6]})
    assert deadline(workspace, at(2026, 3, 13, 17), hours(2)) == at(2026, 3, 14, 10)


def test_a_deleted_row_falls_back_to_the_defaults(workspace, admin_actor):
    save_work_calendar(admin_actor, {"weekend": [6]})
    assert calendar_for(workspace).weekend == {6}
    WorkCalendar.objects.filter(workspace=workspace).delete()
    assert calendar_for(workspace).weekend == {5, 6}


def test_an_invalid_stored_row_falls_back_to_the_defaults(workspace, caplog):
    WorkCalendar.objects.create(workspace=workspace, working_hours=[["18:00", "09:00"]])
    assert calendar_for(workspace).daily_working_time == dt.timedelta(hours=8)
    assert "invalid" in caplog.text


def test_an_unknown_workspace_time_zone_falls_back_to_shanghai(workspace):
    workspace.time_zone = "Mars/Olympus"
    assert calendar_for(workspace).time_zone.key == "Asia/Shanghai"
