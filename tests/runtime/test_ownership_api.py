"""The ownership GraphQL API: claimRecord, reassignRecord, releaseRecord,
transferOwnership, setRoleClaimLimit; handover, handovers and myClaimAllowance. Each
protected operation is first shown denied, then allowed."""

from __future__ import annotations

import pytest
from graphql_relay import to_global_id

from dajian.platform.models import Role
from dajian.runtime.models import Record
from tests.factories import make_actor, make_user
from tests.runtime.test_pool import OwnershipOrg, ownership_org

CLAIM = """
mutation($id: ID!) {
  claimRecord(input: {id: $id}) {
    record { id version owner { username } }
    changed
    errors { field path code message }
  }
}
"""
REASSIGN = """
mutation($id: ID!, $to: ID!) {
  reassignRecord(input: {id: $id, toUser: $to}) {
    record { id owner { username } }
    changed
    errors { field code }
  }
}
"""
RELEASE = """
mutation($id: ID!) {
  releaseRecord(input: {id: $id}) {
    record { id owner { username } version }
    errors { field code }
  }
}
"""
TRANSFER = """
mutation($from: ID!, $to: ID!, $app: String!) {
  transferOwnership(input: {fromUser: $from, toUser: $to, app: $app}) {
    handover {
      id app recordCount taskCount createdAt items
      fromUser { username } toUser { username } createdBy { username }
    }
    errors { field code }
  }
}
"""
HANDOVER = """
query($id: ID!) { handover(id: $id) { id app recordCount toUser { username } } }
"""
HANDOVERS = """
query($first: Int, $after: String) {
  handovers(first: $first, after: $after) {
    edges { cursor node { id fromUser { username } } }
    pageInfo { hasNextPage endCursor }
  }
}
"""
SET_LIMIT = """
mutation($role: String!, $limit: Int) {
  setRoleClaimLimit(input: {role: $role, dailyClaimLimit: $limit}) {
    role { key name dailyClaimLimit }
    errors { field code }
  }
}
"""
ALLOWANCE = "query { myClaimAllowance { dailyLimit claimedToday remaining } }"
POOL = """
query {
  records(app: "sales", form: "customer", filter: {field: "owner", op: "isnull", value: true}) {
    edges { node { id data owner { username } } }
  }
}
"""
ALL_RECORDS = """
query { records(app: "sales", form: "customer") { edges { node { data } } } }
"""


@pytest.fixture
def org(workspace, admin, form_factory) -> OwnershipOrg:
    return ownership_org(workspace, admin, form_factory)


def gid(kind: str, obj) -> str:
    return to_global_id(kind, obj.pk)


def codes(payload: dict) -> list[str]:
    return [e["code"] for e in payload["errors"]]


def test_a_rep_lists_the_pool_and_claims_from_it(gql, org):
    pooled = org.pool_record("Pooled")
    org.owned_record(org.rep2, "Theirs")

    pool = gql(POOL, as_user=org.rep1)["data"]["records"]["edges"]
    everything = gql(ALL_RECORDS, as_user=org.rep1)["data"]["records"]["edges"]

    assert [(e["node"]["data"]["name"], e["node"]["owner"]) for e in pool] == [("Pooled", None)]
    assert [e["node"]["data"]["name"] for e in everything] == ["Pooled"]
    # denied: may not create records of the form, so no pool
    denied = gql(CLAIM, {"id": gid("Record", pooled)}, as_user=org.auditor)["data"]["claimRecord"]
    assert codes(denied) == ["PERMISSION_DENIED"] and denied["record"] is None
    claimed = gql(CLAIM, {"id": gid("Record", pooled)}, as_user=org.rep1)["data"]["claimRecord"]
    assert claimed["errors"] == [] and claimed["changed"] is True
    assert claimed["record"]["owner"] == {"username": "rep1"}
    assert claimed["record"]["version"] == 2
    again = gql(CLAIM, {"id": gid("Record", pooled)}, as_user=org.rep2)["data"]["claimRecord"]
    assert codes(again) == ["NOT_IN_POOL"]


def test_claims_stop_at_the_daily_limit_with_the_limit_in_the_message(gql, org):
    Role.objects.filter(workspace=org.workspace, key="rep").update(daily_claim_limit=1)
    first, second = org.pool_record("One"), org.pool_record("Two")
    assert (
        gql(CLAIM, {"id": gid("Record", first)}, as_user=org.rep1)["data"]["claimRecord"]["errors"]
        == []
    )
    refused = gql(CLAIM, {"id": gid("Record", second)}, as_user=org.rep1)["data"]["claimRecord"]
    assert refused["errors"][0]["code"] == "CLAIM_LIMIT_REACHED"
    assert "1" in refused["errors"][0]["message"]
    allowance = gql(ALLOWANCE, as_user=org.rep1)["data"]["myClaimAllowance"]
    assert allowance == {"dailyLimit": 1, "claimedToday": 1, "remaining": 0}
    assert gql(ALLOWANCE, as_user=org.admin)["data"]["myClaimAllowance"] == {
        "dailyLimit": None,
        "claimedToday": 0,
        "remaining": None,
    }


