"""GraphQL of the stage engine: advanceStage, the record's stage fields, stageStats,
and a constant number of queries for a page of records."""

from __future__ import annotations

import datetime as dt

import pytest

from dajian.runtime.models import Record, StageEntry
from dajian.runtime.services.records import create_record
from dajian.runtime.stages.engine import advance_stage
from tests.factories import make_actor, make_user
from tests.runtime.stage_helpers import REQUIREMENT_DATA, build_pipeline, gid, upload

ADVANCE = """
mutation A($input: AdvanceStageInput!) {
  advanceStage(input: $input) {
    record { id stage stageLabel version }
    request { id status }
    errors { field path code message }
  }
}"""
RECORD = """
query R($id: ID!) {
  record(id: $id) {
    stage
    availableTransitions { to label allowed approval missing { field code message } reasons { key label } }
    stageHistory { stage enteredAt enteredBy exitedAt exitedBy nextStage durationSeconds comment reason }
    stageTiming { enteredAt elapsedSeconds level warningAt overdueAt }
  }
}"""  # noqa: E501
RECORDS = """
query L($first: Int) {
  records(app: "sales", form: "deal", first: $first) {
    edges { node {
      id stage stageLabel
      availableTransitions { to allowed missing { field code message } }
      stageHistory { stage enteredBy durationSeconds }
      stageTiming { level elapsedSeconds }
    } }
  }
}"""
STATS = """
query S {
  stageStats(app: "sales", form: "deal") {
    stages { stage label current closed averageSeconds }
    transitions { from to count averageSeconds }
  }
}"""


@pytest.fixture
def form(admin_actor, form_factory):
    return build_pipeline(admin_actor, form_factory)


@pytest.fixture
def manager(workspace):
    return make_user("mgr", workspace, roles=["manager"])


@pytest.fixture
def rep(workspace, manager):
    return make_user("rep", workspace, roles=["rep"], manager=manager)


@pytest.fixture
def rep_actor(rep, workspace):
    return make_actor(rep, workspace)


def deal(actor, **data):
    return create_record(actor, "sales", "deal", {"name": "Acme", **data}).record


def advance(gql, user, record_id, to, **extra):
    variables = {"input": {"id": gid("Record", record_id), "to": to, **extra}}
    return gql(ADVANCE, variables, as_user=user, language="en")["data"]["advanceStage"]


def test_advance_stage_is_denied_without_update_scope_then_allowed(gql, workspace, rep, form):
    record = deal(make_actor(rep, workspace))
    other = make_user("other_rep", workspace, roles=["rep"])  # update: own records only

    denied = advance(gql, other, record.pk, "requirement")
    assert denied["record"] is None
    assert [e["code"] for e in denied["errors"]] == ["PERMISSION_DENIED"]
    assert Record.objects.get(pk=record.pk).stage == "lead"

    allowed = advance(gql, rep, record.pk, "requirement", expectedVersion=1, comment="called")
    assert allowed["errors"] == []
    assert allowed["record"]["stage"] == "requirement" and allowed["record"]["version"] == 2
    assert allowed["request"] is None


def test_anonymous_callers_are_refused(gql, rep_actor, form):
    record = deal(rep_actor)
    body = gql(ADVANCE, {"input": {"id": gid("Record", record.pk), "to": "requirement"}})
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


def test_stage_locked_carries_the_missing_checklist(gql, rep, rep_actor, form):
    record = deal(rep_actor, amount=0)
    advance_stage(rep_actor, record.pk, "requirement")
    listed = gql(RECORD, {"id": gid("Record", record.pk)}, as_user=rep, language="en")
    proposal = next(
        o for o in listed["data"]["record"]["availableTransitions"] if o["to"] == "proposal"
    )
    assert proposal["allowed"] is False

    refused = advance(gql, rep, record.pk, "proposal")
    errors = refused["errors"]
    assert errors[0]["code"] == "STAGE_LOCKED" and errors[0]["field"] == "to"
    assert [{k: e[k] for k in ("field", "code", "message")} for e in errors[1:]] == proposal[
        "missing"
    ]
    assert [e["code"] for e in errors[1:]] == ["REQUIRED", "REQUIRED", "AMOUNT_MISSING"]


