"""The public pool (R24): who sees it, claiming within daily limits, releasing and
reassigning records. ``ownership_org`` is shared with the other ownership tests."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from dajian.platform.actors import Actor
from dajian.platform.errors import DajianError
from dajian.platform.models import AuditEvent, Membership, Role
from dajian.platform.org import create_org_unit
from dajian.runtime.models import OutboxEvent, PoolClaim, Record
from dajian.runtime.ownership.pool import (
    claim_allowance,
    claim_record,
    claims_today,
    reassign_record,
    release_record,
    set_daily_claim_limit,
    start_of_day,
)
from dajian.runtime.selectors import get_record, list_records
from dajian.runtime.services.records import create_record
from tests.factories import make_actor, make_user, make_workspace

FIELDS = [
    {"key": "name", "type": "text", "label": "Name"},
    {"key": "sales", "type": "user", "label": "Salesperson"},
]
PERMISSIONS = [
    {"role": "rep", "create": True, "read": "own", "update": "own", "delete": "none"},
    {"role": "manager", "create": True, "read": "team", "update": "team", "delete": "none"},
    {"role": "auditor", "create": False, "read": "all", "update": "none", "delete": "none"},
    {"role": "watcher", "create": False, "read": "own", "update": "none", "delete": "none"},
]


@dataclass
class OwnershipOrg:
    """manager heads "East" (rep1, rep2); other_mgr heads "West" (rep3)."""

    workspace: Any
    admin: Any
    manager: Any
    other_mgr: Any
    rep1: Any
    rep2: Any
    rep3: Any
    auditor: Any
    watcher: Any

    def actor(self, user: Any) -> Actor:
        return make_actor(user, self.workspace)

    @property
    def system(self) -> Actor:
        return Actor.system(self.workspace)

    def pool_record(self, name: str, form: str = "customer", app: str = "sales") -> Record:
        """A record nobody owns (what the system, an import or a release leaves)."""
        return create_record(self.system, app, form, {"name": name}).record

    def owned_record(self, user: Any, name: str, form: str = "customer") -> Record:
        return create_record(self.actor(user), "sales", form, {"name": name}).record


def ownership_org(workspace: Any, admin: Any, form_factory: Any) -> OwnershipOrg:
    form_factory(FIELDS, permissions=PERMISSIONS)
    manager = make_user("manager", workspace, roles=["manager"])
    other_mgr = make_user("other_mgr", workspace, roles=["manager"])
    east = create_org_unit(workspace, "East", manager=manager)
    west = create_org_unit(workspace, "West", manager=other_mgr)
    return OwnershipOrg(
        workspace=workspace,
        admin=admin,
        manager=manager,
        other_mgr=other_mgr,
        rep1=make_user("rep1", workspace, roles=["rep"], org_unit=east),
        rep2=make_user("rep2", workspace, roles=["rep"], org_unit=east),
        rep3=make_user("rep3", workspace, roles=["rep"], org_unit=west),
        auditor=make_user("auditor", workspace, roles=["auditor"]),
        watcher=make_user("watcher", workspace, roles=["watcher"]),
    )


@pytest.fixture
def org(workspace, admin, form_factory) -> OwnershipOrg:
    return ownership_org(workspace, admin, form_factory)


def names(actor: Actor, filter: dict | None = None) -> list[str]:
    page = list_records(actor, "sales", "customer", filter=filter, first=100)
    return sorted(v.record.data["name"] for v in page.items)


def refusal(call: Any) -> str:
    with pytest.raises(DajianError) as caught:
        call()
    return caught.value.errors[0].code


def set_limit(org: OwnershipOrg, role: str, limit: int | None) -> None:
    Role.objects.filter(workspace=org.workspace, key=role).update(daily_claim_limit=limit)


# --- who sees the pool -------------------------------------------------------------------


def test_a_rep_sees_the_pool_and_their_own_records_but_nobody_elses(org):
    org.pool_record("pooled")
    org.owned_record(org.rep1, "mine")
    theirs = org.owned_record(org.rep2, "theirs")
    rep1 = org.actor(org.rep1)

    assert names(rep1) == ["mine", "pooled"]
    assert names(rep1, {"field": "owner", "op": "isnull", "value": True}) == ["pooled"]
    assert refusal(lambda: get_record(rep1, theirs.pk)) == "NOT_FOUND"


def test_a_manager_sees_the_team_and_the_pool_but_not_other_teams(org):
    org.pool_record("pooled")
    org.owned_record(org.rep1, "east")
    org.owned_record(org.rep3, "west")
    assert names(org.actor(org.manager)) == ["east", "pooled"]


def test_members_who_cannot_create_do_not_see_the_pool(org):
    org.pool_record("pooled")
    assert names(org.actor(org.watcher)) == []


# --- claiming ----------------------------------------------------------------------------


def test_a_claim_takes_the_record_with_audit_outbox_and_claim_row(org):
    record = org.pool_record("pooled")
    rep1 = org.actor(org.rep1)

    change = claim_record(rep1, record.pk)

    stored = Record.objects.get(pk=record.pk)
    assert (stored.owner_id, stored.version, stored.updated_by_id) == (org.rep1.pk, 2, org.rep1.pk)
    assert change.previous_owner_id is None and change.changed
    claim = PoolClaim.objects.get()
    assert (claim.user_id, claim.record_id, claim.workspace_id) == (
        org.rep1.pk,
        record.pk,
        org.workspace.pk,
    )
    event = OutboxEvent.objects.get(topic="record.owner_changed")
    assert event.payload == {
        "record": record.pk,
        "form": record.form_id,
        "version": 2,
        "from": None,
        "to": org.rep1.pk,
    }
    audit = AuditEvent.objects.get(action="record.claimed")
    assert (audit.object_id, audit.diff) == (str(record.pk), {"owner": [None, org.rep1.pk]})
    assert names(rep1) == ["pooled"]  # now as its owner


def test_an_owned_record_is_not_in_the_pool(org):
    record = org.owned_record(org.rep2, "theirs")
    assert refusal(lambda: claim_record(org.actor(org.rep1), record.pk)) == "NOT_IN_POOL"
    assert Record.objects.get(pk=record.pk).owner_id == org.rep2.pk
    assert not PoolClaim.objects.exists()


def test_only_members_who_see_the_pool_may_claim(org):
    record = org.pool_record("pooled")
    # reads every record but may not create: sees the record, may not claim it
    assert refusal(lambda: claim_record(org.actor(org.auditor), record.pk)) == "PERMISSION_DENIED"
    # may not create and does not read it: it does not exist for them
    assert refusal(lambda: claim_record(org.actor(org.watcher), record.pk)) == "NOT_FOUND"
    assert Record.objects.get(pk=record.pk).owner_id is None


def test_a_record_of_another_workspace_is_not_found(org, other_workspace):
    record = org.pool_record("pooled")
    stranger = make_user("stranger", other_workspace, is_admin=True)
    actor = make_actor(stranger, other_workspace)
    assert refusal(lambda: claim_record(actor, record.pk)) == "NOT_FOUND"


def test_the_daily_limit_refuses_the_claim_past_it(org):
    set_limit(org, "rep", 2)
    records = [org.pool_record(f"p{i}") for i in range(3)]
    rep1 = org.actor(org.rep1)
    claim_record(rep1, records[0].pk)
    claim_record(rep1, records[1].pk)

    with pytest.raises(DajianError) as caught:
        claim_record(rep1, records[2].pk)

    error = caught.value.errors[0]
    assert error.code == "CLAIM_LIMIT_REACHED" and "2" in error.message
    assert Record.objects.get(pk=records[2].pk).owner_id is None
    assert PoolClaim.objects.count() == 2
    assert claim_allowance(rep1).remaining == 0


def test_the_highest_limit_of_several_roles_applies(org):
    set_limit(org, "rep", 1)
    Role.objects.create(workspace=org.workspace, key="senior", name="Senior", daily_claim_limit=3)
    Membership.objects.get(workspace=org.workspace, user=org.rep1).roles.add(
        Role.objects.get(workspace=org.workspace, key="senior")
    )
    rep1 = org.actor(org.rep1)
    for i in range(3):
        claim_record(rep1, org.pool_record(f"p{i}").pk)
    assert refusal(lambda: claim_record(rep1, org.pool_record("p3").pk)) == "CLAIM_LIMIT_REACHED"
    assert claim_allowance(rep1).limit == 3


def test_a_role_without_a_limit_and_admins_are_unlimited(org):
    set_limit(org, "rep", 1)
    Role.objects.create(workspace=org.workspace, key="hunter", name="Hunter")  # no limit
    Membership.objects.get(workspace=org.workspace, user=org.rep2).roles.add(
        Role.objects.get(workspace=org.workspace, key="hunter")
    )
    rep2, admin = org.actor(org.rep2), org.actor(org.admin)
    for i in range(3):
        claim_record(rep2, org.pool_record(f"r{i}").pk)
        claim_record(admin, org.pool_record(f"a{i}").pk)
    assert claim_allowance(rep2).limit is None
    assert claim_allowance(admin).remaining is None


def test_the_day_starts_at_midnight_in_the_workspace_time_zone(org):
    now = dt.datetime(2025, 1, 1, 17, 0, tzinfo=dt.UTC)  # 01:00 on 2 January in Shanghai
    assert start_of_day(org.workspace, now) == dt.datetime(2025, 1, 1, 16, 0, tzinfo=dt.UTC)
    org.workspace.time_zone = "Europe/London"
    assert start_of_day(org.workspace, now) == dt.datetime(2025, 1, 1, 0, 0, tzinfo=dt.UTC)


def test_claims_before_local_midnight_count_for_the_day_before(org):
    now = dt.datetime(2025, 1, 1, 17, 0, tzinfo=dt.UTC)  # 01:00 on 2 January in Shanghai
    record = org.pool_record("pooled")
    for at in ("2025-01-01T15:59:00+00:00", "2025-01-01T16:01:00+00:00"):
        PoolClaim.objects.create(
            workspace=org.workspace,
            user=org.rep1,
            record=record,
            claimed_at=dt.datetime.fromisoformat(at),
        )
    rep1 = org.actor(org.rep1)
    assert claims_today(rep1, now) == 1  # 23:59 on 1 January in Shanghai is yesterday
    org.workspace.time_zone = "Europe/London"
    assert claims_today(rep1, now) == 2  # both on 1 January in London


def test_yesterdays_claims_do_not_count_against_today(org):
    set_limit(org, "rep", 1)
    yesterday = start_of_day(org.workspace, timezone.now()) - dt.timedelta(minutes=1)
    PoolClaim.objects.create(
        workspace=org.workspace,
        user=org.rep1,
        record=org.pool_record("old"),
        claimed_at=yesterday,
    )
    rep1 = org.actor(org.rep1)
    claim_record(rep1, org.pool_record("new").pk)
    assert refusal(lambda: claim_record(rep1, org.pool_record("more").pk)) == "CLAIM_LIMIT_REACHED"


# --- releasing ---------------------------------------------------------------------------


def test_the_owner_releases_a_record_to_the_pool(org):
    record = org.owned_record(org.rep1, "mine")
    change = release_record(org.actor(org.rep1), record.pk)
    stored = Record.objects.get(pk=record.pk)
    assert (stored.owner_id, stored.version, change.previous_owner_id) == (None, 2, org.rep1.pk)
    assert AuditEvent.objects.filter(action="record.released", object_id=str(record.pk)).exists()
    event = OutboxEvent.objects.get(topic="record.owner_changed")
    assert (event.payload["from"], event.payload["to"]) == (org.rep1.pk, None)
    assert names(org.actor(org.rep2)) == ["mine"]  # in the pool: the other rep sees it


def test_the_manager_and_admins_release_and_others_may_not(org):
    first = org.owned_record(org.rep1, "first")
    second = org.owned_record(org.rep1, "second")
    # rep3's manager reads nothing of east; rep2 does not read rep1's record
    assert refusal(lambda: release_record(org.actor(org.other_mgr), first.pk)) == "NOT_FOUND"
    assert refusal(lambda: release_record(org.actor(org.rep2), first.pk)) == "NOT_FOUND"
    # reads every record but is neither owner, manager nor admin
    assert refusal(lambda: release_record(org.actor(org.auditor), first.pk)) == (
        "PERMISSION_DENIED"
    )
    release_record(org.actor(org.manager), first.pk)
    release_record(org.actor(org.admin), second.pk)
    assert Record.objects.filter(owner__isnull=True).count() == 2


def test_a_pool_record_cannot_be_released_again(org):
    record = org.pool_record("pooled")
    assert refusal(lambda: release_record(org.actor(org.admin), record.pk)) == "ALREADY_IN_POOL"


# --- reassigning -------------------------------------------------------------------------


def test_the_owners_manager_reassigns_a_record(org):
    record = org.owned_record(org.rep1, "deal")
    change = reassign_record(org.actor(org.manager), record.pk, org.rep2.pk)
    assert (change.previous_owner_id, Record.objects.get(pk=record.pk).owner_id) == (
        org.rep1.pk,
        org.rep2.pk,
    )
    audit = AuditEvent.objects.get(action="record.reassigned")
    assert audit.diff == {"owner": [org.rep1.pk, org.rep2.pk]}


def test_only_a_manager_of_the_owner_or_an_admin_reassigns(org):
    record = org.owned_record(org.rep1, "deal")
    assert refusal(lambda: reassign_record(org.actor(org.rep1), record.pk, org.rep2.pk)) == (
        "PERMISSION_DENIED"
    )
    assert refusal(lambda: reassign_record(org.actor(org.auditor), record.pk, org.rep2.pk)) == (
        "PERMISSION_DENIED"
    )
    assert refusal(lambda: reassign_record(org.actor(org.other_mgr), record.pk, org.rep3.pk)) == (
        "NOT_FOUND"
    )
    reassign_record(org.actor(org.admin), record.pk, org.rep3.pk)
    assert Record.objects.get(pk=record.pk).owner_id == org.rep3.pk


def test_a_pool_record_is_assigned_by_a_manager_of_the_assignee(org):
    record = org.pool_record("pooled")
    manager = org.actor(org.manager)
    assert refusal(lambda: reassign_record(manager, record.pk, org.rep3.pk)) == (
        "PERMISSION_DENIED"
    )
    reassign_record(manager, record.pk, org.rep1.pk)
    assert Record.objects.get(pk=record.pk).owner_id == org.rep1.pk


def test_the_new_owner_is_an_active_member_of_the_workspace(org):
    record = org.owned_record(org.rep1, "deal")
    admin = org.actor(org.admin)
    Membership.objects.filter(user=org.rep2).update(is_active=False)
    stranger = make_user("stranger", make_workspace("elsewhere"))
    assert refusal(lambda: reassign_record(admin, record.pk, org.rep2.pk)) == "INACTIVE_MEMBER"
    assert refusal(lambda: reassign_record(admin, record.pk, stranger.pk)) == "NOT_FOUND"
    nobody = get_user_model().objects.order_by("-pk").first().pk + 1
    assert refusal(lambda: reassign_record(admin, record.pk, nobody)) == "NOT_FOUND"
    assert Record.objects.get(pk=record.pk).owner_id == org.rep1.pk


def test_reassigning_to_the_owner_changes_nothing(org):
    record = org.owned_record(org.rep1, "deal")
    change = reassign_record(org.actor(org.manager), record.pk, org.rep1.pk)
    assert not change.changed
    assert Record.objects.get(pk=record.pk).version == 1
    assert not OutboxEvent.objects.filter(topic="record.owner_changed").exists()


# --- limits are set by admins ------------------------------------------------------------


def test_admins_set_a_roles_daily_claim_limit(org):
    role = set_daily_claim_limit(org.actor(org.admin), "rep", 5)
    assert Role.objects.get(pk=role.pk).daily_claim_limit == 5
    audit = AuditEvent.objects.get(action="role.claim_limit_changed")
    assert audit.diff == {"daily_claim_limit": [None, 5]}
    set_daily_claim_limit(org.actor(org.admin), "rep", None)
    assert Role.objects.get(pk=role.pk).daily_claim_limit is None


def test_only_admins_set_claim_limits_and_only_sensible_ones(org):
    assert refusal(lambda: set_daily_claim_limit(org.actor(org.manager), "rep", 5)) == (
        "PERMISSION_DENIED"
    )
    admin = org.actor(org.admin)
    assert refusal(lambda: set_daily_claim_limit(admin, "rep", -1)) == "INVALID_INPUT"
    assert refusal(lambda: set_daily_claim_limit(admin, "astronaut", 5)) == "NOT_FOUND"
    assert Role.objects.get(workspace=org.workspace, key="rep").daily_claim_limit is None
