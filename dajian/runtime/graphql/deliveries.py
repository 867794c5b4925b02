"""GraphQL of outbound deliveries, for workspace admins: ``webhookSettings``,
``deliveries``, ``saveWebhookSettings`` and ``rotateWebhookSecret``. The work is in
:mod:`dajian.runtime.deliveries.admin`."""

from __future__ import annotations

from typing import Any

import graphene
from graphene.types.generic import GenericScalar
from graphql_relay import to_global_id

from dajian.platform.actors import Actor
from dajian.platform.errors import DajianError
from dajian.platform.graphql.base import DajianMutation, Error, current_actor, graphql_error
from dajian.runtime.deliveries import admin
from dajian.runtime.graphql.paging import PageInfo, page_info
from dajian.runtime.models import Delivery, DeliveryChannel, DeliveryStatus, WebhookSettings

DeliveryStatusEnum = graphene.Enum("DeliveryStatus", [(s.name, s.value) for s in DeliveryStatus])
DeliveryChannelEnum = graphene.Enum("DeliveryChannel", [(c.name, c.value) for c in DeliveryChannel])


class WebhookSettingsType(graphene.ObjectType):
    class Meta:
        name = "WebhookSettings"

    allowlist = graphene.List(
        graphene.NonNull(graphene.String),
        required=True,
        description="Host names, IP addresses and CIDR networks that webhooks and IM "
        "robots may reach although they are loopback or private.",
    )
    secret_hint = graphene.String(
        required=True, description="The first characters of the signing secret."
    )

    def resolve_allowlist(row: WebhookSettings, info: Any) -> list[str]:
        return list(row.allowlist)

    def resolve_secret_hint(row: WebhookSettings, info: Any) -> str:
        return admin.secret_hint(row.secret)


class DeliveryNode(graphene.ObjectType):
    """A message sent (or being sent) to the outside world."""

    class Meta:
        name = "Delivery"

    id = graphene.ID(required=True)
    message_id = graphene.String(
        required=True, description="The webhook-id header: the same on every attempt."
    )
    channel = graphene.Field(DeliveryChannelEnum, required=True)
    target = graphene.String(required=True, description="The URL, or the e-mail addresses.")
    payload = GenericScalar(required=True, description="What is sent (robot secrets omitted).")
    status = graphene.Field(DeliveryStatusEnum, required=True)
    attempts = graphene.Int(required=True)
    max_attempts = graphene.Int(required=True)
    next_attempt_at = graphene.DateTime(description="When a pending delivery is tried next.")
    last_status_code = graphene.Int()
    last_error = graphene.String(required=True)
    automation = graphene.String(description="The key of the automation that asked for it.")
    created_at = graphene.DateTime(required=True)
    delivered_at = graphene.DateTime()

    def resolve_id(row: Delivery, info: Any) -> str:
        return to_global_id("Delivery", row.pk)

    def resolve_payload(row: Delivery, info: Any) -> Any:
        return {k: v for k, v in row.payload.items() if k != "secret"}

    def resolve_next_attempt_at(row: Delivery, info: Any) -> Any:
        return row.next_attempt_at if row.status == DeliveryStatus.PENDING else None

    def resolve_automation(row: Delivery, info: Any) -> str | None:
        return row.execution.automation.key if row.execution else None


class DeliveryEdge(graphene.ObjectType):
    cursor = graphene.String(required=True)
    node = graphene.Field(DeliveryNode, required=True)


class DeliveryConnection(graphene.ObjectType):
    edges = graphene.List(graphene.NonNull(DeliveryEdge), required=True)
    page_info = graphene.Field(PageInfo, required=True)

    def resolve_edges(page: Any, info: Any) -> list[DeliveryEdge]:
        return [
            DeliveryEdge(cursor=c, node=i) for c, i in zip(page.cursors, page.items, strict=True)
        ]

    def resolve_page_info(page: Any, info: Any) -> PageInfo:
        return page_info(page)


class DeliveryQuery(graphene.ObjectType):
    webhook_settings = graphene.Field(
        WebhookSettingsType,
        required=True,
        description="The workspace's webhook allow-list and secret hint (admins only).",
    )
    deliveries = graphene.Field(
        DeliveryConnection,
        status=graphene.Argument(DeliveryStatusEnum),
        first=graphene.Int(description="Page size, at most 100 (default 20)."),
        after=graphene.String(),
        description="The workspace's deliveries, newest first (admins only).",
    )

    def resolve_webhook_settings(root: Any, info: Any) -> Any:
        try:
            return admin.get_webhook_settings(current_actor(info))
        except DajianError as exc:
            raise graphql_error(exc) from None

    def resolve_deliveries(root: Any, info: Any, status: Any = None, **kwargs: Any) -> Any:
        actor = current_actor(info)
        try:
            return admin.list_deliveries(actor, getattr(status, "value", status), **kwargs)
        except DajianError as exc:
            raise graphql_error(exc) from None


class SaveWebhookSettingsInput(graphene.InputObjectType):
    allowlist = graphene.List(
        graphene.NonNull(graphene.String),
        required=True,
        description="Host names, IP addresses or CIDR networks (replaces the list).",
    )


class SaveWebhookSettings(DajianMutation):
    webhook_settings = graphene.Field(WebhookSettingsType)

    class Arguments:
        input = SaveWebhookSettingsInput(required=True)

    class Meta:
        description = (
            "Replace the webhook allow-list. Refusals: PERMISSION_DENIED, LIMIT_EXCEEDED, "
            "INVALID_ALLOWLIST_ENTRY (allowlist.N)."
        )
        permission = "workspace admin"
        error_type = Error

    @classmethod
    def perform(cls, root: Any, info: Any, actor: Actor, input: Any) -> SaveWebhookSettings:
        return cls(webhook_settings=admin.save_allowlist(actor, input.allowlist), errors=[])


class RotateWebhookSecret(DajianMutation):
    secret = graphene.String(description="The new signing secret; shown only this once.")
    webhook_settings = graphene.Field(WebhookSettingsType)

    class Meta:
        description = (
            "Replace the webhook signing secret; every attempt from now on is signed "
            "with the new one. Refusals: PERMISSION_DENIED."
        )
        permission = "workspace admin"
        error_type = Error

    @classmethod
    def perform(cls, root: Any, info: Any, actor: Actor) -> RotateWebhookSecret:  # type: ignore[override]
        secret = admin.rotate_webhook_secret(actor)
        return cls(secret=secret, webhook_settings=admin.get_webhook_settings(actor), errors=[])


class DeliveryMutation(graphene.ObjectType):
    save_webhook_settings = SaveWebhookSettings.Field()
    rotate_webhook_secret = RotateWebhookSecret.Field()
