"""Deadlines as rows: scheduling is idempotent, each due timer fires once."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import OperationalError
from django.utils import timezone

from dajian.runtime import timers
from dajian.runtime.models import Timer

fired: list[tuple[str, int]] = []


@timers.timer_action("test.record")
def _record(timer: Timer, now: dt.datetime) -> str:
    fired.append((timer.key, timer.payload.get("n", 0)))
    return f"n={timer.payload.get('n', 0)}"


@timers.timer_action("test.explode")
def _explode(timer: Timer, now: dt.datetime) -> str:
    Timer.objects.filter(pk=timer.pk).update(payload={"touched": True})
    raise RuntimeError("boom")


@timers.timer_action("test.locked")
def _locked(timer: Timer, now: dt.datetime) -> str:
    Timer.objects.filter(pk=timer.pk).update(payload={"touched": True})
    raise OperationalError("canceling statement due to lock timeout")


@pytest.fixture(autouse=True)
def _clear():
    fired.clear()


def _at(minutes: int) -> dt.datetime:
    return timezone.now() + dt.timedelta(minutes=minutes)


def test_due_timer_fires_once_and_records_its_result(workspace):
    # given
    timers.schedule_timer(workspace.pk, "test.record", "t:1", _at(-1), {"n": 7})
    # when
    first = timers.fire_due_timers()
    second = timers.fire_due_timers()
    # then
    assert (first, second) == (1, 0)
    assert fired == [("t:1", 7)]
    row = Timer.objects.get(key="t:1")
    assert row.fired_at is not None
    assert row.result == "n=7"


def test_scheduling_the_same_key_twice_keeps_one_timer(workspace):
    timers.schedule_timer(workspace.pk, "test.record", "t:dup", _at(-1), {"n": 1})
    timers.schedule_timer(workspace.pk, "test.record", "t:dup", _at(-5), {"n": 2})
    assert Timer.objects.filter(key="t:dup").count() == 1
    timers.fire_due_timers()
    assert fired == [("t:dup", 1)]


def test_future_and_cancelled_timers_do_not_fire(workspace):
    timers.schedule_timer(workspace.pk, "test.record", "t:future", _at(30))
    timers.schedule_timer(workspace.pk, "test.record", "stage:9:a", _at(-1))
    timers.schedule_timer(workspace.pk, "test.record", "stage:9:b", _at(-1))
    timers.schedule_timer(workspace.pk, "test.record", "stage:10:a", _at(-1))

    cancelled = timers.cancel_timers("stage:9:")
    count = timers.fire_due_timers()

    assert cancelled == 2
    assert count == 1
    assert [key for key, _ in fired] == ["stage:10:a"]
    assert Timer.objects.get(key="t:future").fired_at is None


def test_a_failing_action_is_rolled_back_and_does_not_block_others(workspace):
    timers.schedule_timer(workspace.pk, "test.explode", "t:bad", _at(-2))
    timers.schedule_timer(workspace.pk, "test.record", "t:good", _at(-1))

    assert timers.fire_due_timers() == 2

    bad = Timer.objects.get(key="t:bad")
    assert bad.fired_at is not None
    assert bad.result.startswith("error: RuntimeError: boom")
    assert bad.payload == {}  # the action's own write was rolled back
    assert fired == [("t:good", 0)]


def test_unknown_kind_is_marked_not_retried(workspace):
    timers.schedule_timer(workspace.pk, "test.nobody", "t:unknown", _at(-1))
    assert timers.fire_due_timers() == 1
    assert Timer.objects.get(key="t:unknown").result == "error: unknown kind"
    assert timers.fire_due_timers() == 0


def test_batches_cover_every_due_timer(workspace):
    timers.schedule_timers(
        Timer(workspace=workspace, kind="test.record", key=f"t:b{i}", due_at=_at(-1))
        for i in range(7)
    )
    assert timers.fire_due_timers(batch=3) == 7
    assert len(fired) == 7


def test_registering_a_kind_twice_is_a_system_check_error():
    before = list(timers._conflicts)
    try:
        timers.timer_action("test.record")(lambda timer, now: "other")
        errors = timers.check_timer_actions()
        assert [e.id for e in errors] == ["dajian.E001"]
        assert "test.record" in errors[0].msg
    finally:
        timers._conflicts[:] = before


def test_a_lock_conflict_leaves_the_timer_pending_for_the_next_run(workspace):
    timers.schedule_timer(workspace.pk, "test.locked", "t:locked", _at(-1))
    timers.schedule_timer(workspace.pk, "test.record", "t:other", _at(-1))

    assert timers.fire_due_timers() == 1

    locked = Timer.objects.get(key="t:locked")
    assert locked.fired_at is None and locked.result == ""
    assert locked.payload == {}  # rolled back
    assert [key for key, _ in fired] == ["t:other"]
