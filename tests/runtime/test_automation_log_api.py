"""The run log over GraphQL (admins): automationRuns, automationRun { executions },
actionTypes, nextRuns and runAutomation."""

from __future__ import annotations

from graphql_relay import to_global_id

from dajian.runtime.models import AutomationRun
from dajian.runtime.services.records import create_record
from tests.automation_helpers import drain_outbox, publish_automation
from tests.factories import make_actor, make_user

FIELDS = [{"key": "name", "type": "text", "label": "Name"}]
RUNS = """
query R($status: String) { automationRuns(app: "sales", status: $status, first: 10) {
  edges { node { id app automation version trigger triggerKey depth status recordsScanned
                 recordsMatched actionsDone actionsFailed message startedAt finishedAt } }
  pageInfo { hasNextPage }
} }"""
RUN = """
query R($id: ID!) { automationRun(id: $id) { automation status
  executions { actionIndex actionType record status attempts result error } } }"""


def _setup(admin_actor, form_factory, workspace):
    form = form_factory(FIELDS)
    publish_automation(
        admin_actor,
        form,
        "hello",
        {
            "trigger": {"type": "record_created"},
            "actions": [{"type": "notify", "to": [{"type": "owner"}], "message": "hi {{ name }}"}],
        },
    )
    rep = make_user("rep", workspace)
    record = create_record(make_actor(rep, workspace), "sales", "customer", {"name": "A"}).record
    drain_outbox()
    return record, rep


def test_admins_read_the_run_log_and_a_runs_executions(
    gql, admin, admin_actor, form_factory, workspace
):
    record, _ = _setup(admin_actor, form_factory, workspace)
    data = gql(RUNS, as_user=admin)["data"]["automationRuns"]
    (edge,) = data["edges"]
    node = edge["node"]
    assert (node["app"], node["automation"], node["version"], node["trigger"]) == (
        "sales",
        "hello",
        1,
        "record_created",
    )
    assert (node["status"], node["recordsMatched"], node["actionsDone"]) == ("succeeded", 1, 1)
    run = gql(RUN, {"id": node["id"]}, as_user=admin)["data"]["automationRun"]
    assert run["executions"] == [
        {
            "actionIndex": 0,
            "actionType": "notify",
            "record": to_global_id("Record", record.pk),
            "status": "done",
            "attempts": 1,
            "result": run["executions"][0]["result"],
            "error": "",
        }
    ]
    assert gql(RUNS, {"status": "failed"}, as_user=admin)["data"]["automationRuns"]["edges"] == []


def test_members_cannot_read_the_log(gql, admin_actor, form_factory, workspace):
    _, rep = _setup(admin_actor, form_factory, workspace)
    result = gql(RUNS, as_user=rep)
    assert result["data"] is None or result["data"]["automationRuns"] is None
    assert result["errors"][0]["extensions"]["code"] == "PERMISSION_DENIED"
    run_id = to_global_id("AutomationRun", AutomationRun.objects.get().pk)
    result = gql(RUN, {"id": run_id}, as_user=rep)
    assert result["errors"][0]["extensions"]["code"] == "PERMISSION_DENIED"


def test_another_workspaces_run_is_not_found(
    gql, admin_actor, form_factory, workspace, other_workspace
):
    _setup(admin_actor, form_factory, workspace)
    stranger = make_user("stranger", other_workspace, is_admin=True)
    run_id = to_global_id("AutomationRun", AutomationRun.objects.get().pk)
    result = gql(RUN, {"id": run_id}, as_user=stranger, workspace="other")
    assert result["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    listed = gql(RUNS, as_user=stranger, workspace="other")["data"]["automationRuns"]
    assert listed["edges"] == []


def test_executions_are_read_one_run_at_a_time(gql, admin, admin_actor, form_factory, workspace):
    _setup(admin_actor, form_factory, workspace)
    query = "{ automationRuns(first: 5) { edges { node { executions { status } } } } }"
    result = gql(query, as_user=admin)
    assert result["errors"][0]["extensions"]["code"] == "INVALID_INPUT"


def test_action_types_and_next_runs(gql, admin):
    types = gql("{ actionTypes { type label schema } }", as_user=admin)["data"]["actionTypes"]
    names = {t["type"] for t in types}
    assert {
        "notify",
        "email",
        "im_robot",
        "webhook",
        "create_todo",
        "set_fields",
        "create_record",
        "change_owner",
        "release_to_pool",
        "update_related",
        "start_approval",
        "flag_similar_text",
    } <= names
    assert not any(name.startswith("test_") for name in names)
    assert all(t["schema"]["type"] == "object" and t["label"]["zh-CN"] for t in types)
    ticks = gql('{ nextRuns(cron: "0 10 * * 1", count: 2) }', as_user=admin)["data"]["nextRuns"]
    assert len(ticks) == 2 and all(t.endswith("T10:00:00+08:00") for t in ticks)
    bad = gql('{ nextRuns(cron: "whenever") }', as_user=admin)
    assert bad["errors"][0]["extensions"]["code"] == "INVALID_CRON"


RUN_NOW = """
mutation { runAutomation(input: {app: "sales", key: "hello"}) { queued errors { code message } } }
"""


def test_run_now_only_for_scheduled_or_date_automations(
    gql, admin, admin_actor, form_factory, workspace
):
    _setup(admin_actor, form_factory, workspace)
    result = gql(RUN_NOW, as_user=admin)["data"]["runAutomation"]
    assert result["queued"] is None
    assert result["errors"][0]["code"] == "INVALID_INPUT"
