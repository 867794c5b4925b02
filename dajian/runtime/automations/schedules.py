"""Scheduled and date triggers.

**Schedules** (``{"type": "schedule", "cron": "0 8 * * *"}``) live in django-celery-beat:
publishing an automation writes its ``PeriodicTask`` (a crontab in the workspace's time
zone) and unpublishing or disabling it removes it, so beat — embedded in ``make run``'s
worker, a process of its own in production — fires :func:`run_scheduled` at each tick.
The run's key is the cron tick it belongs to (``schedule:<tick>``), so a tick delivered
twice, or redelivered after a crash, runs once and resumes where it stopped.

**Date triggers** (``{"type": "date", "field": "last_contact_at", "offset": {"days":
30}}``) are found by :func:`scan_date_triggers` (beat, every five minutes): one query per
automation selects the records whose moment has come and that have not been acted on for
that value of the field (the execution key is ``date:<value>``: contacting the customer
again moves the date and arms the trigger anew).

Both select records with the automation's structured filter in SQL, a batch at a time.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Any

from croniter import croniter
from django.db.models import CharField, Exists, OuterRef, Q, TextField, Value
from django.db.models.fields.json import KT
from django.db.models.functions import Cast, Concat
from django.utils import timezone

from dajian.builder.filters import compile_filter
from dajian.builder.models import Metadata, MetadataKind
from dajian.platform.calendars import time_zone_of
from dajian.platform.models import Workspace
from dajian.runtime.automations import engine
from dajian.runtime.automations.context import LoadedAutomation, Target
from dajian.runtime.models import ActionExecution, AutomationRun, ExecutionStatus
from dajian.runtime.policies import definition_of

logger = logging.getLogger(__name__)

RUN_SCHEDULED_TASK = "dajian.automations.run_scheduled"


def task_name(metadata_id: int) -> str:
    return f"automation:{metadata_id}"


# --- beat entries --------------------------------------------------------------------------


def sync_schedule(meta: Metadata) -> None:
    """Make beat's entry of ``meta`` match its published version (none when it is not
    published, disabled, or not scheduled)."""
    from django_celery_beat.models import CrontabSchedule, PeriodicTask

    version = meta.published
    definition = version.definition if version is not None else {}
    trigger = definition.get("trigger", {})
    if trigger.get("type") != "schedule" or not definition.get("enabled", True):
        PeriodicTask.objects.filter(name=task_name(meta.pk)).delete()
        return
    minute, hour, day_of_month, month, day_of_week = trigger["cron"].split()
    workspace = Workspace.objects.get(pk=meta.workspace_id)
    crontab, _ = CrontabSchedule.objects.get_or_create(
        minute=minute,
        hour=hour,
        day_of_month=day_of_month,
        month_of_year=month,
        day_of_week=day_of_week,
        timezone=time_zone_of(workspace),
    )
    PeriodicTask.objects.update_or_create(
        name=task_name(meta.pk),
        defaults={
            "task": RUN_SCHEDULED_TASK,
            "crontab": crontab,
            "interval": None,
            "kwargs": json.dumps({"automation_id": meta.pk}),
            "enabled": True,
            "description": f"{meta.app.key}.{meta.key}: {trigger['cron']} ({workspace.time_zone})",
        },
    )


def on_published(actor: Any, meta: Metadata, version: Any) -> None:
    if meta.kind == MetadataKind.AUTOMATION:
        sync_schedule(meta)


def on_unpublished(actor: Any, meta: Metadata) -> None:
    if meta.kind == MetadataKind.AUTOMATION:
        sync_schedule(meta)


# --- scheduled runs ------------------------------------------------------------------------


def cron_tick(cron: str, zone: dt.tzinfo, now: dt.datetime) -> dt.datetime:
    """The latest tick of ``cron`` (in ``zone``) at or before ``now``."""
    local = now.astimezone(zone) + dt.timedelta(seconds=1)
    tick: dt.datetime = croniter(cron, local).get_prev(dt.datetime)
    return tick


def next_ticks(cron: str, zone: dt.tzinfo, now: dt.datetime, count: int = 3) -> list[dt.datetime]:
    """The next ``count`` ticks (for the builder's "next runs" hint)."""
    it = croniter(cron, now.astimezone(zone))
    return [it.get_next(dt.datetime) for _ in range(count)]


def _batch_size() -> int:
    from django.conf import settings

    return int(settings.DAJIAN["AUTOMATION_BATCH_SIZE"])


def run_scan(
    automation: LoadedAutomation, trigger: str, trigger_key: str, now: dt.datetime
) -> AutomationRun | None:
    """Run ``automation`` over every record its filter selects, in batches."""
    firing, run = engine.start_run(automation, trigger, trigger_key, now=now)
    if firing is None:
        return run
    condition = compile_filter(firing.definition, automation.definition.get("filter"), now=now)
    records = engine.form_records(automation).filter(condition)
    batches = engine.record_batches(automation, firing.definition, records, _batch_size(), now)
    return engine.run_in_batches(firing, batches)


def run_scheduled(automation_id: int, now: dt.datetime | None = None) -> AutomationRun | None:
    """The run of the current cron tick of a scheduled automation (beat's task)."""
    now = now or timezone.now()
    automation = engine.load_automation(automation_id)
    if automation is None or automation.trigger.get("type") != "schedule":
        return None  # unpublished or changed since beat read its entry
    zone = time_zone_of(engine.workspace_of(automation.workspace_id))
    tick = cron_tick(automation.trigger["cron"], zone, now)
    with engine.workspace_time(automation.workspace_id):
        return run_scan(automation, "schedule", f"schedule:{tick.isoformat()}", now)


def run_now(automation: LoadedAutomation, now: dt.datetime | None = None) -> AutomationRun | None:
    """Run a scheduled or date automation at once (an admin's "run now")."""
    now = now or timezone.now()
    with engine.workspace_time(automation.workspace_id):
        if automation.trigger["type"] == "date":
            return run_date_trigger(automation, now, f"manual:{now.isoformat()}")
        return run_scan(automation, "manual", f"manual:{now.isoformat()}", now)


# --- date triggers -------------------------------------------------------------------------


def _date_value(automation: LoadedAutomation) -> Any:
    """SQL text of the trigger field's value (data fields are ISO strings already)."""
    key = automation.trigger["field"]
    if key in ("created_at", "updated_at", "stage_entered_at"):
        return Cast(key, CharField())
    return KT(f"data__{key}")


def _due_condition(automation: LoadedAutomation, now: dt.datetime) -> Q:
    """Records whose field plus (or minus) the offset has been reached."""
    trigger = automation.trigger
    offset = dt.timedelta(**{k: v for k, v in trigger["offset"].items() if v})
    moment = now - offset if trigger.get("direction", "after") == "after" else now + offset
    key = trigger["field"]
    if key in ("created_at", "updated_at", "stage_entered_at"):
        return Q(**{f"{key}__lte": moment})
    definition = definition_of(automation.form)
    assert definition is not None
    field_type = definition.field_types[key]
    kind = field_type.definition.get("result_type") or field_type.type
    if kind == "date":
        # runs happen in the workspace's time zone (engine.workspace_time)
        value: str = timezone.localtime(moment).date().isoformat()
    else:
        value = moment.isoformat()
    return compile_filter(definition, {"field": key, "op": "lte", "value": value}, now=now)


def run_date_trigger(
    automation: LoadedAutomation, now: dt.datetime, trigger_key: str | None = None
) -> AutomationRun | None:
    """Act on the records whose date has come and that were not acted on for that date.
    Creates a run only when there is such a record."""
    definition = definition_of(automation.form)
    if definition is None:
        return None
    done = ActionExecution.objects.filter(
        automation_id=automation.metadata_id,
        record_key=OuterRef("pk"),
        action_index=0,
        trigger_key=OuterRef("_date_key"),
    ).exclude(status=ExecutionStatus.FAILED)
    condition = (
        _due_condition(automation, now)
        & Q(**{"_date_key__isnull": False})
        & compile_filter(definition, automation.definition.get("filter"), now=now)
    )
    date_key = Concat(Value("date:"), _date_value(automation), output_field=TextField())
    base = (
        engine.form_records(automation)
        .annotate(_date_key=date_key)
        .filter(condition)
        .filter(~Exists(done))
    )
    if not base.exists():
        return None
    firing, run = engine.start_run(
        automation, "date", trigger_key or f"date-scan:{now.isoformat()}", now=now
    )
    if firing is None:
        return run

    def key_of(target: Target) -> str:
        return str(target.record._date_key)  # type: ignore[attr-defined]

    firing.key_of = key_of
    firing.fresh = False  # executions are keyed by date value: earlier scans made some
    keyed = engine.form_records(automation).annotate(_date_key=date_key)
    batches = engine.record_batches(automation, definition, base, _batch_size(), now, keyed)
    run = engine.run_in_batches(firing, batches)
    if run.records_matched == 0 and trigger_key is None:
        run.delete()  # the condition held for none of them: nothing to log every scan
        return None
    return run


def scan_date_triggers(now: dt.datetime | None = None) -> int:
    """Run every published date automation (beat's task); returns the runs started."""
    now = now or timezone.now()
    started = 0
    for meta in (
        Metadata.objects.filter(kind=MetadataKind.AUTOMATION, published__isnull=False)
        .filter(published__definition__trigger__type="date")
        .values_list("pk", flat=True)
    ):
        automation = engine.load_automation(meta)
        if automation is None:
            continue
        try:
            with engine.workspace_time(automation.workspace_id):
                if run_date_trigger(automation, now) is not None:
                    started += 1
        except Exception:  # one broken automation must not stop the others
            logger.exception("date trigger of automation %s failed", automation.key)
    return started
