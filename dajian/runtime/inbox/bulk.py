"""Deciding many approval tasks at once, all or nothing."""

from __future__ import annotations

from collections.abc import Sequence

from django.conf import settings
from django.db import transaction

from dajian.builder.metadata.approval_chain import Decision
from dajian.platform.actors import Actor
from dajian.platform.errors import CommonErrorCode, DajianError, ErrorDetail
from dajian.runtime.approvals.decide import DecisionResult, decide_task, parse_decision
from dajian.runtime.approvals.errors import ApprovalErrorCode, approval_error

# Decisions that need nothing per task (no step to return to, no delegate, no evidence).
BULK_DECISIONS = frozenset({Decision.APPROVE, Decision.REJECT, Decision.CONFIRM})


def bulk_decide(
    actor: Actor, task_ids: Sequence[int], decision: object, comment: str = ""
) -> list[DecisionResult]:
    """Apply ``decision`` to every task, in order, in one transaction. At most
    ``DAJIAN["MAX_BULK_DECISIONS"]`` tasks (``LIMIT_EXCEEDED`` above). If any task is
    refused nothing is applied, and every refusal is returned with path ``taskIds.N``."""
    limit = settings.DAJIAN["MAX_BULK_DECISIONS"]
    if len(task_ids) > limit:
        raise DajianError.single(
            CommonErrorCode.LIMIT_EXCEEDED,
            f"At most {limit} tasks can be decided at once.",
            field="taskIds",
        )
    if not task_ids:
        raise DajianError.single(
            CommonErrorCode.INVALID_INPUT, "Give at least one task.", field="taskIds"
        )
    choice = parse_decision(decision)
    if choice not in BULK_DECISIONS:
        raise approval_error(
            ApprovalErrorCode.DECISION_NOT_ALLOWED, field="decision", decision=choice.value
        )
    seen: set[int] = set()
    errors: list[ErrorDetail] = []
    for i, task_id in enumerate(task_ids):
        if task_id in seen:
            errors.append(
                ErrorDetail(
                    CommonErrorCode.INVALID_INPUT,
                    "This task is listed twice.",
                    field="taskIds",
                    path=f"taskIds.{i}",
                )
            )
        seen.add(task_id)
    if errors:
        raise DajianError(errors)
    results: list[DecisionResult] = []
    with transaction.atomic():
        for i, task_id in enumerate(task_ids):
            try:
                results.append(decide_task(actor, task_id, choice, comment))
            except DajianError as exc:
                errors.extend(
                    ErrorDetail(e.code, e.message, field="taskIds", path=f"taskIds.{i}")
                    for e in exc.errors
                )
        if errors:
            raise DajianError(errors)
    return results
