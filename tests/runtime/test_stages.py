"""The stage engine: initial stage on create, advance_stage and its refusals,
complete_transition, stage history, transitions that wait for an approval (R7, R10)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from dajian.platform.errors import DajianError
from dajian.platform.models import AuditEvent, Role
from dajian.runtime.models import OutboxEvent, Record, RecordStatus, StageEntry, Timer
from dajian.runtime.services.records import create_record, update_record
from dajian.runtime.stages.definitions import workflow_for
from dajian.runtime.stages.engine import advance_stage, complete_transition
from dajian.runtime.stages.history import stage_history
from dajian.runtime.stages.initial import initialize_existing_records
from tests.factories import build_workflow, make_actor
from tests.runtime.stage_helpers import FIELDS, REQUIREMENT_DATA, WORKFLOW, build_pipeline, upload


@pytest.fixture
def form(admin_actor, form_factory):
    return build_pipeline(admin_actor, form_factory)


@pytest.fixture
def manager(user_factory):
    return user_factory(roles=["manager"])


@pytest.fixture
def rep(user_factory, manager):
    return user_factory(roles=["rep"], manager=manager)


@pytest.fixture
def rep_actor(rep, workspace):
    return make_actor(rep, workspace)


def new_deal(actor, **data):
    return create_record(actor, "sales", "deal", {"name": "Acme", **data}).record


def refusal(call, *args, **kwargs) -> list[tuple[str | None, str]]:
    with pytest.raises(DajianError) as exc:
        call(*args, **kwargs)
    return [(e.field, e.code) for e in exc.value.errors]


def snapshot(record_id: int) -> tuple:
    """Everything a refused move must leave as it was."""
    record = Record.objects.get(pk=record_id)
    return (
        record.stage,
        record.version,
        record.stage_entered_at,
        StageEntry.objects.filter(record_id=record_id).count(),
        AuditEvent.objects.count(),
        OutboxEvent.objects.count(),
        Timer.objects.filter(cancelled_at__isnull=True).count(),
    )


# --- the initial stage ---------------------------------------------------------------


def test_create_enters_the_initial_stage_with_history_and_timers(rep_actor, form):
    record = new_deal(rep_actor)
    stored = Record.objects.get(pk=record.pk)
    assert stored.stage == "lead" and stored.stage_entered_at == stored.created_at
    entry = StageEntry.objects.get(record=stored)
    assert (entry.stage, entry.entered_by_id, entry.exited_at) == ("lead", rep_actor.user_id, None)
    keys = sorted(Timer.objects.values_list("key", "kind"))
    assert keys == [
        (f"stage:{record.pk}:{entry.pk}:overdue", "stage.overdue"),
        (f"stage:{record.pk}:{entry.pk}:warning", "stage.warning"),
    ]


def test_create_reads_the_workflow_with_the_form_not_in_a_query_of_its_own(
    admin_actor, form_factory
):
    form_factory([{"key": "name", "type": "text", "label": "Name"}], key="plain")
    with CaptureQueriesContext(connection) as queries:
        record = create_record(admin_actor, "sales", "plain", {"name": "x"}).record
    lookups = [q["sql"] for q in queries if 'FROM "builder_metadata' in q["sql"]]
    assert lookups == []
    assert Record.objects.get(pk=record.pk).stage is None
    assert not StageEntry.objects.exists() and not Timer.objects.exists()


def test_a_newly_published_workflow_applies_to_the_next_create(admin_actor, form_factory):
    form = form_factory(FIELDS, key="deal")
    before = new_deal(admin_actor)
    build_workflow(admin_actor, form, WORKFLOW)
    after = new_deal(admin_actor)
    assert Record.objects.get(pk=before.pk).stage is None
    assert Record.objects.get(pk=after.pk).stage == "lead"


def test_publishing_a_first_workflow_initializes_existing_records_set_based(
    admin_actor, form_factory
):
    form = form_factory(FIELDS, key="deal")
    for i in range(12):
        new_deal(admin_actor, name=f"d{i}")
    workflow = build_workflow(admin_actor, form, WORKFLOW)
    now = timezone.now()
    with CaptureQueriesContext(connection) as queries:
        moved = initialize_existing_records(form, workflow_for(form), now)
    assert moved == 12
    # one UPDATE, the entries' INSERT … SELECT, one timer INSERT … SELECT per level
    writes = [q for q in queries if q["sql"].split()[0] in ("UPDATE", "INSERT")]
    assert len(writes) == 4, [q["sql"][:60] for q in writes]
    assert set(Record.objects.values_list("stage", "stage_entered_at")) == {("lead", now)}
    assert StageEntry.objects.filter(stage="lead", exited_at__isnull=True).count() == 12
    entry = StageEntry.objects.order_by("pk").first()
    assert entry.entered_by_id is None
    timer = Timer.objects.get(key=f"stage:{entry.record_id}:{entry.pk}:overdue")
    assert timer.kind == "stage.overdue" and timer.payload == {"stage": "lead"}
    assert Timer.objects.count() == 24
    # records that already have a stage are left alone
    assert initialize_existing_records(form, workflow_for(form), now) == 0
    assert workflow.published is not None


def test_publishing_through_the_builder_runs_the_initialization(
    admin_actor, rep_actor, form_factory
):
    from dajian.builder.services.metadata import publish_metadata, save_workflow

    form = form_factory(FIELDS, key="deal")
    record = new_deal(admin_actor)
    save_workflow(admin_actor, "sales", "deal", {"form": "deal", **WORKFLOW})
    publish_metadata(admin_actor, "workflow", "sales", "deal")
    assert Record.objects.get(pk=record.pk).stage == "lead"
    assert StageEntry.objects.filter(record_id=record.pk, exited_at__isnull=True).count() == 1
    assert form.pk == Record.objects.get(pk=record.pk).form_id


# --- moving ----------------------------------------------------------------------------


def test_advance_moves_the_record_and_keeps_history(rep_actor, form):
    record = new_deal(rep_actor)
    first = StageEntry.objects.get(record_id=record.pk)

    result = advance_stage(rep_actor, record.pk, "requirement", expected_version=1, comment="met")

    stored = Record.objects.get(pk=record.pk)
    assert (stored.stage, stored.version) == ("requirement", 2)
    assert stored.updated_by_id == rep_actor.user_id
    assert result.record.stage == "requirement" and result.request is None
    first.refresh_from_db()
    assert first.exited_by_id == rep_actor.user_id and first.next_stage == "requirement"
    assert first.exited_at == stored.stage_entered_at
    current = StageEntry.objects.get(record_id=record.pk, exited_at__isnull=True)
    assert (current.stage, current.comment, current.entered_by_id) == (
        "requirement",
        "met",
        rep_actor.user_id,
    )
    # the lead timers are cancelled, the requirement stage's are scheduled
    pending = Timer.objects.filter(cancelled_at__isnull=True, fired_at__isnull=True)
    assert sorted(pending.values_list("key", flat=True)) == [
        f"stage:{record.pk}:{current.pk}:overdue",
        f"stage:{record.pk}:{current.pk}:warning",
    ]
    assert Timer.objects.filter(cancelled_at__isnull=False).count() == 2
    event = OutboxEvent.objects.get(topic="record.stage_changed")
    assert event.payload["from"] == "lead" and event.payload["to"] == "requirement"
    audit = AuditEvent.objects.filter(action="record.stage_changed").get()
    assert audit.diff == {"stage": ["lead", "requirement"]} and audit.actor_id == rep_actor.user_id


def test_a_record_moves_through_the_whole_funnel(rep_actor, admin_actor, form, manager, workspace):
    doc = upload(workspace, age=dt.timedelta(days=4))
    photos = [upload(workspace, kind="image", age=dt.timedelta(days=1)) for _ in range(2)]
    record = new_deal(
        rep_actor,
        **REQUIREMENT_DATA,
        proposal_doc=[doc.pk],
        visit_files=[p.pk for p in photos],
    )
    for to in ("requirement", "proposal", "negotiation"):
        advance_stage(rep_actor, record.pk, to)
    manager_actor = make_actor(manager, workspace)
    # won is for managers: the rep may not close the deal, the manager may
    assert refusal(advance_stage, rep_actor, record.pk, "won", reason="price") == [
        ("to", "TRANSITION_NOT_ALLOWED")
    ]
    Record.objects.filter(pk=record.pk).update(owner=manager)  # managers update their own
    advance_stage(manager_actor, record.pk, "won", reason="price")
    stored = Record.objects.get(pk=record.pk)
    assert stored.stage == "won" and stored.version == 5
    history = stage_history(stored)
    assert [h.entry.stage for h in history] == [
        "lead",
        "requirement",
        "proposal",
        "negotiation",
        "won",
    ]
    assert history[-1].entry.reason == "price"
    assert [h.entry.next_stage for h in history] == [
        "requirement",
        "proposal",
        "negotiation",
        "won",
        None,
    ]
    # a terminal stage has no way out, not even the "*" transition to lost
    assert refusal(advance_stage, admin_actor, record.pk, "lost", reason="budget") == [
        ("to", "TRANSITION_NOT_ALLOWED")
    ]


def test_any_open_stage_can_go_to_lost_with_a_reason(rep_actor, form):
    record = new_deal(rep_actor)
    assert refusal(advance_stage, rep_actor, record.pk, "lost") == [("reason", "REASON_REQUIRED")]
    assert refusal(advance_stage, rep_actor, record.pk, "lost", reason="bored") == [
        ("reason", "REASON_REQUIRED")
    ]
    advance_stage(rep_actor, record.pk, "lost", reason="competitor", comment="went with X")
    entry = StageEntry.objects.get(record_id=record.pk, exited_at__isnull=True)
    assert (entry.stage, entry.reason, entry.comment) == ("lost", "competitor", "went with X")
    audit = AuditEvent.objects.get(action="record.stage_changed")
    assert audit.diff == {"stage": ["lead", "lost"], "stage_reason": [None, "competitor"]}


# --- refusals: each changes nothing ---------------------------------------------------


def test_unknown_stage(rep_actor, form):
    record = new_deal(rep_actor)
    before = snapshot(record.pk)
    assert refusal(advance_stage, rep_actor, record.pk, "nowhere") == [("to", "UNKNOWN_STAGE")]
    assert snapshot(record.pk) == before


def test_no_transition_between_the_stages(rep_actor, form):
    record = new_deal(rep_actor)
    before = snapshot(record.pk)
    assert refusal(advance_stage, rep_actor, record.pk, "proposal") == [
        ("to", "TRANSITION_NOT_ALLOWED")
    ]
    assert snapshot(record.pk) == before


def test_transition_not_allowed_for_the_role(user_factory, workspace, form):
    outsider = make_actor(user_factory(roles=["support"]), workspace)
    record = new_deal(outsider, **REQUIREMENT_DATA)
    advance_stage(outsider, record.pk, "requirement")  # no roles listed: anyone may
    before = snapshot(record.pk)
    with pytest.raises(DajianError) as exc:
        advance_stage(outsider, record.pk, "proposal")
    assert [(e.field, e.code) for e in exc.value.errors] == [("to", "TRANSITION_NOT_ALLOWED")]
    assert "role" in exc.value.errors[0].message or "角色" in exc.value.errors[0].message
    assert snapshot(record.pk) == before


def test_admins_may_use_every_transition(admin_actor, rep_actor, form):
    record = new_deal(rep_actor, **REQUIREMENT_DATA)
    advance_stage(rep_actor, record.pk, "requirement")
    advance_stage(admin_actor, record.pk, "proposal")  # admin has neither rep nor manager
    assert Record.objects.get(pk=record.pk).stage == "proposal"


def test_guard_false(rep_actor, form, workspace):
    doc = upload(workspace, age=dt.timedelta(days=4))
    record = new_deal(rep_actor, **{**REQUIREMENT_DATA, "amount": 500}, proposal_doc=[doc.pk])
    advance_stage(rep_actor, record.pk, "requirement")
    advance_stage(rep_actor, record.pk, "proposal")
    before = snapshot(record.pk)
    with pytest.raises(DajianError) as exc:
        advance_stage(rep_actor, record.pk, "negotiation")
    [error] = exc.value.errors
    assert error.code == "GUARD_FAILED"
    assert error.message in ("Negotiate deals of 10,000 or more", "金额满一万才谈判")
    assert snapshot(record.pk) == before


def test_missing_requirements_lock_the_stage_with_the_checklist(rep_actor, form):
    record = new_deal(rep_actor, amount=0)
    advance_stage(rep_actor, record.pk, "requirement")
    before = snapshot(record.pk)
    with pytest.raises(DajianError) as exc:
        advance_stage(rep_actor, record.pk, "proposal")
    errors = exc.value.errors
    assert [(e.field, e.code) for e in errors] == [
        ("to", "STAGE_LOCKED"),
        ("pain_point", "REQUIRED"),
        ("next_follow_up", "REQUIRED"),
        ("amount", "AMOUNT_MISSING"),
    ]
    assert "3" in errors[0].message
    assert snapshot(record.pk) == before


def test_stale_version(rep_actor, form):
    record = new_deal(rep_actor)
    update_record(rep_actor, record.pk, {"amount": 5})
    before = snapshot(record.pk)
    assert refusal(advance_stage, rep_actor, record.pk, "requirement", expected_version=1) == [
        ("expectedVersion", "STALE_VERSION")
    ]
    assert snapshot(record.pk) == before
    advance_stage(rep_actor, record.pk, "requirement", expected_version=2)


def test_a_reason_for_a_stage_without_reasons_and_an_overlong_comment(rep_actor, form):
    record = new_deal(rep_actor)
    before = snapshot(record.pk)
    assert refusal(advance_stage, rep_actor, record.pk, "requirement", reason="price") == [
        ("reason", "INVALID_INPUT")
    ]
    assert refusal(advance_stage, rep_actor, record.pk, "requirement", comment="x" * 2001) == [
        ("comment", "INVALID_INPUT")
    ]
    assert snapshot(record.pk) == before


def test_records_in_approval_or_frozen_do_not_move(rep_actor, form):
    record = new_deal(rep_actor)
    for status, code in (
        (RecordStatus.IN_APPROVAL, "APPROVAL_PENDING"),
        (RecordStatus.FROZEN, "RECORD_FROZEN"),
    ):
        Record.objects.filter(pk=record.pk).update(status=status)
        before = snapshot(record.pk)
        assert refusal(advance_stage, rep_actor, record.pk, "requirement") == [(None, code)]
        assert snapshot(record.pk) == before


def test_someone_without_update_scope_is_denied(user_factory, workspace, rep_actor, form):
    record = new_deal(rep_actor)
    other = make_actor(user_factory(roles=["rep"]), workspace)  # update: own only
    before = snapshot(record.pk)
    assert refusal(advance_stage, other, record.pk, "requirement") == [(None, "PERMISSION_DENIED")]
    assert snapshot(record.pk) == before


def test_a_record_of_another_workspace_is_not_found(other_workspace, rep_actor, form):
    from tests.factories import make_user

    stranger = make_actor(make_user("stranger", other_workspace, is_admin=True), other_workspace)
    record = new_deal(rep_actor)
    assert refusal(advance_stage, stranger, record.pk, "requirement") == [(None, "NOT_FOUND")]


def test_a_form_without_workflow(admin_actor, form_factory):
    form_factory([{"key": "name", "type": "text", "label": "Name"}], key="plain")
    record = create_record(admin_actor, "sales", "plain", {"name": "x"}).record
    assert refusal(advance_stage, admin_actor, record.pk, "lead") == [(None, "NO_WORKFLOW")]


def test_update_record_cannot_change_the_stage(rep_actor, form):
    record = new_deal(rep_actor)
    with pytest.raises(DajianError) as exc:
        update_record(rep_actor, record.pk, {"stage": "won"})
    assert [(e.field, e.code) for e in exc.value.errors] == [("stage", "UNKNOWN_FIELD")]
    stored = Record.objects.get(pk=record.pk)
    assert stored.stage == "lead" and stored.version == 1
    # …and an accepted update leaves it alone too
    update_record(rep_actor, record.pk, {"amount": 3})
    assert Record.objects.get(pk=record.pk).stage == "lead"


# --- complete_transition (the approval engine's entry point) ---------------------------


def test_complete_transition_moves_without_checking_requirements(admin_actor, rep_actor, form):
    from django.db import transaction

    from dajian.platform.actors import Actor

    record = new_deal(rep_actor)
    system = Actor.system(admin_actor.workspace)
    with transaction.atomic():
        locked = Record.objects.select_for_update().get(pk=record.pk)
        entry = complete_transition(system, locked, "proposal", comment="approved")
    stored = Record.objects.get(pk=record.pk)
    assert stored.stage == "proposal" and stored.version == 2 and stored.updated_by_id is None
    assert entry.stage == "proposal" and entry.entered_by_id is None
    assert AuditEvent.objects.get(action="record.stage_changed").actor_label == "system"


def test_complete_transition_refuses_a_stage_the_workflow_no_longer_has(admin_actor, form):
    from django.db import transaction

    record = new_deal(admin_actor)
    with transaction.atomic(), pytest.raises(DajianError) as exc:
        locked = Record.objects.select_for_update().get(pk=record.pk)
        complete_transition(admin_actor, locked, "gone")
    assert exc.value.errors[0].code == "UNKNOWN_STAGE"


# --- transitions that need an approval ------------------------------------------------


def test_a_transition_with_an_approval_waits_for_the_chain(
    admin_actor, rep_actor, manager, workspace, form_factory
):
    from dajian.runtime.approvals.services import decide_task
    from dajian.runtime.models import ApprovalRequest, ApprovalTask
    from tests.factories import build_chain

    form = form_factory(FIELDS, key="deal")
    approved_move = {**WORKFLOW, "transitions": [{"from": "lead", "to": "requirement"}]}
    approved_move["transitions"][0]["approval"] = "qualify"
    build_workflow(admin_actor, form, approved_move)
    build_chain(
        admin_actor,
        form,
        "qualify",
        {"label": "Qualify", "steps": [{"key": "boss", "approvers": [{"type": "manager"}]}]},
    )
    record = new_deal(rep_actor)

    result = advance_stage(
        rep_actor, record.pk, "requirement", expected_version=1, comment="qualified on a call"
    )

    # the record waits in its stage, in approval
    request = result.request
    assert isinstance(request, ApprovalRequest) and request.transition_to == "requirement"
    stored = Record.objects.get(pk=record.pk)
    assert (stored.stage, stored.status) == ("lead", RecordStatus.IN_APPROVAL)
    assert StageEntry.objects.filter(record_id=record.pk).count() == 1
    assert refusal(advance_stage, rep_actor, record.pk, "lost", reason="budget") == [
        (None, "APPROVAL_PENDING")
    ]
    # the manager approves: the engine completes the move, as the rep asked for it
    task = ApprovalTask.objects.get(request=request, assignee=manager)
    decide_task(make_actor(manager, rep_actor.workspace), task.pk, "approve")
    stored = Record.objects.get(pk=record.pk)
    assert (stored.stage, stored.status) == ("requirement", RecordStatus.ACTIVE)
    entry = StageEntry.objects.get(record_id=record.pk, exited_at__isnull=True)
    assert (entry.stage, entry.comment, entry.entered_by_id) == (
        "requirement",
        "qualified on a call",
        rep_actor.user_id,
    )
    left = StageEntry.objects.get(record_id=record.pk, stage="lead")
    assert left.exited_by_id == rep_actor.user_id
    event = OutboxEvent.objects.get(topic="record.stage_changed")
    assert event.payload["request"] == request.pk


def test_an_approved_move_keeps_the_movers_reason_and_comment(
    admin_actor, rep_actor, manager, form_factory
):
    from dajian.runtime.approvals.services import decide_task
    from dajian.runtime.models import ApprovalTask
    from tests.factories import build_chain

    form = form_factory(FIELDS, key="deal")
    lost_approved = {"from": "*", "to": "lost", "approval": "give_up"}
    build_workflow(admin_actor, form, {**WORKFLOW, "transitions": [lost_approved]})
    build_chain(
        admin_actor,
        form,
        "give_up",
        {"label": "Give up", "steps": [{"key": "boss", "approvers": [{"type": "manager"}]}]},
    )
    record = new_deal(rep_actor)

    request = advance_stage(
        rep_actor, record.pk, "lost", comment="they chose X", reason="competitor"
    ).request
    assert (request.transition_comment, request.transition_reason) == (
        "they chose X",
        "competitor",
    )
    task = ApprovalTask.objects.get(request=request, assignee=manager)
    decide_task(make_actor(manager, rep_actor.workspace), task.pk, "approve")

    entry = StageEntry.objects.get(record_id=record.pk, exited_at__isnull=True)
    assert (entry.stage, entry.reason, entry.comment, entry.entered_by_id) == (
        "lost",
        "competitor",
        "they chose X",
        rep_actor.user_id,
    )
    audit = AuditEvent.objects.get(action="record.stage_changed")
    assert audit.diff == {"stage": ["lead", "lost"], "stage_reason": [None, "competitor"]}


# --- publishing a version without a stage that records are in --------------------------


def test_a_version_without_a_stage_holding_records_is_refused(admin_actor, rep_actor, form_factory):
    from django.utils import translation

    from dajian.builder.models import Metadata, MetadataVersion
    from dajian.builder.services.metadata import save_workflow

    form_factory(FIELDS, key="deal")
    save_workflow(admin_actor, "sales", "deal", WORKFLOW, publish=True)
    leads = [new_deal(rep_actor, name=f"lead {i}") for i in range(2)]
    qualified = new_deal(rep_actor, **REQUIREMENT_DATA)
    advance_stage(rep_actor, qualified.pk, "requirement")
    gone = new_deal(rep_actor, name="gone")
    advance_stage(rep_actor, gone.pk, "lost", reason="budget")  # the new version keeps lost
    without = {
        **WORKFLOW,
        "initial": "proposal",
        "stages": WORKFLOW["stages"][2:],
        "transitions": WORKFLOW["transitions"][2:],
    }
    meta = Metadata.objects.get(kind="workflow")
    before = (meta.draft, [snapshot(r.pk) for r in (*leads, qualified)])

    with translation.override("en"), pytest.raises(DajianError) as exc:
        save_workflow(admin_actor, "sales", "deal", without, publish=True)

    assert [(e.path, e.code) for e in exc.value.errors] == [
        ("stages", "STAGE_IN_USE"),
        ("stages", "STAGE_IN_USE"),
    ]
    assert [e.message for e in exc.value.errors] == [
        "Stage lead still holds 2 record(s); move them before removing it.",
        "Stage requirement still holds 1 record(s); move them before removing it.",
    ]
    meta.refresh_from_db()
    assert meta.published.number == 1 and MetadataVersion.objects.count() == 1
    assert (meta.draft, [snapshot(r.pk) for r in (*leads, qualified)]) == before
    # once the records are out of the removed stages the version publishes
    for record in Record.objects.filter(stage__in=["lead", "requirement"]):
        advance_stage(admin_actor, record.pk, "lost", reason="budget")
    save_workflow(admin_actor, "sales", "deal", without, publish=True)
    meta.refresh_from_db()
    assert meta.published.number == 2


def test_a_workflow_published_through_the_builder_is_on_the_form_row(admin_actor, form_factory):
    from dajian.builder.services.metadata import save_workflow

    form = form_factory(FIELDS, key="deal")
    for role in ("manager", "rep"):
        Role.objects.get_or_create(workspace=admin_actor.workspace, key=role)
    meta = save_workflow(admin_actor, "sales", "deal", WORKFLOW, publish=True)

    form.refresh_from_db()
    assert form.workflow_id == meta.published_id
    with CaptureQueriesContext(connection) as queries:
        record = new_deal(admin_actor)
    assert record.stage == "lead"
    assert not [q for q in queries if 'FROM "builder_metadata' in q["sql"]]
