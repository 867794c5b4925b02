"""Stage time limits: levels from the server's entry time, working-time SLAs, and the
timers that warn, escalate and stop once the stage is left (R8, R9); time in stage and
to the next stage (R10)."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
from django.utils import timezone

from dajian.platform import calendars
from dajian.platform.durations import Duration
from dajian.platform.models import AuditEvent
from dajian.runtime.models import Notification, Record, StageEntry, Task, Timer, TodoTask
from dajian.runtime.services.records import create_record, delete_record
from dajian.runtime.stages.definitions import workflow_for
from dajian.runtime.stages.engine import advance_stage
from dajian.runtime.stages.history import stage_stats
from dajian.runtime.stages.timing import TimingLevel, describe_duration, stage_timing
from dajian.runtime.timers import fire_due_timers
from tests.factories import build_workflow, make_actor
from tests.runtime.stage_helpers import FIELDS, WORKFLOW, build_pipeline

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")


@pytest.fixture
def form(admin_actor, form_factory):
    return build_pipeline(admin_actor, form_factory)


@pytest.fixture
def manager(user_factory):
    return user_factory(roles=["manager"])


@pytest.fixture
def rep_actor(user_factory, manager, workspace):
    return make_actor(user_factory(roles=["rep"], manager=manager), workspace)


def new_deal(actor):
    return create_record(actor, "sales", "deal", {"name": "Acme"}).record


def entered(record_id: int, stage: str, at: dt.datetime) -> Record:
    Record.objects.filter(pk=record_id).update(stage=stage, stage_entered_at=at)
    return Record.objects.select_related("form").get(pk=record_id)


def test_levels_follow_the_natural_limits(rep_actor, form):
    start = timezone.now() - dt.timedelta(days=30)
    record = entered(new_deal(rep_actor).pk, "requirement", start)
    workflow = workflow_for(record.form)

    def at(days: float):
        return stage_timing(record, workflow, start + dt.timedelta(days=days))

    assert at(1).level == TimingLevel.OK and at(1).elapsed == dt.timedelta(days=1)
    assert at(7).level == TimingLevel.WARNING
    assert at(13.9).level == TimingLevel.WARNING
    assert at(14).level == TimingLevel.OVERDUE
    timing = at(20)
    assert timing.entered_at == start
    assert timing.warning_at == start + dt.timedelta(days=7)
    assert timing.overdue_at == start + dt.timedelta(days=14)


def test_a_stage_without_a_limit_has_level_none(rep_actor, form):
    start = timezone.now() - dt.timedelta(days=3)
    record = entered(new_deal(rep_actor).pk, "proposal", start)
    timing = stage_timing(record, workflow_for(record.form), start + dt.timedelta(days=3))
    assert timing.level == TimingLevel.NONE and timing.elapsed == dt.timedelta(days=3)
    assert timing.warning_at is None and timing.overdue_at is None


def test_first_contact_within_two_working_hours(rep_actor, form):
    # a lead arriving on Friday 17:30 is overdue on Monday 10:30: half an hour on
    # Friday (until 18:00), an hour and a half on Monday (from 09:00)
    friday = dt.datetime(2025, 3, 7, 17, 30, tzinfo=SHANGHAI)
    record = entered(new_deal(rep_actor).pk, "lead", friday)
    workflow = workflow_for(record.form)
    saturday = stage_timing(record, workflow, dt.datetime(2025, 3, 8, 12, 0, tzinfo=SHANGHAI))
    assert saturday.level == TimingLevel.OK  # the weekend does not count
    assert saturday.warning_at == dt.datetime(2025, 3, 10, 9, 30, tzinfo=SHANGHAI)
    assert saturday.elapsed == dt.timedelta(minutes=30)  # working time only
    assert saturday.overdue_at == dt.datetime(2025, 3, 10, 10, 30, tzinfo=SHANGHAI)
    assert saturday.overdue_at == calendars.deadline(
        record.workspace, friday, Duration(hours=2, business=True)
    )
    friday_late = stage_timing(record, workflow, dt.datetime(2025, 3, 7, 17, 50, tzinfo=SHANGHAI))
    assert friday_late.level == TimingLevel.OK
    warned = stage_timing(record, workflow, dt.datetime(2025, 3, 10, 9, 45, tzinfo=SHANGHAI))
    assert warned.level == TimingLevel.WARNING
    monday = stage_timing(record, workflow, dt.datetime(2025, 3, 10, 10, 31, tzinfo=SHANGHAI))
    assert monday.level == TimingLevel.OVERDUE


def test_entering_a_stage_schedules_timers_at_its_limits(rep_actor, form):
    record = new_deal(rep_actor)
    advance_stage(rep_actor, record.pk, "requirement")
    stored = Record.objects.get(pk=record.pk)
    due = dict(Timer.objects.filter(cancelled_at__isnull=True).values_list("kind", "due_at"))
    assert due == {
        "stage.warning": stored.stage_entered_at + dt.timedelta(days=7),
        "stage.overdue": stored.stage_entered_at + dt.timedelta(days=14),
    }


def test_warning_notifies_and_overdue_escalates_to_the_manager(rep_actor, manager, form):
    record = new_deal(rep_actor)
    later = timezone.now() + dt.timedelta(days=10)  # past both lead limits

    assert fire_due_timers(now=later) == 2

    notes = Notification.objects.filter(record_id=record.pk).order_by("kind")
    assert [(n.kind, n.recipient_id) for n in notes] == [
        ("stage.overdue", rep_actor.user_id),
        ("stage.warning", rep_actor.user_id),
    ]
    assert "新线索" in notes[0].message["zh-CN"] and "New lead" in notes[0].message["en"]
    [todo] = TodoTask.objects.all()
    assert (todo.assignee_id, todo.kind, todo.status, todo.record_id) == (
        manager.pk,
        "todo",
        "open",
        record.pk,
    )
    assert "Overdue" in todo.title["en"]
    audits = AuditEvent.objects.filter(action__in=["stage.warning", "stage.overdue"])
    assert {(a.action, a.actor_id, a.actor_label) for a in audits} == {
        ("stage.warning", None, "system"),
        ("stage.overdue", None, "system"),
    }
    assert audits.get(action="stage.overdue").diff["escalated_to"] == [None, [manager.pk]]
    # running the sweep again acts once
    assert fire_due_timers(now=later) == 0
    assert Notification.objects.count() == 2 and Task.objects.count() == 1


def test_moving_on_cancels_the_escalation_todo_of_the_overdue_stay(rep_actor, manager, form):
    record = new_deal(rep_actor)
    other = new_deal(rep_actor)
    fire_due_timers(now=timezone.now() + dt.timedelta(days=10))
    assert TodoTask.objects.filter(status="open").count() == 2

    advance_stage(rep_actor, record.pk, "lost", reason="budget")

    moved = TodoTask.objects.get(record_id=record.pk)
    assert (moved.status, moved.completed_at is not None) == ("cancelled", True)
    assert TodoTask.objects.get(record_id=other.pk).status == "open"


def test_leaving_the_stage_cancels_its_timers(rep_actor, form):
    record = new_deal(rep_actor)
    advance_stage(rep_actor, record.pk, "lost", reason="budget")
    assert Timer.objects.filter(cancelled_at__isnull=True).count() == 0
    assert fire_due_timers(now=timezone.now() + dt.timedelta(days=30)) == 0
    assert not Notification.objects.exists() and not TodoTask.objects.exists()


def test_deleting_a_record_cancels_its_stage_timers(rep_actor, admin_actor, form):
    record = new_deal(rep_actor)
    other = new_deal(rep_actor)
    assert Timer.objects.filter(cancelled_at__isnull=True).count() == 4  # 2 levels each

    delete_record(admin_actor, record.pk)

    pending = Timer.objects.filter(cancelled_at__isnull=True)
    assert {t.key.split(":")[1] for t in pending} == {str(other.pk)}


def test_a_timer_of_a_stay_already_over_does_nothing(rep_actor, form):
    record = new_deal(rep_actor)
    entry = StageEntry.objects.get(record_id=record.pk)
    # the stay ends without the engine (as if the cancel had been missed)
    StageEntry.objects.filter(pk=entry.pk).update(exited_at=timezone.now(), next_stage="lost")
    fire_due_timers(now=timezone.now() + dt.timedelta(days=10))
    results = set(Timer.objects.values_list("result", flat=True))
    assert results == {"skipped: stage left"}
    assert not Notification.objects.exists() and not TodoTask.objects.exists()


def test_describe_duration():
    assert describe_duration(Duration(hours=72), "en") == "72 hours"
    assert describe_duration(Duration(days=1, business=True), "en") == "1 working day"
    assert describe_duration(Duration(days=3, hours=4, business=True), "zh-CN") == (
        "3 个工作日 4 个工作小时"
    )


# --- statistics (R10) ------------------------------------------------------------------


def test_stage_stats_average_time_in_stage_and_to_the_next(
    rep_actor, user_factory, form, workspace
):
    records = [
        create_record(rep_actor, "sales", "deal", {"name": f"d{i}"}).record for i in range(3)
    ]
    base = timezone.now() - dt.timedelta(days=10)
    # record 0: lead 2 h → requirement; record 1: lead 4 h → lost; record 2 still in lead
    for record, hours, to in ((records[0], 2, "requirement"), (records[1], 4, "lost")):
        advance_stage(rep_actor, record.pk, to, reason="budget" if to == "lost" else None)
        StageEntry.objects.filter(record_id=record.pk, stage="lead").update(
            entered_at=base, exited_at=base + dt.timedelta(hours=hours)
        )
    stats = stage_stats(rep_actor, form)
    by_stage = {s.stage: s for s in stats.stages}
    assert [s.stage for s in stats.stages] == [
        "lead",
        "requirement",
        "proposal",
        "negotiation",
        "won",
        "lost",
    ]
    assert (by_stage["lead"].current, by_stage["lead"].closed) == (1, 2)
    assert by_stage["lead"].average_seconds == pytest.approx(3 * 3600)
    assert by_stage["requirement"].current == 1 and by_stage["requirement"].average_seconds is None
    assert by_stage["lead"].label in ("New lead", "新线索")
    steps = {(s.from_stage, s.to_stage): s for s in stats.steps}
    assert steps[("lead", "requirement")].average_seconds == pytest.approx(2 * 3600)
    assert steps[("lead", "lost")].count == 1
    # since: only stays that ended since then
    later = stage_stats(rep_actor, form, since=base + dt.timedelta(hours=3))
    assert {(s.from_stage, s.to_stage) for s in later.steps} == {("lead", "lost")}


def test_stage_stats_respect_the_row_scope(
    rep_actor, user_factory, workspace, form_factory, admin_actor
):
    own_only = [{"role": "*", "create": True, "read": "own", "update": "own"}]
    form = form_factory(FIELDS, key="secret", permissions=own_only)
    build_workflow(admin_actor, form, WORKFLOW)
    mine = create_record(rep_actor, "sales", "secret", {"name": "a"}).record
    other = make_actor(user_factory(roles=["rep"]), workspace)
    theirs = create_record(other, "sales", "secret", {"name": "b"}).record
    advance_stage(rep_actor, mine.pk, "requirement")
    advance_stage(other, theirs.pk, "lost", reason="budget")

    def counts(actor):
        stats = stage_stats(actor, form)
        return {s.stage: (s.current, s.closed) for s in stats.stages if s.current or s.closed}

    assert counts(admin_actor) == {"lead": (0, 2), "requirement": (1, 0), "lost": (1, 0)}
    assert counts(rep_actor) == {"lead": (0, 1), "requirement": (1, 0)}
