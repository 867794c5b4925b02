"""Builder GraphQL for dashboards: ``dashboardDocument(app, key)``,
``dashboardDocuments(app)``, ``saveDashboard`` (contract v1) and ``publishDashboard``.
The work is in :mod:`dajian.builder.services.metadata`; the figures are the runtime's
``dashboard(app, key)`` (:mod:`dajian.runtime.graphql.dashboards`)."""

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


class DashboardDocument(_Document, graphene.ObjectType):
    """A dashboard document: draft, current version and history (no form of its own)."""

    name = graphene.String(required=True)
    widget_count = graphene.Int(required=True, description="Widgets of the current version.")

    @staticmethod
    def _current(meta: Metadata) -> dict[str, Any]:
        return meta.published.definition if meta.published is not None else meta.draft

    def resolve_name(meta: Metadata, info: Any) -> str:
        return localize(DashboardDocument._current(meta).get("name")) or meta.key

    def resolve_widget_count(meta: Metadata, info: Any) -> int:
        return len(DashboardDocument._current(meta).get("widgets", []))


class DashboardDocumentQuery(graphene.ObjectType):
    dashboard_document = graphene.Field(
        DashboardDocument,
        app=graphene.String(required=True),
        key=graphene.String(required=True),
        description="A dashboard's document for designers (its figures: dashboard).",
    )
    dashboard_documents = graphene.List(
        graphene.NonNull(DashboardDocument), required=True, app=graphene.String(required=True)
    )

    def resolve_dashboard_document(root: Any, info: Any, app: str, key: str) -> Metadata | None:
        actor = current_actor(info)
        return _or_none(lambda: service.get_dashboard(actor, app, key))  # type: ignore[no-any-return]

    def resolve_dashboard_documents(root: Any, info: Any, app: str) -> list[Metadata]:
        return service.list_documents(
            current_actor(info), MetadataKind.DASHBOARD, app, with_versions=True
        )


class SaveDashboardInput(graphene.InputObjectType):
    app = graphene.String(required=True)
    key = graphene.String(required=True)
    definition = GenericScalar(required=True, description="The dashboard document.")
    publish = graphene.Boolean(description="Also publish the saved draft.")


class SaveDashboard(DajianMutation):
    dashboard = graphene.Field(DashboardDocument)

    class Arguments:
        input = SaveDashboardInput(required=True)

    class Meta:
        description = (
            "Validate a dashboard document (widgets, measures, groupings, filters) and "
            "store it as the dashboard's draft; every problem is returned with its path."
        )
        permission = "designer"
        error_type = Error

    @classmethod
    def perform(cls, root: Any, info: Any, actor: Actor, input: Any) -> SaveDashboard:
        meta = service.save_dashboard(
            actor, input.app, input.key, input.definition, bool(input.get("publish"))
        )
        return cls(dashboard=meta, errors=[])


class DashboardKeyInput(graphene.InputObjectType):
    app = graphene.String(required=True)
    key = graphene.String(required=True)


class PublishDashboard(DajianMutation):
    dashboard = graphene.Field(DashboardDocument)
    version = graphene.Int()

    class Arguments:
        input = DashboardKeyInput(required=True)

    class Meta:
        description = "Freeze the dashboard draft as a new version; members see it from now on."
        permission = "designer"
        error_type = Error

    @classmethod
    def perform(cls, root: Any, info: Any, actor: Actor, input: Any) -> PublishDashboard:
        version = service.publish_metadata(actor, MetadataKind.DASHBOARD, input.app, input.key)
        meta = service.get_dashboard(actor, input.app, input.key)
        return cls(dashboard=meta, version=version.number, errors=[])


class DashboardDocumentMutation(graphene.ObjectType):
    save_dashboard = SaveDashboard.Field()
    publish_dashboard = PublishDashboard.Field()
