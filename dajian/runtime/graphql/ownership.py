"""GraphQL of ownership (R24, R25): ``claimRecord``, ``reassignRecord``,
``releaseRecord``, ``transferOwnership``, ``setRoleClaimLimit``; ``handover(id)``,
``handovers`` and ``myClaimAllowance``. The services live in
:mod:`dajian.runtime.ownership`."""

from __future__ import annotations

from typing import Any

import graphene
from graphene.types.generic import GenericScalar
from graphql_relay import to_global_id

from dajian.platform.actors import Actor
from dajian.platform.errors import DajianError
from dajian.platform.graphql.base import DajianMutation, Error, current_actor, graphql_error
from dajian.runtime import selectors
from dajian.runtime.graphql.approvals import parse_id
from dajian.runtime.graphql.paging import PageInfo, page_info
from dajian.runtime.graphql.types import RecordType, UserRef
from dajian.runtime.models import Handover
from dajian.runtime.ownership import handover as handovers
from dajian.runtime.ownership import pool
from dajian.runtime.ownership.pool import OwnerChange

# --- types -------------------------------------------------------------------------------


class RoleType(graphene.ObjectType):
    class Meta:
        name = "Role"

    key = graphene.String(required=True)
    name = graphene.String(required=True)
    daily_claim_limit = graphene.Int(description="Pool claims a day; null is no limit.")


class ClaimAllowanceType(graphene.ObjectType):
    class Meta:
        name = "ClaimAllowance"
        description = "The caller's public-pool claims today against their daily limit."

    daily_limit = graphene.Int(description="Null: no limit.")
    claimed_today = graphene.Int(required=True)
    remaining = graphene.Int(description="Null: no limit.")

    def resolve_daily_limit(allowance: pool.ClaimAllowance, info: Any) -> int | None:
        return allowance.limit


def _public_items(items: dict[str, Any]) -> dict[str, Any]:
    """The stored handover list with global ids."""
    return {
        "records": [{**r, "id": to_global_id("Record", r["id"])} for r in items.get("records", [])],
        "tasks": [
            {
                **t,
                "id": to_global_id("Task", t["id"]),
                "record": to_global_id("Record", t["record"]) if t.get("record") else None,
            }
            for t in items.get("tasks", [])
        ],
    }


class HandoverType(graphene.ObjectType):
    """A completed ownership transfer and its handover list (R25)."""

    class Meta:
        name = "Handover"

    id = graphene.ID(required=True)
    app = graphene.String(required=True)
    from_user = graphene.Field(UserRef, required=True)
    to_user = graphene.Field(UserRef, required=True)
    created_by = graphene.Field(UserRef)
    created_at = graphene.DateTime(required=True)
    record_count = graphene.Int(required=True)
    task_count = graphene.Int(required=True)
    items = GenericScalar(
        required=True,
        description=(
            '{"records": [{id, form, title, stage, status, activities: [{at, action, '
            'actor}]}], "tasks": [{id, kind, title, due, record, moved}]}; approval tasks '
            "stay with their assignee (moved: false)."
        ),
    )

    def resolve_id(handover: Handover, info: Any) -> str:
        return to_global_id("Handover", handover.pk)

    def resolve_app(handover: Handover, info: Any) -> str:
        return handover.app.key

    def resolve_items(handover: Handover, info: Any) -> dict[str, Any]:
        return _public_items(handover.items)


class HandoverEdge(graphene.ObjectType):
    cursor = graphene.String(required=True)
    node = graphene.Field(HandoverType, required=True)


class HandoverConnection(graphene.ObjectType):
    edges = graphene.List(graphene.NonNull(HandoverEdge), required=True)
    page_info = graphene.Field(PageInfo, required=True)

    def resolve_edges(page: Any, info: Any) -> list[HandoverEdge]:
        return [
            HandoverEdge(cursor=c, node=h) for c, h in zip(page.cursors, page.items, strict=True)
        ]

    def resolve_page_info(page: Any, info: Any) -> PageInfo:
        return page_info(page)


# --- queries -----------------------------------------------------------------------------


class OwnershipQuery(graphene.ObjectType):
    handover = graphene.Field(
        HandoverType,
        id=graphene.ID(required=True),
        description="A handover (admins and the people involved; else null).",
    )
    handovers = graphene.Field(
        HandoverConnection,
        first=graphene.Int(description="Page size, at most 100 (default 20)."),
        after=graphene.String(),
        description="Handovers, newest first: all for admins, else those the caller was in.",
    )
    my_claim_allowance = graphene.Field(ClaimAllowanceType, required=True)

    def resolve_handover(root: Any, info: Any, id: str) -> Any:
        actor = current_actor(info)
        try:
            return handovers.get_handover(actor, parse_id(id, "Handover", "id"))
        except DajianError as exc:
            if exc.errors[0].code == "NOT_FOUND":
                return None
            raise graphql_error(exc) from None

    def resolve_handovers(root: Any, info: Any, **kwargs: Any) -> Any:
        actor = current_actor(info)
        try:
            return handovers.list_handovers(actor, kwargs.get("first"), kwargs.get("after"))
        except DajianError as exc:
            raise graphql_error(exc) from None

    def resolve_my_claim_allowance(root: Any, info: Any) -> Any:
        return pool.claim_allowance(current_actor(info))


