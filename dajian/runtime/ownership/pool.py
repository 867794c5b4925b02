"""The public pool (R24): claiming, reassigning and releasing one record.

The pool is the records nobody owns (``owner`` is NULL). Members who may create records
of a form and read some of them see its pool
(:attr:`~dajian.platform.permissions.FormPolicy.sees_pool`) and may claim from it, up
to the highest ``daily_claim_limit`` of their roles per day in the workspace's time
zone (admins, and members with a role without a limit, are unlimited). A claim locks
the record row, then the claimer's membership row: two claims of one record cannot both
win, and one person's concurrent claims are counted one after the other.

Every change of owner bumps the record's version, writes an audit event and emits a
``record.owner_changed`` outbox event (payload ``from`` / ``to``: user ids or null) in
the caller's transaction. Automations (``change_owner``, ``release_to_pool``) call the
same functions with the workspace's system actor.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from dajian.builder.models import Form
from dajian.platform.actors import Actor
from dajian.platform.audit import record_event
from dajian.platform.calendars import time_zone_of
from dajian.platform.errors import CommonErrorCode, DajianError, not_found, permission_denied
from dajian.platform.models import Membership, Role, Workspace
from dajian.platform.permissions import Action, RowScope
from dajian.runtime.approvals.flow import lock_record
from dajian.runtime.models import PoolClaim, Record
from dajian.runtime.ownership.errors import OwnershipErrorCode, ownership_error
from dajian.runtime.policies import policy_for
from dajian.runtime.services.records import emit_event

OWNER_CHANGED = "record.owner_changed"


@dataclass(frozen=True)
class OwnerChange:
    """The record after the change (``changed`` is False when nothing had to change)."""

    record: Record
    form: Form
    previous_owner_id: int | None
    changed: bool = True


@dataclass(frozen=True)
class ClaimAllowance:
    """A member's claims today against their daily limit (``limit`` None: no limit)."""

    limit: int | None
    claimed_today: int

    @property
    def remaining(self) -> int | None:
        return None if self.limit is None else max(self.limit - self.claimed_today, 0)


# --- who may do what ---------------------------------------------------------------------


def manages(actor: Actor, user_id: int | None) -> bool:
    """Whether ``user_id`` is a member of an org unit in a subtree the actor manages."""
    if user_id is None:
        return False
    members = actor.members_under(actor.managed_unit_paths)
    return members is not None and members.filter(user_id=user_id).exists()


def active_member(workspace: Workspace, user_id: int, field: str, active: bool = True) -> User:
    """The user of a membership of ``workspace``: NOT_FOUND (at ``field``) for anyone
    else; with ``active``, INACTIVE_MEMBER for a deactivated member or user."""
    membership = (
        Membership.objects.select_related("user")
        .filter(workspace=workspace, user_id=user_id)
        .first()
    )
    if membership is None:
        raise DajianError.single(CommonErrorCode.NOT_FOUND, "User not found.", field=field)
    if active and not (membership.is_active and membership.user.is_active):
        raise ownership_error(OwnershipErrorCode.INACTIVE_MEMBER, field=field)
    return membership.user


def _locked(actor: Actor, record_id: int) -> tuple[Record, Form]:
    """The record row of the actor's workspace, locked until the transaction ends,
    whatever the actor's scope (callers check it), or NOT_FOUND."""
    record = lock_record(actor.workspace.pk, record_id)
    return record, record.form


def _readable(actor: Actor, form: Form, record_id: int) -> bool:
    if RowScope.ALL in policy_for(actor, form).scopes[Action.READ]:
        return True
    return Record.objects.permitted(actor, form, Action.READ).filter(pk=record_id).exists()


def _set_owner(
    actor: Actor, record: Record, form: Form, owner_id: int | None, audit_action: str
) -> OwnerChange:
    previous = record.owner_id
    now = timezone.now()
    Record.objects.filter(pk=record.pk).update(
        owner_id=owner_id, version=F("version") + 1, updated_at=now, updated_by=actor.user
    )
    record.owner_id = owner_id
    record.version += 1
    record.updated_at = now
    record.updated_by = actor.user
    emit_event(actor, OWNER_CHANGED, record, **{"from": previous, "to": owner_id})
    # The audit append locks the workspace's chain head until commit: it goes last.
    record_event(actor, audit_action, "Record", record.pk, {"owner": [previous, owner_id]})
    return OwnerChange(record, form, previous)


# --- daily limits ------------------------------------------------------------------------


def daily_claim_limit(actor: Actor) -> int | None:
    """The highest limit of the member's roles; None (no limit) for admins, for members
    without roles and when one of their roles has no limit."""
    user_id = actor.user_id
    if actor.is_admin or user_id is None:
        return None
    limits = list(
        Role.objects.filter(
            memberships__workspace=actor.workspace, memberships__user_id=user_id
        ).values_list("daily_claim_limit", flat=True)
    )
    if not limits or None in limits:
        return None
    return max(limit for limit in limits if limit is not None)


