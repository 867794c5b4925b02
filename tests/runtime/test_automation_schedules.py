"""Scheduled and date-relative automations: cron ticks in the workspace's time zone,
runs over the filter's records in batches, once per tick, and date triggers that fire
once per value of the date."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from dajian.runtime.automations import engine, schedules
from dajian.runtime.models import ActionExecution, AutomationRun, Notification, Record
from dajian.runtime.services.records import create_record, update_record
from tests.automation_helpers import publish_automation

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
FIELDS = [
    {"key": "name", "type": "text", "label": "Name"},
    {"key": "amount", "type": "number", "label": "Amount"},
    {"key": "last_contact_at", "type": "datetime", "label": "Last contact"},
    {"key": "renewal_on", "type": "date", "label": "Renewal"},
]
NOTIFY = {"type": "notify", "to": [{"type": "owner"}], "message": "{{ name }}"}


def local(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=SHANGHAI)


@pytest.mark.parametrize(
    ("cron", "now", "tick"),
    [
        ("0 8 * * *", local(2026, 11, 23, 8, 0, 0), local(2026, 11, 23, 8, 0)),
        ("0 8 * * *", local(2026, 11, 23, 7, 59, 59), local(2026, 11, 22, 8, 0)),
        ("0 10 * * 1", local(2026, 11, 25, 12, 0), local(2026, 11, 23, 10, 0)),  # a Monday
        ("0 8 5 * *", local(2026, 12, 1, 0, 0), local(2026, 11, 5, 8, 0)),
    ],
)
def test_the_tick_of_a_run_is_in_the_workspace_time_zone(cron, now, tick):
    found = schedules.cron_tick(cron, SHANGHAI, now.astimezone(dt.UTC))
    assert found == tick


def test_next_runs_of_a_daily_schedule():
    ticks = schedules.next_ticks("0 8 * * *", SHANGHAI, local(2026, 11, 23, 9, 0), 2)
    assert ticks == [local(2026, 11, 24, 8, 0), local(2026, 11, 25, 8, 0)]


@pytest.fixture
def form(form_factory):
    return form_factory(FIELDS)


def _records(actor, amounts):
    return [
        create_record(actor, "sales", "customer", {"name": f"c{i}", "amount": a}).record
        for i, a in enumerate(amounts)
    ]


def test_a_scheduled_run_acts_on_the_filtered_records_in_batches(admin_actor, form, settings):
    settings.DAJIAN = {**settings.DAJIAN, "AUTOMATION_BATCH_SIZE": 3}
    records = _records(admin_actor, [10, 200, 300, 400, 500, 5, 600, 700])
    meta = publish_automation(
        admin_actor,
        form,
        "big",
        {
            "trigger": {"type": "schedule", "cron": "0 8 * * *"},
            "filter": {"field": "amount", "op": "gte", "value": 100},
            "condition": "amount < 650.0",
            "actions": [NOTIFY],
        },
    )
    seen: list[int] = []
    original = engine.process_batch

    def spy(firing, batch, count=True):
        seen.append(len(batch))
        return original(firing, batch, count)

    engine.process_batch = spy
    try:
        run = schedules.run_scheduled(meta.pk, now=local(2026, 11, 23, 8, 0, 5))
    finally:
        engine.process_batch = original
    # 6 records pass the filter, loaded 3 at a time; 5 pass the condition
    assert seen == [3, 3]
    assert (run.records_scanned, run.records_matched, run.actions_done) == (6, 5, 5)
    assert run.trigger_key == "schedule:2026-11-23T08:00:00+08:00"
    assert set(Notification.objects.values_list("record_id", flat=True)) == {
        r.pk for r in records if 100 <= r.data["amount"] < 650
    }
    # the same tick delivered again does nothing more
    again = schedules.run_scheduled(meta.pk, now=local(2026, 11, 23, 8, 3))
    assert again.pk == run.pk
    assert Notification.objects.count() == 5
    # the next day's tick is a new run
    schedules.run_scheduled(meta.pk, now=local(2026, 11, 24, 8, 0, 1))
    assert AutomationRun.objects.count() == 2
    assert Notification.objects.count() == 10


def test_a_batch_is_a_fixed_number_of_queries(admin_actor, form, settings):
    settings.DAJIAN = {**settings.DAJIAN, "AUTOMATION_BATCH_SIZE": 50}
    meta = publish_automation(
        admin_actor,
        form,
        "all",
        {"trigger": {"type": "schedule", "cron": "0 8 * * *"}, "actions": [NOTIFY]},
    )
    _records(admin_actor, [1] * 5)
    with CaptureQueriesContext(connection) as small:
        schedules.run_scheduled(meta.pk, now=local(2026, 11, 23, 8, 0, 1))
    _records(admin_actor, [1] * 40)
    with CaptureQueriesContext(connection) as large:
        schedules.run_scheduled(meta.pk, now=local(2026, 11, 24, 8, 0, 1))
    assert len(large.captured_queries) == len(small.captured_queries)


def test_an_unpublished_or_changed_automation_does_not_run(admin_actor, form):
    meta = publish_automation(
        admin_actor,
        form,
        "event",
        {"trigger": {"type": "record_created"}, "actions": [NOTIFY]},
    )
    assert schedules.run_scheduled(meta.pk) is None
    assert schedules.run_scheduled(999_999) is None


def test_thirty_days_after_the_last_contact_fires_once_per_contact(admin_actor, form):
    now = local(2026, 11, 23, 9, 0)
    old = create_record(
        admin_actor,
        "sales",
        "customer",
        {"name": "silent", "last_contact_at": (now - dt.timedelta(days=31)).isoformat()},
    ).record
    create_record(
        admin_actor,
        "sales",
        "customer",
        {"name": "recent", "last_contact_at": (now - dt.timedelta(days=3)).isoformat()},
    )
    create_record(admin_actor, "sales", "customer", {"name": "never"})
    publish_automation(
        admin_actor,
        form,
        "silent30",
        {
            "trigger": {"type": "date", "field": "last_contact_at", "offset": {"days": 30}},
            "actions": [NOTIFY],
        },
    )
    assert schedules.scan_date_triggers(now) == 1
    assert list(Notification.objects.values_list("record_id", flat=True)) == [old.pk]
    # later scans do not repeat it, nor log empty runs
    assert schedules.scan_date_triggers(now + dt.timedelta(hours=1)) == 0
    assert AutomationRun.objects.count() == 1
    # a new contact that goes silent again fires again (and by then "recent" is silent)
    update_record(
        admin_actor, old.pk, {"last_contact_at": (now - dt.timedelta(days=2)).isoformat()}
    )
    assert schedules.scan_date_triggers(now + dt.timedelta(days=29)) == 1
    assert Notification.objects.filter(record_id=old.pk).count() == 2
    assert Notification.objects.count() == 3
    keys = ActionExecution.objects.filter(record_key=old.pk).values_list("trigger_key", flat=True)
    assert len(set(keys)) == 2 and all(k.startswith("date:") for k in keys)


def test_days_before_a_date_field(admin_actor, form):
    now = local(2026, 11, 23, 9, 0)
    soon = create_record(
        admin_actor, "sales", "customer", {"name": "soon", "renewal_on": "2027-01-10"}
    ).record
    create_record(admin_actor, "sales", "customer", {"name": "later", "renewal_on": "2027-06-01"})
    publish_automation(
        admin_actor,
        form,
        "renewal60",
        {
            "trigger": {
                "type": "date",
                "field": "renewal_on",
                "offset": {"days": 60},
                "direction": "before",
            },
            "actions": [NOTIFY],
        },
    )
    schedules.scan_date_triggers(now)
    assert list(Notification.objects.values_list("record_id", flat=True)) == [soon.pk]


def test_a_date_trigger_on_a_system_field(admin_actor, form):
    record = _records(admin_actor, [1])[0]
    Record.objects.filter(pk=record.pk).update(updated_at=local(2026, 11, 20, 9, 0))
    publish_automation(
        admin_actor,
        form,
        "stale48",
        {
            "trigger": {"type": "date", "field": "updated_at", "offset": {"hours": 48}},
            "actions": [NOTIFY],
        },
    )
    assert schedules.scan_date_triggers(local(2026, 11, 21, 9, 0)) == 0
    assert schedules.scan_date_triggers(local(2026, 11, 23, 9, 0)) == 1


@pytest.mark.parametrize(
    ("time_zone", "expected"), [("Asia/Shanghai", 1), ("America/Los_Angeles", 0)]
)
def test_relative_dates_are_the_workspaces_calendar_days(
    admin_actor, form, workspace, time_zone, expected
):
    workspace.time_zone = time_zone
    workspace.save(update_fields=["time_zone"])
    create_record(admin_actor, "sales", "customer", {"name": "due", "renewal_on": "2026-12-01"})
    meta = publish_automation(
        admin_actor,
        form,
        "due_today",
        {
            "trigger": {"type": "schedule", "cron": "0 * * * *"},
            "filter": {"field": "renewal_on", "op": "lte", "value": {"ago": {"days": 0}}},
            "actions": [NOTIFY],
        },
    )
    # 02:00 on 1 December in Shanghai is still 30 November in Los Angeles
    run = schedules.run_scheduled(meta.pk, now=local(2026, 12, 1, 2, 0, 5))
    assert run.records_matched == expected


def test_a_digest_is_one_notification_per_person_for_the_whole_run(
    admin_actor, form, settings, workspace
):
    from tests.factories import make_actor, make_user

    settings.DAJIAN = {**settings.DAJIAN, "AUTOMATION_BATCH_SIZE": 3}
    rep = make_actor(make_user("rep_d", workspace), workspace)
    for i in range(5):
        create_record(admin_actor, "sales", "customer", {"name": f"a{i}", "amount": 1})
    for i in range(3):
        create_record(rep, "sales", "customer", {"name": f"r{i}", "amount": 1})
    meta = publish_automation(
        admin_actor,
        form,
        "daily_list",
        {
            "trigger": {"type": "schedule", "cron": "0 8 * * *"},
            "actions": [
                {
                    "type": "notify",
                    "to": [{"type": "owner"}],
                    "digest": True,
                    "message": "{{ count }}: {% for r in records %}{{ r.name }} {% endfor %}",
                }
            ],
        },
    )
    run = schedules.run_scheduled(meta.pk, now=local(2026, 11, 23, 8, 0, 1))
    # three batches, yet one digest per person
    digests = {n.recipient_id: n for n in Notification.objects.filter(kind="automation.digest")}
    assert set(digests) == {admin_actor.user_id, rep.user_id}
    assert digests[admin_actor.user_id].message["en"] == "5: a0 a1 a2 a3 a4 "
    assert digests[rep.user_id].message["en"] == "3: r0 r1 r2 "
    assert run.actions_done == 8 + 1  # each record, and the digest of the run
    # the same tick delivered again writes no second digest
    schedules.run_scheduled(meta.pk, now=local(2026, 11, 23, 8, 2))
    assert Notification.objects.filter(kind="automation.digest").count() == 2


def test_a_digest_that_fails_is_retried_and_written_once(admin_actor, form, monkeypatch):
    from django.db import DatabaseError

    from dajian.runtime.automations import engine
    from dajian.runtime.automations.actions.notify import NotifyAction
    from dajian.runtime.models import ExecutionStatus

    _records(admin_actor, [1, 2])
    meta = publish_automation(
        admin_actor,
        form,
        "daily_digest",
        {
            "trigger": {"type": "schedule", "cron": "0 8 * * *"},
            "actions": [{**NOTIFY, "digest": True, "message": "{{ count }} to follow"}],
        },
    )
    original = NotifyAction.finish
    monkeypatch.setattr(
        NotifyAction, "finish", lambda self, ctx: (_ for _ in ()).throw(DatabaseError("down"))
    )
    schedules.run_scheduled(meta.pk, now=local(2026, 11, 23, 8, 0, 1))
    row = ActionExecution.objects.get(record_key=0)
    assert (row.status, row.attempts) == (ExecutionStatus.FAILED, 1)
    assert not Notification.objects.exists()

    monkeypatch.setattr(NotifyAction, "finish", original)
    assert engine.retry_failed_actions(now=row.next_attempt_at + dt.timedelta(seconds=1)) == 1
    row.refresh_from_db()
    assert (row.status, row.attempts) == (ExecutionStatus.DONE, 2)
    assert [n.message["en"] for n in Notification.objects.all()] == ["2 to follow"]
    assert engine.retry_failed_actions(now=row.next_attempt_at or local(2027, 1, 1)) == 0
