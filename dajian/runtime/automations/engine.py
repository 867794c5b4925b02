"""The automation engine: triggers → records → condition → actions, each once.

Every firing is an :class:`AutomationRun` keyed by its trigger (``event:<id>``,
``schedule:<tick>``, ``date-scan:<time>``, unique per automation), and every action on a
record an :class:`ActionExecution` keyed by (automation, record, trigger key, action
index). :func:`process_batch` writes the execution rows in the same transaction as the
actions' effects and skips the ones already done, so running a firing again — a
redelivered Celery message, a worker killed mid-run, a retry — acts once.

Event runs happen inside the outbox task's transaction (the event is marked processed in
it too); scheduled and date runs commit one batch at a time and never hold more than one
batch of records in memory. A record whose action fails does not go on to the next
action; the failure is retried with backoff (``retry.max_attempts``, default
``DAJIAN["ACTION_MAX_ATTEMPTS"]``) unless the action said waiting will not help.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import Count, Q
from django.utils import timezone

from dajian.builder.definitions import FormDefinition
from dajian.builder.models import Metadata, MetadataKind, MetadataVersion
from dajian.platform.actors import Actor
from dajian.platform.calendars import time_zone_of
from dajian.platform.expressions import CompiledExpression, ExpressionError, compile_expression
from dajian.platform.models import Workspace
from dajian.platform.sql import copy_rows, skip_commit_wait
from dajian.runtime.automations import actions
from dajian.runtime.automations.activation import load_records, load_targets, with_rollup_values
from dajian.runtime.automations.context import (
    LoadedAutomation,
    Outcome,
    RunContext,
    Target,
    acting_at_depth,
)
from dajian.runtime.models import (
    ActionExecution,
    AutomationRun,
    Delivery,
    ExecutionStatus,
    OutboxEvent,
    Record,
    RunStatus,
)
from dajian.runtime.policies import definition_of

logger = logging.getLogger(__name__)

RETRY_BASE_SECONDS = 60
RETRY_CAP_SECONDS = 3600


# --- loading -----------------------------------------------------------------------------


def _loaded(meta: Metadata, version: MetadataVersion | None = None) -> LoadedAutomation:
    version = version or meta.published
    assert version is not None and meta.form is not None
    return LoadedAutomation(
        metadata_id=meta.pk,
        version_id=version.pk,
        workspace_id=meta.workspace_id,
        app_id=meta.app_id,
        app_key=meta.app.key,
        key=meta.key,
        form=meta.form,
        definition=version.definition,
    )


def _published() -> Any:
    return Metadata.objects.select_related("app", "form__published", "published").filter(
        kind=MetadataKind.AUTOMATION, published__isnull=False
    )


_VALIDATE_SQL = """
    SELECT m.id, v.content_hash, fv.content_hash, f.workflow_id
    FROM builder_metadata m
    JOIN builder_metadataversion v ON v.id = m.published_id
    JOIN builder_form f ON f.id = m.form_id
    LEFT JOIN builder_formversion fv ON fv.id = f.published_id
    WHERE m.workspace_id = %s AND m.form_id = %s AND m.kind = %s
    ORDER BY m.key
