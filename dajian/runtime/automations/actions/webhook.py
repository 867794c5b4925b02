"""Action ``webhook``: POST the record as signed JSON to a URL (docs/deliveries.md).

Spec: ``url``; ``event``, the body's ``type`` (default ``automation.<key>``);
``fields``, the field keys to include (default every field). One delivery per record,
with the body::

    {"type": event, "timestamp": "<run time, ISO 8601>",
     "data": {"record": {"id", "form", "app", "stage", "status", "owner", "data"},
              "automation": "<automation key>"}}
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from django.contrib.auth import get_user_model
from graphql_relay import to_global_id

from dajian.builder.definitions import FormDefinition
from dajian.builder.errors import MetadataErrorCode
from dajian.builder.metadata.checks_workflow import error
from dajian.platform.errors import ErrorDetail
from dajian.runtime.automations.actions import action
from dajian.runtime.automations.actions.base import ActionType, CheckContext
from dajian.runtime.automations.context import Outcome, RunContext, Target
from dajian.runtime.deliveries import enqueue_delivery
from dajian.runtime.deliveries.ssrf import url_errors
from dajian.runtime.models import DeliveryChannel, Record
from dajian.runtime.selectors import ROLLUP_PREFIX

URL_SCHEMA = {"type": "string", "minLength": 1, "maxLength": 2000}


def record_data(
    record: Record, definition: FormDefinition, keys: Iterable[str] | None = None
) -> dict[str, Any]:
    """The record's values in API form (rollups included), only ``keys`` if given."""
    wanted = None if keys is None else set(keys)
    out: dict[str, Any] = {}
    for key, field_type in definition.field_types.items():
        if wanted is not None and key not in wanted:
            continue
        if field_type.stored:
            value = record.data.get(key)
        else:
            value = getattr(record, ROLLUP_PREFIX + key, None)
        if value is not None:
            out[key] = field_type.to_api(value)
    return out


def owner_refs(owner_ids: Iterable[int | None]) -> dict[int, dict[str, str]]:
    """Owner id → ``{"id": global id, "username"}``, in one query."""
    ids = {pk for pk in owner_ids if pk is not None}
    rows = get_user_model().objects.filter(pk__in=ids).values_list("pk", "username")
    return {pk: {"id": to_global_id("User", pk), "username": name} for pk, name in rows}


@action
class WebhookAction(ActionType):
    type = "webhook"
    label = {"zh-CN": "调用 Webhook", "en": "Call a webhook"}
    schema = {
        "type": "object",
        "properties": {
            "type": {"const": "webhook"},
            "url": URL_SCHEMA,
            "event": {"type": "string", "pattern": "^[A-Za-z0-9_.:-]{1,64}$"},
            "fields": {
                "type": "array",
                "items": {"type": "string"},
                "maxItems": 500,
                "uniqueItems": True,
            },
        },
        "required": ["type", "url"],
        "additionalProperties": False,
    }

    def check(self, spec: Mapping[str, Any], path: str, ctx: CheckContext) -> list[ErrorDetail]:
        errors = url_errors(spec["url"], f"{path}.url", ctx.webhook_allowlist)
        for i, key in enumerate(spec.get("fields", ())):
            if key not in ctx.fields:
                errors.append(error(MetadataErrorCode.UNKNOWN_FIELD, f"{path}.fields.{i}", key=key))
        return errors

    def run(self, ctx: RunContext, targets: Sequence[Target]) -> list[Outcome]:
        # The owners of the whole batch in one query, for run_one.
        ctx.extra["owners"] = owner_refs(t.record.owner_id for t in targets)
        return super().run(ctx, targets)

    def run_one(self, ctx: RunContext, target: Target) -> Outcome:
        spec, record, automation = ctx.spec, target.record, ctx.automation
        owners = ctx.extra.get("owners")
        if owners is None:
            owners = owner_refs([record.owner_id])
        body = {
            "type": spec.get("event") or f"automation.{automation.key}",
            "timestamp": ctx.now.isoformat(),
            "data": {
                "record": {
                    "id": to_global_id("Record", record.pk),
                    "form": automation.form.key,
                    "app": automation.app_key,
                    "stage": record.stage,
                    "status": record.status,
                    "owner": owners.get(record.owner_id) if record.owner_id else None,
                    "data": record_data(record, ctx.form_definition, spec.get("fields")),
                },
                "automation": automation.key,
            },
        }
        delivery = enqueue_delivery(
            automation.workspace_id, DeliveryChannel.WEBHOOK, spec["url"], body
        )
        return Outcome.done(delivery=delivery.message_id)
