"""GraphQL types of records."""

from __future__ import annotations

from typing import Any

import graphene
from graphene.types.generic import GenericScalar
from graphql_relay import to_global_id

from dajian.platform.models import AuditEvent
from dajian.runtime.graphql.approvals import RecordApprovalFields
from dajian.runtime.graphql.paging import PageInfo, page_info
from dajian.runtime.graphql.stages import RecordStageFields
from dajian.runtime.selectors import RecordView


class UserRef(graphene.ObjectType):
    class Meta:
        name = "UserRef"

    id = graphene.ID(required=True)
    username = graphene.String(required=True)
    display_name = graphene.String(required=True)

    def resolve_id(user: Any, info: Any) -> str:
        return to_global_id("User", user.pk)

    def resolve_username(user: Any, info: Any) -> str:
        return user.get_username()

    def resolve_display_name(user: Any, info: Any) -> str:
        return user.get_full_name() or user.get_username()


class HistoryEntry(graphene.ObjectType):
    at = graphene.DateTime(required=True)
    action = graphene.String(required=True)
    actor = graphene.String(required=True)
    diff = GenericScalar(description="{field: [old, new]} for fields the caller may see.")


class RecordType(RecordStageFields, RecordApprovalFields, graphene.ObjectType):
    """A record as the caller may see it (hidden fields are absent from ``data``)."""

    class Meta:
        name = "Record"

    id = graphene.ID(required=True)
    app = graphene.String(required=True)
    form = graphene.String(required=True)
    form_version = graphene.Int(required=True)
    data = GenericScalar(required=True)
    stage = graphene.String()
    status = graphene.String(required=True)
    owner = graphene.Field(UserRef)
    created_by = graphene.Field(UserRef)
    created_at = graphene.DateTime(required=True)
    updated_at = graphene.DateTime(required=True)
    version = graphene.Int(required=True)
    flags = graphene.List(graphene.NonNull(graphene.String), required=True)
    history = graphene.List(graphene.NonNull(HistoryEntry), required=True)

    def resolve_id(view: RecordView, info: Any) -> str:
        return to_global_id("Record", view.record.pk)

    def resolve_app(view: RecordView, info: Any) -> str:
        return view.record.form.app.key

    def resolve_form(view: RecordView, info: Any) -> str:
        return view.record.form.key

    def resolve_form_version(view: RecordView, info: Any) -> int:
        record, form = view.record, view.record.form
        if form.published is not None and record.form_version_id == form.published_id:
            return form.published.number  # no query: the form came with its version
        return record.form_version.number

    def resolve_data(view: RecordView, info: Any) -> dict[str, Any]:
        return view.data

    def resolve_stage(view: RecordView, info: Any) -> str | None:
        return view.record.stage

    def resolve_status(view: RecordView, info: Any) -> str:
        return view.record.status

    def resolve_owner(view: RecordView, info: Any) -> Any:
        return view.record.owner

    def resolve_created_by(view: RecordView, info: Any) -> Any:
        return view.record.created_by

    def resolve_created_at(view: RecordView, info: Any) -> Any:
        return view.record.created_at

    def resolve_updated_at(view: RecordView, info: Any) -> Any:
        return view.record.updated_at

    def resolve_version(view: RecordView, info: Any) -> int:
        return view.record.version

    def resolve_flags(view: RecordView, info: Any) -> list[str]:
        return list(view.record.flags)

    def resolve_history(view: RecordView, info: Any) -> list[HistoryEntry]:
        events = _history_for_page(info, view)
        hidden = view.policy.hidden_fields
        return [
            HistoryEntry(
                at=e.at,
                action=e.action,
                actor=e.actor_label,
                diff={k: v for k, v in (e.diff or {}).items() if k not in hidden},
            )
            for e in events.get(str(view.record.pk), [])
        ]


def _history_for_page(info: Any, view: RecordView) -> dict[str, list[AuditEvent]]:
    """Audit events of every record of the current page, loaded in one query."""
    cache = info.context.__dict__.setdefault("_record_history", {})
    key = str(view.record.pk)
    if key not in cache:
        ids = [str(i) for i in getattr(view.record, "page_ids", [view.record.pk])]
        for record_id in ids:
            cache[record_id] = []
        for event in AuditEvent.objects.filter(
            workspace_id=view.record.workspace_id, object_type="Record", object_id__in=ids
        ).order_by("seq"):
            cache[event.object_id].append(event)
    return cache


class RecordEdge(graphene.ObjectType):
    cursor = graphene.String(required=True)
    node = graphene.Field(RecordType, required=True)


class RecordConnection(graphene.ObjectType):
    edges = graphene.List(graphene.NonNull(RecordEdge), required=True)
    page_info = graphene.Field(PageInfo, required=True)
    total_count = graphene.Int(
        required=True, description="Matching records (costs a COUNT; ask only when shown)."
    )

    def resolve_edges(page: Any, info: Any) -> list[RecordEdge]:
        return [RecordEdge(cursor=c, node=v) for c, v in zip(page.cursors, page.items, strict=True)]

    def resolve_page_info(page: Any, info: Any) -> PageInfo:
        return page_info(page)

    def resolve_total_count(page: Any, info: Any) -> int:
        return int(page.queryset.count())
