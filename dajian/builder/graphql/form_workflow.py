"""The published stages and transitions a client renders from ``form(app, key) {
workflow }`` (every member may read them)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import graphene
from graphene.types.generic import GenericScalar

from dajian.builder.metadata import loaders
from dajian.builder.metadata.workflow import Stage, Transition, WorkflowDefinition
from dajian.builder.models import Form, MetadataVersion
from dajian.platform.durations import Duration
from dajian.platform.i18n import localize


def _labels(text: Any) -> Any:
    """Every locale of a text (a plain string under ``""``, as for form fields)."""
    if text is None:
        return None
    return text if isinstance(text, Mapping) else {"": text}


def _duration(value: Duration | None) -> dict[str, Any] | None:
    return value.as_dict() if value is not None else None


# --- the published workflow of a form, as clients render it -----------------------------


class WorkflowReason(graphene.ObjectType):
    key = graphene.String(required=True)
    label = graphene.String(required=True)
    labels = GenericScalar()


class WorkflowEvidence(graphene.ObjectType):
    """At least ``minCount`` files in ``field``, uploaded at least ``minAge`` and at most
    ``maxAge`` (server time) before the transition."""

    field = graphene.String(required=True)
    min_count = graphene.Int(required=True)
    min_age = GenericScalar(description="{days, hours, minutes, business}")
    max_age = GenericScalar(description="{days, hours, minutes, business}")
    images_only = graphene.Boolean(required=True)
    message = graphene.String()


class WorkflowCheck(graphene.ObjectType):
    expression = graphene.String(required=True)
    message = graphene.String(required=True)
    field = graphene.String()
    code = graphene.String(required=True)


class WorkflowRequirements(graphene.ObjectType):
    """What must hold to leave the stage."""

    fields = graphene.List(graphene.NonNull(graphene.String), required=True)
    evidence = graphene.List(graphene.NonNull(WorkflowEvidence), required=True)
    checks = graphene.List(graphene.NonNull(WorkflowCheck), required=True)


class WorkflowTimeLimit(graphene.ObjectType):
    """Yellow after ``warning``, red after ``overdue``, from the stage-entry time."""

    warning = GenericScalar(description="{days, hours, minutes, business}")
    overdue = GenericScalar(description="{days, hours, minutes, business}")
    notify = GenericScalar(description="Recipient specs told at each level.")
    escalate_to = GenericScalar(description="Recipient specs given a to-do when overdue.")


class WorkflowStage(graphene.ObjectType):
    key = graphene.String(required=True)
    label = graphene.String(required=True)
    labels = GenericScalar(description="The label in every locale given.")
    color = graphene.String()
    terminal = graphene.Boolean(required=True)
    outcome = graphene.String(description="won or lost (terminal stages).")
    reasons = graphene.List(graphene.NonNull(WorkflowReason), required=True)
    requirements = graphene.Field(WorkflowRequirements, required=True)
    time_limit = graphene.Field(WorkflowTimeLimit)


class WorkflowTransition(graphene.ObjectType):
    from_stage = graphene.String(required=True, name="from", description='A stage key or "*".')
    to = graphene.String(required=True)
    label = graphene.String()
    labels = GenericScalar()
    roles = graphene.List(graphene.NonNull(graphene.String), required=True)
    guard = graphene.String()
    guard_message = graphene.String()
    approval = graphene.String(description="The approval chain that must approve first.")
    check_requirements = graphene.Boolean(
        required=True, description="Whether the stage's requirements apply to this move."
    )


class FormWorkflow(graphene.ObjectType):
    """The published workflow of a form."""

    version = graphene.Int(required=True)
    content_hash = graphene.String(required=True)
    initial = graphene.String(required=True)
    stages = graphene.List(graphene.NonNull(WorkflowStage), required=True)
    transitions = graphene.List(graphene.NonNull(WorkflowTransition), required=True)


def _stage(stage: Stage) -> WorkflowStage:
    limit = stage.time_limit
    return WorkflowStage(
        key=stage.key,
        label=localize(stage.label),
        labels=_labels(stage.label),
        color=stage.color,
        terminal=stage.terminal,
        outcome=stage.outcome,
        reasons=[
            WorkflowReason(key=r.key, label=localize(r.label), labels=_labels(r.label))
            for r in stage.reasons
        ],
        requirements=WorkflowRequirements(
            fields=list(stage.required_fields),
            evidence=[
                WorkflowEvidence(
                    field=e.field,
                    min_count=e.min_count,
                    min_age=_duration(e.min_age),
                    max_age=_duration(e.max_age),
                    images_only=e.images_only,
                    message=localize(e.message) or None,
                )
                for e in stage.evidence
            ],
            checks=[
                WorkflowCheck(
                    expression=c.expression, message=localize(c.message), field=c.field, code=c.code
                )
                for c in stage.checks
            ],
        ),
        time_limit=WorkflowTimeLimit(
            warning=_duration(limit.warning),
            overdue=_duration(limit.overdue),
            notify=list(limit.notify),
            escalate_to=list(limit.escalate_to),
        )
        if limit is not None
        else None,
    )


def _transition(t: Transition) -> WorkflowTransition:
    return WorkflowTransition(
        from_stage=t.from_stage,
        to=t.to,
        label=localize(t.label) or None,
        labels=_labels(t.label),
        roles=list(t.roles),
        guard=t.guard,
        guard_message=localize(t.guard_message) or None,
        approval=t.approval,
        check_requirements=t.check_requirements,
    )


def form_workflow(form: Form) -> FormWorkflow | None:
    """The render description of ``form``'s published workflow. Uses the documents the
    app queries prefetched into ``published_workflows``; otherwise one query."""
    prefetched = getattr(form, "published_workflows", None)
    if prefetched is not None:
        version = prefetched[0].published if prefetched else None
        view = loaders.workflow_view(version) if version is not None else None
    else:
        found = loaders.published_workflow(form)
        version, view = found if found is not None else (None, None)
    if version is None or view is None:
        return None
    return _render(version, view)


def _render(version: MetadataVersion, view: WorkflowDefinition) -> FormWorkflow:
    return FormWorkflow(
        version=version.number,
        content_hash=version.content_hash,
        initial=view.initial,
        stages=[_stage(s) for s in view.stages],
        transitions=[_transition(t) for t in view.transitions],
    )


# --- documents (builder view) ----------------------------------------------------------
