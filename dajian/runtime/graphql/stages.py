"""GraphQL of the stage engine: record fields (``availableTransitions``,
``stageHistory``, ``stageTiming``), the ``advanceStage`` mutation and the
``stageStats`` query. Resolvers are thin; the work is in :mod:`dajian.runtime.stages`.

Listing records costs a constant number of queries whatever the page size: the
workflow once per form and request, and per page one query each for the other
records' data and uploads (transitions), the update scope when it needs one, and the
stage entries (history).
"""

from __future__ import annotations

from typing import Any

import graphene
from django.utils import timezone

from dajian.builder.fields.base import FieldValueError, parse_ref
from dajian.platform.actors import Actor
from dajian.platform.errors import DajianError, permission_denied
from dajian.platform.graphql.base import (
    DajianMutation,
    Error,
    current_actor,
    graphql_error,
    to_error_objects,
)
from dajian.platform.i18n import localize
from dajian.platform.permissions import Action
from dajian.runtime import selectors
from dajian.runtime.models import Record, RequestStatus
from dajian.runtime.policies import policy_for
from dajian.runtime.selectors import RecordView
from dajian.runtime.services.records import get_form_for_write
from dajian.runtime.stages.definitions import stage_label, workflow_for_request
from dajian.runtime.stages.engine import advance_stage
from dajian.runtime.stages.history import HistoryItem, history_for_records, stage_stats
from dajian.runtime.stages.timing import StageTiming, TimingLevel, WorkTime, stage_timing
from dajian.runtime.stages.transitions import TransitionOption, transitions_for_records

# Columns the requirement checks read of the other records of a page.
_PAGE_COLUMNS = (
    *("id", "workspace_id", "form_id", "stage", "status", "owner_id", "data"),
    *("version", "created_at"),
)

StageTimingLevel = graphene.Enum.from_enum(TimingLevel, name="StageTimingLevel")


class StageReason(graphene.ObjectType):
    """A reason to choose when entering a terminal stage (won / lost reasons)."""

    key = graphene.String(required=True)
    label = graphene.String(required=True)

    def resolve_label(reason: Any, info: Any) -> str:
        return localize(reason.label)


class TransitionOptionType(graphene.ObjectType):
    class Meta:
        name = "TransitionOption"
        description = (
            "A way out of the record's stage. `allowed` is true exactly when `missing` is "
            "empty; `missing` lists what the stage still needs (REQUIRED, EVIDENCE_MISSING, "
            "EVIDENCE_TOO_NEW, EVIDENCE_TOO_OLD, CHECK_FAILED or a check's own code, "
            "GUARD_FAILED) and why the caller cannot move it now (APPROVAL_PENDING, "
            "RECORD_FROZEN, PERMISSION_DENIED, TRANSITION_NOT_ALLOWED)."
        )

    to = graphene.String(required=True)
    label = graphene.String(required=True)
    allowed = graphene.Boolean(required=True)
    approval = graphene.String(description="The approval chain the move waits for, if any.")
    missing = graphene.List(graphene.NonNull(Error), required=True)
    reasons = graphene.List(graphene.NonNull(StageReason), required=True)

    def resolve_missing(option: TransitionOption, info: Any) -> list[Error]:
        return to_error_objects(list(option.missing))

    def resolve_reasons(option: TransitionOption, info: Any) -> list[Any]:
        return list(option.reasons)


