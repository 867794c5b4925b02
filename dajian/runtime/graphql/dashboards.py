"""Runtime GraphQL of dashboards (contract v1): ``dashboard(app, key)`` — a published
dashboard's widgets with their figures as the caller sees them (their row scope) — and
``dashboards(app)``, the app's published dashboards (figures computed only when a
client asks for ``widgets``). Any member may read them; the work is in
:mod:`dajian.runtime.dashboards.compute`."""

from __future__ import annotations

from functools import cached_property
from typing import Any

import graphene
from graphene.types.generic import GenericScalar

from dajian.builder.models import Metadata
from dajian.platform.actors import Actor
from dajian.platform.errors import DajianError
from dajian.platform.graphql.base import current_actor
from dajian.platform.i18n import localize
from dajian.runtime.dashboards.compute import (
    compute_dashboard,
    published_dashboard,
    published_dashboards,
)


class DashboardView:
    """A published dashboard for one caller; figures computed on first use."""

    def __init__(self, actor: Actor, meta: Metadata):
        self.actor = actor
        self.meta = meta

    @property
    def document(self) -> dict[str, Any]:
        assert self.meta.published is not None
        return self.meta.published.definition  # type: ignore[no-any-return]

    @cached_property
    def figures(self) -> dict[str, Any]:
        return compute_dashboard(self.actor, self.meta)


class DashboardWidget(graphene.ObjectType):
    """One widget and its figures (the shapes of data: docs/dashboards.md)."""

    key = graphene.String(required=True)
    type = graphene.String(required=True, description="kpi, bar, line, pie, funnel, radar…")
    title = graphene.String(required=True)
    format = graphene.String(description="number, percent, money or hours.")
    color = graphene.String(description="A KPI's threshold colour: green, yellow or red.")
    data = GenericScalar(description="The figures, each with the drill-down filter of its records.")


class Dashboard(graphene.ObjectType):
    key = graphene.String(required=True)
    app = graphene.String(required=True)
    name = graphene.String(required=True)
    description = graphene.String()
    version = graphene.Int(required=True, description="The published version shown.")
    widgets = graphene.List(graphene.NonNull(DashboardWidget), required=True)

    def resolve_key(view: DashboardView, info: Any) -> str:
        return view.meta.key

    def resolve_app(view: DashboardView, info: Any) -> str:
        return view.meta.app.key

    def resolve_name(view: DashboardView, info: Any) -> str:
        return localize(view.document.get("name")) or view.meta.key

    def resolve_description(view: DashboardView, info: Any) -> str | None:
        return localize(view.document.get("description")) or None

    def resolve_version(view: DashboardView, info: Any) -> int:
        assert view.meta.published is not None
        return view.meta.published.number

    def resolve_widgets(view: DashboardView, info: Any) -> list[dict[str, Any]]:
        return list(view.figures["widgets"])


class DashboardQuery(graphene.ObjectType):
    dashboard = graphene.Field(
        Dashboard,
        app=graphene.String(required=True),
        key=graphene.String(required=True),
        description="A published dashboard's figures as the caller sees them (null if none).",
    )
    dashboards = graphene.List(
        graphene.NonNull(Dashboard),
        required=True,
        app=graphene.String(required=True),
        description="The app's published dashboards, by key.",
    )

    def resolve_dashboard(root: Any, info: Any, app: str, key: str) -> DashboardView | None:
        actor = current_actor(info)
        try:
            return DashboardView(actor, published_dashboard(actor, app, key))
        except DajianError:
            return None

    def resolve_dashboards(root: Any, info: Any, app: str) -> list[DashboardView]:
        actor = current_actor(info)
        rows = published_dashboards(actor, app).order_by("key")
        return [DashboardView(actor, meta) for meta in rows]