"""
# (workspace, form) → (what the validating query answered, the automations loaded then)
_by_form: dict[tuple[int, int], tuple[tuple[Any, ...], list[LoadedAutomation]]] = {}
_by_form_lock = threading.Lock()


def published_automations(workspace_id: int, form_id: int) -> list[LoadedAutomation]:
    """Published, enabled automations of a form. Every event asks, so the answer is
    cached per process and validated by one small query (the ids of the published
    versions of the form and of its automations, with their content hashes): a publish
    elsewhere is seen at once, and an unchanged form costs that query only."""
    with connection.cursor() as cursor:
        cursor.execute(_VALIDATE_SQL, [workspace_id, form_id, MetadataKind.AUTOMATION.value])
        stamp = tuple(tuple(row) for row in cursor.fetchall())
    key = (workspace_id, form_id)
    with _by_form_lock:
        cached = _by_form.get(key)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    automations: list[LoadedAutomation] = []
    if stamp:
        rows = _published().filter(workspace_id=workspace_id, form_id=form_id).order_by("key")
        automations = [
            a for a in (_loaded(meta) for meta in rows) if a.definition.get("enabled", True)
        ]
    with _by_form_lock:
        _by_form[key] = (stamp, automations)
    return automations


def load_automation(metadata_id: int) -> LoadedAutomation | None:
    meta = _published().filter(pk=metadata_id).first()
    if meta is None:
        return None
    automation = _loaded(meta)
    return automation if automation.definition.get("enabled", True) else None


# --- running -----------------------------------------------------------------------------


def workspace_of(workspace_id: int) -> Workspace:
    return Workspace.objects.get(pk=workspace_id)  # type: ignore[no-any-return]


@contextmanager
def workspace_time(workspace_id: int) -> Iterator[Workspace]:
    """Run in the workspace's time zone: "this month", date windows and relative dates
    of filters and rollups are the workspace's calendar days, not the server's."""
    workspace = workspace_of(workspace_id)
    with timezone.override(time_zone_of(workspace)):
        yield workspace


@dataclass
class Firing:
    """One firing of one automation: the run row and what every batch needs."""

    automation: LoadedAutomation
    run: AutomationRun
    actor: Actor
    definition: FormDefinition
    condition: CompiledExpression | None
    now: dt.datetime
    # the idempotency key of one target's executions (default: the run's trigger key)
    key_of: Callable[[Target], str] | None = None
    # a run created just now for an event: no execution of it can exist yet
    fresh: bool = False

    def execution_key(self, target: Target) -> str:
        return self.key_of(target) if self.key_of else self.run.trigger_key


def start_run(
    automation: LoadedAutomation,
    trigger: str,
    trigger_key: str,
    depth: int = 0,
    event: OutboxEvent | None = None,
    now: dt.datetime | None = None,
) -> tuple[Firing | None, AutomationRun]:
    """The run of this firing (created, or found when the firing runs again) and, when
    there is work to do, the :class:`Firing` to pass batches to. A run deeper than
    ``MAX_AUTOMATION_DEPTH`` is logged as stopped and does nothing."""
    now = now or timezone.now()
    try:
        with transaction.atomic():
            run, created = AutomationRun.objects.get_or_create(
                automation_id=automation.metadata_id,
                trigger_key=trigger_key,
                defaults={
                    "workspace_id": automation.workspace_id,
                    "version_id": automation.version_id,
                    "trigger": trigger,
                    "event": event,
                    "depth": depth,
                    "started_at": now,
                },
            )
    except IntegrityError:  # a concurrent first start won the insert
        created = False
        run = AutomationRun.objects.get(
            automation_id=automation.metadata_id, trigger_key=trigger_key
        )
    if run.status == RunStatus.LOOP_STOPPED:
        return None, run
    limit = int(settings.DAJIAN["MAX_AUTOMATION_DEPTH"])
    if depth > limit:
        run.status = RunStatus.LOOP_STOPPED
        run.message = (
            f"Stopped: this event comes from a chain of {depth} automations "
            f"(the limit is {limit}); check for automations that trigger each other."
        )
        run.finished_at = now
        run.save(update_fields=["status", "message", "finished_at"])
        logger.warning(
            "automation %s stopped at depth %s (trigger %s)", automation.key, depth, trigger_key
        )
        return None, run
    definition = definition_of(automation.form)
    if definition is None:
        return None, run
    condition = None
    source = automation.definition.get("condition")
    if source:
        try:
            condition = compile_expression(source)
        except ExpressionError as exc:  # checked at save; guards old documents
            _finish(run, now, f"condition does not compile: {exc.message}", failed=True)
            return None, run
    workspace = workspace_of(automation.workspace_id)
    # a run created here has no executions yet: its first pass need not look for them
    firing = Firing(
        automation, run, Actor.system(workspace), definition, condition, now, fresh=created
    )
    return firing, run


def run_event(
    automation: LoadedAutomation,
    event: OutboxEvent,
    actor: Actor,
    targets: Sequence[Target],
    depth: int,
    now: dt.datetime,
) -> AutomationRun | None:
    """Run an automation an event triggered on ``targets`` (the event's record, loaded
    once for all the automations it triggers). The condition is evaluated first: when
    it holds for no target, nothing is written at all. Runs inside the outbox task's
    transaction, which holds the event's row lock: no other run of this event can
    exist, so the run is inserted without looking for one."""
    trigger_key = f"event:{event.pk}"
    limit = int(settings.DAJIAN["MAX_AUTOMATION_DEPTH"])
    if depth > limit:
        return start_run(automation, automation.trigger["type"], trigger_key, depth, event, now)[1]
    definition = definition_of(automation.form)
    source = automation.definition.get("condition")
    if definition is None:
        return None
    condition = compile_expression(source) if source else None
    probe = Firing(automation, AutomationRun(), actor, definition, condition, now)
    matched = [t for t in targets if _passes(probe, t)]
    if not matched:
        return None
    run = AutomationRun.objects.create(
        workspace_id=automation.workspace_id,
        automation_id=automation.metadata_id,
        version_id=automation.version_id,
        trigger=automation.trigger["type"],
        trigger_key=trigger_key,
        event=event,
        depth=depth,
        started_at=now,
        records_scanned=len(targets),
        records_matched=len(matched),
        message=probe.run.message,
    )
    firing = Firing(automation, run, actor, definition, condition, now, fresh=True)
    act(firing, matched)
    return finish(firing)


def record_failure(
    automation: LoadedAutomation,
    trigger_key: str,
    depth: int,
    event: OutboxEvent | None,
    exc: Exception,
) -> AutomationRun:
    """Log a firing that broke before its actions could run (a bug, or metadata the
    runtime cannot use any more) as a failed run with the error."""
    now = timezone.now()
    run, _created = AutomationRun.objects.update_or_create(
        automation_id=automation.metadata_id,
        trigger_key=trigger_key,
        defaults={
            "workspace_id": automation.workspace_id,
            "version_id": automation.version_id,
            "trigger": automation.trigger["type"],
            "event": event,
            "depth": depth,
            "status": RunStatus.FAILED,
            "message": f"{type(exc).__name__}: {exc}"[:4000],
            "finished_at": now,
        },
    )
    return run


def process_batch(firing: Firing, records: Sequence[Record], count: bool = True) -> None:
    """Evaluate the condition on ``records`` (loaded with their rollups) and run every
    action not yet done on those that pass. Call inside a transaction. ``count=False``
    (a retry) leaves the run's record counts alone."""
    if not records:
        return
    automation, run = firing.automation, firing.run
    targets = load_targets(firing.actor, automation.form, firing.definition, records, firing.now)
    matched = [t for t in targets if _passes(firing, t)]
    if count:
        run.records_scanned += len(records)
        run.records_matched += len(matched)
    act(firing, matched)