class StageHistoryEntry(graphene.ObjectType):
    """One stay of the record in a stage, with server times."""

    stage = graphene.String(required=True)
    entered_at = graphene.DateTime(required=True)
    entered_by = graphene.String(required=True, description='Username, or "system".')
    exited_at = graphene.DateTime()
    exited_by = graphene.String()
    next_stage = graphene.String()
    duration_seconds = graphene.Float(
        required=True, description="Time in the stage (up to now for the current stage)."
    )
    comment = graphene.String(required=True)
    reason = graphene.String()

    def resolve_stage(item: HistoryItem, info: Any) -> str:
        return item.entry.stage

    def resolve_entered_at(item: HistoryItem, info: Any) -> Any:
        return item.entry.entered_at

    def resolve_entered_by(item: HistoryItem, info: Any) -> str:
        user = item.entry.entered_by
        return user.get_username() if user is not None else "system"

    def resolve_exited_at(item: HistoryItem, info: Any) -> Any:
        return item.entry.exited_at

    def resolve_exited_by(item: HistoryItem, info: Any) -> str | None:
        if item.entry.exited_at is None:
            return None
        user = item.entry.exited_by
        return user.get_username() if user is not None else "system"

    def resolve_next_stage(item: HistoryItem, info: Any) -> str | None:
        return item.entry.next_stage

    def resolve_duration_seconds(item: HistoryItem, info: Any) -> float:
        return item.duration.total_seconds()

    def resolve_comment(item: HistoryItem, info: Any) -> str:
        return item.entry.comment

    def resolve_reason(item: HistoryItem, info: Any) -> str | None:
        return item.entry.reason or None


class StageTimingType(graphene.ObjectType):
    class Meta:
        name = "StageTiming"
        description = (
            "Time in the current stage, measured from the server's entry time; working "
            "time when the stage's limit counts business time. `level` is NONE without a "
            "time limit, else OK, WARNING (yellow) or OVERDUE (red)."
        )

    entered_at = graphene.DateTime()
    elapsed_seconds = graphene.Float()
    level = graphene.Field(StageTimingLevel, required=True)
    warning_at = graphene.DateTime()
    overdue_at = graphene.DateTime()

    def resolve_elapsed_seconds(timing: StageTiming, info: Any) -> float | None:
        return timing.elapsed.total_seconds() if timing.elapsed is not None else None

    def resolve_level(timing: StageTiming, info: Any) -> str:
        return timing.level.value


def _cache(info: Any) -> dict[str, Any]:
    return info.context.__dict__.setdefault("_stages", {})  # type: ignore[no-any-return]


class RecordStageFields:
    """Stage fields of ``Record`` (a mixin of :class:`~.types.RecordType`)."""

    stage_label = graphene.String(description="The current stage's label.")
    available_transitions = graphene.List(
        graphene.NonNull(TransitionOptionType),
        required=True,
        description="The transitions leaving the record's stage, and what each lacks.",
    )
    stage_history = graphene.List(graphene.NonNull(StageHistoryEntry), required=True)
    stage_timing = graphene.Field(
        StageTimingType, description="Null when the form has no workflow."
    )

    @staticmethod
    def resolve_stage_label(view: RecordView, info: Any) -> str | None:
        if view.record.stage is None:
            return None
        workflow = workflow_for_request(_cache(info), view.record.form)
        return stage_label(workflow, view.record.stage)

    @staticmethod
    def resolve_available_transitions(view: RecordView, info: Any) -> list[TransitionOption]:
        actor = current_actor(info)
        cache = _cache(info)
        record, form = view.record, view.record.form
        workflow = workflow_for_request(cache, form)
        if workflow is None:
            return []
        known: dict[int, list[TransitionOption]] = cache.setdefault("transitions", {})
        if record.pk not in known:
            others = [
                pk for pk in getattr(record, "page_ids", ()) if pk != record.pk and pk not in known
            ]
            rows = [record]
            if others:
                rows += list(
                    Record.objects.filter(workspace_id=actor.workspace.pk, pk__in=others).only(
                        *_PAGE_COLUMNS
                    )
                )
            known.update(transitions_for_records(actor, form, workflow, rows, _now(cache)))
        return known[record.pk]

    @staticmethod
    def resolve_stage_history(view: RecordView, info: Any) -> list[HistoryItem]:
        cache = _cache(info)
        known: dict[int, list[HistoryItem]] = cache.setdefault("history", {})
        if view.record.pk not in known:
            ids = {view.record.pk, *getattr(view.record, "page_ids", ())} - set(known)
            known.update(history_for_records(ids, _now(cache)))
        return known[view.record.pk]

    @staticmethod
    def resolve_stage_timing(view: RecordView, info: Any) -> StageTiming | None:
        actor = current_actor(info)
        cache = _cache(info)
        workflow = workflow_for_request(cache, view.record.form)
        if workflow is None:
            return None
        clock = cache.setdefault("clock", WorkTime(actor.workspace))
        return stage_timing(view.record, workflow, _now(cache), clock)


