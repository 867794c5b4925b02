"""Submitting, routing and deciding approval requests (R11–R14)."""

from __future__ import annotations

import hashlib

import pytest

from dajian.platform.audit import canonical_json, verify_chain
from dajian.platform.errors import DajianError
from dajian.platform.models import AuditEvent
from dajian.runtime.approvals.routing import required_approvals
from dajian.runtime.approvals.services import (
    decide_task,
    start_request,
    submit_for_approval,
    withdraw_approval,
)
from dajian.runtime.models import (
    ApprovalEvent,
    ApprovalTask,
    Notification,
    OutboxEvent,
    Record,
    Timer,
)
from dajian.runtime.services.records import update_record
from tests.factories import build_chain, build_workflow
from tests.runtime.approval_fixtures import (
    CONTRACT_CHAIN,
    chain,
    db_state,
    new_contract,
    open_task_of,
    open_tasks,
    step,
)

pytest_plugins = ["tests.runtime.approval_plugin"]

CHAIN = "contract_approval"


def submit(org, record, key=CHAIN, as_user=None):
    return submit_for_approval(org.actor(as_user or org.rep), record.pk, key)


def decide(org, user, request, decision="approve", **kwargs):
    return decide_task(org.actor(user), open_task_of(request, user).pk, decision, **kwargs)


def reload(obj):
    obj.refresh_from_db()
    return obj


# --- submission ----------------------------------------------------------------------


def test_submission_snapshots_the_record_and_opens_the_first_step(org, admin_actor, contract_form):
    chain(admin_actor, contract_form)
    record = new_contract(org.actor(org.rep), amount=600000, note="urgent")
    version_before = record.version

    request = submit(org, record)

    assert request.status == "pending"
    assert request.snapshot == record.data
    expected = hashlib.sha256(canonical_json(record.data).encode()).hexdigest()
    assert request.snapshot_hash == expected
    assert request.snapshot_version == version_before
    assert request.submitted_by == org.rep and request.round == 1 and request.version == 1
    stored = Record.objects.get(pk=record.pk)
    assert stored.status == "in_approval"
    assert stored.version == version_before + 1
    tasks = open_tasks(request)
    assert [(t.assignee_id, t.step_key, t.kind) for t in tasks] == [
        (org.manager.pk, "manager", "approval")
    ]
    assert tasks[0].title["en"] == "Contract approval · Manager"
    kinds = list(ApprovalEvent.objects.filter(request=request).values_list("kind", flat=True))
    assert kinds == ["submitted", "step_started"]
    plan = ApprovalEvent.objects.get(request=request, kind="submitted").payload["plan"]
    assert [(p["key"], p["approvers"]) for p in plan] == [
        ("manager", [org.manager.pk]),
        ("director", [org.director.pk]),
    ]
    assert AuditEvent.objects.filter(
        action="approval.submitted", object_id=str(request.pk)
    ).exists()
    assert OutboxEvent.objects.filter(topic="approval.submitted").count() == 1
    assert Notification.objects.filter(recipient=org.manager, kind="approval.task").count() == 1


def test_the_snapshot_does_not_follow_later_changes(org, admin_actor, contract_form):
    chain(admin_actor, contract_form)
    record = new_contract(org.actor(org.rep), amount=10)
    request = submit(org, record)
    record.data["amount"] = 99
    assert reload(request).snapshot["amount"] == 10


def test_condition_adds_the_director_over_the_threshold(org, admin_actor, contract_form):
    chain(admin_actor, contract_form)
    big = submit(org, new_contract(org.actor(org.rep), amount=600000))
    small = submit(org, new_contract(org.actor(org.rep), amount=500000))

    decide(org, org.manager, big)
    decide(org, org.manager, small)

    assert [t.assignee_id for t in open_tasks(big)] == [org.director.pk]
    assert reload(big).status == "pending" and reload(big).current_step == 1
    assert reload(small).status == "approved"
    decide(org, org.director, big)
    assert reload(big).status == "approved"
    assert Record.objects.get(pk=big.record_id).status == "active"


def test_no_applying_step_approves_at_once(org, admin_actor, contract_form):
    chain(admin_actor, contract_form, steps=[CONTRACT_CHAIN["steps"][1]])
    record = new_contract(org.actor(org.rep), amount=10)
    request = submit(org, record)
    assert request.status == "approved"
    assert Record.objects.get(pk=record.pk).status == "active"
    assert not open_tasks(request)


