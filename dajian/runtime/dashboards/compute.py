"""A published dashboard's figures as one viewer sees them (R27–R30).

:func:`dashboard_data` computes every widget with SQL aggregates: one grouped query per
widget (plus one over the stage history for ``avg_stage_hours``), never a loop over
records. Each query starts from the viewer's read scope (``Record.objects.permitted``,
or the same scope over the promoted facts, :mod:`.sources`), in the workspace's time
zone; filters are compiled by :mod:`dajian.builder.filters`. Every figure carries the
filter of the records behind it (``drill``, and ``drill_numerator`` for a ratio), which
``records(app, form, filter)`` answers with exactly those records. The shapes of each
widget type's ``data`` are in docs/dashboards.md.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import connection, connections
from django.db.models import QuerySet
from django.utils import timezone, translation

from dajian.builder.definitions import FormDefinition
from dajian.builder.filters import pin_filter
from dajian.builder.metadata.checks_dashboard import dashboard_forms
from dajian.builder.metadata.loaders import form_workflow
from dajian.builder.models import Form, Metadata, MetadataKind
from dajian.platform.actors import Actor
from dajian.platform.calendars import time_zone_of
from dajian.platform.errors import DajianError, not_found
from dajian.platform.i18n import localize
from dajian.runtime.dashboards import facts, shapes
from dajian.runtime.dashboards.groups import (
    BinsDimension,
    BucketDimension,
    Dimension,
    OrgUnitDimension,
    OwnerDimension,
    RelationDimension,
    StageDimension,
    StatusDimension,
    ValueDimension,
)
from dajian.runtime.dashboards.labels import Labels
from dajian.runtime.dashboards.measures import Measure, StageHoursMeasure, build_measure
from dajian.runtime.dashboards.sources import Source, fact_source, facts_available, record_source
from dajian.runtime.dashboards.usage import FACT_SYSTEM_FIELDS, widget_fields
from dajian.runtime.policies import definition_of, policy_for

Key = tuple[Any, ...]
DASHBOARD_THREADS = 2


@dataclass
class Context:
    """What every widget of one dashboard computation shares."""

    actor: Actor
    app_key: str
    now: dt.datetime
    zone: dt.tzinfo
    forms: Mapping[str, Form]
    labels: Labels
    use_facts: bool = True
    sources: dict[str, str] = field(default_factory=dict)  # widget key → "records" | "facts"
    promotions: dict[int, dict[str, str] | None] = field(default_factory=dict)
    related: dict[tuple[int, str], Form | None] = field(default_factory=dict)

    def related_form(self, app_id: int, key: str) -> Form | None:
        """A relation's target form (one query per form no widget reads, at most)."""
        if key in self.forms:
            return self.forms[key]
        if (app_id, key) not in self.related:
            found = Form.objects.select_related("published").filter(app_id=app_id, key=key)
            self.related[(app_id, key)] = found.first()
        return self.related[(app_id, key)]

    def promoted(self, form: Form) -> dict[str, str] | None:
        """The form's promoted columns (asked once per dashboard and form)."""
        if form.pk not in self.promotions:
            self.promotions[form.pk] = facts.promoted_columns(form)
        return self.promotions[form.pk]


def published_dashboards(actor: Actor, app_key: str) -> QuerySet[Metadata]:
    """The app's published dashboards (any member may read them; a draft is not shown
    to members)."""
    return Metadata.objects.select_related("app", "published").filter(
        workspace=actor.workspace,
        app__key=app_key,
        kind=MetadataKind.DASHBOARD,
        published__isnull=False,
    )


def published_dashboard(actor: Actor, app_key: str, key: str) -> Metadata:
    """The published dashboard ``key`` of the app (any member may read it), else
    NOT_FOUND (a draft is not shown to members)."""
    found = published_dashboards(actor, app_key).filter(key=key).first()
    if found is None:
        raise not_found("Dashboard")
    return found


def dashboard_data(
    actor: Actor,
    app_key: str,
    key: str,
    *,
    now: dt.datetime | None = None,
    facts: bool = True,
) -> dict[str, Any]:
    """The figures of the published dashboard ``app_key/key`` as ``actor`` sees them:
    ``{app, key, name, description, version, widgets: [{key, type, title, format,
    color, data}], sources: {widget key: "facts" | "records"}}``. A widget that cannot
    be computed (a field hidden from the viewer, a field the form no longer has) carries
    ``data.error`` instead of failing the rest. ``now`` is the moment relative filters
    and open stage stays are measured at (default: now). ``facts=False`` reads the
    records' JSON even where promoted facts exist (a switch for benchmarks and tests;
    the figures are the same)."""
    meta = published_dashboard(actor, app_key, key)
    return compute_dashboard(actor, meta, now=now, facts=facts)


