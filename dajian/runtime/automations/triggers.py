"""Event triggers: which outbox events fire which automations.

Registered as an outbox consumer, :func:`on_event` runs in the transaction that marks the
event processed: the runs it starts commit (or roll back) with it. Events carry
``depth`` when an automation's own writes caused them (loop protection).

=====================  ===================================================================
trigger                fires on
=====================  ===================================================================
``record_created``     ``record.created``
``record_updated``     ``record.updated`` (with ``fields``: when one of them changed)
``stage_entered``      ``record.stage_changed`` and ``record.created`` in an initial stage
                       (with ``stages``: only those)
``approval_decided``   ``approval.completed`` (with ``chain`` / ``outcomes``)
``time_limit``         ``stage.time_limit`` / ``approval.time_limit`` (with ``level``,
                       ``stages``)
=====================  ===================================================================
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from django.db import DatabaseError, transaction
from django.utils import timezone

from dajian.builder.filters import compile_filter
from dajian.platform.actors import Actor
from dajian.runtime.automations import engine
from dajian.runtime.automations.activation import load_targets, with_rollup_values
from dajian.runtime.models import ApprovalRequest, OutboxEvent, Record
from dajian.runtime.policies import definition_of

logger = logging.getLogger(__name__)

TOPIC_TRIGGERS: dict[str, tuple[str, ...]] = {
    "record.created": ("record_created", "stage_entered"),
    "record.updated": ("record_updated",),
    "record.stage_changed": ("stage_entered",),
    "approval.completed": ("approval_decided",),
    "stage.time_limit": ("time_limit",),
    "approval.time_limit": ("time_limit",),
}


def matches(trigger: Mapping[str, Any], event: OutboxEvent, record: Record, extra: Any) -> bool:
    """Whether ``trigger`` (of a type this event's topic fires) applies to ``event``."""
    kind, payload = trigger["type"], event.payload
    if kind == "record_updated":
        fields = trigger.get("fields")
        return not fields or bool(set(fields) & set(payload.get("changed", ())))
    if kind == "stage_entered":
        stage = payload.get("to") if event.topic == "record.stage_changed" else record.stage
        stages = trigger.get("stages")
        return stage is not None and (not stages or stage in stages)
    if kind == "approval_decided":
        outcomes = trigger.get("outcomes")
        if outcomes and payload.get("status") not in outcomes:
            return False
        return not trigger.get("chain") or trigger["chain"] == extra
    if kind == "time_limit":
        of = "stage" if event.topic == "stage.time_limit" else "approval"
        if trigger["of"] != of:
            return False
        if trigger.get("level") and payload.get("level", "").lower() != trigger["level"]:
            return False
        return not trigger.get("stages") or payload.get("stage") in trigger["stages"]
    return True


def _in_filter(automation: Any, definition: Any, record: Record) -> bool:
    """Whether the record matches the automation's structured filter (one query)."""
    condition = compile_filter(definition, automation.definition["filter"])
    return Record.objects.filter(pk=record.pk).filter(condition).exists()


def on_event(event: OutboxEvent) -> None:
    """Run every automation this event triggers, in the workspace's time zone. The
    event's record is loaded once (with its rollups and related records) for all."""
    kinds = TOPIC_TRIGGERS.get(event.topic)
    form_id = event.payload.get("form")
    if not kinds or form_id is None:
        return
    candidates = [
        a
        for a in engine.published_automations(event.workspace_id, form_id)
        if a.trigger["type"] in kinds
    ]
    if not candidates:
        return
    with engine.workspace_time(event.workspace_id) as workspace:
        _run_candidates(event, candidates, Actor.system(workspace))


def _run_candidates(event: OutboxEvent, candidates: list[Any], actor: Actor) -> None:
    form = candidates[0].form
    definition = definition_of(form)
    if definition is None:
        return
    now = timezone.now()
    record = with_rollup_values(
        Record.objects.filter(pk=event.payload.get("record"), workspace_id=event.workspace_id),
        form,
        definition,
        now,
    ).first()
    if record is None:
        return  # deleted since
    extra = None
    if event.topic == "approval.completed" and any(a.trigger.get("chain") for a in candidates):
        extra = (
            ApprovalRequest.objects.filter(pk=event.payload.get("request"))
            .values_list("chain__key", flat=True)
            .first()
        )
    depth = int(event.payload.get("depth", 0))
    targets = None
    for automation in candidates:
        if not matches(automation.trigger, event, record, extra):
            continue
        if automation.definition.get("filter") and not _in_filter(automation, definition, record):
            continue
        if targets is None:
            targets = load_targets(actor, form, definition, [record], now)
        try:
            with transaction.atomic():
                engine.run_event(automation, event, actor, targets, depth, now)
        except DatabaseError:
            raise  # the event stays pending and is handed out again
        except Exception as exc:  # a broken automation must not block the event's others
            logger.exception("automation %s failed on event %s", automation.key, event.pk)
            engine.record_failure(automation, f"event:{event.pk}", depth, event, exc)
