"""``create_record``: create a record of another form of the app from the trigger's record.

``values`` maps the new record's field keys to CEL expressions on the source record's
variables (``{"customer": "record.id", "note": "'Follow up ' + name"}``). The record is
created through :func:`~dajian.runtime.services.records.create_record` as the system
actor (validated like any write) with an idempotency key derived from the automation,
the run's trigger key, the source record and the action's index, so an action that runs
again for the same firing finds the record it created instead of creating another.

Owner: the source record's owner, named to the record service (which lets the system
actor create on someone's behalf). When the source has no owner, or its owner is no
longer an active member, the new record goes to the public pool.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from dajian.builder.fields.base import FieldType
from dajian.platform.errors import ErrorDetail
from dajian.platform.i18n import format_message
from dajian.runtime.automations.actions import action
from dajian.runtime.automations.actions.base import ActionType, CheckContext
from dajian.runtime.automations.actions.set_fields import (
    VALUES_SCHEMA,
    ValuesError,
    check_values,
    evaluate_values,
)
from dajian.runtime.automations.context import Outcome, RunContext, Target
from dajian.runtime.services.records import create_record

MESSAGES = {
    "UNKNOWN_FORM": {
        "en": "The app has no published form {key!r}.",
        "zh-CN": "应用中没有已发布的表单 {key}。",
    }
}


def unknown_form(path: str, key: str) -> ErrorDetail:
    """``UNKNOWN_FORM``: no form ``key`` in the app, or one never published."""
    return ErrorDetail.at(path, "UNKNOWN_FORM", format_message(MESSAGES, "UNKNOWN_FORM", key=key))


def idempotency_key(ctx: RunContext, target: Target) -> str:
    """The same for every attempt of this action on this record in this firing."""
    raw = f"{ctx.automation.metadata_id}:{ctx.run.trigger_key}:{target.record.pk}:{ctx.index}"
    return "automation:" + hashlib.sha256(raw.encode()).hexdigest()


@action
class CreateRecordAction(ActionType):
    """Spec: ``form`` (a form key of the app), ``values`` (``{field key: CEL}``)."""

    type = "create_record"
    label = {"zh-CN": "新建记录", "en": "Create a record"}
    schema = {
        "type": "object",
        "required": ["type", "form", "values"],
        "additionalProperties": False,
        "properties": {
            "type": {"const": "create_record"},
            "form": {"type": "string", "pattern": "^[a-z][a-z0-9_]{0,62}$"},
            "values": VALUES_SCHEMA,
        },
    }

    def check(self, spec: Mapping[str, Any], path: str, ctx: CheckContext) -> list[ErrorDetail]:
        fields = ctx.forms.get(spec["form"])
        if fields is None:
            return [unknown_form(f"{path}.form", spec["form"])]
        return check_values(spec["values"], f"{path}.values", fields, ctx.names)

    def run_one(self, ctx: RunContext, target: Target) -> Outcome:
        form_key = ctx.spec["form"]
        fields = _fields_of(ctx, form_key)
        try:
            data = evaluate_values(ctx.spec["values"], target.activation, fields)
        except ValuesError as exc:
            return Outcome.failed(str(exc), retry=False)
        owner = target.record.owner_id
        if owner is not None and not _active(ctx, owner):
            owner = None
        result = create_record(
            ctx.actor,
            ctx.automation.app_key,
            form_key,
            data,
            idempotency_key=idempotency_key(ctx, target),
            owner_id=owner,
        )
        return Outcome.done(
            record=result.record.pk, created=result.created, owner=result.record.owner_id
        )


def _active(ctx: RunContext, user_id: int) -> bool:
    """Whether ``user_id`` is an active member (asked once per person per batch)."""
    from dajian.platform.models import Membership

    cache = ctx.extra.setdefault("create_record.active", {})
    if user_id not in cache:
        cache[user_id] = Membership.objects.filter(
            workspace=ctx.actor.workspace, user_id=user_id, is_active=True, user__is_active=True
        ).exists()
    return bool(cache[user_id])


def _fields_of(ctx: RunContext, form_key: str) -> Mapping[str, FieldType]:
    """The target form's published field types, loaded once per batch (empty when the
    form is gone: the record service then refuses the write)."""
    from dajian.builder.models import Form
    from dajian.runtime.policies import definition_of

    cache = ctx.extra.setdefault("create_record.fields", {})
    if form_key not in cache:
        form = (
            Form.objects.select_related("published")
            .filter(app_id=ctx.automation.app_id, key=form_key)
            .first()
        )
        definition = definition_of(form) if form is not None else None
        cache[form_key] = definition.field_types if definition is not None else {}
    return cache[form_key]  # type: ignore[no-any-return]
