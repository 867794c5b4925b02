"""Helpers for automation tests: run one action directly, or drain the outbox.

``run_action`` calls an action type on records the way the engine does (same context,
same targets with rollups and ``related``) but without execution rows, so a test of one
action does not depend on triggers. End-to-end tests publish an automation with
``publish_automation`` and call ``drain_outbox`` after the write: unit tests run inside
one transaction, where on-commit hooks (and so the Celery hand-off) never fire.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.utils import timezone

from dajian.platform.actors import Actor
from dajian.runtime.automations import actions, engine
from dajian.runtime.automations.activation import load_targets, with_rollup_values
from dajian.runtime.automations.context import (
    LoadedAutomation,
    Outcome,
    RunContext,
    Target,
    acting_at_depth,
)
from dajian.runtime.models import AutomationRun, OutboxEvent, Record
from dajian.runtime.policies import definition_of
from tests.factories import publish_metadata


def publish_automation(actor: Actor, form, key: str, definition: dict):
    """Publish an automation document directly (no checks), for engine tests."""
    return publish_metadata(actor, form, "automation", key, {"form": form.key, **definition})


def prepare_action(
    actor: Actor,
    form,
    spec: dict,
    records: Sequence[Record],
    key: str = "test",
    index: int = 0,
    trigger_key: str | None = None,
) -> tuple[Any, RunContext, list[Target]]:
    """The action of ``spec``, one run's context and the targets of ``records``, as the
    engine builds them (an automation ``key`` holding that one action is published)."""
    meta = publish_automation(
        actor, form, key, {"trigger": {"type": "record_created"}, "actions": [spec]}
    )
    definition = definition_of(form)
    assert definition is not None
    automation = LoadedAutomation(
        metadata_id=meta.pk,
        version_id=meta.published_id,
        workspace_id=actor.workspace.pk,
        app_id=form.app_id,
        app_key=form.app.key,
        key=key,
        form=form,
        definition=meta.published.definition,
    )
    run = AutomationRun.objects.create(
        workspace=actor.workspace,
        automation=meta,
        version=meta.published,
        trigger="test",
        trigger_key=trigger_key or f"test:{timezone.now().isoformat()}:{index}:{len(records)}",
    )
    now = timezone.now()
    system = Actor.system(actor.workspace)
    rows = with_rollup_values(
        Record.objects.filter(pk__in=[r.pk for r in records]).order_by("pk"), form, definition
    )
    targets = load_targets(system, form, definition, rows, now)
    ctx = RunContext(
        actor=system,
        automation=automation,
        run=run,
        spec=spec,
        index=index,
        now=now,
        form_definition=definition,
    )
    action = actions.get(spec["type"])
    assert action is not None, f"no action type {spec['type']!r}"
    return action, ctx, targets


def run_action(
    actor: Actor, form, spec: dict, records: Sequence[Record], key: str = "test", index: int = 0
) -> list[Outcome]:
    """Run the action ``spec`` (with its ``type``) on ``records`` of ``form``."""
    action, ctx, targets = prepare_action(actor, form, spec, records, key, index)
    with acting_at_depth(ctx.run.depth + 1):  # as the engine runs every action
        outcomes = action.run(ctx, targets)
    if action.finishes(spec):  # a digest: written when the run finishes, as the engine does
        firing = engine.Firing(
            ctx.automation, ctx.run, ctx.actor, ctx.form_definition, None, ctx.now, fresh=True
        )
        engine.record_outcomes(firing, 0, targets, outcomes)
        engine.finish_actions(firing)
    return outcomes


def drain_outbox(limit: int = 100) -> int:
    """Process pending outbox events in this transaction, oldest first, including the
    ones processing them emits; returns how many were processed."""
    from dajian.runtime.tasks import process_outbox_event

    done = 0
    while done < limit:
        pending = list(
            OutboxEvent.objects.filter(processed_at__isnull=True)
            .order_by("id")
            .values_list("pk", flat=True)[:limit]
        )
        if not pending:
            break
        for event_id in pending:
            process_outbox_event(event_id)
            done += 1
    return done


def check_context(form, **kwargs: Any) -> actions.CheckContext:
    """The :class:`CheckContext` saving an automation on ``form`` builds (fields, the
    app's forms, roles, chains, allow-list), with ``kwargs`` replacing parts of it."""
    import dataclasses

    from dajian.runtime.automations.checks import build_check_context

    built = build_check_context(Actor.system(form.workspace), form, {})
    return dataclasses.replace(built, **kwargs)