def test_a_condition_that_cannot_be_evaluated_makes_the_step_apply(org, admin_actor, contract_form):
    chain(admin_actor, contract_form)
    request = submit(org, new_contract(org.actor(org.rep), amount=None))
    decide(org, org.manager, request)
    assert [t.assignee_id for t in open_tasks(request)] == [org.director.pk]


def test_submitter_is_not_their_own_approver(org, admin_actor, contract_form):
    reps = [step("peers", [{"type": "role", "role": "rep"}])]
    chain(admin_actor, contract_form, steps=reps)
    build_chain(
        admin_actor,
        contract_form,
        "self_ok",
        {**CONTRACT_CHAIN, "steps": reps, "allow_self_approval": True},
    )
    request = submit(org, new_contract(org.actor(org.rep)))
    assert [t.assignee_id for t in open_tasks(request)] == [org.rep2.pk]

    allowed = submit(org, new_contract(org.actor(org.rep)), key="self_ok")
    assert {t.assignee_id for t in open_tasks(allowed)} == {org.rep.pk, org.rep2.pk}
    decide(org, org.rep, allowed)
    assert reload(allowed).status == "approved"


def test_resubmission_links_to_the_returned_request(org, admin_actor, contract_form):
    chain(admin_actor, contract_form)
    record = new_contract(org.actor(org.rep))
    first = submit(org, record)
    decide(org, org.manager, first, "return", comment="add the customer's stamp")
    assert reload(first).status == "returned"
    update_record(org.actor(org.rep), record.pk, {"note": "stamped"})

    second = submit(org, record)

    assert second.previous_id == first.pk and second.round == 2
    assert reload(second).snapshot["note"] == "stamped"
    assert ApprovalTask.objects.filter(request=second).get().round == 2


# --- modes ---------------------------------------------------------------------------


def countersign(admin_actor, form, mode, **options):
    steps = [
        step(
            "check",
            [
                {"type": "role", "role": "finance"},
                {"type": "role", "role": "product"},
                {"type": "user", "users": ["director"]},
            ],
            mode=mode,
            **options,
        )
    ]
    return chain(admin_actor, form, steps=steps)


def test_any_mode_first_approval_completes_and_cancels_the_others(org, admin_actor, contract_form):
    countersign(admin_actor, contract_form, "any")
    request = submit(org, new_contract(org.actor(org.rep)))
    assert len(open_tasks(request)) == 3

    decide(org, org.product, request)

    assert reload(request).status == "approved"
    statuses = dict(
        ApprovalTask.objects.filter(request=request).values_list("assignee_id", "status")
    )
    assert statuses == {
        org.finance.pk: "cancelled",
        org.product.pk: "done",
        org.director.pk: "cancelled",
    }
    assert not Timer.objects.filter(cancelled_at__isnull=True, fired_at__isnull=True).exists()


def test_all_mode_needs_everyone_and_one_veto_rejects(org, admin_actor, contract_form):
    countersign(admin_actor, contract_form, "all")
    ok = submit(org, new_contract(org.actor(org.rep)))
    vetoed = submit(org, new_contract(org.actor(org.rep)))

    decide(org, org.finance, ok)
    decide(org, org.product, ok)
    assert reload(ok).status == "pending"
    decide(org, org.director, ok)
    assert reload(ok).status == "approved"

    decide(org, org.finance, vetoed)
    decide(org, org.product, vetoed, "reject", comment="payment terms unacceptable")
    assert reload(vetoed).status == "rejected"
    assert not open_tasks(vetoed)
    assert Record.objects.get(pk=vetoed.record_id).status == "active"


def test_sequential_mode_opens_one_approver_after_another(org, admin_actor, contract_form):
    countersign(admin_actor, contract_form, "sequential")
    request = submit(org, new_contract(org.actor(org.rep)))

    order = []
    for _ in range(3):
        tasks = open_tasks(request)
        assert len(tasks) == 1
        order.append(tasks[0].assignee_id)
        decide_task(org.actor(tasks[0].assignee), tasks[0].pk, "approve")

    assert order == [org.finance.pk, org.product.pk, org.director.pk]
    assert reload(request).status == "approved"
    positions = list(
        ApprovalTask.objects.filter(request=request).values_list("position", flat=True)
    )
    assert sorted(positions) == [0, 1, 2]


