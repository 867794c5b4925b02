"""Builder GraphQL for automations: ``automation(app, key)``, ``automations(app)``,
``saveAutomation`` (contract v1), ``publishAutomation`` and ``unpublishAutomation``.
The work is in :mod:`dajian.builder.services.metadata`; what runs and its log are in
:mod:`dajian.runtime.graphql.automations`."""

from __future__ import annotations

from typing import Any

import graphene
from graphene.types.generic import GenericScalar

from dajian.builder.graphql.metadata import _Document, _or_none
from dajian.builder.models import Metadata, MetadataKind
from dajian.builder.services import metadata as service
from dajian.platform.actors import Actor
from dajian.platform.graphql.base import DajianMutation, Error, current_actor
from dajian.platform.i18n import localize


class AutomationDocument(_Document, graphene.ObjectType):
    """An automation document: draft, current version and history."""

    label = graphene.String(required=True)
    trigger = GenericScalar(description="The published trigger (else the draft's).")
    enabled = graphene.Boolean(
        required=True, description="Published and not switched off: it runs."
    )

    @staticmethod
    def _current(meta: Metadata) -> dict[str, Any]:
        return meta.published.definition if meta.published is not None else meta.draft

    def resolve_label(meta: Metadata, info: Any) -> str:
        return localize(AutomationDocument._current(meta).get("label")) or meta.key

    def resolve_trigger(meta: Metadata, info: Any) -> Any:
        return AutomationDocument._current(meta).get("trigger")

    def resolve_enabled(meta: Metadata, info: Any) -> bool:
        return meta.published is not None and meta.published.definition.get("enabled", True)


class AutomationQuery(graphene.ObjectType):
    automation = graphene.Field(
        AutomationDocument, app=graphene.String(required=True), key=graphene.String(required=True)
    )
    automations = graphene.List(
        graphene.NonNull(AutomationDocument), required=True, app=graphene.String(required=True)
    )

    def resolve_automation(root: Any, info: Any, app: str, key: str) -> Metadata | None:
        actor = current_actor(info)
        return _or_none(lambda: service.get_automation(actor, app, key))  # type: ignore[no-any-return]

    def resolve_automations(root: Any, info: Any, app: str) -> list[Metadata]:
        return service.list_documents(
            current_actor(info), MetadataKind.AUTOMATION, app, with_versions=True
        )


class SaveAutomationInput(graphene.InputObjectType):
    app = graphene.String(required=True)
    key = graphene.String(required=True)
    definition = GenericScalar(required=True, description="The automation document.")
    publish = graphene.Boolean(description="Also publish the saved draft (it starts running).")


class SaveAutomation(DajianMutation):
    automation = graphene.Field(AutomationDocument)

    class Arguments:
        input = SaveAutomationInput(required=True)

    class Meta:
        description = (
            "Validate an automation document (trigger, filter, condition, actions) and "
            "store it as the automation's draft; every problem is returned with its path."
        )
        permission = "designer"
        error_type = Error

    @classmethod
    def perform(cls, root: Any, info: Any, actor: Actor, input: Any) -> SaveAutomation:
        meta = service.save_automation(
            actor, input.app, input.key, input.definition, bool(input.get("publish"))
        )
        return cls(automation=meta, errors=[])


class AutomationKeyInput(graphene.InputObjectType):
    app = graphene.String(required=True)
    key = graphene.String(required=True)


class PublishAutomation(DajianMutation):
    automation = graphene.Field(AutomationDocument)
    version = graphene.Int()

    class Arguments:
        input = AutomationKeyInput(required=True)

    class Meta:
        description = "Freeze the automation draft as a new version; it runs from now on."
        permission = "designer"
        error_type = Error

    @classmethod
    def perform(cls, root: Any, info: Any, actor: Actor, input: Any) -> PublishAutomation:
        version = service.publish_metadata(actor, MetadataKind.AUTOMATION, input.app, input.key)
        meta = service.get_automation(actor, input.app, input.key)
        return cls(automation=meta, version=version.number, errors=[])


class UnpublishAutomation(DajianMutation):
    automation = graphene.Field(AutomationDocument)

    class Arguments:
        input = AutomationKeyInput(required=True)

    class Meta:
        description = (
            "Stop an automation: it keeps its draft and versions, its schedule is removed."
        )
        permission = "designer"
        error_type = Error

    @classmethod
    def perform(cls, root: Any, info: Any, actor: Actor, input: Any) -> UnpublishAutomation:
        meta = service.unpublish_metadata(actor, MetadataKind.AUTOMATION, input.app, input.key)
        return cls(automation=meta, errors=[])


class AutomationMutation(graphene.ObjectType):
    save_automation = SaveAutomation.Field()
    publish_automation = PublishAutomation.Field()
    unpublish_automation = UnpublishAutomation.Field()
