"""Approval mutations: ``submitForApproval``, ``withdrawApproval``, ``unfreezeRecord``
(``decideTask`` and ``bulkDecideTasks`` live with the inbox)."""

from __future__ import annotations

from typing import Any

import graphene

from dajian.platform.actors import Actor
from dajian.platform.errors import DajianError
from dajian.platform.graphql.base import DajianMutation, Error
from dajian.runtime import selectors as record_selectors
from dajian.runtime.approvals.services import (
    submit_for_approval,
    unfreeze_record,
    withdraw_approval,
)
from dajian.runtime.graphql.approvals import ApprovalRequestType, loader, parse_id


def _record_type() -> Any:
    from dajian.runtime.graphql.types import RecordType  # types.py imports this module

    return RecordType


class SubmitForApprovalInput(graphene.InputObjectType):
    id = graphene.ID(required=True, description="The record.")
    chain = graphene.String(required=True, description="The key of a published chain.")


class SubmitForApproval(DajianMutation):
    request = graphene.Field(ApprovalRequestType)
    record = graphene.Field(_record_type)

    class Arguments:
        input = SubmitForApprovalInput(required=True)

    class Meta:
        description = (
            "Submit a record to an approval chain of its form. Refusals: UNKNOWN_CHAIN, "
            "APPROVAL_PENDING, RECORD_FROZEN, NO_APPROVER (path steps.N)."
        )
        permission = "update on the record (row scope)"
        error_type = Error

    @classmethod
    def perform(cls, root: Any, info: Any, actor: Actor, input: Any) -> SubmitForApproval:
        record_id = parse_id(input.id, "Record", "id")
        request = submit_for_approval(actor, record_id, input.chain)
        loader(info).add([request])
        return cls(request=request, record=_record_view(actor, record_id), errors=[])


def _record_view(actor: Actor, record_id: int) -> Any:
    try:
        return record_selectors.get_record(actor, record_id)
    except DajianError:
        return None


class WithdrawApprovalInput(graphene.InputObjectType):
    request_id = graphene.ID(required=True)


class WithdrawApproval(DajianMutation):
    request = graphene.Field(ApprovalRequestType)

    class Arguments:
        input = WithdrawApprovalInput(required=True)

    class Meta:
        description = "Withdraw a pending request; its open tasks are cancelled (NOT_PENDING)."
        permission = "the request's submitter, or a workspace admin"
        error_type = Error

    @classmethod
    def perform(cls, root: Any, info: Any, actor: Actor, input: Any) -> WithdrawApproval:
        request = withdraw_approval(
            actor, parse_id(input.request_id, "ApprovalRequest", "requestId")
        )
        loader(info).add([request])
        return cls(request=request, errors=[])


class UnfreezeRecordInput(graphene.InputObjectType):
    id = graphene.ID(required=True)
    comment = graphene.String()


class UnfreezeRecord(DajianMutation):
    record = graphene.Field(_record_type)

    class Arguments:
        input = UnfreezeRecordInput(required=True)

    class Meta:
        description = "Make a record frozen by a veto editable again (NOT_FROZEN)."
        permission = "workspace admin"
        error_type = Error

    @classmethod
    def perform(cls, root: Any, info: Any, actor: Actor, input: Any) -> UnfreezeRecord:
        record_id = parse_id(input.id, "Record", "id")
        unfreeze_record(actor, record_id, input.get("comment") or "")
        return cls(record=_record_view(actor, record_id), errors=[])


class ApprovalMutation(graphene.ObjectType):
    submit_for_approval = SubmitForApproval.Field()
    withdraw_approval = WithdrawApproval.Field()
    unfreeze_record = UnfreezeRecord.Field()
