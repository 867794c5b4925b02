"""``start_approval``: submit the record to an approval chain of its form.

The record is locked and submitted with
:func:`~dajian.runtime.approvals.submit.start_request`, exactly like
``submitForApproval``, but **as its owner** when the owner is an active member: the
owner becomes the request's submitter, so ``submitter`` approver specs (the submitter's
manager...), the self-approval rule, the submitter's right to withdraw and the
"submitted by me" list all work as if the owner had pressed the button. The approval
history and its audit event therefore name the owner; a second audit event
(``automation.approval_started``, by the system) records that an automation did it.
A record without an active owner is submitted by the system (no submitter).

A record already in approval (``APPROVAL_PENDING``), a frozen one (``RECORD_FROZEN``)
or a chain whose steps find nobody (``NO_APPROVER``) fails for good: retrying the same
submission would be refused the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.contrib.auth import get_user_model

from dajian.builder.errors import MetadataErrorCode
from dajian.builder.metadata.checks_workflow import error
from dajian.platform.actors import Actor, actor_for
from dajian.platform.audit import record_event
from dajian.platform.errors import ErrorDetail
from dajian.runtime.approvals.flow import lock_record
from dajian.runtime.approvals.submit import start_request
from dajian.runtime.automations.actions import action
from dajian.runtime.automations.actions.base import ActionType, CheckContext
from dajian.runtime.automations.context import Outcome, RunContext, Target
from dajian.runtime.models import Record, RecordStatus


@action
class StartApprovalAction(ActionType):
    """Spec: ``chain`` (the key of a published approval chain of the record's form)."""

    type = "start_approval"
    label = {"zh-CN": "发起审批", "en": "Submit for approval"}
    schema = {
        "type": "object",
        "required": ["type", "chain"],
        "additionalProperties": False,
        "properties": {
            "type": {"const": "start_approval"},
            "chain": {"type": "string", "pattern": "^[a-z][a-z0-9_]{0,62}$"},
        },
    }

    def check(self, spec: Mapping[str, Any], path: str, ctx: CheckContext) -> list[ErrorDetail]:
        key, where = spec["chain"], f"{path}.chain"
        form_key = ctx.chains.get(key)
        if form_key is None:
            return [error(MetadataErrorCode.UNKNOWN_CHAIN, where, key=key)]
        if form_key != ctx.form_key:
            return [
                error(
                    MetadataErrorCode.CHAIN_FORM_MISMATCH,
                    where,
                    key=key,
                    found=form_key,
                    expected=ctx.form_key,
                )
            ]
        return []

    def run_one(self, ctx: RunContext, target: Target) -> Outcome:
        record = lock_record(ctx.automation.workspace_id, target.record.pk)
        if record.status == RecordStatus.IN_APPROVAL:
            return Outcome.failed("the record is already in approval", retry=False)
        submitter = _submitter(ctx, record)
        request = start_request(submitter, record, ctx.spec["chain"])
        record_event(
            ctx.actor,
            "automation.approval_started",
            "ApprovalRequest",
            str(request.pk),
            {
                "automation": [None, ctx.automation.source],
                "submitted_as": [None, submitter.user_id],
            },
        )
        return Outcome.done(
            request=request.pk, submitter=submitter.user_id, status=str(request.status)
        )


def _submitter(ctx: RunContext, record: Record) -> Actor:
    """The owner's actor when the owner is an active member, else the system actor."""
    if record.owner_id is None:
        return ctx.actor
    owner = get_user_model().objects.filter(pk=record.owner_id, is_active=True).first()
    found = actor_for(owner, ctx.actor.workspace) if owner is not None else None
    return found if found is not None else ctx.actor