def act(firing: Firing, matched: Sequence[Target]) -> None:
    """Run every action not yet done on the ``matched`` targets, in order; a target
    whose action fails does not go on to the next one."""
    if not matched:
        return
    automation = firing.automation
    keys = {t.record.pk: firing.execution_key(t) for t in matched}
    existing = (
        {}
        if firing.fresh
        else {
            (row.record_key, row.action_index): row
            for row in ActionExecution.objects.filter(
                automation_id=automation.metadata_id,
                record_key__in=list(keys),
                trigger_key__in=set(keys.values()),
            )
            if row.trigger_key == keys.get(row.record_key)
        }
    )
    alive = list(matched)
    max_attempts = _max_attempts(automation)
    for index, spec in enumerate(automation.actions):
        todo = [t for t in alive if _pending(existing.get((t.record.pk, index)))]
        if todo:
            outcomes = _run_action(firing, index, spec, todo)
            _write_executions(firing, index, spec, todo, outcomes, existing, keys, max_attempts)
            failed = {t.record.pk for t, o in zip(todo, outcomes, strict=True) if not o.ok}
        else:
            failed = set()
        alive = [t for t in alive if t.record.pk not in failed]
        if not alive:
            break


def _pending(row: ActionExecution | None) -> bool:
    return row is None or row.status == ExecutionStatus.FAILED


