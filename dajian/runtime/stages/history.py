"""Stage history (R10): each record's stays with actors and server times, and per form
how long records stay in each stage and take to reach the next one."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Count, DurationField, ExpressionWrapper, F, Sum
from django.utils import timezone

from dajian.builder.models import Form
from dajian.platform.actors import Actor
from dajian.platform.i18n import localize
from dajian.platform.permissions import Action
from dajian.runtime.models import Record, StageEntry
from dajian.runtime.stages.definitions import workflow_for


@dataclass(frozen=True)
class HistoryItem:
    """One stay; ``duration`` runs to the exit, or to ``now`` for the current stage."""

    entry: StageEntry
    duration: dt.timedelta


def stage_history(record: Record, now: dt.datetime | None = None) -> list[HistoryItem]:
    """The record's stays, oldest first, with their actors (one query)."""
    return history_for_records([record.pk], now)[record.pk]


def history_for_records(
    record_ids: Iterable[int], now: dt.datetime | None = None
) -> dict[int, list[HistoryItem]]:
    """:func:`stage_history` of many records in one query."""
    now = now or timezone.now()
    ids = list(record_ids)
    out: dict[int, list[HistoryItem]] = {pk: [] for pk in ids}
    entries = (
        StageEntry.objects.filter(record_id__in=ids)
        .select_related("entered_by", "exited_by")
        .order_by("record_id", "entered_at", "id")
    )
    for entry in entries:
        end = entry.exited_at or max(now, entry.entered_at)
        out[entry.record_id].append(HistoryItem(entry, end - entry.entered_at))
    return out


@dataclass(frozen=True)
class StageStat:
    """Records currently in ``stage``; the stays that ended (``closed``) and their
    average length in seconds (None without any)."""

    stage: str
    label: str
    current: int
    closed: int
    average_seconds: float | None


@dataclass(frozen=True)
class StepStat:
    """Stays in ``from_stage`` that ended by moving to ``to_stage``: how many, and the
    average time they took to get there."""

    from_stage: str
    to_stage: str
    count: int
    average_seconds: float | None


@dataclass(frozen=True)
class StageStats:
    stages: list[StageStat]
    steps: list[StepStat]


def stage_stats(actor: Actor, form: Form, since: dt.datetime | None = None) -> StageStats:
    """Per stage of ``form``'s workflow (then any other stage records are in): how many
    of the records the actor may read are in it now, and the average time in stage of
    stays that ended (since ``since``, if given); per (stage → next stage) the average
    time to reach the next stage. Two aggregate queries (plus the workflow's), the same
    on SQLite and PostgreSQL."""
    readable = Record.objects.permitted(actor, form, Action.READ)
    current = dict(
        readable.filter(stage__isnull=False)
        .order_by()
        .values("stage")
        .annotate(n=Count("id"))
        .values_list("stage", "n")
    )
    closed = StageEntry.objects.filter(
        form_id=form.pk, exited_at__isnull=False, record_id__in=readable.values("pk")
    )
    if since is not None:
        closed = closed.filter(exited_at__gte=since)
    length = ExpressionWrapper(F("exited_at") - F("entered_at"), output_field=DurationField())
    rows = (
        closed.order_by()
        .values("stage", "next_stage")
        .annotate(n=Count("id"), total=Sum(length))
        .values_list("stage", "next_stage", "n", "total")
    )
    per_stage: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])
    steps = []
    for stage, next_stage, n, total in rows:
        seconds = _seconds(total)
        per_stage[stage][0] += n
        per_stage[stage][1] += seconds
        steps.append(StepStat(stage, next_stage or "", n, seconds / n if n else None))
    workflow = workflow_for(form)
    order = [s.key for s in workflow.stages] if workflow else []
    labels = {s.key: localize(s.label) for s in workflow.stages} if workflow else {}
    others = {key for key in (*current, *per_stage) if key and key not in order}
    known = order + sorted(others)
    stats = []
    for key in known:
        count, seconds = per_stage.get(key, (0, 0.0))
        stats.append(
            StageStat(
                stage=key,
                label=labels.get(key, key),
                current=int(current.get(key, 0)),
                closed=int(count),
                average_seconds=seconds / count if count else None,
            )
        )
    position = {key: i for i, key in enumerate(known)}
    steps.sort(key=lambda s: (position.get(s.from_stage, 0), position.get(s.to_stage, 0)))
    return StageStats(stages=stats, steps=steps)


def _seconds(total: dt.timedelta | int | float | None) -> float:
    if total is None:
        return 0.0
    if isinstance(total, dt.timedelta):
        return total.total_seconds()
    return float(total) / 1_000_000  # SQLite sums durations as microseconds
