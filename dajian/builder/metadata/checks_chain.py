"""Validation of approval-chain documents: the meta-schema
(``schemas/approval_chain.schema.json`` with the limits of ``settings.DAJIAN``), then the
meaning against the chain's form (:class:`~.checks_workflow.FormContext`). Every problem
comes with a JSON path (``steps.1.condition``); nothing is saved when there is one.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from dajian.builder.errors import MetadataErrorCode as Code
from dajian.builder.metadata.approval_chain import Decision, StepMode
from dajian.builder.metadata.checks_workflow import (
    FormContext,
    Spec,
    check_duration,
    check_expression,
    check_recipients,
    duplicates,
    error,
    shape_errors,
)
from dajian.platform.errors import ErrorDetail

CHAIN_LIMITS: dict[tuple[str, ...], str] = {
    ("properties", "steps", "maxItems"): "MAX_CHAIN_STEPS",
    ("$defs", "step", "properties", "approvers", "maxItems"): "MAX_STEP_APPROVERS",
    ("$defs", "recipient", "properties", "users", "maxItems"): "MAX_STEP_APPROVERS",
}
DEFAULT_DECISIONS = (Decision.APPROVE, Decision.REJECT)
# Decisions that let a step pass; a step without one could never finish.
PASSING = frozenset({Decision.APPROVE, Decision.CONFIRM})
# What may accompany ``confirm``: the person confirms or contests, nothing else (R15).
WITH_CONFIRM = frozenset({Decision.CONFIRM, Decision.APPEAL})


def check_chain_shape(raw: Any) -> list[ErrorDetail]:
    return shape_errors("approval_chain", raw, CHAIN_LIMITS)


def chain_recipients(raw: Spec) -> Iterator[tuple[str, Spec]]:
    """``(path, spec)`` of every approver and CC spec of a chain."""
    for i, step in enumerate(raw["steps"]):
        for name in ("approvers", "cc"):
            for j, spec in enumerate(step.get(name, ())):
                yield f"steps.{i}.{name}.{j}", spec


def check_chain_semantics(raw: Spec, ctx: FormContext) -> list[ErrorDetail]:
    """Every meaning problem of a document that passed :func:`check_chain_shape`.
    ``raw["form"]`` must already be ``ctx.form_key`` (the service looks the form up)."""
    steps = raw["steps"]
    errors = duplicates(steps, "steps")
    index: dict[str, int] = {}
    for i, step in enumerate(steps):
        index.setdefault(step["key"], i)
    for i, step in enumerate(steps):
        errors.extend(_check_step(step, i, len(steps), index, ctx))
    errors.extend(check_recipients(chain_recipients(raw), ctx))
    return errors


def check_chain_definition(raw: Any, ctx: FormContext) -> list[ErrorDetail]:
    """Shape first, then meaning (the meaning of a malformed document is not checked)."""
    return check_chain_shape(raw) or check_chain_semantics(raw, ctx)


def _check_step(
    step: Spec, i: int, count: int, index: dict[str, int], ctx: FormContext
) -> list[ErrorDetail]:
    path = f"steps.{i}"
    errors: list[ErrorDetail] = []
    if "condition" in step:
        errors.extend(
            check_expression(step["condition"], f"{path}.condition", ctx.expression_names)
        )
    ratio_mode = step.get("mode") == StepMode.RATIO
    if ratio_mode != ("ratio" in step):
        errors.append(
            error(Code.RATIO_MISMATCH, f"{path}.{'ratio' if 'ratio' in step else 'mode'}")
        )
    decisions = {Decision(d) for d in step.get("decisions", DEFAULT_DECISIONS)}
    if Decision.CONFIRM in decisions and decisions - WITH_CONFIRM:
        others = ", ".join(sorted(decisions - WITH_CONFIRM))
        errors.append(error(Code.CONFIRM_MIXED, f"{path}.decisions", others=others))
    if not decisions & PASSING:
        errors.append(error(Code.NO_PASSING_DECISION, f"{path}.decisions"))
    if Decision.APPEAL in decisions and i == count - 1:
        errors.append(error(Code.APPEAL_ON_LAST_STEP, f"{path}.decisions"))
    target = step.get("return_to")
    if target is not None:
        if target not in index:
            errors.append(error(Code.UNKNOWN_STEP, f"{path}.return_to", key=target))
        elif index[target] >= i:
            errors.append(error(Code.RETURN_NOT_EARLIER, f"{path}.return_to", key=target))
    sla = step.get("sla")
    if sla:
        errors.extend(
            check_duration(sla["within"], f"{path}.sla.within", bool(sla.get("business")))
        )
    return errors