def test_ratio_mode_completes_at_the_ratio_and_fails_when_out_of_reach(
    org, admin_actor, contract_form
):
    countersign(admin_actor, contract_form, "ratio", ratio=0.6)  # 2 of 3
    passes = submit(org, new_contract(org.actor(org.rep)))
    fails = submit(org, new_contract(org.actor(org.rep)))

    decide(org, org.finance, passes)
    decide(org, org.product, passes, "reject", comment="no")
    assert reload(passes).status == "pending"
    decide(org, org.director, passes)
    assert reload(passes).status == "approved"

    decide(org, org.finance, fails, "reject", comment="no")
    assert reload(fails).status == "pending"
    decide(org, org.product, fails, "reject", comment="no")
    assert reload(fails).status == "rejected"


@pytest.mark.parametrize(
    ("ratio", "n", "needed"), [(0.6, 5, 3), (0.5, 3, 2), (1.0, 4, 4), (0.01, 3, 1), (0.7, 10, 7)]
)
def test_required_approvals_is_the_ceiling_of_the_ratio(ratio, n, needed):
    assert required_approvals(ratio, n) == needed


# --- rejection and returns ------------------------------------------------------------


def test_freezing_veto_freezes_the_record(org, admin_actor, contract_form):
    steps = [step("manager", [{"type": "manager"}], on_reject="freeze")]
    chain(admin_actor, contract_form, steps=steps)
    record = new_contract(org.actor(org.rep))
    request = submit(org, record)

    decide(org, org.manager, request, "reject", comment="fake customer")

    assert reload(request).status == "rejected"
    assert Record.objects.get(pk=record.pk).status == "frozen"
    with pytest.raises(DajianError) as exc:
        submit(org, record)
    assert exc.value.errors[0].code == "RECORD_FROZEN"


def test_on_reject_return_goes_back_to_the_named_step(org, admin_actor, contract_form):
    steps = [
        step("manager", [{"type": "manager"}]),
        step(
            "finance",
            [{"type": "role", "role": "finance"}],
            on_reject="return",
            return_to="manager",
        ),
    ]
    chain(admin_actor, contract_form, steps=steps)
    request = submit(org, new_contract(org.actor(org.rep)))
    decide(org, org.manager, request)

    decide(org, org.finance, request, "reject", comment="wrong payment terms")

    request = reload(request)
    assert request.status == "pending" and request.current_step == 0 and request.round == 2
    task = open_task_of(request, org.manager)
    assert task.round == 2
    assert ApprovalEvent.objects.filter(request=request, kind="returned").exists()
    decide(org, org.manager, request)
    decide(org, org.finance, request)
    assert reload(request).status == "approved"


def test_on_reject_return_without_a_step_returns_to_the_submitter(org, admin_actor, contract_form):
    steps = [step("manager", [{"type": "manager"}], on_reject="return")]
    chain(admin_actor, contract_form, steps=steps)
    record = new_contract(org.actor(org.rep))
    request = submit(org, record)
    decide(org, org.manager, request, "reject", comment="incomplete")
    assert reload(request).status == "returned"
    assert Record.objects.get(pk=record.pk).status == "active"


def test_return_decision_goes_to_the_previous_step_or_the_submitter(
    org, admin_actor, contract_form
):
    chain(admin_actor, contract_form)
    request = submit(org, new_contract(org.actor(org.rep), amount=900000))
    decide(org, org.manager, request)

    decide(org, org.director, request, "return")  # no returnTo: the previous applied step
    assert reload(request).current_step == 0
    decide(org, org.manager, request)
    decide(org, org.director, request, "return", return_to="manager")
    assert reload(request).current_step == 0 and reload(request).round == 3

    decide(org, org.manager, request, "return")  # first step: back to the submitter
    assert reload(request).status == "returned"


# --- delegation, withdrawal ------------------------------------------------------------


def test_delegation_moves_the_turn_to_the_delegate(org, admin_actor, contract_form):
    chain(admin_actor, contract_form)
    request = submit(org, new_contract(org.actor(org.rep)))
    original = open_task_of(request, org.manager)

    result = decide(
        org, org.manager, request, "delegate", delegate_to=org.rep2.pk, comment="on leave"
    )

    assert reload(original).status == "done" and original.decision == "delegate"
    new = result.delegated_task
    assert new.assignee_id == org.rep2.pk
    assert new.position == original.position and new.delegated_from_id == original.pk
    assert reload(request).status == "pending"
    decide(org, org.rep2, request)
    assert reload(request).status == "approved"


