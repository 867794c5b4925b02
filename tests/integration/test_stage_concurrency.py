"""The stage engine on PostgreSQL with real threads: concurrent moves of one record
with the same expected version, one wins; and the set-based SQL of the engine
(initialization on publish, statistics) on this database."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

import pytest
from django.utils import timezone

from dajian.platform.audit import verify_chain
from dajian.platform.errors import DajianError
from dajian.runtime.models import Record, StageEntry, Timer, TodoTask
from dajian.runtime.services.records import create_record, update_record
from dajian.runtime.stages.definitions import workflow_for
from dajian.runtime.stages.engine import advance_stage
from dajian.runtime.stages.history import stage_stats
from dajian.runtime.stages.initial import initialize_existing_records
from dajian.runtime.timers import fire_due_timers
from tests.factories import build_workflow, make_actor
from tests.integration.threads import outcome, run_at_once
from tests.runtime.stage_helpers import FIELDS, WORKFLOW, build_pipeline

pytestmark = pytest.mark.django_db(transaction=True)
ROUNDS = 25


def test_two_moves_with_the_same_expected_version_one_wins(admin_actor, form_factory, workspace):
    build_pipeline(admin_actor, form_factory)
    targets = ("requirement", "lost")  # one thread qualifies the lead, the other drops it
    violations = 0
    for round_no in range(ROUNDS):
        record = create_record(admin_actor, "sales", "deal", {"name": f"r{round_no}"}).record
        results = run_at_once(
            lambda i, pk=record.pk: advance_stage(
                admin_actor, pk, targets[i], expected_version=1, reason="budget" if i else None
            ),
            threads=2,
        )
        counts = outcome(results)
        stored = Record.objects.get(pk=record.pk)
        winner = targets[next(i for i, r in enumerate(results) if not isinstance(r, DajianError))]
        entries = list(StageEntry.objects.filter(record_id=record.pk).order_by("entered_at"))
        violations += (
            counts != Counter({"ok": 1, "STALE_VERSION": 1})
            or stored.version != 2
            or stored.stage != winner
            or [e.stage for e in entries] != ["lead", winner]
            or sum(e.exited_at is None for e in entries) != 1
        )
    assert violations == 0
    assert verify_chain(workspace).ok


def test_many_moves_without_expected_version_are_serialised(admin_actor, form_factory):
    build_pipeline(admin_actor, form_factory)
    record = create_record(admin_actor, "sales", "deal", {"name": "x"}).record
    results = run_at_once(
        lambda i: advance_stage(admin_actor, record.pk, "requirement"),
        threads=6,
    )
    counts = outcome(results)
    # the first move wins; the others find the record already in requirement
    assert counts == Counter({"ok": 1, "TRANSITION_NOT_ALLOWED": 5})
    assert StageEntry.objects.filter(record_id=record.pk).count() == 2


def test_publishing_initializes_existing_records_on_postgresql(admin_actor, form_factory):
    form = form_factory(FIELDS, key="deal")
    for i in range(30):
        create_record(admin_actor, "sales", "deal", {"name": f"d{i}"})
    build_workflow(admin_actor, form, WORKFLOW)
    now = timezone.now()
    assert initialize_existing_records(form, workflow_for(form), now) == 30
    assert Record.objects.filter(stage="lead", stage_entered_at=now).count() == 30
    assert StageEntry.objects.filter(exited_at__isnull=True).count() == 30
    timer = Timer.objects.filter(kind="stage.overdue").order_by("pk").first()
    entry = StageEntry.objects.get(record_id=timer.key.split(":")[1], exited_at__isnull=True)
    assert timer.key == f"stage:{entry.record_id}:{entry.pk}:overdue"
    assert timer.payload == {"stage": "lead"} and timer.due_at > now
    assert Timer.objects.count() == 60


def test_stage_stats_on_postgresql(admin_actor, form_factory):
    form = build_pipeline(admin_actor, form_factory)
    base = timezone.now() - dt.timedelta(days=3)
    for hours in (1, 3):
        record = create_record(admin_actor, "sales", "deal", {"name": f"h{hours}"}).record
        advance_stage(admin_actor, record.pk, "requirement")
        StageEntry.objects.filter(record_id=record.pk, stage="lead").update(
            entered_at=base, exited_at=base + dt.timedelta(hours=hours)
        )
    stats = stage_stats(admin_actor, form)
    lead = next(s for s in stats.stages if s.stage == "lead")
    assert (lead.current, lead.closed) == (0, 2)
    assert lead.average_seconds == pytest.approx(2 * 3600)
    [step] = stats.steps
    assert (step.from_stage, step.to_stage, step.count) == ("lead", "requirement", 2)


def test_overdue_sweep_racing_record_edits_fires_each_timer_once(
    admin_actor, form_factory, workspace, user_factory
):
    """The sweep holds the audit chain head between actions while users hold record
    locks and wait for that head: lock timeouts and short batches must keep both sides
    going, with each overdue timer applied exactly once in the end."""
    build_pipeline(admin_actor, form_factory)
    manager = user_factory(roles=["manager"])
    rep = make_actor(user_factory(roles=["rep"], manager=manager), workspace)
    records = [create_record(rep, "sales", "deal", {"name": f"o{i}"}).record for i in range(30)]
    later = timezone.now() + dt.timedelta(days=30)
    editors = 3

    def work(i: int) -> Any:
        if i == 0:
            return fire_due_timers(later, batch=10)
        return [
            update_record(admin_actor, r.pk, {"pain_point": f"edit {i}"})
            for r in records[i - 1 :: editors]
        ]

    results = run_at_once(work, editors + 1)
    fire_due_timers(later)  # whatever the race left pending (lock conflicts) fires now

    assert isinstance(results[0], int), results[0]  # the sweep returned, it did not crash
    assert all(isinstance(r, list) and len(r) == 10 for r in results[1:]), results
    timers = Timer.objects.filter(key__startswith="stage:")
    assert timers.filter(fired_at__isnull=True, cancelled_at__isnull=True).count() == 0
    assert not timers.filter(result__startswith="error").exists()
    per_record = Counter(TodoTask.objects.values_list("record_id", flat=True))
    assert per_record == dict.fromkeys((r.pk for r in records), 1)
    assert verify_chain(workspace).ok