def test_bad_inputs_return_typed_errors(gql, rep, rep_actor, form):
    record = deal(rep_actor)
    cases = [
        ({"to": "nowhere"}, [("to", "UNKNOWN_STAGE")]),
        ({"to": "proposal"}, [("to", "TRANSITION_NOT_ALLOWED")]),
        ({"to": "requirement", "expectedVersion": 7}, [("expectedVersion", "STALE_VERSION")]),
        ({"to": "lost"}, [("reason", "REASON_REQUIRED")]),
    ]
    for extra, expected in cases:
        result = advance(gql, rep, record.pk, **extra)
        assert [(e["field"], e["code"]) for e in result["errors"]] == expected, extra
    malformed = gql(ADVANCE, {"input": {"id": "nope", "to": "lost"}}, as_user=rep)
    assert malformed["data"]["advanceStage"]["errors"][0]["code"] == "NOT_FOUND"
    assert Record.objects.get(pk=record.pk).version == 1


def test_messages_follow_the_callers_language(gql, rep, rep_actor, form):
    record = deal(rep_actor)
    variables = {"input": {"id": gid("Record", record.pk), "to": "nowhere"}}
    zh = gql(ADVANCE, variables, as_user=rep, language="zh-CN")["data"]["advanceStage"]
    en = gql(ADVANCE, variables, as_user=rep, language="en")["data"]["advanceStage"]
    assert zh["errors"][0]["message"] == "流程中没有阶段「nowhere」。"
    assert en["errors"][0]["message"] == "The workflow has no stage 'nowhere'."


def test_record_stage_fields(gql, rep, rep_actor, form, workspace):
    record = deal(rep_actor, **REQUIREMENT_DATA)
    advance_stage(rep_actor, record.pk, "requirement", comment="qualified")
    data = gql(RECORD, {"id": gid("Record", record.pk)}, as_user=rep, language="en")["data"]
    found = data["record"]
    assert found["stage"] == "requirement"
    assert found["availableTransitions"] == [
        {
            "to": "proposal",
            "label": "Proposal",
            "allowed": True,
            "approval": None,
            "missing": [],
            "reasons": [],
        },
        {
            "to": "lost",
            "label": "Lost",
            "allowed": True,
            "approval": None,
            "missing": [],
            "reasons": [
                {"key": "competitor", "label": "Lost to a competitor"},
                {"key": "budget", "label": "No budget"},
            ],
        },
    ]
    history = found["stageHistory"]
    assert [(h["stage"], h["enteredBy"], h["exitedBy"], h["nextStage"]) for h in history] == [
        ("lead", "rep", "rep", "requirement"),
        ("requirement", "rep", None, None),
    ]
    assert history[1]["comment"] == "qualified" and history[1]["exitedAt"] is None
    assert history[0]["durationSeconds"] >= 0
    timing = found["stageTiming"]
    assert timing["level"] == "OK" and timing["elapsedSeconds"] >= 0
    entered = Record.objects.get(pk=record.pk).stage_entered_at
    warning_at = dt.datetime.fromisoformat(timing["warningAt"])
    assert warning_at == entered + dt.timedelta(days=7)


def test_a_form_without_workflow_has_empty_stage_fields(gql, admin, admin_actor, form_factory):
    form_factory([{"key": "name", "type": "text", "label": "Name"}], key="plain")
    record = create_record(admin_actor, "sales", "plain", {"name": "x"}).record
    found = gql(RECORD, {"id": gid("Record", record.pk)}, as_user=admin)["data"]["record"]
    assert found == {
        "stage": None,
        "availableTransitions": [],
        "stageHistory": [],
        "stageTiming": None,
    }


