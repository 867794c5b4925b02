"""The work calendar over GraphQL: ``workCalendar`` and ``saveWorkCalendar``."""

from __future__ import annotations

import pytest

from dajian.platform import calendars
from dajian.platform.models import AuditEvent, WorkCalendar
from tests.factories import make_user

CALENDAR = """
query C($year: Int!) {
  workCalendar {
    country weekend workingHours { start end } extraHolidays extraWorkdays timeZone
    holidays(year: $year) { date name source }
    adjustedWorkdays(year: $year) { date name source }
  }
}"""
SAVE = """
mutation S($input: SaveWorkCalendarInput!) {
  saveWorkCalendar(input: $input) {
    calendar { country weekend workingHours { start end } extraHolidays extraWorkdays }
    errors { field path code message }
  }
}"""


@pytest.fixture(autouse=True)
def _fresh_cache():
    calendars.store.cache.clear()
    yield
    calendars.store.cache.clear()


@pytest.fixture
def rep(workspace):
    return make_user("rep", workspace, roles=["rep"])


def saved_events(workspace):
    return list(AuditEvent.objects.filter(workspace=workspace, action="calendar.updated"))


def test_any_member_reads_the_calendar(gql, rep):
    result = gql(CALENDAR, {"year": 2026}, as_user=rep, language="en")
    calendar = result["data"]["workCalendar"]
    assert calendar["country"] == "CN"
    assert calendar["weekend"] == [5, 6]
    assert calendar["workingHours"] == [
        {"start": "09:00", "end": "12:00"},
        {"start": "13:00", "end": "18:00"},
    ]
    assert calendar["timeZone"] == "Asia/Shanghai"
    assert {"date": "2026-10-01", "name": "National Day", "source": "country"} in calendar[
        "holidays"
    ]
    assert {"date": "2026-01-04", "name": "Adjusted working day", "source": "country"} in (
        calendar["adjustedWorkdays"]
    )


def test_holiday_names_follow_the_language(gql, rep):
    result = gql(CALENDAR, {"year": 2026}, as_user=rep, language="zh-CN")
    assert result["data"]["workCalendar"]["holidays"][0] == {
        "date": "2026-01-01",
        "name": "元旦",
        "source": "country",
    }


def test_reading_needs_sign_in_and_a_sensible_year(gql, rep):
    anonymous = gql(CALENDAR, {"year": 2026})
    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    far = gql(CALENDAR, {"year": 3000}, as_user=rep)
    assert far["errors"][0]["extensions"]["code"] == "INVALID_INPUT"


def test_only_workspace_admins_change_the_calendar(gql, rep, admin, workspace):
    changes = {
        "country": "CN",
        "weekend": [6],
        "workingHours": [{"start": "08:30", "end": "12:00"}, {"start": "13:00", "end": "17:30"}],
        "extraHolidays": ["2026-03-13", "2026-03-12"],
        "extraWorkdays": ["2026-10-07"],
    }
    # denied for a member
    denied = gql(SAVE, {"input": changes}, as_user=rep)["data"]["saveWorkCalendar"]
    assert denied["calendar"] is None
    assert [e["code"] for e in denied["errors"]] == ["PERMISSION_DENIED"]
    assert not WorkCalendar.objects.exists()
    assert saved_events(workspace) == []
    # allowed for an admin
    saved = gql(SAVE, {"input": changes}, as_user=admin)["data"]["saveWorkCalendar"]
    assert saved["errors"] == []
    assert saved["calendar"] == {
        "country": "CN",
        "weekend": [6],
        "workingHours": changes["workingHours"],
        "extraHolidays": ["2026-03-12", "2026-03-13"],
        "extraWorkdays": ["2026-10-07"],
    }
    row = WorkCalendar.objects.get(workspace=workspace)
    assert row.working_hours == [["08:30", "12:00"], ["13:00", "17:30"]]
    [event] = saved_events(workspace)
    assert event.actor_id == admin.pk
    assert event.diff["weekend"] == [[5, 6], [6]]
    assert "country" not in event.diff  # unchanged
    # and every member now reads the new calendar
    read = gql(CALENDAR, {"year": 2026}, as_user=rep)["data"]["workCalendar"]
    assert read["weekend"] == [6]
    dates = {d["date"]: d["source"] for d in read["holidays"]}
    assert dates["2026-03-13"] == "workspace"
    assert "2026-10-07" not in dates


def test_omitted_settings_are_kept(gql, admin, workspace):
    gql(SAVE, {"input": {"weekend": [6], "extraHolidays": ["2026-03-13"]}}, as_user=admin)
    saved = gql(SAVE, {"input": {"country": "us"}}, as_user=admin)["data"]["saveWorkCalendar"]
    assert saved["errors"] == []
    assert saved["calendar"]["country"] == "US"
    assert saved["calendar"]["weekend"] == [6]
    assert saved["calendar"]["extraHolidays"] == ["2026-03-13"]
    assert len(saved_events(workspace)) == 2


