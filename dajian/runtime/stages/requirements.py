"""What a record still lacks to leave its stage (R7): required fields, evidence and
CEL checks of the stage, and the guard of the transition.

The list is the same for ``availableTransitions { missing }`` and for the refusal of
``advanceStage``, so a client shows one checklist. Evidence is judged by the server's
upload times only (``Attachment.uploaded_at``), measured against the server's ``now``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from dajian.builder.definitions import FormDefinition
from dajian.builder.metadata.workflow import EvidenceRequirement, Stage, Transition
from dajian.builder.models import Form
from dajian.platform.actors import Actor
from dajian.platform.calendars import time_zone_of
from dajian.platform.durations import Duration
from dajian.platform.errors import ErrorDetail
from dajian.platform.expressions import ExpressionError, compile_expression
from dajian.platform.i18n import localize
from dajian.platform.models import Attachment
from dajian.runtime.models import Record
from dajian.runtime.policies import definition_of
from dajian.runtime.stages.errors import WorkflowErrorCode as Code
from dajian.runtime.stages.errors import workflow_error, workflow_message
from dajian.runtime.stages.timing import WorkTime, describe_duration
from dajian.runtime.validation import record_activation


@dataclass(frozen=True)
class EvidenceFile:
    """What the evidence rules read of one upload."""

    id: int
    uploaded_at: dt.datetime
    kind: str


def evidence_ids(stages: Iterable[Stage], data: Mapping[str, Any]) -> set[int]:
    """Attachment ids in the evidence fields of ``stages`` in a record's ``data``."""
    ids: set[int] = set()
    for stage in stages:
        for requirement in stage.evidence:
            ids.update(_ids(data.get(requirement.field)))
    return ids


def load_evidence(workspace_id: int, ids: Iterable[int]) -> dict[int, EvidenceFile]:
    """The uploads with these ids in the workspace, in one query (none: no query)."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    rows = Attachment.objects.filter(workspace_id=workspace_id, pk__in=wanted).values_list(
        "pk", "uploaded_at", "kind"
    )
    return {pk: EvidenceFile(pk, at, kind) for pk, at, kind in rows}


def missing_requirements(
    actor: Actor,
    record: Record,
    stage: Stage | None,
    transition: Transition | None,
    now: dt.datetime,
    *,
    form: Form | None = None,
    files: Mapping[int, EvidenceFile] | None = None,
    clock: WorkTime | None = None,
) -> list[ErrorDetail]:
    """Everything that keeps ``record`` from leaving ``stage`` through ``transition``
    at ``now``, in this order: required fields (``REQUIRED``), evidence
    (``EVIDENCE_MISSING`` / ``EVIDENCE_TOO_NEW`` / ``EVIDENCE_TOO_OLD``), stage checks
    (``CHECK_FAILED`` or the check's own code) and the transition's guard
    (``GUARD_FAILED``); each with the field it concerns and a localised message.

    ``files`` are the record's uploads (:func:`load_evidence`) and ``clock`` the
    workspace's working time when the caller has them for a whole page; otherwise they
    are loaded here (one query each, when needed). CEL checks see
    the same variables as record validation (fields, ``record``, ``user``, ``now``).
    """
    form = form or record.form
    definition = definition_of(form)
    missing: list[ErrorDetail] = []
    if stage is not None:
        stage_label = localize(stage.label)
        for key in stage.required_fields:
            if _is_empty(definition, key, record.data.get(key)):
                missing.append(
                    workflow_error(
                        Code.REQUIRED, key, label=_field_label(definition, key), stage=stage_label
                    )
                )
        if stage.evidence:
            if files is None:
                files = load_evidence(record.workspace_id, evidence_ids([stage], record.data))
            clock = clock or WorkTime(actor.workspace)
            for requirement in stage.evidence:
                problem = _evidence_problem(clock, requirement, definition, record, files, now)
                if problem is not None:
                    missing.append(problem)
    checks = stage.checks if stage is not None else ()
    guard = transition.guard if transition is not None else None
    if (checks or guard) and definition is not None:
        activation = record_activation(actor, definition, record, now)
        for check in checks:
            if not _holds(check.expression, activation):
                text = localize(check.message) or workflow_message(Code.CHECK_FAILED)
                missing.append(workflow_error(check.code, check.field, message=text))
        if guard and transition is not None and not _holds(guard, activation):
            custom = localize(transition.guard_message) if transition.guard_message else None
            missing.append(
                workflow_error(Code.GUARD_FAILED, None, message=custom, to=transition.to)
            )
    return missing


def _ids(value: Any) -> list[int]:
    if isinstance(value, list):
        return [v for v in value if isinstance(v, int)]
    return [value] if isinstance(value, int) and not isinstance(value, bool) else []


def _is_empty(definition: FormDefinition | None, key: str, value: Any) -> bool:
    field_type = definition.field_types.get(key) if definition else None
    if field_type is not None:
        return field_type.empty(value)
    return value is None or value in ("", [], {})


def _field_label(definition: FormDefinition | None, key: str) -> str:
    if definition is None or key not in definition.field_types:
        return key
    return localize(definition.field(key).get("label")) or key


def _evidence_problem(
    clock: WorkTime,
    requirement: EvidenceRequirement,
    definition: FormDefinition | None,
    record: Record,
    files: Mapping[int, EvidenceFile],
    now: dt.datetime,
) -> ErrorDetail | None:
    """None when enough uploads of the field qualify; else the one reason why not."""
    need = requirement.min_count
    present = [files[i] for i in _ids(record.data.get(requirement.field)) if i in files]
    candidates = [f for f in present if not requirement.images_only or f.kind == "image"]
    fresh = [
        f
        for f in candidates
        if requirement.max_age is None or clock.deadline(f.uploaded_at, requirement.max_age) >= now
    ]
    ready_times = sorted(
        f.uploaded_at
        if requirement.min_age is None
        else clock.deadline(f.uploaded_at, requirement.min_age)
        for f in fresh
    )
    if sum(1 for at in ready_times if at <= now) >= need:
        return None
    params: dict[str, Any] = {
        "label": _field_label(definition, requirement.field),
        "count": need,
        "have": len(candidates),
        "files": workflow_message("IMAGES" if requirement.images_only else "FILES"),
    }
    if len(candidates) < need:
        code = Code.EVIDENCE_MISSING
    elif len(fresh) >= need and requirement.min_age is not None:
        code = Code.EVIDENCE_TOO_NEW
        params["age"] = describe_duration(requirement.min_age)
        params["ready_at"] = (
            ready_times[need - 1]
            .astimezone(time_zone_of(clock.workspace))
            .strftime("%Y-%m-%d %H:%M")
        )
    else:
        code = Code.EVIDENCE_TOO_OLD
        params["age"] = describe_duration(requirement.max_age or Duration())
    text = localize(requirement.message) if requirement.message else None
    return workflow_error(code, requirement.field, message=text, **params)


def _holds(source: str, activation: Mapping[str, Any]) -> bool:
    """Only a true result passes: false, an error or a non-boolean keeps the lock."""
    try:
        return compile_expression(source).evaluate(activation) is True
    except ExpressionError:
        return False
