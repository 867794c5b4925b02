"""Builder GraphQL for workflows and approval chains.

Queries ``workflow(app, form)``, ``approvalChain(app, key)``, ``approvalChains(app)``;
mutations ``saveWorkflow``, ``publishWorkflow``, ``saveApprovalChain``,
``publishApprovalChain`` (thin: the work is in :mod:`dajian.builder.services.metadata`).
Drafts and version lists are shown to designers only; every member may read published
documents. The ``form { workflow }`` types live in :mod:`.form_workflow`.
"""

from __future__ import annotations

from typing import Any

import graphene
from graphene.types.generic import GenericScalar

from dajian.builder.models import Metadata, MetadataKind, MetadataVersion
from dajian.builder.services import metadata as service
from dajian.builder.services.forms import can_design
from dajian.platform.actors import Actor
from dajian.platform.errors import DajianError
from dajian.platform.graphql.base import DajianMutation, Error, current_actor
from dajian.platform.i18n import localize


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
