"""The inbox GraphQL API: myTasks (with counts), decideTask, bulkDecideTasks and
completeTask."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from graphql_relay import to_global_id

from dajian.runtime.approvals.services import submit_for_approval
from dajian.runtime.models import ApprovalRequest, ApprovalTask, TodoTask
from tests.factories import make_user, make_workspace
from tests.runtime.approval_fixtures import chain, new_contract, open_task_of, screenshot, step

pytest_plugins = ["tests.runtime.approval_plugin"]

CHAIN = "contract_approval"

MY_TASKS = """
query($status: TaskStatus, $kind: TaskKind, $first: Int, $after: String) {
  myTasks(status: $status, kind: $kind, first: $first, after: $after) {
    edges {
      cursor
      node {
        id kind status title dueAt slaColor allowedDecisions createdAt completedAt
        decision comment escalated
        record { id form app stage status }
        request { id status }
        step { key label }
      }
    }
    pageInfo { hasNextPage endCursor }
    counts { kind status count }
  }
}
"""
MY_TASKS_DEEP = """
query {
  myTasks(first: 20) {
    edges { node { id request { id steps { key tasks { assignee { username } } }
                                events { kind } record { id } } } }
  }
}
"""
DECIDE = """
mutation($input: DecideTaskInput!) {
  decideTask(input: $input) {
    task { id status decision comment allowedDecisions }
    delegatedTask { id status }
    request { id status }
    errors { field path code message }
  }
}
"""
TODOS = """
query($first: Int) {
  myTasks(kind: TODO, first: $first) {
    edges { node { id kind title message suggestedActions record { id } } }
  }
}
"""
COMPLETE = """
mutation($input: CompleteTaskInput!) {
  completeTask(input: $input) {
    task { id kind status comment completedAt message }
    errors { field path code message }
  }
}
"""
BULK = """
mutation($ids: [ID!]!, $decision: ApprovalDecision!, $comment: String) {
  bulkDecideTasks(input: {taskIds: $ids, decision: $decision, comment: $comment}) {
    tasks { id status decision }
    errors { field path code }
  }
}
"""


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def requests(org, admin_actor, contract_form):
    chain(
        admin_actor,
        contract_form,
        steps=[
            step(
                "manager",
                [{"type": "manager"}],
                sla={"within": {"hours": 4}},
                decisions=["approve", "reject", "delegate", "appeal"],
            ),
        ],
    )
    rep = org.actor(org.rep)
    return [
        submit_for_approval(rep, new_contract(rep, title=f"deal {i}").pk, CHAIN) for i in range(4)
    ]


def tid(task):
    return to_global_id("Task", task.pk)


def test_my_tasks_needs_sign_in_and_lists_the_callers_tasks(gql, org, requests):
    anonymous = gql(MY_TASKS, {})
    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert gql(MY_TASKS, {}, as_user=org.rep)["data"]["myTasks"]["edges"] == []

    out = gql(MY_TASKS, {"first": 3}, as_user=org.manager)["data"]["myTasks"]

    node = out["edges"][0]["node"]
    request = requests[-1]
    assert node["id"] == tid(open_task_of(request, org.manager))
    assert (node["kind"], node["status"], node["slaColor"]) == ("APPROVAL", "OPEN", "GREEN")
    assert node["title"] == "合同审批 · Manager"
    assert node["allowedDecisions"] == ["APPROVE", "REJECT", "DELEGATE", "APPEAL"]
    assert node["record"] == {
        "id": to_global_id("Record", request.record_id),
        "form": "contract",
        "app": "sales",
        "stage": None,
        "status": "in_approval",
    }
    assert node["request"] == {
        "id": to_global_id("ApprovalRequest", request.pk),
        "status": "PENDING",
    }
    assert node["step"] == {"key": "manager", "label": "Manager"} and node["dueAt"]
    assert out["pageInfo"]["hasNextPage"] and len(out["edges"]) == 3
    assert out["counts"] == [{"kind": "APPROVAL", "status": "OPEN", "count": 4}]
    rest = gql(MY_TASKS, {"after": out["pageInfo"]["endCursor"]}, as_user=org.manager)
    assert len(rest["data"]["myTasks"]["edges"]) == 1


def test_a_page_of_twenty_tasks_costs_a_fixed_number_of_queries(
    gql, org, admin_actor, contract_form
):
    chain(admin_actor, contract_form)
    rep = org.actor(org.rep)
    for i in range(22):
        submit_for_approval(rep, new_contract(rep, title=f"deal {i}").pk, CHAIN)
    gql(MY_TASKS, {"first": 2}, as_user=org.manager)  # warm caches

    counts = {}
    for first in (2, 20):
        with CaptureQueriesContext(connection) as queries:
            out = gql(MY_TASKS, {"first": first}, as_user=org.manager)
        assert len(out["data"]["myTasks"]["edges"]) == first
        counts[first] = len(queries)
    assert counts[20] == counts[2] and counts[20] <= 10, counts

    with CaptureQueriesContext(connection) as queries:
        out = gql(MY_TASKS_DEEP, {}, as_user=org.manager)
    assert "errors" not in out
    assert len(queries) <= counts[20] + 3  # + tasks, events, records of all requests


def test_decide_task_denied_to_others_then_allowed(gql, org, requests):
    task = open_task_of(requests[0], org.manager)
    denied = gql(
        DECIDE, {"input": {"taskId": tid(task), "decision": "APPROVE"}}, as_user=org.director
    )["data"]["decideTask"]
    assert denied["errors"][0]["code"] == "NOT_ASSIGNEE" and denied["task"] is None

    out = gql(
        DECIDE,
        {"input": {"taskId": tid(task), "decision": "APPROVE", "comment": "ok"}},
        as_user=org.manager,
    )["data"]["decideTask"]

    assert out["errors"] == []
    assert out["task"] == {
        "id": tid(task),
        "status": "DONE",
        "decision": "APPROVE",
        "comment": "ok",
        "allowedDecisions": [],
    }
    assert out["request"]["status"] == "APPROVED"
    again = gql(
        DECIDE, {"input": {"taskId": tid(task), "decision": "APPROVE"}}, as_user=org.manager
    )["data"]["decideTask"]
    assert again["errors"][0]["code"] == "ALREADY_DECIDED"


def test_decide_task_typed_errors(gql, org, requests):
    task = open_task_of(requests[0], org.manager)
    cases = [
        ({"decision": "REJECT"}, "REASON_REQUIRED", "comment"),
        ({"decision": "CONFIRM"}, "DECISION_NOT_ALLOWED", "decision"),
        ({"decision": "APPEAL"}, "EVIDENCE_REQUIRED", "attachments"),
        ({"decision": "APPEAL", "attachments": ["nope"]}, "NOT_FOUND", "attachments.0"),
        ({"decision": "DELEGATE", "delegateTo": "bad"}, "NOT_FOUND", "delegateTo"),
    ]
    for extra, code, path in cases:
        out = gql(DECIDE, {"input": {"taskId": tid(task), **extra}}, as_user=org.manager)
        error = out["data"]["decideTask"]["errors"][0]
        assert (error["code"], error["path"]) == (code, path), extra
    assert ApprovalTask.objects.get(pk=task.pk).status == "open"
    out = gql(DECIDE, {"input": {"taskId": "junk", "decision": "APPROVE"}}, as_user=org.manager)
    assert out["data"]["decideTask"]["errors"][0]["code"] == "NOT_FOUND"


def test_delegate_and_appeal_through_the_api(gql, org, requests):
    task = open_task_of(requests[0], org.manager)
    outsider = make_user("outsider", make_workspace("elsewhere"))
    out = gql(
        DECIDE,
        {
            "input": {
                "taskId": tid(task),
                "decision": "DELEGATE",
                "delegateTo": to_global_id("User", outsider.pk),
            }
        },
        as_user=org.manager,
    )["data"]["decideTask"]
    assert out["errors"][0]["code"] == "NOT_FOUND"

    out = gql(
        DECIDE,
        {
            "input": {
                "taskId": tid(task),
                "decision": "DELEGATE",
                "delegateTo": to_global_id("User", org.rep2.pk),
            }
        },
        as_user=org.manager,
    )["data"]["decideTask"]
    assert out["task"]["decision"] == "DELEGATE"
    assert out["delegatedTask"]["status"] == "OPEN"

    other = open_task_of(requests[1], org.manager)
    shot = screenshot(org.actor(org.manager))
    out = gql(
        DECIDE,
        {
            "input": {
                "taskId": tid(other),
                "decision": "APPEAL",
                "attachments": [to_global_id("Attachment", shot.pk)],
            }
        },
        as_user=org.manager,
    )["data"]["decideTask"]
    assert out["errors"] == [] and out["task"]["decision"] == "APPEAL"


def test_bulk_decide_limit_and_success(gql, org, requests, settings):
    ids = [tid(open_task_of(r, org.manager)) for r in requests]
    settings.DAJIAN = {**settings.DAJIAN, "MAX_BULK_DECISIONS": 3}
    over = gql(BULK, {"ids": ids, "decision": "APPROVE"}, as_user=org.manager)
    assert over["data"]["bulkDecideTasks"] == {
        "tasks": [],
        "errors": [{"field": "taskIds", "path": "taskIds", "code": "LIMIT_EXCEEDED"}],
    }
    assert not ApprovalRequest.objects.filter(status="approved").exists()

    denied = gql(BULK, {"ids": ids[:3], "decision": "APPROVE"}, as_user=org.director)
    assert [e["path"] for e in denied["data"]["bulkDecideTasks"]["errors"]] == [
        "taskIds.0",
        "taskIds.1",
        "taskIds.2",
    ]

    out = gql(BULK, {"ids": ids[:3], "decision": "APPROVE"}, as_user=org.manager)
    payload = out["data"]["bulkDecideTasks"]
    assert payload["errors"] == [] and [t["decision"] for t in payload["tasks"]] == ["APPROVE"] * 3
    assert ApprovalRequest.objects.filter(status="approved").count() == 3


def overdue_todo(org, user, record_id=None):
    return TodoTask.objects.create(
        workspace=org.workspace,
        assignee=user,
        kind="todo",
        created_at=timezone.now(),
        title={"en": "Overdue: record 7 in Visit", "zh-CN": "超时：记录 7 停留在「拜访」"},
        record_id=record_id,
        message={"en": "Record 7 is overdue in Visit.", "zh-CN": "记录 7 在「拜访」已超时。"},
        suggested_actions=[{"type": "open_record", "record": record_id}],
    )


def test_todos_show_their_message_and_suggestions(gql, org, requests, settings):
    settings.LANGUAGE_CODE = "en"
    record_id = requests[0].record_id
    task = overdue_todo(org, org.manager, record_id)

    out = gql(TODOS, {}, as_user=org.manager)["data"]["myTasks"]["edges"]

    assert out == [
        {
            "node": {
                "id": tid(task),
                "kind": "TODO",
                "title": "Overdue: record 7 in Visit",
                "message": "Record 7 is overdue in Visit.",
                "suggestedActions": [{"type": "open_record", "record": record_id}],
                "record": {"id": to_global_id("Record", record_id)},
            }
        }
    ]
    approvals = gql(MY_TASKS, {"kind": "APPROVAL", "first": 1}, as_user=org.manager)
    assert "errors" not in approvals


def test_to_do_messages_cost_one_query_per_page(gql, org, requests):
    query = MY_TASKS.replace("escalated", "escalated message suggestedActions")
    gql(query, {"first": 20}, as_user=org.manager)  # warm caches
    with CaptureQueriesContext(connection) as queries:
        gql(query, {"first": 20}, as_user=org.manager)
    approvals_only = len(queries)
    for _ in range(10):
        overdue_todo(org, org.manager)

    with CaptureQueriesContext(connection) as queries:
        out = gql(query, {"first": 20}, as_user=org.manager)

    nodes = [e["node"] for e in out["data"]["myTasks"]["edges"]]
    assert [n["kind"] for n in nodes].count("TODO") == 10 and len(nodes) == 14
    assert len(queries) <= approvals_only + 1, [q["sql"] for q in queries]


def test_complete_task_denied_to_others_then_allowed(gql, org, requests):
    task = overdue_todo(org, org.manager)
    variables = {"input": {"taskId": tid(task), "comment": "Called them"}}
    anonymous = gql(COMPLETE, variables)
    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    denied = gql(COMPLETE, variables, as_user=org.director)["data"]["completeTask"]
    assert denied["task"] is None and denied["errors"][0]["code"] == "NOT_ASSIGNEE"

    out = gql(COMPLETE, variables, as_user=org.manager)["data"]["completeTask"]

    assert out["errors"] == []
    assert out["task"]["status"] == "DONE" and out["task"]["comment"] == "Called them"
    assert out["task"]["completedAt"] and out["task"]["message"]
    again = gql(COMPLETE, variables, as_user=org.manager)["data"]["completeTask"]
    assert again["errors"][0]["code"] == "ALREADY_DECIDED"


def test_approval_tasks_are_not_completed(gql, org, requests):
    approval = open_task_of(requests[0], org.manager)
    for task_id, code in ((tid(approval), "USE_DECIDE_TASK"), ("junk", "NOT_FOUND")):
        out = gql(COMPLETE, {"input": {"taskId": task_id}}, as_user=org.manager)
        error = out["data"]["completeTask"]["errors"][0]
        assert (error["code"], error["path"]) == (code, "taskId")
    assert ApprovalTask.objects.get(pk=approval.pk).status == "open"
