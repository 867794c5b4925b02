"""Builder GraphQL for workflows and approval chains.

Queries ``workflow(app, form)``, ``approvalChain(app, key)``, ``approvalChains(app)``;
mutations ``saveWorkflow``, ``publishWorkflow``, ``saveApprovalChain``,
``publishApprovalChain`` (thin: the work is in :mod:`dajian.builder.services.metadata`);
and :class:`FormWorkflow`, the published stages and transitions a client renders from
``form(app, key) { workflow }``. Drafts and version lists are shown to designers only;
every member may read published documents.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import graphene
from graphene.types.generic import GenericScalar

from dajian.builder.metadata import loaders
from dajian.builder.metadata.workflow import Stage, Transition, WorkflowDefinition
from dajian.builder.models import Form, Metadata, MetadataKind, MetadataVersion
from dajian.builder.services import metadata as service
from dajian.builder.services.forms import can_design
from dajian.platform.actors import Actor
from dajian.platform.durations import Duration
from dajian.platform.errors import DajianError
from dajian.platform.graphql.base import DajianMutation, Error, current_actor
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


class MetadataVersionType(graphene.ObjectType):
    """A published, immutable version of a workflow or approval chain."""

    class Meta:
        name = "MetadataVersion"

    number = graphene.Int(required=True)
    definition = GenericScalar(required=True)
    content_hash = graphene.String(required=True)
    schema_version = graphene.Int(required=True)
    published_at = graphene.DateTime(required=True)
    published_by = graphene.String(description="Username (null for the system).")

    def resolve_published_by(version: MetadataVersion, info: Any) -> str | None:
        return version.published_by.get_username() if version.published_by else None


class _Document:
    """Fields shared by workflow and chain documents."""

    key = graphene.String(required=True)
    app = graphene.String(required=True)
    form = graphene.String(description="The key of the form the document belongs to.")
    draft = GenericScalar(description="The current draft (designers only).")
    draft_saved_at = graphene.DateTime()
    published = graphene.Field(MetadataVersionType, description="The current version.")
    versions = graphene.List(
        graphene.NonNull(MetadataVersionType),
        required=True,
        description="Every published version, newest first (designers only).",
    )

    @staticmethod
    def resolve_app(meta: Metadata, info: Any) -> str:
        return meta.app.key

    @staticmethod
    def resolve_form(meta: Metadata, info: Any) -> str | None:
        return meta.form.key if meta.form is not None else None

    @staticmethod
    def resolve_draft(meta: Metadata, info: Any) -> Any:
        return meta.draft if can_design(current_actor(info)) else None

    @staticmethod
    def resolve_versions(meta: Metadata, info: Any) -> list[MetadataVersion]:
        return service.list_versions(meta) if can_design(current_actor(info)) else []


class WorkflowDocument(_Document, graphene.ObjectType):
    """The workflow document of a form: draft, current version and history."""


class ApprovalChainDocument(_Document, graphene.ObjectType):
    """An approval chain document: draft, current version and history."""

    label = graphene.String(required=True)

    def resolve_label(meta: Metadata, info: Any) -> str:
        raw = meta.published.definition if meta.published is not None else meta.draft
        return localize(raw.get("label")) or meta.key


def _or_none(call: Any) -> Any:
    """``call()``, or None when what it looks for does not exist."""
    try:
        return call()
    except DajianError:
        return None


class MetadataQuery(graphene.ObjectType):
    workflow = graphene.Field(
        WorkflowDocument,
        app=graphene.String(required=True),
        form=graphene.String(required=True),
        description="The workflow document of a form (null when it has none).",
    )
    approval_chain = graphene.Field(
        ApprovalChainDocument,
        app=graphene.String(required=True),
        key=graphene.String(required=True),
    )
    approval_chains = graphene.List(
        graphene.NonNull(ApprovalChainDocument), required=True, app=graphene.String(required=True)
    )

    def resolve_workflow(root: Any, info: Any, app: str, form: str) -> Metadata | None:
        actor = current_actor(info)
        return _or_none(lambda: service.get_workflow(actor, app, form))  # type: ignore[no-any-return]

    def resolve_approval_chain(root: Any, info: Any, app: str, key: str) -> Metadata | None:
        actor = current_actor(info)
        return _or_none(lambda: service.get_chain(actor, app, key))  # type: ignore[no-any-return]

    def resolve_approval_chains(root: Any, info: Any, app: str) -> list[Metadata]:
        return service.list_chains(current_actor(info), app, with_versions=True)


# --- mutations -------------------------------------------------------------------------


class SaveWorkflowInput(graphene.InputObjectType):
    app = graphene.String(required=True)
    form = graphene.String(required=True)
    definition = GenericScalar(required=True, description="The workflow document.")
    publish = graphene.Boolean(description="Also publish the saved draft.")


class SaveWorkflow(DajianMutation):
    workflow = graphene.Field(WorkflowDocument)

    class Arguments:
        input = SaveWorkflowInput(required=True)

    class Meta:
        description = "Validate a workflow document and store it as the form's workflow draft."
        permission = "designer"
        error_type = Error

    @classmethod
    def perform(cls, root: Any, info: Any, actor: Actor, input: Any) -> SaveWorkflow:
        meta = service.save_workflow(
            actor, input.app, input.form, input.definition, bool(input.get("publish"))
        )
        return cls(workflow=meta, errors=[])


class PublishWorkflowInput(graphene.InputObjectType):
    app = graphene.String(required=True)
    form = graphene.String(required=True)


class PublishWorkflow(DajianMutation):
    workflow = graphene.Field(WorkflowDocument)
    version = graphene.Int()

    class Arguments:
        input = PublishWorkflowInput(required=True)

    class Meta:
        description = "Freeze the workflow draft as a new immutable version."
        permission = "designer"
        error_type = Error

    @classmethod
    def perform(cls, root: Any, info: Any, actor: Actor, input: Any) -> PublishWorkflow:
        version = service.publish_metadata(actor, MetadataKind.WORKFLOW, input.app, input.form)
        meta = service.get_workflow(actor, input.app, input.form)
        return cls(workflow=meta, version=version.number, errors=[])


class SaveApprovalChainInput(graphene.InputObjectType):
    app = graphene.String(required=True)
    key = graphene.String(required=True)
    definition = GenericScalar(required=True, description="The approval chain document.")
    publish = graphene.Boolean(description="Also publish the saved draft.")


class SaveApprovalChain(DajianMutation):
    chain = graphene.Field(ApprovalChainDocument)

    class Arguments:
        input = SaveApprovalChainInput(required=True)

    class Meta:
        description = "Validate an approval chain document and store it as the chain's draft."
        permission = "designer"
        error_type = Error

    @classmethod
    def perform(cls, root: Any, info: Any, actor: Actor, input: Any) -> SaveApprovalChain:
        meta = service.save_approval_chain(
            actor, input.app, input.key, input.definition, bool(input.get("publish"))
        )
        return cls(chain=meta, errors=[])


class PublishApprovalChainInput(graphene.InputObjectType):
    app = graphene.String(required=True)
    key = graphene.String(required=True)


class PublishApprovalChain(DajianMutation):
    chain = graphene.Field(ApprovalChainDocument)
    version = graphene.Int()

    class Arguments:
        input = PublishApprovalChainInput(required=True)

    class Meta:
        description = "Freeze the approval chain draft as a new immutable version."
        permission = "designer"
        error_type = Error

    @classmethod
    def perform(cls, root: Any, info: Any, actor: Actor, input: Any) -> PublishApprovalChain:
        kind = MetadataKind.APPROVAL_CHAIN
        version = service.publish_metadata(actor, kind, input.app, input.key)
        meta = service.get_chain(actor, input.app, input.key)
        return cls(chain=meta, version=version.number, errors=[])


class MetadataMutation(graphene.ObjectType):
    save_workflow = SaveWorkflow.Field()
    publish_workflow = PublishWorkflow.Field()
    save_approval_chain = SaveApprovalChain.Field()
    publish_approval_chain = PublishApprovalChain.Field()
