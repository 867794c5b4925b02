"""``availableTransitions``: where a record can go from its stage, and what it lacks.

For a page of records everything is loaded per page, not per record: the workflow
once, update rights in at most one query, the evidence uploads in at most one query.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from django.utils import timezone

from dajian.builder.metadata.workflow import Reason, WorkflowDefinition
from dajian.builder.models import Form
from dajian.platform.actors import Actor
from dajian.platform.errors import CommonErrorCode, ErrorDetail
from dajian.platform.i18n import localize
from dajian.platform.permissions import Action, RowScope
from dajian.runtime.errors import RecordErrorCode
from dajian.runtime.errors import message as record_message
from dajian.runtime.models import Record, RecordStatus
from dajian.runtime.policies import policy_for
from dajian.runtime.stages.definitions import role_allows, stage_label, workflow_for
from dajian.runtime.stages.errors import WorkflowErrorCode as Code
from dajian.runtime.stages.errors import workflow_error, workflow_message
from dajian.runtime.stages.requirements import (
    EvidenceFile,
    evidence_ids,
    load_evidence,
    missing_requirements,
)
from dajian.runtime.stages.timing import WorkTime


@dataclass(frozen=True)
class TransitionOption:
    """One way out of the record's stage. ``allowed`` is true exactly when ``missing``
    is empty; besides the stage requirements, ``missing`` says when the record is in
    approval (``APPROVAL_PENDING``) or frozen (``RECORD_FROZEN``), the caller may not
    update it (``PERMISSION_DENIED``) or their role may not use this transition
    (``TRANSITION_NOT_ALLOWED``). ``approval`` names the chain that must approve the
    move; ``reasons`` are the choices a terminal target stage asks for."""

    to: str
    label: str
    allowed: bool
    missing: tuple[ErrorDetail, ...]
    approval: str | None
    reasons: tuple[Reason, ...]


def available_transitions(
    actor: Actor, record: Record, now: dt.datetime | None = None
) -> list[TransitionOption]:
    """The transitions leaving ``record``'s stage, as ``actor`` sees them at ``now``."""
    form = record.form
    workflow = workflow_for(form)
    if workflow is None:
        return []
    return transitions_for_records(actor, form, workflow, [record], now)[record.pk]


def transitions_for_records(
    actor: Actor,
    form: Form,
    workflow: WorkflowDefinition,
    records: Sequence[Record],
    now: dt.datetime | None = None,
) -> dict[int, list[TransitionOption]]:
    """:func:`available_transitions` for many records of one form at once."""
    now = now or timezone.now()
    updatable = _updatable_ids(actor, form, records)
    ids: set[int] = set()
    for record in records:
        if record.stage in workflow.stage_map:
            ids |= evidence_ids([workflow.stage_map[record.stage]], record.data)
    files = load_evidence(actor.workspace.pk, ids)  # no query when there is none
    clock = WorkTime(actor.workspace)
    return {
        r.pk: _options(actor, form, workflow, r, r.pk in updatable, files, clock, now)
        for r in records
    }


def _options(
    actor: Actor,
    form: Form,
    workflow: WorkflowDefinition,
    record: Record,
    can_update: bool,
    files: Mapping[int, EvidenceFile],
    clock: WorkTime,
    now: dt.datetime,
) -> list[TransitionOption]:
    stage = workflow.stage_map.get(record.stage or "")
    blockers: list[ErrorDetail] = []
    if record.status == RecordStatus.IN_APPROVAL:
        blockers.append(_record_error(RecordErrorCode.APPROVAL_PENDING))
    elif record.status == RecordStatus.FROZEN:
        blockers.append(_record_error(RecordErrorCode.RECORD_FROZEN))
    if not can_update:
        blockers.append(
            ErrorDetail(
                code=CommonErrorCode.PERMISSION_DENIED,
                message="You do not have permission to do this.",
            )
        )
    options = []
    current = stage_label(workflow, record.stage)
    for transition in workflow.transitions_from(record.stage):
        target = workflow.stage_map.get(transition.to)
        if target is None:
            continue  # a document that passed the checks never points nowhere
        missing = list(blockers)
        if not role_allows(actor, transition):
            missing.append(
                workflow_error(
                    Code.TRANSITION_NOT_ALLOWED,
                    "to",
                    message=_role_message(current, localize(target.label)),
                )
            )
        leaving = stage if transition.check_requirements else None
        missing += missing_requirements(
            actor, record, leaving, transition, now, form=form, files=files, clock=clock
        )
        options.append(
            TransitionOption(
                to=transition.to,
                label=localize(transition.label) or localize(target.label),
                allowed=not missing,
                missing=tuple(missing),
                approval=transition.approval,
                reasons=target.reasons,
            )
        )
    return options


def _record_error(code: str) -> ErrorDetail:
    return ErrorDetail(code=str(code), message=record_message(code))


def _role_message(stage: str, to: str) -> str:
    return workflow_message("ROLE_NOT_ALLOWED", stage=stage, to=to)


def _updatable_ids(actor: Actor, form: Form, records: Sequence[Record]) -> set[int]:
    """Ids of ``records`` the actor's UPDATE row scope reaches: decided in memory when
    the scope is all, none or own; otherwise one query for the whole page."""
    scopes = policy_for(actor, form).scopes[Action.UPDATE]
    if RowScope.ALL in scopes:
        return {r.pk for r in records}
    if not scopes - {RowScope.NONE} or actor.user is None:
        return set()
    if scopes == {RowScope.OWN}:
        return {r.pk for r in records if r.owner_id == actor.user_id}
    return set(
        Record.objects.permitted(actor, form, Action.UPDATE)
        .filter(pk__in=[r.pk for r in records])
        .values_list("pk", flat=True)
    )
