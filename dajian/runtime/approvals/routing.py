"""Routing: which steps apply, who approves them, and when a step is decided.

At submission (and re-routing) the whole route is planned once: each step's CEL
condition is evaluated over the record (the same typed activation record validation
uses; compiled once and cached) and its approvers are resolved through the recipients
registry. The plan is stored with the request's ``submitted``/``rerouted`` event, so
later turns of a sequential step, returns and the history all use the approvers
chosen at submission, and a step that would resolve to nobody is refused up front
(``NO_APPROVER``) instead of stalling halfway.

A condition that cannot be evaluated (an empty field, say) makes its step apply:
routing fails closed, towards more approval, never less.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from dajian.builder.metadata.approval_chain import ChainDefinition, Decision, Step, StepMode
from dajian.builder.models import Form
from dajian.platform.actors import Actor
from dajian.platform.errors import DajianError, ErrorDetail
from dajian.platform.expressions import ExpressionError, compile_expression
from dajian.platform.recipients import RecipientContext, resolve_recipients
from dajian.runtime.approvals.errors import ApprovalErrorCode, message
from dajian.runtime.models import Record
from dajian.runtime.policies import definition_of
from dajian.runtime.validation import record_activation

# Decisions that count towards completing a step.
PASSING = frozenset({Decision.APPROVE.value, Decision.APPEAL.value, Decision.CONFIRM.value})


@dataclass(frozen=True)
class PlannedStep:
    """A step that applies: its index in the chain and its approvers, in order."""

    index: int
    key: str
    approvers: tuple[int, ...]


Plan = tuple[PlannedStep, ...]


def plan_to_json(plan: Plan) -> list[dict[str, Any]]:
    return [{"index": p.index, "key": p.key, "approvers": list(p.approvers)} for p in plan]


def plan_from_json(raw: Sequence[Mapping[str, Any]]) -> Plan:
    return tuple(
        PlannedStep(int(p["index"]), str(p["key"]), tuple(int(u) for u in p["approvers"]))
        for p in raw
    )


def condition_activation(
    actor: Actor, record: Record, form: Form, now: dt.datetime
) -> dict[str, Any]:
    """The CEL variables of ``record``: typed fields, ``record``, ``user`` (the actor),
    ``now`` — exactly what record validation evaluates rules with."""
    definition = definition_of(form)
    assert definition is not None, "records exist only on published forms"
    return record_activation(actor, definition, record, now)


def step_applies(step: Step, activation: Mapping[str, Any]) -> bool:
    if not step.condition:
        return True
    try:
        result = compile_expression(step.condition).evaluate(activation)
    except ExpressionError:
        return True  # fail closed: see the module docstring
    return result is not False


def build_plan(
    actor: Actor,
    record: Record,
    form: Form,
    chain: ChainDefinition,
    submitter_id: int | None,
    now: dt.datetime,
) -> Plan:
    """The steps of ``chain`` that apply to ``record`` with their approvers. The
    submitter is left out unless the chain allows self-approval; a step left with
    nobody is ``NO_APPROVER`` (every such step reported, path ``steps.N``)."""
    activation = condition_activation(actor, record, form, now)
    ctx = RecipientContext(
        workspace=actor.workspace,
        owner_id=record.owner_id,
        submitter_id=submitter_id,
        data=record.data,
    )
    plan: list[PlannedStep] = []
    errors: list[ErrorDetail] = []
    for index, step in enumerate(chain.steps):
        if not step_applies(step, activation):
            continue
        approvers = resolve_recipients(step.approvers, ctx)
        if not chain.allow_self_approval and submitter_id is not None:
            approvers = [uid for uid in approvers if uid != submitter_id]
        if not approvers:
            errors.append(
                ErrorDetail(
                    code=ApprovalErrorCode.NO_APPROVER,
                    message=message(ApprovalErrorCode.NO_APPROVER, step=step.key),
                    path=f"steps.{index}",
                )
            )
        plan.append(PlannedStep(index, step.key, tuple(approvers)))
    if errors:
        raise DajianError(errors)
    return tuple(plan)


def next_planned(plan: Plan, after_index: int) -> PlannedStep | None:
    return next((p for p in plan if p.index > after_index), None)


def previous_planned(plan: Plan, before_index: int) -> PlannedStep | None:
    earlier = [p for p in plan if p.index < before_index]
    return earlier[-1] if earlier else None


class StepOutcome(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


def required_approvals(ratio: float | None, approvers: int) -> int:
    """``ceil(ratio · n)``, at least 1; the epsilon keeps 0.6 × 5 at 3, not 4."""
    return max(1, math.ceil((ratio or 1.0) * approvers - 1e-9))


def step_outcome(step: Step, planned: PlannedStep, decided: Mapping[int, str]) -> StepOutcome:
    """Whether the step is decided, given each slot's decision (``position → decision``,
    delegations excluded).

    ``any``: the first approval completes it, the first rejection rejects it. ``all`` and
    ``sequential``: everyone approves; one rejection vetoes. ``ratio``: complete once
    ``ceil(ratio · n)`` approved; rejected as soon as that can no longer be reached.
    """
    n = len(planned.approvers)
    approvals = sum(1 for d in decided.values() if d in PASSING)
    rejections = sum(1 for d in decided.values() if d == Decision.REJECT)
    if step.mode == StepMode.ANY:
        if approvals:
            return StepOutcome.APPROVED
        return StepOutcome.REJECTED if rejections else StepOutcome.PENDING
    if step.mode == StepMode.RATIO:
        needed = required_approvals(step.ratio, n)
        if approvals >= needed:
            return StepOutcome.APPROVED
        undecided = n - approvals - rejections
        return StepOutcome.REJECTED if approvals + undecided < needed else StepOutcome.PENDING
    if rejections:
        return StepOutcome.REJECTED
    return StepOutcome.APPROVED if approvals >= n else StepOutcome.PENDING
