"""Timer actions of the stage engine: a stay past its warning limit notifies the
``notify`` recipients (yellow); past its overdue limit it notifies them again and gives
each ``escalate_to`` recipient a to-do (red; R8, R9).

Both act as the audited system actor and first re-check that the stay is still open
and its stage still has a limit, so a timer left over from a stage already left
does nothing. Timer keys are ``stage:{record}:{entry}:{level}``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from dajian.builder.metadata.workflow import Stage, TimeLimit
from dajian.platform.actors import Actor
from dajian.platform.audit import record_event
from dajian.platform.i18n import localize
from dajian.platform.recipients import RecipientContext, resolve_recipients
from dajian.runtime.models import StageEntry, TaskKind, TaskStatus, Timer, TodoTask
from dajian.runtime.notifications import notify
from dajian.runtime.services.records import emit_event
from dajian.runtime.stages.definitions import workflow_for
from dajian.runtime.stages.timing import (
    OVERDUE_TIMER,
    WARNING_TIMER,
    TimingLevel,
    describe_duration,
    parse_timer_key,
)
from dajian.runtime.timers import timer_action

_TEXTS = {
    TimingLevel.WARNING: {
        "en": "Record {id} has been in {stage} for {age}; please follow up.",
        "zh-CN": "记录 {id} 已在「{stage}」停留 {age}，请及时跟进。",
    },
    TimingLevel.OVERDUE: {
        "en": "Record {id} is overdue in {stage} (limit {age}).",
        "zh-CN": "记录 {id} 在「{stage}」已超时（时限 {age}）。",
    },
}
_TODO_TITLE = {
    "en": "Overdue: record {id} in {stage}",
    "zh-CN": "超时：记录 {id} 停留在「{stage}」",
}


@timer_action(WARNING_TIMER)
def stage_warning(timer: Timer, now: dt.datetime) -> str:
    return _fire(timer, now, TimingLevel.WARNING)


@timer_action(OVERDUE_TIMER)
def stage_overdue(timer: Timer, now: dt.datetime) -> str:
    return _fire(timer, now, TimingLevel.OVERDUE)


def _fire(timer: Timer, now: dt.datetime, level: TimingLevel) -> str:
    record_id, entry_id = parse_timer_key(timer.key)
    entry = (
        StageEntry.objects.select_related("record__form", "workspace")
        .filter(pk=entry_id, record_id=record_id)
        .first()
    )
    if entry is None or entry.exited_at is not None:
        return "skipped: stage left"
    record = entry.record
    workflow = workflow_for(record.form)
    stage = workflow.stage_map.get(entry.stage) if workflow is not None else None
    limit = stage.time_limit if stage is not None else None
    if stage is None or limit is None:
        return "skipped: no time limit"
    workspace = entry.workspace
    context = RecipientContext(workspace=workspace, owner_id=record.owner_id, data=record.data)
    notified = resolve_recipients(limit.notify, context) if limit.notify else []
    texts = _texts(_TEXTS[level], record.pk, stage, _limit_of(limit, level))
    payload = {"stage": stage.key, "entry": entry.pk, "level": str(level)}
    kind = f"stage.{str(level).lower()}"
    notify(workspace.pk, notified, kind, texts, record.pk, payload, now)
    escalated: list[int] = []
    if level == TimingLevel.OVERDUE and limit.escalate_to:
        escalated = resolve_recipients(limit.escalate_to, context)
        title = _texts(_TODO_TITLE, record.pk, stage, limit.overdue)
        for user_id in escalated:
            # Few recipients per stage; polymorphic rows cannot be bulk-inserted.
            TodoTask.objects.create(
                workspace=workspace,
                assignee_id=user_id,
                kind=TaskKind.TODO,
                status=TaskStatus.OPEN,
                title=title,
                record=record,
                created_at=now,
                message=texts,
                suggested_actions=[{"type": "open_record", "record": record.pk}],
                source=f"{kind}:{entry.pk}",
            )
    diff: dict[str, Any] = {"stage_level": [None, str(level)], "notified": [None, notified]}
    if escalated:
        diff["escalated_to"] = [None, escalated]
    system = Actor.system(workspace)
    # automations with a time_limit trigger take it from here (after commit)
    emit_event(system, "stage.time_limit", record, stage=stage.key, level=str(level).lower())
    record_event(system, kind, "Record", str(record.pk), diff)
    return f"{len(notified)} notified, {len(escalated)} escalated"


def _limit_of(limit: TimeLimit, level: TimingLevel) -> Any:
    return limit.overdue if level == TimingLevel.OVERDUE else limit.warning


def _texts(template: dict[str, str], record_id: int, stage: Stage, age: Any) -> dict[str, str]:
    """The message in every supported language."""
    return {
        locale: text.format(
            id=record_id,
            stage=localize(stage.label, locale),
            age=describe_duration(age, locale) if age is not None else "",
        )
        for locale, text in template.items()
    }
