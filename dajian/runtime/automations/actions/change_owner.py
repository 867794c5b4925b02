"""``change_owner``: give each record to the person a recipient spec names (R18, R24).

``{"type": "change_owner", "to": {"type": "manager"}}`` hands a record to its owner's
manager; ``to`` is one recipient spec (``user``, ``role``, ``owner``, ``manager``,
``manager_chain``, ``department_head``, ``field``), resolved per record, and the first
active member it names becomes the owner. The write is
:func:`~dajian.runtime.ownership.pool.reassign_record` (as the API's ``reassignRecord``):
version bump, audit event, ``record.owner_changed`` outbox event.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dajian.builder.metadata.checks_workflow import FormContext, check_recipients
from dajian.platform.errors import ErrorDetail
from dajian.platform.recipients import RecipientContext, resolve_recipients
from dajian.runtime.automations.actions import action
from dajian.runtime.automations.actions.base import ActionType, CheckContext
from dajian.runtime.automations.context import Outcome, RunContext, Target
from dajian.runtime.ownership.errors import OwnershipErrorCode, ownership_message
from dajian.runtime.ownership.pool import reassign_record


def _names_submitter(spec: Mapping[str, Any]) -> bool:
    return spec.get("type") == "submitter" or spec.get("of") == "submitter"


@action
class ChangeOwner(ActionType):
    type = "change_owner"
    label = {"zh-CN": "更换负责人", "en": "Change owner"}
    schema = {
        "type": "object",
        "required": ["type", "to"],
        "additionalProperties": False,
        "properties": {
            "type": {"const": "change_owner"},
            "to": {
                "type": "object",
                "required": ["type"],
                "description": "One recipient spec; its first active member is the new owner.",
            },
        },
    }

    def check(self, spec: Mapping[str, Any], path: str, ctx: CheckContext) -> list[ErrorDetail]:
        to = spec["to"]
        if _names_submitter(to):
            code = OwnershipErrorCode.NO_SUBMITTER
            return [ErrorDetail.at(f"{path}.to", code, ownership_message(code))]
        form = FormContext(
            form_key=ctx.form_key,
            fields=ctx.fields,
            role_keys=ctx.role_keys,
            member_usernames=ctx.member_usernames,
        )
        return check_recipients([(f"{path}.to", to)], form)

    def run_one(self, ctx: RunContext, target: Target) -> Outcome:
        record = target.record
        found = resolve_recipients(
            [ctx.spec["to"]],
            RecipientContext(
                workspace=ctx.actor.workspace, owner_id=record.owner_id, data=record.data
            ),
        )
        if not found:
            return Outcome.failed("the recipient spec names no active member here", retry=False)
        change = reassign_record(ctx.actor, record.pk, found[0])
        return Outcome.done(
            owner=found[0], previous_owner=change.previous_owner_id, changed=change.changed
        )
