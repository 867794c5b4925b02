"""The approval GraphQL API: submitForApproval, withdrawApproval, unfreezeRecord, record
fields approval / approvalRequests, approvalRequest and myRequests. Each protected
operation is shown denied first, then allowed."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from graphql_relay import to_global_id

from dajian.runtime.approvals.services import decide_task, submit_for_approval
from dajian.runtime.models import ApprovalRequest, Record
from tests.factories import make_user, make_workspace
from tests.runtime.approval_fixtures import chain, new_contract, open_task_of, step

pytest_plugins = ["tests.runtime.approval_plugin"]

CHAIN = "contract_approval"

SUBMIT = """
mutation($id: ID!, $chain: String!) {
  submitForApproval(input: {id: $id, chain: $chain}) {
    request { id status chain chainLabel snapshotHash round submittedBy { username }
              currentStep { key active tasks { assignee { username } status } } }
    record { id status version }
    errors { field path code message }
  }
}
"""
WITHDRAW = """
mutation($id: ID!) {
  withdrawApproval(input: {requestId: $id}) { request { id status } errors { code field } }
}
"""
UNFREEZE = """
mutation($id: ID!, $comment: String) {
  unfreezeRecord(input: {id: $id, comment: $comment}) { record { id status } errors { code } }
}
"""
RECORD = """
query($id: ID!) {
  record(id: $id) {
    status
    approval {
      id status transitionTo snapshotHash decidedAt
      steps { key label mode applies active decisions
              tasks { id assignee { username } status decision comment decidedAt round } }
      events { kind step actor comment payload }
    }
    approvalRequests { id status previous }
  }
}
"""
REQUEST = """
query($id: ID!) {
  approvalRequest(id: $id) { id status record { id form app status } }
}
"""
MY_REQUESTS = """
query($status: ApprovalRequestStatus, $after: String) {
  myRequests(status: $status, first: 2, after: $after) {
    edges { node { id status } }
    pageInfo { hasNextPage endCursor }
  }
}
"""
RECORDS = """
query($first: Int) {
  records(app: "sales", form: "contract", first: $first) {
    edges { node { id approval { id status steps { key tasks { status } } events { kind } } } }
  }
}
"""


def rid(record):
    return to_global_id("Record", record.pk)


def qid(request):
    return to_global_id("ApprovalRequest", request.pk)


@pytest.fixture
def contract_chain(admin_actor, contract_form):
    return chain(admin_actor, contract_form)


def test_submit_is_denied_without_update_rights_then_allowed(gql, org, contract_chain):
    record = new_contract(org.actor(org.rep), amount=700000)

    anonymous = gql(SUBMIT, {"id": rid(record), "chain": CHAIN})
    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    denied = gql(SUBMIT, {"id": rid(record), "chain": CHAIN}, as_user=org.rep2)
    assert denied["data"]["submitForApproval"]["errors"][0]["code"] == "PERMISSION_DENIED"
    assert not ApprovalRequest.objects.exists()

    out = gql(SUBMIT, {"id": rid(record), "chain": CHAIN}, as_user=org.rep)["data"]
    payload = out["submitForApproval"]
    assert payload["errors"] == []
    request = payload["request"]
    assert (request["status"], request["chain"], request["chainLabel"]) == (
        "PENDING",
        CHAIN,
        "合同审批",
    )
    assert request["submittedBy"] == {"username": "rep"} and request["round"] == 1
    assert request["currentStep"] == {
        "key": "manager",
        "active": True,
        "tasks": [{"assignee": {"username": "manager"}, "status": "OPEN"}],
    }
    assert payload["record"]["status"] == "in_approval"


def test_submit_errors_are_typed(gql, org, contract_chain):
    record = new_contract(org.actor(org.rep))
    out = gql(SUBMIT, {"id": rid(record), "chain": "nope"}, as_user=org.rep)
    assert out["data"]["submitForApproval"]["errors"][0]["code"] == "UNKNOWN_CHAIN"
    out = gql(SUBMIT, {"id": "bogus", "chain": CHAIN}, as_user=org.rep)
    assert out["data"]["submitForApproval"]["errors"][0]["code"] == "NOT_FOUND"


def test_withdraw_denied_for_others_then_allowed(gql, org, contract_chain):
    request = submit_for_approval(org.actor(org.rep), new_contract(org.actor(org.rep)).pk, CHAIN)
    denied = gql(WITHDRAW, {"id": qid(request)}, as_user=org.manager)["data"]["withdrawApproval"]
    assert denied["errors"][0]["code"] == "PERMISSION_DENIED"
    out = gql(WITHDRAW, {"id": qid(request)}, as_user=org.rep)["data"]["withdrawApproval"]
    assert out == {"request": {"id": qid(request), "status": "WITHDRAWN"}, "errors": []}
    again = gql(WITHDRAW, {"id": qid(request)}, as_user=org.rep)["data"]["withdrawApproval"]
    assert again["errors"] == [{"code": "NOT_PENDING", "field": "requestId"}]


def test_unfreeze_denied_for_members_then_allowed_for_admins(gql, org, admin_actor, contract_form):
    chain(
        admin_actor,
        contract_form,
        steps=[step("manager", [{"type": "manager"}], on_reject="freeze")],
    )
    record = new_contract(org.actor(org.rep))
    request = submit_for_approval(org.actor(org.rep), record.pk, CHAIN)
    decide_task(
        org.actor(org.manager), open_task_of(request, org.manager).pk, "reject", comment="fake"
    )

    denied = gql(UNFREEZE, {"id": rid(record)}, as_user=org.rep)["data"]["unfreezeRecord"]
    assert denied["errors"][0]["code"] == "PERMISSION_DENIED"
    assert Record.objects.get(pk=record.pk).status == "frozen"
    out = gql(UNFREEZE, {"id": rid(record), "comment": "verified"}, as_user=org.admin)
    assert out["data"]["unfreezeRecord"] == {
        "record": {"id": rid(record), "status": "active"},
        "errors": [],
    }


def test_record_approval_shows_steps_tasks_and_history(gql, org, contract_chain):
    record = new_contract(org.actor(org.rep), amount=10)
    first = submit_for_approval(org.actor(org.rep), record.pk, CHAIN)
    decide_task(
        org.actor(org.manager),
        open_task_of(first, org.manager).pk,
        "return",
        comment="needs a stamp",
    )
    second = submit_for_approval(org.actor(org.rep), record.pk, CHAIN)
    decide_task(
        org.actor(org.manager), open_task_of(second, org.manager).pk, "approve", comment="ok"
    )

    data = gql(RECORD, {"id": rid(record)}, as_user=org.rep)["data"]["record"]

    approval = data["approval"]
    assert approval["id"] == qid(second) and approval["status"] == "APPROVED"
    assert approval["decidedAt"] and approval["transitionTo"] is None
    manager, director = approval["steps"]
    assert (manager["key"], manager["applies"], manager["active"]) == ("manager", True, False)
    assert manager["decisions"] == ["APPROVE", "REJECT", "RETURN", "DELEGATE"]
    assert [
        (t["assignee"]["username"], t["status"], t["decision"], t["comment"])
        for t in manager["tasks"]
    ] == [("manager", "DONE", "APPROVE", "ok")]
    assert (director["applies"], director["tasks"]) == (False, [])
    assert [e["kind"] for e in approval["events"]] == [
        "submitted",
        "step_started",
        "decided",
        "approved",
    ]
    assert approval["events"][2]["actor"] == "manager"
    assert [r["id"] for r in data["approvalRequests"]] == [qid(second), qid(first)]
    assert data["approvalRequests"][0]["previous"] == qid(first)


def test_records_list_loads_approvals_without_n_plus_one(gql, org, contract_chain):
    rep = org.actor(org.rep)
    for i in range(6):
        record = new_contract(rep, title=f"deal {i}")
        if i % 2:
            submit_for_approval(rep, record.pk, CHAIN)
    gql(RECORDS, {"first": 2}, as_user=org.rep)  # warm caches

    counts = []
    for first in (2, 6):
        with CaptureQueriesContext(connection) as queries:
            out = gql(RECORDS, {"first": first}, as_user=org.rep)
        assert "errors" not in out, out
        counts.append(len(queries))
    assert counts[0] == counts[1], counts
    statuses = [
        e["node"]["approval"] and e["node"]["approval"]["status"]
        for e in out["data"]["records"]["edges"]
    ]
    assert statuses.count("PENDING") == 3 and statuses.count(None) == 3


def test_approval_request_is_visible_only_to_those_involved(gql, org, admin_actor, contract_form):
    chain(admin_actor, contract_form)
    request = submit_for_approval(org.actor(org.rep), new_contract(org.actor(org.rep)).pk, CHAIN)
    for user in (org.rep, org.manager, org.admin, org.finance):  # finance may read records
        out = gql(REQUEST, {"id": qid(request)}, as_user=user)["data"]["approvalRequest"]
        assert out["id"] == qid(request)
        assert out["record"]["form"] == "contract" and out["record"]["app"] == "sales"
    stranger = make_user("stranger", make_workspace("elsewhere"))
    assert gql(REQUEST, {"id": qid(request)}, as_user=stranger)["data"]["approvalRequest"] is None
    assert gql(REQUEST, {"id": "junk"}, as_user=org.rep)["data"]["approvalRequest"] is None


def test_approval_request_hidden_from_members_who_cannot_read_the_record(
    gql, org, admin_actor, form_factory
):
    from tests.runtime.approval_fixtures import CONTRACT_FIELDS

    form = form_factory(
        CONTRACT_FIELDS,
        key="contract",
        permissions=[
            {"role": "*", "create": True, "read": "own", "update": "own", "delete": "own"}
        ],
    )
    chain(admin_actor, form)
    request = submit_for_approval(org.actor(org.rep), new_contract(org.actor(org.rep)).pk, CHAIN)
    assert gql(REQUEST, {"id": qid(request)}, as_user=org.rep2)["data"]["approvalRequest"] is None
    seen = gql(REQUEST, {"id": qid(request)}, as_user=org.manager)["data"]["approvalRequest"]
    assert seen["id"] == qid(request)


def test_my_requests_pages_the_callers_requests(gql, org, contract_chain):
    rep = org.actor(org.rep)
    ids = [submit_for_approval(rep, new_contract(rep).pk, CHAIN) for _ in range(3)]
    submit_for_approval(org.actor(org.rep2), new_contract(org.actor(org.rep2)).pk, CHAIN)
    decide_task(org.actor(org.manager), open_task_of(ids[0], org.manager).pk, "approve")

    page = gql(MY_REQUESTS, {}, as_user=org.rep)["data"]["myRequests"]
    assert [e["node"]["id"] for e in page["edges"]] == [qid(ids[2]), qid(ids[1])]
    assert page["pageInfo"]["hasNextPage"]
    rest = gql(MY_REQUESTS, {"after": page["pageInfo"]["endCursor"]}, as_user=org.rep)
    assert [e["node"]["id"] for e in rest["data"]["myRequests"]["edges"]] == [qid(ids[0])]
    approved = gql(MY_REQUESTS, {"status": "APPROVED"}, as_user=org.rep)["data"]["myRequests"]
    assert [e["node"]["status"] for e in approved["edges"]] == ["APPROVED"]
