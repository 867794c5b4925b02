"""GraphQL of in-app notifications: ``myNotifications``, ``unreadNotificationCount``
and ``markNotificationsRead``. Resolvers are thin; reads are in
:mod:`dajian.runtime.notifications_selectors`."""

from __future__ import annotations

from typing import Any

import graphene
from graphene.types.generic import GenericScalar
from graphql_relay import to_global_id

from dajian.platform.actors import Actor
from dajian.platform.errors import DajianError
from dajian.platform.graphql.base import DajianMutation, Error, current_actor, graphql_error
from dajian.platform.i18n import localize
from dajian.runtime.graphql.approvals import TaskRecord, parse_id
from dajian.runtime.graphql.paging import PageInfo, page_info
from dajian.runtime.notifications import mark_read
from dajian.runtime.notifications_selectors import (
    NotificationItem,
    my_notifications,
    unread_notification_count,
)


class NotificationNode(graphene.ObjectType):
    """A message for the caller: an approval CC, a reminder, a stage warning…"""

    class Meta:
        name = "Notification"

    id = graphene.ID(required=True)
    kind = graphene.String(required=True, description="approval.cc, stage.overdue, …")
    message = graphene.String(required=True, description="In the caller's language.")
    messages = GenericScalar(required=True, description="{locale: text}.")
    record = graphene.Field(TaskRecord)
    created_at = graphene.DateTime(required=True)
    read_at = graphene.DateTime()

    def resolve_id(item: NotificationItem, info: Any) -> str:
        return to_global_id("Notification", item.notification.pk)

    def resolve_kind(item: NotificationItem, info: Any) -> str:
        return item.notification.kind

    def resolve_message(item: NotificationItem, info: Any) -> str:
        return localize(item.notification.message)

    def resolve_messages(item: NotificationItem, info: Any) -> Any:
        return item.notification.message

    def resolve_record(item: NotificationItem, info: Any) -> Any:
        return item.record

    def resolve_created_at(item: NotificationItem, info: Any) -> Any:
        return item.notification.created_at

    def resolve_read_at(item: NotificationItem, info: Any) -> Any:
        return item.notification.read_at


class NotificationEdge(graphene.ObjectType):
    cursor = graphene.String(required=True)
    node = graphene.Field(NotificationNode, required=True)


class NotificationConnection(graphene.ObjectType):
    edges = graphene.List(graphene.NonNull(NotificationEdge), required=True)
    page_info = graphene.Field(PageInfo, required=True)

    def resolve_edges(page: Any, info: Any) -> list[NotificationEdge]:
        return [
            NotificationEdge(cursor=c, node=i)
            for c, i in zip(page.cursors, page.items, strict=True)
        ]

    def resolve_page_info(page: Any, info: Any) -> PageInfo:
        return page_info(page)


class NotificationQuery(graphene.ObjectType):
    my_notifications = graphene.Field(
        NotificationConnection,
        unread_only=graphene.Boolean(description="Only notifications not yet read."),
        first=graphene.Int(description="Page size, at most 100 (default 20)."),
        after=graphene.String(),
        description="The caller's notifications, newest first.",
    )
    unread_notification_count = graphene.Int(
        required=True, description="How many of the caller's notifications are unread."
    )

    def resolve_my_notifications(
        root: Any, info: Any, unread_only: bool | None = None, **kwargs: Any
    ) -> Any:
        actor = current_actor(info)
        try:
            return my_notifications(actor, unread_only=bool(unread_only), **kwargs)
        except DajianError as exc:
            raise graphql_error(exc) from None

    def resolve_unread_notification_count(root: Any, info: Any) -> int:
        return unread_notification_count(current_actor(info))


class MarkNotificationsReadInput(graphene.InputObjectType):
    ids = graphene.List(graphene.NonNull(graphene.ID), description="At most 100.")
    all = graphene.Boolean(description="Every unread notification of the caller.")


class MarkNotificationsRead(DajianMutation):
    count = graphene.Int(description="How many notifications were marked read now.")
    unread_count = graphene.Int(description="How many remain unread.")

    class Arguments:
        input = MarkNotificationsReadInput(required=True)

    class Meta:
        description = (
            "Mark the caller's notifications read: the listed ids or all. Ids of others' "
            "notifications are skipped (not counted). Refusals: INVALID_INPUT (neither or "
            "both), LIMIT_EXCEEDED, NOT_FOUND (ids.N: not a notification id)."
        )
        permission = "the notifications' recipient"
        error_type = Error

    @classmethod
    def perform(cls, root: Any, info: Any, actor: Actor, input: Any) -> MarkNotificationsRead:
        raw = input.get("ids")
        ids = (
            None
            if raw is None
            else [parse_id(n, "Notification", f"ids.{i}") for i, n in enumerate(raw)]
        )
        count = mark_read(actor, ids, everything=bool(input.get("all")))
        return cls(count=count, unread_count=unread_notification_count(actor), errors=[])


class NotificationMutation(graphene.ObjectType):
    mark_notifications_read = MarkNotificationsRead.Field()