def compute_dashboard(
    actor: Actor,
    meta: Metadata,
    *,
    now: dt.datetime | None = None,
    facts: bool = True,
    widget_keys: set[str] | None = None,
) -> dict[str, Any]:
    """:func:`dashboard_data` for a loaded dashboard; ``widget_keys`` limits the
    widgets computed (scheduled pushes send a subset)."""
    assert meta.published is not None
    document = meta.published.definition
    zone = time_zone_of(actor.workspace)
    with timezone.override(zone):
        ctx = Context(
            actor=actor,
            app_key=meta.app.key,
            now=now or timezone.now(),
            zone=zone,
            forms=dashboard_forms(meta.app, document),
            labels=Labels(actor.workspace),
            use_facts=facts,
        )
        chosen = [
            (i, spec)
            for i, spec in enumerate(document["widgets"])
            if widget_keys is None or spec["key"] in widget_keys
        ]
        widgets = compute_widgets(ctx, chosen)
    return {
        "app": meta.app.key,
        "key": meta.key,
        "name": localize(document.get("name")) or meta.key,
        "description": localize(document.get("description")) or None,
        "version": meta.published.number,
        "widgets": widgets,
        "sources": ctx.sources,
    }


def compute_widgets(
    ctx: Context, chosen: list[tuple[int, Mapping[str, Any]]]
) -> list[dict[str, Any]]:
    """The widgets ``chosen`` (``(index, spec)``), in order. On PostgreSQL outside a
    transaction, up to :func:`widget_threads` widgets are computed at once, each extra
    thread on a connection of its own (closed at the end), so the database's cores
    share the aggregates; in a transaction (whose uncommitted rows another connection
    would not see) and on SQLite, one after the other."""
    threads = min(widget_threads(), len(chosen))
    if threads < 2 or connection.vendor != "postgresql" or connection.in_atomic_block:
        return [compute_widget(ctx, spec, i) for i, spec in chosen]
    results: list[dict[str, Any] | None] = [None] * len(chosen)
    failures: list[BaseException] = []
    pending = iter(list(enumerate(chosen)))
    lock = threading.Lock()
    language = translation.get_language()

    def work() -> None:
        # The viewer's zone and language are the calling thread's: set them here too.
        with timezone.override(ctx.zone), translation.override(language):
            while not failures:
                with lock:
                    item = next(pending, None)
                if item is None:
                    return
                position, (index, spec) = item
                try:
                    results[position] = compute_widget(ctx, spec, index)
                except Exception as exc:  # noqa: BLE001 - re-raised in the calling thread below
                    failures.append(exc)

    def helper() -> None:
        try:
            work()
        finally:
            connections.close_all()  # this thread's connections only

    extra = [threading.Thread(target=helper, daemon=True) for _ in range(threads - 1)]
    for thread in extra:
        thread.start()
    work()  # the calling thread works too, on its own connection
    for thread in extra:
        thread.join()
    if failures:
        raise failures[0]
    return [r for r in results if r is not None]


def widget_threads() -> int:
    """How many widgets of one dashboard are computed at once on PostgreSQL
    (``DAJIAN["DASHBOARD_THREADS"]``, default 2)."""
    return int(settings.DAJIAN.get("DASHBOARD_THREADS", DASHBOARD_THREADS))


def compute_widget(ctx: Context, spec: Mapping[str, Any], index: int) -> dict[str, Any]:
    """One widget: ``{key, type, title, format, color, data}``."""
    out: dict[str, Any] = {
        "key": spec["key"],
        "type": spec["type"],
        "title": localize(spec.get("title")) or spec["key"],
        "format": spec.get("format"),
        "color": None,
    }
    try:
        run = WidgetRun(ctx, spec, index)
        out["format"] = spec.get("format") or run.measures[0].format
        out["data"] = run.data()
        out["color"] = out["data"].get("color") if spec["type"] == "kpi" else None
    except DajianError as exc:
        first = exc.errors[0]
        out["data"] = {"error": {"code": first.code, "message": first.message, "path": first.path}}
    return out