def _passes(firing: Firing, target: Target) -> bool:
    if firing.condition is None:
        return True
    try:
        result = firing.condition.evaluate(target.activation)
    except ExpressionError as exc:
        if not firing.run.message:
            firing.run.message = f"condition error on record {target.record.pk}: {exc.message}"
        return False
    return result is True


def _run_action(
    firing: Firing, index: int, spec: Mapping[str, Any], targets: list[Target]
) -> list[Outcome]:
    action = actions.get(spec.get("type"))
    if action is None:
        return [Outcome.failed(f"unknown action type {spec.get('type')!r}", retry=False)] * len(
            targets
        )
    ctx = RunContext(
        actor=firing.actor,
        automation=firing.automation,
        run=firing.run,
        spec=spec,
        index=index,
        now=firing.now,
        form_definition=firing.definition,
    )
    try:
        with transaction.atomic(), acting_at_depth(firing.run.depth + 1):
            outcomes = action.run(ctx, targets)
    except Exception as exc:
        logger.exception("automation %s action %s failed", firing.automation.key, index)
        return [Outcome.failed(f"{type(exc).__name__}: {exc}")] * len(targets)
    if len(outcomes) != len(targets):
        return [Outcome.failed("the action answered for a different number of records")] * len(
            targets
        )
    return outcomes


def retry_delay(attempts: int) -> dt.timedelta:
    """Backoff before attempt ``attempts + 1``: 1, 2, 4… minutes, at most an hour."""
    return dt.timedelta(seconds=min(RETRY_CAP_SECONDS, RETRY_BASE_SECONDS * 2 ** (attempts - 1)))


def _write_executions(
    firing: Firing,
    index: int,
    spec: Mapping[str, Any],
    targets: list[Target],
    outcomes: list[Outcome],
    existing: dict[tuple[int, int], ActionExecution],
    keys: Mapping[int, str],
    max_attempts: int,
) -> None:
    run, now = firing.run, firing.now
    automation_id = firing.automation.metadata_id
    new: list[tuple[Any, ...]] = []
    changed: list[ActionExecution] = []
    sent: dict[tuple[int, str], str] = {}  # (record, trigger key) → delivery message id
    for target, outcome in zip(targets, outcomes, strict=True):
        row = existing.get((target.record.pk, index))
        attempts = (row.attempts + 1) if row is not None else 1
        if outcome.ok:
            status, next_at = ExecutionStatus.DONE, None
            run.actions_done += 1
        elif outcome.retry and attempts < max_attempts:
            status, next_at = ExecutionStatus.FAILED, now + retry_delay(attempts)
            run.actions_failed += 1
        else:
            status, next_at = ExecutionStatus.GAVE_UP, None
            run.actions_failed += 1
        result, error = dict(outcome.result), outcome.error[:4000]
        key = keys[target.record.pk]
        if isinstance(result.get("delivery"), str):
            sent[(target.record.pk, key)] = result["delivery"]
        if row is None:
            new.append(
                (run.workspace_id, run.pk, automation_id, target.record.pk, key, index,
                 str(spec.get("type")), status, attempts, result, error, now, now, next_at)
            )  # fmt: skip
            continue
        row.run, row.status, row.attempts, row.result = run, status, attempts, result
        row.error, row.finished_at, row.next_attempt_at = error, now, next_at
        changed.append(row)
    # A concurrent run of the same firing that inserted first makes this batch roll
    # back (IntegrityError): its effects are undone and the other run's stand.
    copy_rows(ActionExecution, _EXECUTION_COLUMNS, new)
    if changed:
        ActionExecution.objects.bulk_update(
            changed,
            ["run", "status", "attempts", "result", "error", "finished_at", "next_attempt_at"],
        )
    if sent:
        _link_deliveries(automation_id, index, sent)


_EXECUTION_COLUMNS = (
    "workspace_id",
    "run_id",
    "automation_id",
    "record_key",
    "trigger_key",
    "action_index",
    "action_type",
    "status",
    "attempts",
    "result",
    "error",
    "created_at",
    "finished_at",
    "next_attempt_at",
)


