"""The automation engine: triggers, conditions, filters, idempotency, retries, loops."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import pytest
from django.utils import timezone

from dajian.runtime.automations import actions, engine, triggers
from dajian.runtime.automations.actions.base import ActionType
from dajian.runtime.automations.context import Outcome, RunContext, Target, current_depth
from dajian.runtime.models import (
    ActionExecution,
    AutomationRun,
    ExecutionStatus,
    OutboxEvent,
    RunStatus,
)
from dajian.runtime.services.records import create_record, update_record
from tests.automation_helpers import drain_outbox, publish_automation
from tests.factories import build_workflow

FIELDS = [
    {"key": "name", "type": "text", "label": "Name"},
    {"key": "amount", "type": "number", "label": "Amount"},
    {
        "key": "level",
        "type": "single_select",
        "label": "Level",
        "choices": [{"value": v, "label": v} for v in "ABC"],
    },
    {"key": "touched", "type": "number", "label": "Touched"},
]

CALLS: list[tuple[int, int, int]] = []  # (record id, action index, depth)
FAIL: dict[str, bool] = {"on": False, "retry": True}


class Probe(ActionType):
    """Test action: records each call; fails when told to."""

    type = "test_probe"
    schema = {"type": "object", "properties": {"type": {"const": "test_probe"}}}

    def run(self, ctx: RunContext, targets: Sequence[Target]) -> list[Outcome]:
        out = []
        for target in targets:
            CALLS.append((target.record.pk, ctx.index, current_depth()))
            if FAIL["on"]:
                out.append(Outcome.failed("boom", retry=FAIL["retry"]))
            else:
                out.append(Outcome.done(seen=target.record.pk))
        return out


class Touch(ActionType):
    """Test action: writes the record (so its own update event fires again)."""

    type = "test_touch"
    schema = {"type": "object", "properties": {"type": {"const": "test_touch"}}}

    def run_one(self, ctx: RunContext, target: Target) -> Outcome:
        touched = (target.record.data.get("touched") or 0) + 1
        update_record(ctx.actor, target.record.pk, {"touched": touched})
        return Outcome.done(touched=touched)


@pytest.fixture(autouse=True)
def _probe():
    actions.registry.load()
    for cls in (Probe, Touch):
        actions.registry.items[cls.type] = cls()
    CALLS.clear()
    FAIL.update(on=False, retry=True)
    yield
    for cls in (Probe, Touch):
        actions.registry.items.pop(cls.type, None)


@pytest.fixture
def form(form_factory):
    return form_factory(FIELDS)


def _create(actor, **data):
    return create_record(actor, "sales", "customer", {"name": "x", **data}).record


def test_record_created_runs_the_actions_once(admin_actor, form):
    publish_automation(
        admin_actor,
        form,
        "on_create",
        {"trigger": {"type": "record_created"}, "actions": [{"type": "test_probe"}]},
    )
    record = _create(admin_actor)
    drain_outbox()
    assert [(record.pk, 0, 1)] == CALLS
    run = AutomationRun.objects.get()
    assert run.status == RunStatus.SUCCEEDED
    assert (run.records_matched, run.actions_done) == (1, 1)
    assert run.trigger_key == f"event:{OutboxEvent.objects.get(topic='record.created').pk}"
    # running the same firing again (a redelivered task) acts on nothing
    event = OutboxEvent.objects.get(topic="record.created")
    for automation in engine.published_automations(admin_actor.workspace.pk, form.pk):
        firing, _ = engine.start_run(automation, "record_created", f"event:{event.pk}")
        engine.process_batch(firing, [record])
        engine.finish(firing)
    assert len(CALLS) == 1
    assert ActionExecution.objects.count() == 1


def test_condition_and_filter_pick_the_records(admin_actor, form):
    publish_automation(
        admin_actor,
        form,
        "big_a",
        {
            "trigger": {"type": "record_created"},
            "filter": {"field": "level", "op": "eq", "value": "A"},
            "condition": "amount >= 50000.0",
            "actions": [{"type": "test_probe"}],
        },
    )
    big_a = _create(admin_actor, level="A", amount=60000)
    _create(admin_actor, level="B", amount=60000)
    _create(admin_actor, level="A", amount=100)
    drain_outbox()
    assert [c[0] for c in CALLS] == [big_a.pk]


def test_record_updated_with_fields_fires_only_when_one_changed(admin_actor, form):
    publish_automation(
        admin_actor,
        form,
        "amount_changed",
        {
            "trigger": {"type": "record_updated", "fields": ["amount"]},
            "actions": [{"type": "test_probe"}],
        },
    )
    record = _create(admin_actor, amount=1)
    update_record(admin_actor, record.pk, {"name": "renamed"})
    drain_outbox()
    assert CALLS == []
    update_record(admin_actor, record.pk, {"amount": 2})
    drain_outbox()
    assert [c[0] for c in CALLS] == [record.pk]


def test_stage_entered_fires_for_listed_stages(admin_actor, form):
    from dajian.runtime.stages.engine import advance_stage

    build_workflow(
        admin_actor,
        form,
        {
            "stages": [{"key": "new"}, {"key": "won", "terminal": True, "outcome": "won"}],
            "initial": "new",
            "transitions": [{"from": "new", "to": "won"}],
        },
    )
    publish_automation(
        admin_actor,
        form,
        "on_won",
        {
            "trigger": {"type": "stage_entered", "stages": ["won"]},
            "actions": [{"type": "test_probe"}],
        },
    )
    record = _create(admin_actor)
    drain_outbox()
    assert CALLS == []
    advance_stage(admin_actor, record.pk, "won")
    drain_outbox()
    assert [c[0] for c in CALLS] == [record.pk]


def test_a_failing_action_keeps_the_record_change_and_is_retried(admin_actor, form):
    publish_automation(
        admin_actor,
        form,
        "flaky",
        {
            "trigger": {"type": "record_created"},
            "actions": [{"type": "test_probe"}, {"type": "test_probe"}],
            "retry": {"max_attempts": 2},
        },
    )
    FAIL["on"] = True
    record = _create(admin_actor, name="kept")
    drain_outbox()
    # the record stays; the first action failed, the second did not run
    assert record.__class__.objects.filter(pk=record.pk, data__name="kept").exists()
    assert [(record.pk, 0, 1)] == CALLS
    row = ActionExecution.objects.get()
    assert (row.status, row.attempts) == (ExecutionStatus.FAILED, 1)
    assert row.next_attempt_at is not None
    assert AutomationRun.objects.get().status == RunStatus.FAILED
    # not due yet: nothing happens
    assert engine.retry_failed_actions(now=timezone.now()) == 0
    FAIL["on"] = False
    later = row.next_attempt_at + dt.timedelta(seconds=1)
    assert engine.retry_failed_actions(now=later) == 1
    assert [c[1] for c in CALLS] == [0, 0, 1]
    assert set(ActionExecution.objects.values_list("status", flat=True)) == {ExecutionStatus.DONE}
    run = AutomationRun.objects.get()
    assert (run.status, run.actions_done, run.actions_failed) == (RunStatus.SUCCEEDED, 2, 0)


def test_retries_stop_at_the_cap(admin_actor, form):
    publish_automation(
        admin_actor,
        form,
        "broken",
        {
            "trigger": {"type": "record_created"},
            "actions": [{"type": "test_probe"}],
            "retry": {"max_attempts": 2},
        },
    )
    FAIL["on"] = True
    _create(admin_actor)
    drain_outbox()
    row = ActionExecution.objects.get()
    engine.retry_failed_actions(now=row.next_attempt_at + dt.timedelta(seconds=1))
    row.refresh_from_db()
    assert (row.status, row.attempts, row.next_attempt_at) == (ExecutionStatus.GAVE_UP, 2, None)
    assert engine.retry_failed_actions(now=timezone.now() + dt.timedelta(days=1)) == 0
    assert len(CALLS) == 2


def test_a_final_failure_is_not_retried(admin_actor, form):
    publish_automation(
        admin_actor,
        form,
        "bad_data",
        {"trigger": {"type": "record_created"}, "actions": [{"type": "test_probe"}]},
    )
    FAIL.update(on=True, retry=False)
    _create(admin_actor)
    drain_outbox()
    assert ActionExecution.objects.get().status == ExecutionStatus.GAVE_UP


def test_automations_that_trigger_each_other_stop_at_the_depth_limit(admin_actor, form, settings):
    settings.DAJIAN = {**settings.DAJIAN, "MAX_AUTOMATION_DEPTH": 3}
    publish_automation(
        admin_actor,
        form,
        "loop",
        {"trigger": {"type": "record_updated"}, "actions": [{"type": "test_touch"}]},
    )
    record = _create(admin_actor)
    update_record(admin_actor, record.pk, {"name": "go"})
    drain_outbox()
    record.refresh_from_db()
    # depth 0 (the person) → runs at depths 0..3 each touch once; the 4th is stopped
    assert record.data["touched"] == 4
    runs = list(AutomationRun.objects.order_by("id").values_list("depth", "status"))
    assert runs == [
        (0, RunStatus.SUCCEEDED),
        (1, RunStatus.SUCCEEDED),
        (2, RunStatus.SUCCEEDED),
        (3, RunStatus.SUCCEEDED),
        (4, RunStatus.LOOP_STOPPED),
    ]
    assert "limit is 3" in AutomationRun.objects.last().message


def test_disabled_and_unpublished_automations_do_not_run(admin_actor, form):
    publish_automation(
        admin_actor,
        form,
        "off",
        {
            "enabled": False,
            "trigger": {"type": "record_created"},
            "actions": [{"type": "test_probe"}],
        },
    )
    _create(admin_actor)
    drain_outbox()
    assert CALLS == []


def test_other_workspaces_automations_never_see_the_event(admin_actor, form, other_workspace):
    publish_automation(
        admin_actor,
        form,
        "mine",
        {"trigger": {"type": "record_created"}, "actions": [{"type": "test_probe"}]},
    )
    assert engine.published_automations(other_workspace.pk, form.pk) == []
    assert triggers.TOPIC_TRIGGERS["record.created"] == ("record_created", "stage_entered")


def test_a_stage_time_limit_passing_fires_time_limit_automations(admin_actor, form):
    from dajian.runtime.timers import fire_due_timers

    build_workflow(
        admin_actor,
        form,
        {
            "stages": [
                {
                    "key": "new",
                    "time_limit": {"warning": {"hours": 1}, "overdue": {"hours": 2}},
                },
                {"key": "won", "terminal": True, "outcome": "won"},
            ],
            "initial": "new",
            "transitions": [{"from": "new", "to": "won"}],
        },
    )
    publish_automation(
        admin_actor,
        form,
        "overdue",
        {
            "trigger": {"type": "time_limit", "of": "stage", "level": "overdue"},
            "actions": [{"type": "test_probe"}],
        },
    )
    record = _create(admin_actor)
    drain_outbox()
    assert fire_due_timers(now=timezone.now() + dt.timedelta(days=1)) == 2
    drain_outbox()
    # the warning and the overdue both emit; only the overdue matches
    assert [c[0] for c in CALLS] == [record.pk]
    levels = set(
        OutboxEvent.objects.filter(topic="stage.time_limit").values_list(
            "payload__level", flat=True
        )
    )
    assert levels == {"warning", "overdue"}


def test_deliveries_are_linked_to_the_execution_that_asked_for_them(admin_actor, form):
    from dajian.runtime.models import Delivery

    publish_automation(
        admin_actor,
        form,
        "hook",
        {
            "trigger": {"type": "record_created"},
            "actions": [{"type": "webhook", "url": "https://hooks.example.com/in"}],
        },
    )
    record = _create(admin_actor)
    drain_outbox()
    delivery = Delivery.objects.get()
    execution = ActionExecution.objects.get()
    assert delivery.execution_id == execution.pk
    assert (execution.record_key, execution.result["delivery"]) == (record.pk, delivery.message_id)


def test_a_broken_automation_is_logged_and_does_not_block_the_others(
    admin_actor, form, monkeypatch
):
    for key in ("broken", "fine"):
        publish_automation(
            admin_actor,
            form,
            key,
            {"trigger": {"type": "record_created"}, "actions": [{"type": "test_probe"}]},
        )
    original = engine.run_event

    def run_event(automation, *args, **kwargs):
        if automation.key == "broken":
            raise KeyError("missing piece")
        return original(automation, *args, **kwargs)

    monkeypatch.setattr(engine, "run_event", run_event)
    record = _create(admin_actor)
    drain_outbox()
    assert [(record.pk, 0, 1)] == CALLS
    assert not OutboxEvent.objects.filter(processed_at__isnull=True).exists()
    runs = dict(AutomationRun.objects.values_list("automation__key", "status"))
    assert runs == {"broken": RunStatus.FAILED, "fine": RunStatus.SUCCEEDED}
    assert "missing piece" in AutomationRun.objects.get(automation__key="broken").message