class WidgetRun:
    """The computation of one widget: its source, dimensions and measures."""

    def __init__(self, ctx: Context, spec: Mapping[str, Any], index: int):
        self.ctx = ctx
        self.spec = spec
        self.path = f"widgets.{index}"
        form = ctx.forms.get(spec["form"])
        definition = definition_of(form) if form is not None else None
        if form is None or definition is None:
            raise not_found("Form")
        self.form = form
        self.workflow = form_workflow(form)
        self.source = self._source(form, definition)
        ctx.sources[spec["key"]] = "facts" if self.source.is_facts else "records"
        self.rows = self.source.rows.filter(
            self.source.filter(spec.get("filter"), f"{self.path}.filter")
        )
        self.pinned = pin_filter(definition, spec.get("filter"), now=ctx.now, zone=ctx.zone)
        self.dimensions = [self._dimension(g, definition) for g in spec.get("group_by", [])]
        self.measures: list[Measure] = [
            build_measure(m, j, f"{self.path}.measures.{j}", self.source)
            for j, m in enumerate(spec["measures"])
        ]

    def _source(self, form: Form, definition: FormDefinition) -> Source:
        ctx = self.ctx
        fields, system = widget_fields(self.spec, definition)
        hidden = policy_for(ctx.actor, form).hidden_fields & fields
        if hidden:
            raise DajianError.single(
                "FIELD_HIDDEN",
                f"This widget reads {', '.join(sorted(hidden))}, which you cannot see.",
                path=f"{self.path}.form",
            )
        columns = _promoted(ctx, form, fields, system) if ctx.use_facts else None
        if columns is not None:
            return fact_source(ctx.actor, form, definition, ctx.now, ctx.zone, columns)
        return record_source(ctx.actor, form, definition, ctx.now, ctx.zone)

    def _dimension(self, spec: Mapping[str, Any], definition: FormDefinition) -> Dimension:
        labels, key = self.ctx.labels, spec["field"]
        field_type = definition.field_types.get(key)
        if field_type is None:
            if key == "stage" and self.workflow is not None:
                return StageDimension(spec, labels, self.workflow)
            system: dict[str, type[Dimension]] = {
                "status": StatusDimension,
                "owner": OwnerDimension,
                "org_unit": OrgUnitDimension,
            }
            if key in system:
                return system[key](spec, labels)
            if "bucket" in spec:
                return BucketDimension(spec, labels, self.ctx.zone, "datetime")
            raise DajianError.single(
                "UNKNOWN_FIELD", f"No field {key!r}.", path=f"{self.path}.group_by"
            )
        if field_type.type == "relation":
            app_id, target = self.form.app_id, field_type.target  # type: ignore[attr-defined]
            return RelationDimension(
                spec, labels, self.ctx.actor, lambda: self.ctx.related_form(app_id, target)
            )
        if "bucket" in spec:
            kind = "date" if shapes.value_kind(field_type) == "date" else "datetime"
            return BucketDimension(spec, labels, self.ctx.zone, kind)
        if "bins" in spec:
            return BinsDimension(spec, labels)
        return ValueDimension(spec, labels, field_type)

    # --- the queries ------------------------------------------------------------------------
    def partials(self) -> dict[Key, dict[str, Any]]:
        """``{group key: {measure key: partial}}``: one grouped query (and one per
        stage-history measure)."""
        in_sql = [m for m in self.measures if not m.separate]
        aggregates: dict[str, Any] = {}
        for measure in in_sql:
            aggregates.update(measure.aggregates())
        found: dict[Key, dict[str, Any]] = {}
        if not self.dimensions:
            row = self.rows.aggregate(**aggregates) if aggregates else {}
            found[()] = {m.key: m.partial(row) for m in in_sql}
        elif aggregates:
            groups = {f"g{i}": d.expression(self.source) for i, d in enumerate(self.dimensions)}
            rows = list(self.rows.order_by().values(**groups).annotate(**aggregates))
            for i, dimension in enumerate(self.dimensions):
                dimension.remap(row[f"g{i}"] for row in rows)
            for row in rows:
                key = tuple(d.decode(row[f"g{i}"]) for i, d in enumerate(self.dimensions))
                parts = {m.key: m.partial(row) for m in in_sql}
                if key in found:  # owners of one unit: their groups add up
                    parts = {m.key: m.merge(found[key][m.key], parts[m.key]) for m in in_sql}
                found[key] = parts
        for measure in self.measures:
            if isinstance(measure, StageHoursMeasure) and self.workflow is not None:
                for stage, partial in measure.compute(self.rows, self.workflow).items():
                    found.setdefault((stage,), {})[measure.key] = partial
        return found

    def data(self) -> dict[str, Any]:
        found = self.partials()
        shape = shapes.Shape(self)
        if self.spec["type"] == "kpi":
            return shape.kpi(found.get((), {}))
        return shape.grouped(found)

    def link(self, filter: Mapping[str, Any]) -> dict[str, Any]:
        """A drill-down: what ``records(app, form, filter)`` takes."""
        return {"app": self.ctx.app_key, "form": self.form.key, "filter": dict(filter)}


def _promoted(
    ctx: Context, form: Form, fields: set[str], system: set[str]
) -> dict[str, str] | None:
    """The form's promoted columns when they hold everything the widget reads (and the
    database keeps facts), else None: the widget reads the records."""
    if not facts_available() or not system <= FACT_SYSTEM_FIELDS:
        return None
    columns = ctx.promoted(form)
    if not columns or not fields <= set(columns):
        return None
    return dict(columns)


__all__ = ["compute_dashboard", "dashboard_data", "published_dashboard", "published_dashboards"]