def test_ids_of_another_workspace_and_bad_ids_are_not_found(gql, org, other_workspace):
    pooled = org.pool_record("Pooled")
    stranger = make_user("stranger", other_workspace, is_admin=True)
    make_actor(stranger, other_workspace)
    result = gql(CLAIM, {"id": gid("Record", pooled)}, as_user=stranger, workspace="other")
    assert codes(result["data"]["claimRecord"]) == ["NOT_FOUND"]
    bad = gql(CLAIM, {"id": "not-an-id"}, as_user=org.rep1)["data"]["claimRecord"]
    assert bad["errors"][0]["code"] == "NOT_FOUND" and bad["errors"][0]["field"] == "id"


def test_signing_in_is_required(gql, org):
    pooled = org.pool_record("Pooled")
    result = gql(CLAIM, {"id": gid("Record", pooled)})
    assert result["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


def test_the_owners_manager_reassigns(gql, org):
    record = org.owned_record(org.rep1, "Deal")
    variables = {"id": gid("Record", record), "to": gid("User", org.rep2)}
    denied = gql(REASSIGN, variables, as_user=org.rep1)["data"]["reassignRecord"]
    assert codes(denied) == ["PERMISSION_DENIED"]
    done = gql(REASSIGN, variables, as_user=org.manager)["data"]["reassignRecord"]
    assert done["errors"] == [] and done["record"]["owner"] == {"username": "rep2"}
    bad_user = gql(REASSIGN, {"id": gid("Record", record), "to": "nobody"}, as_user=org.manager)[
        "data"
    ]["reassignRecord"]
    assert bad_user["errors"] == [{"field": "toUser", "code": "NOT_FOUND"}]


def test_the_owner_releases_and_others_may_not(gql, org):
    record = org.owned_record(org.rep1, "Deal")
    denied = gql(RELEASE, {"id": gid("Record", record)}, as_user=org.rep2)["data"]
    assert codes(denied["releaseRecord"]) == ["NOT_FOUND"]  # rep2 does not read rep1's
    done = gql(RELEASE, {"id": gid("Record", record)}, as_user=org.rep1)["data"]["releaseRecord"]
    assert done["errors"] == []
    assert done["record"]["owner"] is None and done["record"]["version"] == 2


def test_a_manager_transfers_a_leavers_records_and_gets_the_handover_list(gql, org):
    record = org.owned_record(org.rep1, "Deal")
    variables = {"from": gid("User", org.rep1), "to": gid("User", org.rep2), "app": "sales"}
    denied = gql(TRANSFER, variables, as_user=org.other_mgr)["data"]["transferOwnership"]
    assert codes(denied) == ["PERMISSION_DENIED"] and denied["handover"] is None
    assert Record.objects.get(pk=record.pk).owner_id == org.rep1.pk

    result = gql(TRANSFER, variables, as_user=org.manager)["data"]["transferOwnership"]

    assert result["errors"] == []
    handover = result["handover"]
    assert (handover["app"], handover["recordCount"], handover["taskCount"]) == ("sales", 1, 0)
    assert (handover["fromUser"], handover["toUser"], handover["createdBy"]) == (
        {"username": "rep1"},
        {"username": "rep2"},
        {"username": "manager"},
    )
    [item] = handover["items"]["records"]
    assert item["id"] == gid("Record", record) and item["title"] == "Deal"
    assert handover["items"]["tasks"] == []
    assert Record.objects.get(pk=record.pk).owner_id == org.rep2.pk


def test_handovers_are_read_by_admins_and_the_people_involved(gql, org):
    org.owned_record(org.rep1, "Deal")
    variables = {"from": gid("User", org.rep1), "to": gid("User", org.rep2), "app": "sales"}
    handover_id = gql(TRANSFER, variables, as_user=org.admin)["data"]["transferOwnership"][
        "handover"
    ]["id"]

    assert gql(HANDOVER, {"id": handover_id}, as_user=org.rep3)["data"]["handover"] is None
    assert gql(HANDOVERS, as_user=org.rep3)["data"]["handovers"]["edges"] == []
    seen = gql(HANDOVER, {"id": handover_id}, as_user=org.rep2)["data"]["handover"]
    assert seen == {
        "id": handover_id,
        "app": "sales",
        "recordCount": 1,
        "toUser": {"username": "rep2"},
    }
    listed = gql(HANDOVERS, {"first": 10}, as_user=org.admin)["data"]["handovers"]
    assert [e["node"]["id"] for e in listed["edges"]] == [handover_id]
    assert listed["pageInfo"]["hasNextPage"] is False


def test_admins_set_a_roles_daily_claim_limit(gql, org):
    denied = gql(SET_LIMIT, {"role": "rep", "limit": 3}, as_user=org.manager)["data"]
    assert codes(denied["setRoleClaimLimit"]) == ["PERMISSION_DENIED"]
    done = gql(SET_LIMIT, {"role": "rep", "limit": 3}, as_user=org.admin)["data"][
        "setRoleClaimLimit"
    ]
    assert done == {"role": {"key": "rep", "name": "rep", "dailyClaimLimit": 3}, "errors": []}
    assert gql(ALLOWANCE, as_user=org.rep1)["data"]["myClaimAllowance"]["dailyLimit"] == 3
    cleared = gql(SET_LIMIT, {"role": "rep"}, as_user=org.admin)["data"]["setRoleClaimLimit"]
    assert cleared["role"]["dailyClaimLimit"] is None