# --- mutations ---------------------------------------------------------------------------


def _record_payload(cls: Any, actor: Actor, change: OwnerChange) -> Any:
    view = selectors.view_after_write(actor, change.record, change.form)
    return cls(record=view, changed=change.changed, errors=[])


class RecordIdInput(graphene.InputObjectType):
    id = graphene.ID(required=True)


class ClaimRecord(DajianMutation):
    record = graphene.Field(RecordType)
    changed = graphene.Boolean()

    class Arguments:
        input = RecordIdInput(required=True)

    class Meta:
        description = (
            "Take a record from the public pool (R24), within the daily limit of the "
            "caller's roles. Refusals: NOT_FOUND, PERMISSION_DENIED, NOT_IN_POOL, "
            "CLAIM_LIMIT_REACHED."
        )
        permission = "create on the form (members who may create records see its pool)"
        error_type = Error

    @classmethod
    def perform(cls, root: Any, info: Any, actor: Actor, input: Any) -> ClaimRecord:
        change = pool.claim_record(actor, parse_id(input.id, "Record", "id"))
        return _record_payload(cls, actor, change)


class ReassignRecordInput(graphene.InputObjectType):
    id = graphene.ID(required=True)
    to_user = graphene.ID(required=True, description="An active member of the workspace.")


class ReassignRecord(DajianMutation):
    record = graphene.Field(RecordType)
    changed = graphene.Boolean(description="False when toUser already owned the record.")

    class Arguments:
        input = ReassignRecordInput(required=True)

    class Meta:
        description = (
            "Give a record to another member. Refusals: NOT_FOUND, PERMISSION_DENIED, "
            "INACTIVE_MEMBER."
        )
        permission = "a manager of the owner (for a pool record: of toUser), or a workspace admin"
        error_type = Error

    @classmethod
    def perform(cls, root: Any, info: Any, actor: Actor, input: Any) -> ReassignRecord:
        change = pool.reassign_record(
            actor,
            parse_id(input.id, "Record", "id"),
            parse_id(input.to_user, "User", "toUser"),
        )
        return _record_payload(cls, actor, change)


class ReleaseRecord(DajianMutation):
    record = graphene.Field(RecordType)
    changed = graphene.Boolean()

    class Arguments:
        input = RecordIdInput(required=True)

    class Meta:
        description = (
            "Put a record back in the public pool. Refusals: NOT_FOUND, PERMISSION_DENIED, "
            "ALREADY_IN_POOL."
        )
        permission = "the owner, a manager of the owner, or a workspace admin"
        error_type = Error

    @classmethod
    def perform(cls, root: Any, info: Any, actor: Actor, input: Any) -> ReleaseRecord:
        change = pool.release_record(actor, parse_id(input.id, "Record", "id"))
        return _record_payload(cls, actor, change)


class TransferOwnershipInput(graphene.InputObjectType):
    from_user = graphene.ID(required=True, description="A member, active or not.")
    to_user = graphene.ID(required=True, description="An active member.")
    app = graphene.String(required=True)


class TransferOwnership(DajianMutation):
    handover = graphene.Field(HandoverType)

    class Arguments:
        input = TransferOwnershipInput(required=True)

    class Meta:
        description = (
            "Move every record fromUser owns in the app, with their open to-dos and "
            "verification tasks, to toUser in one step, and return the handover list "
            "(R25). Refusals: NOT_FOUND, PERMISSION_DENIED, INACTIVE_MEMBER, SAME_USER."
        )
        permission = "a manager of fromUser, or a workspace admin"
        error_type = Error

    @classmethod
    def perform(cls, root: Any, info: Any, actor: Actor, input: Any) -> TransferOwnership:
        handover = handovers.transfer_ownership(
            actor,
            parse_id(input.from_user, "User", "fromUser"),
            parse_id(input.to_user, "User", "toUser"),
            input.app,
        )
        return cls(handover=handovers.get_handover(actor, handover.pk), errors=[])


class SetRoleClaimLimitInput(graphene.InputObjectType):
    role = graphene.String(required=True, description="The role's key.")
    daily_claim_limit = graphene.Int(description="0 or more; null or absent: no limit.")


class SetRoleClaimLimit(DajianMutation):
    role = graphene.Field(RoleType)

    class Arguments:
        input = SetRoleClaimLimitInput(required=True)

    class Meta:
        description = (
            "Set how many public-pool records a member with this role may claim a day "
            "(a member with several roles gets the highest). Refusals: NOT_FOUND, "
            "PERMISSION_DENIED, INVALID_INPUT."
        )
        permission = "a workspace admin"
        error_type = Error

    @classmethod
    def perform(cls, root: Any, info: Any, actor: Actor, input: Any) -> SetRoleClaimLimit:
        role = pool.set_daily_claim_limit(actor, input.role, input.get("daily_claim_limit"))
        return cls(role=role, errors=[])


class OwnershipMutation(graphene.ObjectType):
    claim_record = ClaimRecord.Field()
    reassign_record = ReassignRecord.Field()
    release_record = ReleaseRecord.Field()
    transfer_ownership = TransferOwnership.Field()
    set_role_claim_limit = SetRoleClaimLimit.Field()
