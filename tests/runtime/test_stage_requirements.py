"""What a record lacks to leave its stage: required fields, evidence with server upload
times, CEL checks and guards; and availableTransitions built from them (R7)."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone, translation

from dajian.platform.errors import DajianError
from dajian.runtime.models import Record, RecordStatus
from dajian.runtime.services.records import create_record
from dajian.runtime.stages.definitions import workflow_for
from dajian.runtime.stages.engine import advance_stage
from dajian.runtime.stages.requirements import missing_requirements
from dajian.runtime.stages.transitions import available_transitions
from tests.factories import build_workflow, make_actor, make_user
from tests.runtime.stage_helpers import FIELDS, REQUIREMENT_DATA, WORKFLOW, build_pipeline, upload

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")


@pytest.fixture
def form(admin_actor, form_factory):
    return build_pipeline(admin_actor, form_factory)


@pytest.fixture
def rep_actor(user_factory, workspace):
    manager = user_factory(roles=["manager"])
    return make_actor(user_factory(roles=["rep"], manager=manager), workspace)


def deal_in(actor, stage: str, **data):
    """A deal of ``actor`` placed in ``stage`` directly (the engine reads the column)."""
    record = create_record(actor, "sales", "deal", {"name": "Acme", **data}).record
    Record.objects.filter(pk=record.pk).update(stage=stage)
    return Record.objects.select_related("form").get(pk=record.pk)


def missing(actor, record, to: str, now=None) -> list[tuple[str | None, str]]:
    workflow = workflow_for(record.form)
    details = missing_requirements(
        actor,
        record,
        workflow.stage_map[record.stage],
        workflow.transition(record.stage, to),
        now or timezone.now(),
    )
    return [(d.field, d.code) for d in details]


def details(actor, record, to: str, now=None):
    workflow = workflow_for(record.form)
    return missing_requirements(
        actor,
        record,
        workflow.stage_map[record.stage],
        workflow.transition(record.stage, to),
        now or timezone.now(),
    )


# --- required fields and checks ----------------------------------------------------------


def test_required_fields_and_checks_with_localised_messages(rep_actor, form):
    record = deal_in(rep_actor, "requirement", amount=0)
    with translation.override("en"):
        found = details(rep_actor, record, "proposal")
    leaving = "must be filled in before leaving Requirement confirmation."
    assert [(d.field, d.code, d.message) for d in found] == [
        ("pain_point", "REQUIRED", f"Pain point {leaving}"),
        ("next_follow_up", "REQUIRED", f"Next follow-up {leaving}"),
        ("amount", "AMOUNT_MISSING", "Estimate the amount"),
    ]
    with translation.override("zh-hans"):
        found = details(rep_actor, record, "proposal")
    assert found[0].message == "离开「需求确认」前必须填写「痛点」。"
    assert found[2].message == "请估算金额"


def test_filled_fields_and_a_true_check_leave_nothing_missing(rep_actor, form):
    record = deal_in(rep_actor, "requirement", **REQUIREMENT_DATA)
    assert missing(rep_actor, record, "proposal") == []


def test_a_check_over_an_empty_field_fails(rep_actor, form):
    # `amount > 0.0` cannot be evaluated without an amount: the stage stays locked
    record = deal_in(
        rep_actor, "requirement", pain_point="x", next_follow_up="2030-01-01T00:00:00Z"
    )
    assert missing(rep_actor, record, "proposal") == [("amount", "AMOUNT_MISSING")]


def test_required_uses_the_field_types_notion_of_empty(rep_actor, admin_actor, form_factory):
    form = form_factory(FIELDS, key="deal")
    build_workflow(
        admin_actor,
        form,
        {
            "initial": "a",
            "stages": [
                {"key": "a", "label": "A", "requirements": {"fields": ["visit_files", "name"]}},
                {"key": "b", "label": "B"},
            ],
            "transitions": [{"from": "a", "to": "b"}],
        },
    )
    record = deal_in(rep_actor, "a")
    Record.objects.filter(pk=record.pk).update(data={"name": "n", "visit_files": []})
    record.refresh_from_db()
    assert missing(rep_actor, record, "b") == [("visit_files", "REQUIRED")]


def test_checks_see_the_record_system_values_and_the_user(rep_actor, admin_actor, form_factory):
    form = form_factory(FIELDS, key="deal")
    build_workflow(
        admin_actor,
        form,
        {
            "initial": "a",
            "stages": [
                {
                    "key": "a",
                    "label": "A",
                    "requirements": {
                        "checks": [
                            {"expression": "record.stage == 'a'", "message": "stage"},
                            {
                                "expression": "'rep' in user.roles",
                                "message": "reps",
                                "code": "REPS",
                            },
                            {"expression": "now > record.created_at", "message": "time"},
                        ]
                    },
                },
                {"key": "b", "label": "B"},
            ],
            "transitions": [{"from": "a", "to": "b"}],
        },
    )
    record = deal_in(rep_actor, "a")
    assert missing(rep_actor, record, "b") == []
    assert missing(admin_actor, record, "b") == [(None, "REPS")]


# --- evidence --------------------------------------------------------------------------


def test_evidence_missing(rep_actor, form):
    record = deal_in(rep_actor, "proposal", amount=20000)
    with translation.override("en"):
        [problem] = details(rep_actor, record, "negotiation")[:1]
    assert (problem.field, problem.code) == ("proposal_doc", "EVIDENCE_MISSING")
    assert problem.message == "Proposal needs at least 1 file(s) (0 now)."


def test_evidence_uploaded_too_recently_says_when_it_will_be_old_enough(rep_actor, form, workspace):
    now = timezone.now()
    doc = upload(workspace, age=dt.timedelta(hours=70), now=now)
    record = deal_in(rep_actor, "proposal", amount=20000, proposal_doc=[doc.pk])
    with translation.override("en"):
        found = details(rep_actor, record, "negotiation", now=now)
    assert [(d.field, d.code) for d in found] == [("proposal_doc", "EVIDENCE_TOO_NEW")]
    ready = (doc.uploaded_at + dt.timedelta(hours=72)).astimezone(SHANGHAI)
    assert ready.strftime("%Y-%m-%d %H:%M") in found[0].message
    assert "72 hours" in found[0].message
    # the same upload passes once 72 hours have passed on the server's clock
    assert missing(rep_actor, record, "negotiation", now=now + dt.timedelta(hours=2)) == []


def test_evidence_age_is_the_servers_upload_time_not_the_clients(rep_actor, form, workspace):
    doc = upload(workspace, age=dt.timedelta(hours=1))
    record = deal_in(rep_actor, "proposal", amount=20000, proposal_doc=[doc.pk])
    # whatever a client claims (a capture time, a file name), only uploaded_at counts
    type(doc).objects.filter(pk=doc.pk).update(captured_at=timezone.now() - dt.timedelta(days=9))
    assert missing(rep_actor, record, "negotiation") == [("proposal_doc", "EVIDENCE_TOO_NEW")]


def test_images_only_and_max_age(rep_actor, form, workspace):
    docs = [upload(workspace, kind="document", age=dt.timedelta(days=1)) for _ in range(2)]
    record = deal_in(rep_actor, "negotiation", visit_files=[d.pk for d in docs])
    assert missing(rep_actor, record, "won") == [("visit_files", "EVIDENCE_MISSING")]

    old = [upload(workspace, kind="image", age=dt.timedelta(days=31)) for _ in range(2)]
    Record.objects.filter(pk=record.pk).update(
        data={"name": "A", "visit_files": [p.pk for p in old]}
    )
    record.refresh_from_db()
    assert missing(rep_actor, record, "won") == [("visit_files", "EVIDENCE_TOO_OLD")]

    fresh = upload(workspace, kind="image", age=dt.timedelta(days=2))
    files = [old[0].pk, fresh.pk, docs[0].pk]
    Record.objects.filter(pk=record.pk).update(data={"name": "A", "visit_files": files})
    record.refresh_from_db()
    assert missing(rep_actor, record, "won") == [("visit_files", "EVIDENCE_TOO_OLD")]

    files.append(upload(workspace, kind="image", age=dt.timedelta(days=3)).pk)
    Record.objects.filter(pk=record.pk).update(data={"name": "A", "visit_files": files})
    record.refresh_from_db()
    assert missing(rep_actor, record, "won") == []


def test_uploads_of_another_workspace_do_not_count(rep_actor, form, other_workspace):
    foreign = [upload(other_workspace, kind="image", age=dt.timedelta(days=1)) for _ in range(2)]
    record = deal_in(rep_actor, "negotiation")
    Record.objects.filter(pk=record.pk).update(
        data={"name": "A", "visit_files": [f.pk for f in foreign]}
    )
    record.refresh_from_db()
    assert missing(rep_actor, record, "won") == [("visit_files", "EVIDENCE_MISSING")]


def test_business_min_age_counts_working_days(rep_actor, admin_actor, form_factory, workspace):
    form = form_factory(FIELDS, key="deal")
    build_workflow(
        admin_actor,
        form,
        {
            "initial": "a",
            "stages": [
                {
                    "key": "a",
                    "label": "A",
                    "requirements": {
                        "evidence": [
                            {"field": "proposal_doc", "min_age": {"days": 1, "business": True}}
                        ]
                    },
                },
                {"key": "b", "label": "B"},
            ],
            "transitions": [{"from": "a", "to": "b"}],
        },
    )
    # uploaded on Friday 2025-03-07 at 17:00 in Shanghai; one working day later is
    # Monday 17:00, although 65 hours have passed by Monday 10:00
    friday = dt.datetime(2025, 3, 7, 17, 0, tzinfo=SHANGHAI)
    monday_morning = dt.datetime(2025, 3, 10, 10, 0, tzinfo=SHANGHAI)
    doc = upload(workspace, age=dt.timedelta(0), now=friday)
    record = deal_in(rep_actor, "a", proposal_doc=[doc.pk])
    with translation.override("en"):
        found = details(rep_actor, record, "b", now=monday_morning)
    assert [(d.field, d.code) for d in found] == [("proposal_doc", "EVIDENCE_TOO_NEW")]
    assert "2025-03-10 17:00" in found[0].message and "1 working day" in found[0].message
    assert missing(rep_actor, record, "b", now=monday_morning + dt.timedelta(hours=7)) == []


def test_all_evidence_of_a_record_is_read_in_one_query(
    rep_actor, admin_actor, form_factory, workspace
):
    form = form_factory(FIELDS, key="deal")
    build_workflow(
        admin_actor,
        form,
        {
            "initial": "a",
            "stages": [
                {
                    "key": "a",
                    "label": "A",
                    "requirements": {
                        "evidence": [
                            {"field": "proposal_doc", "min_count": 2},
                            {"field": "visit_files", "min_count": 2, "images_only": True},
                        ]
                    },
                },
                {"key": "b", "label": "B"},
            ],
            "transitions": [{"from": "a", "to": "b"}],
        },
    )
    docs = [upload(workspace).pk for _ in range(2)]
    images = [upload(workspace, kind="image").pk for _ in range(2)]
    record = deal_in(rep_actor, "a", proposal_doc=docs, visit_files=images)
    with CaptureQueriesContext(connection) as queries:
        result = missing(rep_actor, record, "b")
    assert result == []
    assert len([q for q in queries if "platform_attachment" in q["sql"]]) == 1


# --- guards ----------------------------------------------------------------------------


def test_guard_false_is_listed_with_its_message(rep_actor, form, workspace):
    doc = upload(workspace, age=dt.timedelta(days=4))
    record = deal_in(rep_actor, "proposal", amount=500, proposal_doc=[doc.pk])
    with translation.override("en"):
        found = details(rep_actor, record, "negotiation")
    assert [(d.field, d.code, d.message) for d in found] == [
        (None, "GUARD_FAILED", "Negotiate deals of 10,000 or more")
    ]
    Record.objects.filter(pk=record.pk).update(data={**record.data, "amount": 10000})
    record.refresh_from_db()
    assert missing(rep_actor, record, "negotiation") == []


# --- availableTransitions ----------------------------------------------------------------


def options(actor, record):
    return {
        o.to: (o.allowed, [(m.field, m.code) for m in o.missing])
        for o in available_transitions(actor, record)
    }


def test_available_transitions_list_what_each_lacks(rep_actor, form):
    record = deal_in(rep_actor, "requirement", amount=0)
    found = available_transitions(rep_actor, record)
    assert [o.to for o in found] == ["proposal", "lost"]
    lacking = [("pain_point", "REQUIRED"), ("next_follow_up", "REQUIRED")]
    lacking.append(("amount", "AMOUNT_MISSING"))
    assert options(rep_actor, record) == {"proposal": (False, lacking), "lost": (False, lacking)}
    lost = found[1]
    assert [r.key for r in lost.reasons] == ["competitor", "budget"] and lost.approval is None


def test_the_missing_list_is_the_refusal_of_advance_stage(rep_actor, form):
    record = deal_in(rep_actor, "requirement", amount=0)
    listed = next(o for o in available_transitions(rep_actor, record) if o.to == "proposal")
    with pytest.raises(DajianError) as exc:
        advance_stage(rep_actor, record.pk, "proposal")
    assert exc.value.errors[0].code == "STAGE_LOCKED"
    assert exc.value.errors[1:] == list(listed.missing)


def test_allowed_once_nothing_is_missing(rep_actor, form):
    record = deal_in(rep_actor, "requirement", **REQUIREMENT_DATA)
    assert options(rep_actor, record) == {"proposal": (True, []), "lost": (True, [])}


def test_roles_status_and_update_scope_show_in_missing(rep_actor, user_factory, workspace, form):
    record = deal_in(rep_actor, "requirement", **REQUIREMENT_DATA)
    support = make_actor(user_factory(roles=["support"]), workspace)
    # support does not own the record (update: own) and has no role for "proposal"
    assert options(support, record) == {
        "proposal": (False, [(None, "PERMISSION_DENIED"), ("to", "TRANSITION_NOT_ALLOWED")]),
        "lost": (False, [(None, "PERMISSION_DENIED")]),
    }
    Record.objects.filter(pk=record.pk).update(status=RecordStatus.IN_APPROVAL)
    record.refresh_from_db()
    assert options(rep_actor, record)["proposal"] == (False, [(None, "APPROVAL_PENDING")])
    Record.objects.filter(pk=record.pk).update(status=RecordStatus.FROZEN)
    record.refresh_from_db()
    assert options(rep_actor, record)["lost"] == (False, [(None, "RECORD_FROZEN")])


def test_team_scope_is_decided_for_the_whole_page_in_one_query(
    workspace, admin_actor, form_factory
):
    from dajian.runtime.stages.transitions import transitions_for_records

    team_rules = [{"role": "*", "create": True, "read": "all", "update": "team"}]
    form = form_factory(FIELDS, key="deal", permissions=team_rules)
    build_workflow(admin_actor, form, WORKFLOW)
    boss = make_user("lead_boss", workspace)
    member = make_actor(make_user("member", workspace, roles=["rep"], manager=boss), workspace)
    outsider = make_actor(make_user("outsider", workspace, roles=["rep"]), workspace)
    boss_actor = make_actor(boss, workspace)
    records = [
        create_record(member, "sales", "deal", {"name": "m"}).record,
        create_record(outsider, "sales", "deal", {"name": "o"}).record,
    ]
    workflow = workflow_for(form)
    with CaptureQueriesContext(connection) as queries:
        found = transitions_for_records(boss_actor, form, workflow, records)
    assert len(queries) <= 3  # team paths, the scope query, (no evidence in "lead")
    allowed = {pk: found[pk][0].allowed for pk in found}
    assert allowed == {records[0].pk: True, records[1].pk: False}


# --- a false guard together with missing requirements -----------------------------------


def test_a_false_guard_with_missing_requirements_is_one_checklist(rep_actor, form):
    record = deal_in(rep_actor, "proposal", amount=500)  # no proposal document either
    listed = next(o for o in available_transitions(rep_actor, record) if o.to == "negotiation")
    assert [(m.field, m.code) for m in listed.missing] == [
        ("proposal_doc", "EVIDENCE_MISSING"),
        (None, "GUARD_FAILED"),
    ]
    with pytest.raises(DajianError) as exc:
        advance_stage(rep_actor, record.pk, "negotiation")
    assert exc.value.errors[0].code == "STAGE_LOCKED" and exc.value.errors[0].field == "to"
    assert exc.value.errors[1:] == list(listed.missing)


# --- transitions that skip the stage's requirements ----------------------------------------


@pytest.fixture
def lost_anytime(admin_actor, form_factory):
    """The pipeline whose "*" → lost skips the requirements but keeps a guard."""
    form = form_factory(FIELDS, key="deal")
    lost = {
        "from": "*",
        "to": "lost",
        "check_requirements": False,
        "guard": "name != 'keep'",
        "roles": ["rep"],
    }
    build_workflow(
        admin_actor, form, {**WORKFLOW, "transitions": [*WORKFLOW["transitions"][:-1], lost]}
    )
    return form


def test_check_requirements_false_skips_the_stage_requirements(rep_actor, lost_anytime):
    record = deal_in(rep_actor, "requirement", amount=0)
    assert options(rep_actor, record)["lost"] == (True, [])
    assert options(rep_actor, record)["proposal"][0] is False  # other transitions still check
    advance_stage(rep_actor, record.pk, "lost", reason="budget")
    assert Record.objects.get(pk=record.pk).stage == "lost"


def test_check_requirements_false_keeps_the_guard_and_the_roles(
    rep_actor, user_factory, workspace, lost_anytime
):
    record = deal_in(rep_actor, "requirement", name="keep", amount=0)
    assert options(rep_actor, record)["lost"] == (False, [(None, "GUARD_FAILED")])
    with pytest.raises(DajianError) as exc:
        advance_stage(rep_actor, record.pk, "lost", reason="budget")
    assert [e.code for e in exc.value.errors] == ["GUARD_FAILED"]
    manager = make_actor(user_factory(roles=["manager"]), workspace)
    assert options(manager, record)["lost"] == (
        False,
        [(None, "PERMISSION_DENIED"), ("to", "TRANSITION_NOT_ALLOWED"), (None, "GUARD_FAILED")],
    )


def test_transitions_check_requirements_by_default(form):
    workflow = workflow_for(form)
    assert all(t.check_requirements for t in workflow.transitions)