def _now(cache: dict[str, Any]) -> Any:
    """One server time per request, so every record of a page is judged alike."""
    return cache.setdefault("now", timezone.now())


def _approval_request_type() -> Any:
    from dajian.runtime.graphql.approvals import ApprovalRequestType

    return ApprovalRequestType


def _record_type() -> Any:
    from dajian.runtime.graphql.types import RecordType  # types.py imports this module

    return RecordType


class AdvanceStageInput(graphene.InputObjectType):
    id = graphene.ID(required=True)
    to = graphene.String(required=True, description="The key of the target stage.")
    expected_version = graphene.Int(description="Refuse with STALE_VERSION if changed since.")
    comment = graphene.String()
    reason = graphene.String(description="Required for a terminal stage with reasons.")


class AdvanceStage(DajianMutation):
    record = graphene.Field(_record_type)
    request = graphene.Field(
        _approval_request_type,
        description="The approval request started when the transition needs one (the "
        "record then stays in its stage, in approval).",
    )

    class Arguments:
        input = AdvanceStageInput(required=True)

    class Meta:
        description = (
            "Move a record to another stage through a transition of its workflow. When "
            "the stage's requirements are not met, the first error is STAGE_LOCKED and "
            "the following errors are exactly the transition's `missing` entries."
        )
        permission = "update on the record (row scope) and one of the transition's roles"
        error_type = Error

    @classmethod
    def perform(cls, root: Any, info: Any, actor: Actor, input: Any) -> AdvanceStage:
        result = advance_stage(
            actor,
            _record_pk(input.id),
            input.to,
            expected_version=input.get("expected_version"),
            comment=input.get("comment") or "",
            reason=input.get("reason") or None,
        )
        record = result.record
        if result.request is not None:
            from dajian.runtime.graphql.approvals import loader

            # A fresh row holds the TextChoices member; the status enum serialises the
            # plain value, as rows read from the database have it.
            result.request.status = RequestStatus(result.request.status).value
            loader(info).add([result.request])
        view = selectors.view_after_write(actor, record, record.form)
        return cls(record=view, request=result.request, errors=[])


def _record_pk(global_id: str) -> int:
    try:
        return parse_ref(global_id, "Record")
    except FieldValueError:
        raise DajianError.single("NOT_FOUND", "Record not found.", field="id") from None


class StageStat(graphene.ObjectType):
    stage = graphene.String(required=True)
    label = graphene.String(required=True)
    current = graphene.Int(required=True, description="Records in the stage now.")
    closed = graphene.Int(required=True, description="Stays in the stage that ended.")
    average_seconds = graphene.Float(description="Average time in the stage (ended stays).")


class StageStepStat(graphene.ObjectType):
    from_stage = graphene.String(name="from", required=True)
    to_stage = graphene.String(name="to", required=True)
    count = graphene.Int(required=True)
    average_seconds = graphene.Float(description="Average time to reach `to` from `from`.")


class StageStatsType(graphene.ObjectType):
    class Meta:
        name = "StageStats"
        description = "Stage statistics over the records the caller may read (R10)."

    stages = graphene.List(graphene.NonNull(StageStat), required=True)
    transitions = graphene.List(graphene.NonNull(StageStepStat), required=True)

    def resolve_transitions(stats: Any, info: Any) -> list[Any]:
        return list(stats.steps)


class StageQuery(graphene.ObjectType):
    stage_stats = graphene.Field(
        StageStatsType,
        app=graphene.String(required=True),
        form=graphene.String(required=True),
        since=graphene.DateTime(description="Only stays that ended since then count."),
        description="Records per stage now, average time in stage and to the next stage.",
    )

    def resolve_stage_stats(root: Any, info: Any, app: str, form: str, since: Any = None) -> Any:
        actor = current_actor(info)
        try:
            form_row, _ = get_form_for_write(actor, app, form)
            if not policy_for(actor, form_row).allows(Action.READ):
                raise permission_denied()
            return stage_stats(actor, form_row, since)
        except DajianError as exc:
            raise graphql_error(exc) from None