def test_withdraw_cancels_tasks_and_timers(org, admin_actor, contract_form):
    steps = [step("manager", [{"type": "manager"}], sla={"within": {"hours": 4}})]
    chain(admin_actor, contract_form, steps=steps)
    record = new_contract(org.actor(org.rep))
    request = submit(org, record)
    assert Timer.objects.filter(kind="approval.sla", cancelled_at__isnull=True).count() == 1

    withdraw_approval(org.actor(org.rep), request.pk)

    assert reload(request).status == "withdrawn"
    assert not open_tasks(request)
    assert Record.objects.get(pk=record.pk).status == "active"
    assert Timer.objects.filter(kind="approval.sla", cancelled_at__isnull=True).count() == 0
    with pytest.raises(DajianError) as exc:
        withdraw_approval(org.actor(org.rep), request.pk)
    assert exc.value.errors[0].code == "NOT_PENDING"


def test_only_the_submitter_or_an_admin_withdraws(org, admin_actor, contract_form):
    chain(admin_actor, contract_form)
    request = submit(org, new_contract(org.actor(org.rep)))
    before = db_state()
    with pytest.raises(DajianError) as exc:
        withdraw_approval(org.actor(org.manager), request.pk)
    assert exc.value.errors[0].code == "PERMISSION_DENIED"
    assert db_state() == before
    withdraw_approval(admin_actor, request.pk)
    assert reload(request).status == "withdrawn"


# --- history, CC, transitions ----------------------------------------------------------


def test_every_decision_has_history_audit_and_outbox(org, admin_actor, contract_form):
    chain(admin_actor, contract_form)
    request = submit(org, new_contract(org.actor(org.rep), amount=700000))
    decide(org, org.manager, request, comment="fine")
    decide(org, org.director, request)

    decided = ApprovalEvent.objects.filter(request=request, kind="decided").order_by("id")
    assert [(e.actor_id, e.payload["decision"], e.step_key) for e in decided] == [
        (org.manager.pk, "approve", "manager"),
        (org.director.pk, "approve", "director"),
    ]
    assert decided[0].comment == "fine"
    audit = AuditEvent.objects.filter(object_type="ApprovalRequest", object_id=str(request.pk))
    assert [a.action for a in audit.order_by("seq")] == [
        "approval.submitted",
        "approval.decided",
        "approval.decided",
    ]
    assert audit.order_by("seq").last().diff["status"] == ["pending", "approved"]
    topics = list(OutboxEvent.objects.order_by("id").values_list("topic", flat=True))
    assert topics.count("approval.decided") == 2 and topics.count("approval.completed") == 1
    assert reload(request).version == 3
    assert verify_chain(org.workspace).ok
    assert Notification.objects.filter(recipient=org.rep, kind="approval.completed").exists()


def test_cc_recipients_are_notified_when_their_step_starts(org, admin_actor, contract_form):
    steps = [step("manager", [{"type": "manager"}], cc=[{"type": "role", "role": "finance"}])]
    chain(admin_actor, contract_form, steps=steps)
    request = submit(org, new_contract(org.actor(org.rep)))
    assert Notification.objects.filter(recipient=org.finance, kind="approval.cc").count() == 1
    assert ApprovalEvent.objects.get(request=request, kind="cc").payload["recipients"] == [
        org.finance.pk
    ]
    assert not ApprovalTask.objects.filter(assignee=org.finance).exists()


WORKFLOW = {
    "schema_version": 1,
    "initial": "draft",
    "stages": [
        {"key": "draft", "label": "Draft"},
        {"key": "signed", "label": "Signed"},
    ],
    "transitions": [{"from": "draft", "to": "signed", "approval": CHAIN}],
}


def test_approval_of_a_transition_completes_it(org, admin_actor, contract_form):
    from django.db import transaction

    from dajian.runtime.approvals.flow import lock_record

    build_workflow(admin_actor, contract_form, WORKFLOW)
    chain(admin_actor, contract_form)
    record = new_contract(org.actor(org.rep))
    assert Record.objects.get(pk=record.pk).stage == "draft"
    with transaction.atomic():
        locked = lock_record(org.workspace.pk, record.pk)
        request = start_request(org.actor(org.rep), locked, CHAIN, transition_to="signed")
    assert request.transition_to == "signed"

    decide(org, org.manager, request)

    stored = Record.objects.get(pk=record.pk)
    assert (stored.stage, stored.status) == ("signed", "active")