def start_of_day(workspace: Workspace, now: dt.datetime) -> dt.datetime:
    """Midnight of ``now``'s day in the workspace's time zone."""
    local = now.astimezone(time_zone_of(workspace))
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def claims_today(actor: Actor, now: dt.datetime | None = None) -> int:
    """The actor's claims since midnight in the workspace's time zone."""
    user_id = actor.user_id
    if user_id is None:
        return 0
    return PoolClaim.objects.filter(
        workspace_id=actor.workspace.pk,
        user_id=user_id,
        claimed_at__gte=start_of_day(actor.workspace, now or timezone.now()),
    ).count()


def claim_allowance(actor: Actor) -> ClaimAllowance:
    """The actor's daily limit and today's claims (for the pool's UI)."""
    return ClaimAllowance(daily_claim_limit(actor), claims_today(actor))


def _check_claim_limit(actor: Actor, now: dt.datetime) -> None:
    """Refuse with CLAIM_LIMIT_REACHED when today's claims reach the limit. Locks the
    claimer's membership row first, so their concurrent claims count one at a time."""
    user_id = actor.user_id
    if actor.is_admin or user_id is None:
        return
    locked = list(
        Membership.objects.select_for_update()
        .filter(workspace_id=actor.workspace.pk, user_id=user_id, is_active=True)
        .values_list("pk", flat=True)
    )
    if not locked:
        raise permission_denied()
    limit = daily_claim_limit(actor)
    if limit is not None and claims_today(actor, now) >= limit:
        raise ownership_error(OwnershipErrorCode.CLAIM_LIMIT_REACHED, field="id", limit=limit)


@transaction.atomic
def set_daily_claim_limit(actor: Actor, role_key: str, limit: int | None) -> Role:
    """Set (or, with None, remove) a role's daily claim limit. Admins only."""
    if not actor.is_admin:
        raise permission_denied()
    if limit is not None and limit < 0:
        raise DajianError.single(
            CommonErrorCode.INVALID_INPUT,
            "A daily claim limit is 0 or more (null: no limit).",
            field="dailyClaimLimit",
        )
    role = Role.objects.select_for_update().filter(workspace=actor.workspace, key=role_key).first()
    if role is None:
        raise DajianError.single(CommonErrorCode.NOT_FOUND, "Role not found.", field="role")
    if role.daily_claim_limit != limit:
        before = role.daily_claim_limit
        role.daily_claim_limit = limit
        role.save(update_fields=["daily_claim_limit"])
        record_event(
            actor,
            "role.claim_limit_changed",
            "Role",
            role.pk,
            {"daily_claim_limit": [before, limit]},
        )
    return role


# --- the operations ----------------------------------------------------------------------


@transaction.atomic
def claim_record(actor: Actor, record_id: int) -> OwnerChange:
    """Take a record from the pool. Refusals: NOT_FOUND (no such record in the
    workspace, or a form whose pool the actor does not see and cannot read),
    PERMISSION_DENIED (readable, but the actor does not see the pool), NOT_IN_POOL,
    CLAIM_LIMIT_REACHED (the limit is in the message)."""
    record, form = _locked(actor, record_id)
    if actor.user is None:
        raise permission_denied()
    if not policy_for(actor, form).sees_pool:
        if _readable(actor, form, record_id):
            raise permission_denied()
        raise not_found("Record")
    if record.owner_id is not None:
        raise ownership_error(OwnershipErrorCode.NOT_IN_POOL, field="id")
    now = timezone.now()
    _check_claim_limit(actor, now)
    PoolClaim.objects.create(
        workspace=actor.workspace, user=actor.user, record=record, claimed_at=now
    )
    return _set_owner(actor, record, form, actor.user_id, "record.claimed")


@transaction.atomic
def reassign_record(actor: Actor, record_id: int, to_user_id: int) -> OwnerChange:
    """Give a record to another active member. Allowed to admins and to a manager of
    the owner (the owner is in an org-unit subtree they manage); for a pool record, to
    a manager of the new owner. Reassigning to the current owner changes nothing.
    Refusals: NOT_FOUND (record, or ``toUser`` not a member), PERMISSION_DENIED,
    INACTIVE_MEMBER."""
    record, form = _locked(actor, record_id)
    if not _readable(actor, form, record_id):
        raise not_found("Record")
    subject = record.owner_id if record.owner_id is not None else to_user_id
    if not (actor.is_admin or manages(actor, subject)):
        raise permission_denied()
    active_member(actor.workspace, to_user_id, "toUser")
    if record.owner_id == to_user_id:
        return OwnerChange(record, form, record.owner_id, changed=False)
    return _set_owner(actor, record, form, to_user_id, "record.reassigned")


@transaction.atomic
def release_record(actor: Actor, record_id: int) -> OwnerChange:
    """Put a record back in the pool. Allowed to its owner, a manager of the owner and
    admins. Refusals: NOT_FOUND, PERMISSION_DENIED, ALREADY_IN_POOL."""
    record, form = _locked(actor, record_id)
    if not _readable(actor, form, record_id):
        raise not_found("Record")
    if record.owner_id is None:
        raise ownership_error(OwnershipErrorCode.ALREADY_IN_POOL, field="id")
    allowed = actor.is_admin or (
        actor.user_id is not None
        and (record.owner_id == actor.user_id or manages(actor, record.owner_id))
    )
    if not allowed:
        raise permission_denied()
    return _set_owner(actor, record, form, None, "record.released")