@pytest.mark.parametrize("country", ["", None])
def test_no_country_means_no_public_holidays(gql, admin, workspace, country):
    saved = gql(SAVE, {"input": {"country": country}}, as_user=admin)["data"]["saveWorkCalendar"]
    assert saved["errors"] == [] and saved["calendar"]["country"] is None
    assert WorkCalendar.objects.get(workspace=workspace).country == ""
    assert saved_events(workspace)[0].diff["country"] == ["CN", ""]

    read = gql(CALENDAR, {"year": 2026}, as_user=admin)["data"]["workCalendar"]
    assert read["holidays"] == [] and read["adjustedWorkdays"] == []
    kept = gql(SAVE, {"input": {"weekend": [6]}}, as_user=admin)["data"]["saveWorkCalendar"]
    assert kept["calendar"]["country"] is None


@pytest.mark.parametrize(
    ("changes", "errors"),
    [
        ({"country": "XX"}, [("country", "UNSUPPORTED_COUNTRY")]),
        ({"weekend": [5, 7]}, [("weekend.1", "INVALID_WEEKDAY")]),
        ({"weekend": [-1, 6]}, [("weekend.0", "INVALID_WEEKDAY")]),
        ({"weekend": [0, 1, 2, 3, 4, 5, 6]}, [("weekend", "NO_WORKING_DAYS")]),
        ({"workingHours": []}, [("workingHours", "NO_WORKING_HOURS")]),
        (
            {"workingHours": [{"start": "9:00", "end": "25:00"}]},
            [("workingHours.0.start", "INVALID_TIME"), ("workingHours.0.end", "INVALID_TIME")],
        ),
        (
            {"workingHours": [{"start": "12:00", "end": "09:00"}]},
            [("workingHours.0", "INVALID_PERIOD")],
        ),
        (
            {"workingHours": [{"start": "24:00", "end": "24:00"}]},
            [("workingHours.0", "INVALID_PERIOD")],
        ),
        (
            {
                "workingHours": [
                    {"start": "13:00", "end": "18:00"},
                    {"start": "09:00", "end": "12:00"},
                ]
            },
            [("workingHours.1", "OVERLAPPING_PERIODS")],
        ),
        (
            {
                "workingHours": [
                    {"start": "09:00", "end": "13:00"},
                    {"start": "12:00", "end": "18:00"},
                ]
            },
            [("workingHours.1", "OVERLAPPING_PERIODS")],
        ),
        (
            {"workingHours": [{"start": "09:00", "end": "09:30"}]},
            [("workingHours", "NO_WORKING_HOURS")],
        ),
        ({"extraHolidays": ["2026-02-30"]}, [("extraHolidays.0", "INVALID_DATE")]),
        ({"extraWorkdays": ["2026-01-04", "20260105"]}, [("extraWorkdays.1", "INVALID_DATE")]),
        (
            {"extraHolidays": ["2026-03-13"], "extraWorkdays": ["2026-10-10", "2026-03-13"]},
            [("extraWorkdays.1", "DATE_CONFLICT")],
        ),
        (
            {"extraHolidays": ["2026-03-13"] * 1001},
            [("extraHolidays", "TOO_MANY_ITEMS")],
        ),
        # every problem at once, never just the first
        (
            {"country": "ZZ", "weekend": [9], "extraHolidays": ["soon"]},
            [
                ("country", "UNSUPPORTED_COUNTRY"),
                ("weekend.0", "INVALID_WEEKDAY"),
                ("extraHolidays.0", "INVALID_DATE"),
            ],
        ),
    ],
)
def test_invalid_settings_are_typed_errors_and_change_nothing(
    gql, admin, workspace, changes, errors
):
    result = gql(SAVE, {"input": changes}, as_user=admin, language="en")["data"]["saveWorkCalendar"]
    assert [(e["path"], e["code"]) for e in result["errors"]] == errors
    for error in result["errors"]:
        assert error["field"] == error["path"].split(".")[0]
        assert error["message"]
    assert result["calendar"] is None
    assert not WorkCalendar.objects.exists()
    assert saved_events(workspace) == []


def test_a_conflict_with_stored_dates_is_refused(gql, admin, workspace):
    gql(SAVE, {"input": {"extraWorkdays": ["2026-10-10"]}}, as_user=admin)
    result = gql(SAVE, {"input": {"extraHolidays": ["2026-10-10"]}}, as_user=admin)
    assert [(e["path"], e["code"]) for e in result["data"]["saveWorkCalendar"]["errors"]] == [
        ("extraHolidays.0", "DATE_CONFLICT")
    ]
    assert WorkCalendar.objects.get(workspace=workspace).extra_holidays == []


def test_error_messages_are_localised(gql, admin):
    result = gql(SAVE, {"input": {"country": "XX"}}, as_user=admin, language="zh-CN")
    assert "XX" in result["data"]["saveWorkCalendar"]["errors"][0]["message"]
    assert "法定节假日" in result["data"]["saveWorkCalendar"]["errors"][0]["message"]


def test_admins_of_another_workspace_change_only_theirs(gql, workspace, other_workspace):
    other_admin = make_user("other_admin", other_workspace, is_admin=True)
    saved = gql(SAVE, {"input": {"weekend": [6]}}, as_user=other_admin)["data"]
    assert saved["saveWorkCalendar"]["errors"] == []
    assert not WorkCalendar.objects.filter(workspace=workspace).exists()
    assert WorkCalendar.objects.get(workspace=other_workspace).weekend == [6]