def _page_queries(gql, user, n_records: int) -> int:
    """Queries of one page of ``n_records``, the session's own (auth_user) left out."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        body = gql(RECORDS, {"first": n_records}, as_user=user)
    assert "errors" not in body, body
    assert len(body["data"]["records"]["edges"]) == n_records
    return len([q for q in queries if '"auth_user"' not in q["sql"]])


def test_a_page_of_records_costs_a_constant_number_of_queries(
    gql, rep, rep_actor, workspace, form, django_assert_max_num_queries
):
    doc = upload(workspace, age=dt.timedelta(days=4))
    for i in range(20):
        record = deal(rep_actor, name=f"d{i}", **REQUIREMENT_DATA, proposal_doc=[doc.pk])
        for to in ("requirement", "proposal")[: i % 3]:
            advance_stage(rep_actor, record.pk, to)
    assert _page_queries(gql, rep, 20) == _page_queries(gql, rep, 5)
    # session and actor (4), form, page, workflow, the page's other records, uploads,
    # stage entries, calendar
    with django_assert_max_num_queries(12):
        body = gql(RECORDS, {"first": 20}, as_user=rep)
    nodes = [e["node"] for e in body["data"]["records"]["edges"]]
    in_proposal = [n for n in nodes if n["stage"] == "proposal"]
    assert in_proposal and all(
        [t["to"] for t in n["availableTransitions"]] == ["negotiation", "lost"] for n in in_proposal
    )
    assert all(n["stageHistory"][0]["stage"] == "lead" for n in nodes)


def test_stage_stats_denied_without_read_then_allowed(gql, admin, rep_actor, workspace, form):
    record = deal(rep_actor)
    advance_stage(rep_actor, record.pk, "requirement")
    StageEntry.objects.filter(record_id=record.pk, stage="lead").update(
        exited_at=StageEntry.objects.get(record_id=record.pk, stage="lead").entered_at
        + dt.timedelta(hours=1)
    )
    deal(rep_actor)
    form.refresh_from_db()
    # a member whose roles match no permission rule of a form with rules may not read
    from tests.factories import build_form

    build_form(
        make_actor(admin, workspace),
        [{"key": "name", "type": "text", "label": "Name"}],
        key="locked",
        permissions=[{"role": "finance", "read": "all"}],
    )
    outsider = make_user("outsider", workspace, roles=["support"])
    denied = gql(STATS.replace('"deal"', '"locked"'), as_user=outsider)
    assert denied["data"]["stageStats"] is None
    assert denied["errors"][0]["extensions"]["code"] == "PERMISSION_DENIED"

    allowed = gql(STATS, as_user=admin, language="en")["data"]["stageStats"]
    stages = {s["stage"]: s for s in allowed["stages"]}
    assert (stages["lead"]["current"], stages["lead"]["closed"]) == (1, 1)
    assert stages["lead"]["averageSeconds"] == pytest.approx(3600)
    assert stages["lead"]["label"] == "New lead"
    assert allowed["transitions"] == [
        {"from": "lead", "to": "requirement", "count": 1, "averageSeconds": pytest.approx(3600)}
    ]


def test_a_transition_with_an_approval_returns_the_request(
    gql, admin_actor, rep, rep_actor, form_factory
):
    from dajian.runtime.models import ApprovalRequest
    from tests.factories import build_chain, build_workflow
    from tests.runtime.stage_helpers import FIELDS, WORKFLOW

    form = form_factory(FIELDS, key="deal")
    transitions = [{"from": "lead", "to": "requirement", "approval": "qualify"}]
    build_workflow(admin_actor, form, {**WORKFLOW, "transitions": transitions})
    build_chain(
        admin_actor,
        form,
        "qualify",
        {"label": "Qualify", "steps": [{"key": "boss", "approvers": [{"type": "manager"}]}]},
    )
    record = deal(rep_actor)
    listed = gql(RECORD, {"id": gid("Record", record.pk)}, as_user=rep)["data"]["record"]
    assert [(o["to"], o["approval"]) for o in listed["availableTransitions"]] == [
        ("requirement", "qualify")
    ]

    result = advance(gql, rep, record.pk, "requirement")

    request = ApprovalRequest.objects.get(record_id=record.pk)
    assert result["errors"] == []
    assert result["request"] == {"id": gid("ApprovalRequest", request.pk), "status": "PENDING"}
    assert result["record"]["stage"] == "lead"
