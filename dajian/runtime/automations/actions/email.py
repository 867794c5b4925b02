"""Action ``email``: send an e-mail about the record (through ``EMAIL_URL``).

Spec: ``to``, recipient specs (the e-mail addresses of the members they name), and/or
``addresses``, literal e-mail addresses; ``subject`` and ``body`` templates; ``locale``
(which text of a ``{locale: text}`` template to send, default ``zh-CN``). One e-mail per
record, to every address at once; a record whose recipients have no address fails
without retrying.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from dajian.builder.errors import MetadataErrorCode
from dajian.builder.metadata.checks_workflow import error
from dajian.platform.errors import ErrorDetail
from dajian.platform.recipients import RecipientContext, check_recipient_spec, resolve_recipients
from dajian.runtime.automations.actions import action
from dajian.runtime.automations.actions.base import ActionType, CheckContext
from dajian.runtime.automations.actions.im_robot import LOCALE_SCHEMA, TEMPLATE_SCHEMA
from dajian.runtime.automations.context import Outcome, RunContext, Target
from dajian.runtime.automations.templates import check_template, pick, render
from dajian.runtime.deliveries import enqueue_delivery
from dajian.runtime.deliveries.errors import DeliveryErrorCode, delivery_error
from dajian.runtime.models import DeliveryChannel

MAX_SUBJECT_CHARS = 200


def _valid_address(address: str) -> bool:
    try:
        validate_email(address)
    except ValidationError:
        return False
    return True


@action
class EmailAction(ActionType):
    type = "email"
    label = {"zh-CN": "发送邮件", "en": "Send an e-mail"}
    schema = {
        "type": "object",
        "properties": {
            "type": {"const": "email"},
            "to": {"type": "array", "items": {"type": "object"}, "maxItems": 20},
            "addresses": {
                "type": "array",
                "items": {"type": "string", "maxLength": 254},
                "maxItems": 100,
            },
            "subject": TEMPLATE_SCHEMA,
            "body": TEMPLATE_SCHEMA,
            "locale": LOCALE_SCHEMA,
        },
        "required": ["type", "subject", "body"],
        "additionalProperties": False,
    }

    def check(self, spec: Mapping[str, Any], path: str, ctx: CheckContext) -> list[ErrorDetail]:
        errors: list[ErrorDetail] = []
        specs, addresses = spec.get("to", []), spec.get("addresses", [])
        if not specs and not addresses:
            errors.append(delivery_error(DeliveryErrorCode.NO_RECIPIENTS, f"{path}.to"))
        for i, recipient in enumerate(specs):
            where = f"{path}.to.{i}"
            errors.extend(check_recipient_spec(recipient, where, ctx.user_fields, ctx.role_keys))
            if recipient.get("type") == "user":
                for j, username in enumerate(recipient.get("users", ())):
                    if username not in ctx.member_usernames:
                        errors.append(
                            error(
                                MetadataErrorCode.UNKNOWN_USER, f"{where}.users.{j}", key=username
                            )
                        )
        for i, address in enumerate(addresses):
            if not _valid_address(address):
                errors.append(
                    delivery_error(
                        DeliveryErrorCode.INVALID_EMAIL, f"{path}.addresses.{i}", address=address
                    )
                )
        errors.extend(check_template(spec["subject"], f"{path}.subject", ctx.names))
        errors.extend(check_template(spec["body"], f"{path}.body", ctx.names))
        return errors

    def run_one(self, ctx: RunContext, target: Target) -> Outcome:
        spec, record = ctx.spec, target.record
        recipients = RecipientContext(
            workspace=ctx.actor.workspace, owner_id=record.owner_id, data=record.data
        )
        user_ids = resolve_recipients(spec.get("to", []), recipients)
        found = get_user_model().objects.filter(pk__in=user_ids).exclude(email="")
        emails = dict(found.values_list("pk", "email"))
        to = _unique([emails[pk] for pk in user_ids if pk in emails] + spec.get("addresses", []))
        if not to:
            return Outcome.failed("no recipient has an e-mail address", retry=False)
        locale = spec.get("locale", "zh-CN")
        variables = target.template_vars
        subject = " ".join(pick(render(spec["subject"], variables), locale).split())
        payload = {
            "to": to,
            "subject": subject[:MAX_SUBJECT_CHARS],
            "body": pick(render(spec["body"], variables), locale),
        }
        delivery = enqueue_delivery(
            ctx.automation.workspace_id, DeliveryChannel.EMAIL, ", ".join(to), payload
        )
        return Outcome.done(delivery=delivery.message_id, recipients=len(to))


def _unique(addresses: list[str]) -> list[str]:
    seen: dict[str, str] = {}
    for address in addresses:
        seen.setdefault(address.strip().lower(), address.strip())
    return list(seen.values())