def _link_deliveries(automation_id: int, index: int, sent: Mapping[tuple[int, str], str]) -> None:
    """Point the deliveries an action asked for (``result["delivery"]``, a message id)
    at their executions, so the delivery log shows which automation sent what (three
    queries, none when the action sent nothing)."""
    rows = ActionExecution.objects.filter(
        automation_id=automation_id,
        action_index=index,
        record_key__in={record for record, _ in sent},
        trigger_key__in={key for _, key in sent},
    ).values_list("pk", "record_key", "trigger_key")
    execution_of = {sent[(record, key)]: pk for pk, record, key in rows if (record, key) in sent}
    deliveries = list(Delivery.objects.filter(message_id__in=list(execution_of)))
    for delivery in deliveries:
        delivery.execution_id = execution_of[delivery.message_id]
    Delivery.objects.bulk_update(deliveries, ["execution"])


def _finish(run: AutomationRun, now: dt.datetime, message: str = "", failed: bool = False) -> None:
    run.status = RunStatus.FAILED if failed or run.actions_failed else RunStatus.SUCCEEDED
    run.finished_at = now
    if message:
        run.message = message
    run.save(update_fields=_RESULT_FIELDS)


_RESULT_FIELDS = [
    "status",
    "finished_at",
    "message",
    "records_scanned",
    "records_matched",
    "actions_done",
    "actions_failed",
]


def finish(firing: Firing) -> AutomationRun:
    """Run the run-level parts of the actions (digests), then close the run."""
    finish_actions(firing)
    _finish(firing.run, timezone.now())
    return firing.run


def finish_actions(firing: Firing) -> None:
    """Each action that acts once per run (:meth:`ActionType.finish`) does so now, in
    its own transaction with its execution (record 0): once, whatever reruns."""
    run = firing.run
    for index, spec in enumerate(firing.automation.actions):
        action = actions.get(spec.get("type"))
        if action is None or not action.finishes(spec):
            continue
        with transaction.atomic():
            done = ActionExecution.objects.filter(
                automation_id=firing.automation.metadata_id,
                record_key=0,
                trigger_key=run.trigger_key,
                action_index=index,
                status=ExecutionStatus.DONE,
            ).exists()
            if done:
                continue
            ctx = RunContext(
                firing.actor, firing.automation, run, spec, index, firing.now, firing.definition
            )
            try:
                with transaction.atomic():
                    outcome = action.finish(ctx)
            except DatabaseError as exc:
                outcome = Outcome.failed(f"database error: {exc}")
            existing = {
                (row.record_key, row.action_index): row
                for row in ActionExecution.objects.filter(
                    automation_id=firing.automation.metadata_id,
                    record_key=0,
                    trigger_key=run.trigger_key,
                    action_index=index,
                )
            }
            whole_run = Target(record=Record(pk=0), activation={})
            _write_executions(
                firing, index, spec, [whole_run], [outcome], existing,
                {0: run.trigger_key}, _max_attempts(firing.automation),
            )  # fmt: skip


def _max_attempts(automation: LoadedAutomation) -> int:
    return int(
        automation.definition.get("retry", {}).get(
            "max_attempts", settings.DAJIAN["ACTION_MAX_ATTEMPTS"]
        )
    )


def record_outcomes(
    firing: Firing, index: int, targets: Sequence[Target], outcomes: Sequence[Outcome]
) -> None:
    """Write the executions of ``outcomes`` (for tests that run one action directly and
    then :func:`finish_actions`)."""
    spec = firing.automation.actions[index]
    keys = {t.record.pk: firing.execution_key(t) for t in targets}
    _write_executions(
        firing, index, spec, list(targets), list(outcomes), {}, keys,
        _max_attempts(firing.automation),
    )  # fmt: skip


def record_batches(
    automation: LoadedAutomation,
    definition: FormDefinition,
    records: Any,
    batch_size: int,
    now: dt.datetime | None = None,
    load: Any = None,
) -> Iterable[list[Record]]:
    """``records`` (a queryset of the automation's form) a batch at a time in id order,
    with their rollups as of ``now``. The matching ids are read first (one query, ids
    only); then each batch is one query by id alone, from ``load`` (default: the form's
    records; pass a queryset to carry annotations). Keyset pagination on the id would make
    PostgreSQL read and sort every remaining match for each batch whenever the filter's
    index is ordered by another column (bench figure 6: 118 ms per batch, growing)."""
    ids = list(records.order_by("pk").values_list("pk", flat=True))
    source = form_records(automation) if load is None else load
    for start in range(0, len(ids), batch_size):
        chunk = ids[start : start + batch_size]
        page = with_rollup_values(source.filter(pk__in=chunk), automation.form, definition, now)
        yield load_records(page.order_by("pk"))


def form_records(automation: LoadedAutomation) -> Any:
    """Every record of the automation's form (in its workspace)."""
    return Record.objects.filter(workspace_id=automation.workspace_id, form_id=automation.form.pk)


def run_in_batches(firing: Firing, batches: Iterable[list[Record]]) -> AutomationRun:
    """Process each batch in its own transaction (committed with its executions), then
    finish the run. A crash loses at most the current batch, which a rerun redoes."""
    for batch in batches:
        with transaction.atomic():
            skip_commit_wait()  # a lost batch is redone by the firing's next delivery
            process_batch(firing, batch)
            AutomationRun.objects.filter(pk=firing.run.pk).update(
                records_scanned=firing.run.records_scanned,
                records_matched=firing.run.records_matched,
                actions_done=firing.run.actions_done,
                actions_failed=firing.run.actions_failed,
                message=firing.run.message,
            )
    return finish(firing)


# --- retries -----------------------------------------------------------------------------


def retry_failed_actions(now: dt.datetime | None = None, limit: int = 200) -> int:
    """Run again the failed actions that are due, with the automation version of their
    run; returns how many records were retried. Each record is retried in its own
    transaction, locking its execution rows (SKIP LOCKED: two sweeps share the work)."""
    now = now or timezone.now()
    due = list(
        ActionExecution.objects.filter(status=ExecutionStatus.FAILED, next_attempt_at__lte=now)
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
    retried = 0
    for pk in due:
        with transaction.atomic():
            row = (
                ActionExecution.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("run__version", "automation__app", "automation__form__published")
                .filter(pk=pk, status=ExecutionStatus.FAILED)
                .first()
            )
            if row is None or row.run.version is None or row.automation.form is None:
                continue
            automation = _loaded(row.automation, row.run.version)
            if row.record_key == 0:  # the run-level part of an action (a digest)
                firing, _ = start_run(automation, row.run.trigger, row.run.trigger_key, now=now)
                if firing is None:
                    continue
                finish_actions(firing)
            else:
                record = (
                    with_rollup_values(
                        Record.objects.filter(pk=row.record_key, workspace_id=row.workspace_id),
                        row.automation.form,
                        definition_of(row.automation.form),  # type: ignore[arg-type]
                    )
                ).first()
                if record is None:
                    row.status = ExecutionStatus.GAVE_UP
                    row.error = "the record no longer exists"
                    row.save(update_fields=["status", "error"])
                    continue
                firing, _ = start_run(automation, row.run.trigger, row.run.trigger_key, now=now)
                if firing is None:
                    continue
                key = row.trigger_key
                firing.key_of = lambda target, key=key: key  # type: ignore[misc]
                # the record passed the condition when it first ran: retry its actions as-is
                firing.condition = None
                process_batch(firing, [record], count=False)
            _recount(firing.run)
            _finish(firing.run, timezone.now())
            retried += 1
    return retried


def _recount(run: AutomationRun) -> None:
    """Set the run's action counts from its executions' latest outcomes (after a retry)."""
    counts = ActionExecution.objects.filter(run=run).aggregate(
        done=Count("pk", filter=Q(status=ExecutionStatus.DONE)),
        failed=Count("pk", filter=~Q(status=ExecutionStatus.DONE)),
    )
    run.actions_done, run.actions_failed = counts["done"], counts["failed"]


__all__ = [
    "Firing",
    "finish",
    "finish_actions",
    "form_records",
    "load_automation",
    "process_batch",
    "published_automations",
    "record_batches",
    "record_failure",
    "record_outcomes",
    "retry_failed_actions",
    "run_event",
    "run_in_batches",
    "start_run",
    "workspace_time",
]
