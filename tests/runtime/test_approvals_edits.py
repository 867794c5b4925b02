"""Record writes while a request is pending, re-routing, freezes and unfreezing."""

from __future__ import annotations

import pytest

from dajian.platform.errors import DajianError
from dajian.platform.models import AuditEvent
from dajian.runtime.approvals.services import decide_task, submit_for_approval, unfreeze_record
from dajian.runtime.models import ApprovalEvent, ApprovalTask, Record
from dajian.runtime.services.records import delete_record, update_record
from tests.runtime.approval_fixtures import (
    chain,
    db_state,
    new_contract,
    open_task_of,
    open_tasks,
    step,
)

pytest_plugins = ["tests.runtime.approval_plugin"]

CHAIN = "contract_approval"


def submitted(org, **data):
    record = new_contract(org.actor(org.rep), **data)
    return record, submit_for_approval(org.actor(org.rep), record.pk, CHAIN)


def code_of(call):
    with pytest.raises(DajianError) as exc:
        call()
    return exc.value.errors[0].code


def test_editing_a_pending_record_is_refused(org, admin_actor, contract_form):
    chain(admin_actor, contract_form)
    record, _ = submitted(org)
    before = db_state()
    assert code_of(lambda: update_record(org.actor(org.rep), record.pk, {"note": "x"})) == (
        "APPROVAL_PENDING"
    )
    assert code_of(lambda: update_record(admin_actor, record.pk, {"note": "x"})) == (
        "APPROVAL_PENDING"
    )
    assert code_of(lambda: delete_record(org.actor(org.rep), record.pk)) == "APPROVAL_PENDING"
    assert db_state() == before


def test_an_edit_reroutes_when_the_chain_allows_it(org, admin_actor, contract_form):
    chain(admin_actor, contract_form, edit_while_pending="reroute")
    record, request = submitted(org, amount=1000)
    first_hash = request.snapshot_hash
    old_task = open_task_of(request, org.manager)

    result = update_record(org.actor(org.rep), record.pk, {"amount": 800000})

    request.refresh_from_db()
    old_task.refresh_from_db()
    assert old_task.status == "cancelled"
    assert request.status == "pending" and request.round == 2
    assert request.snapshot["amount"] == 800000 and request.snapshot_hash != first_hash
    assert request.snapshot_version == result.record.version
    assert Record.objects.get(pk=record.pk).status == "in_approval"
    new_task = open_task_of(request, org.manager)
    assert new_task.round == 2 and new_task.step_index == 0
    rerouted = ApprovalEvent.objects.get(request=request, kind="rerouted")
    assert [p["key"] for p in rerouted.payload["plan"]] == ["manager", "director"]  # re-evaluated
    assert AuditEvent.objects.filter(action="approval.rerouted").count() == 1
    decide_task(org.actor(org.manager), new_task.pk, "approve")
    assert [t.assignee_id for t in open_tasks(request)] == [org.director.pk]


def test_a_reroute_that_finds_no_approver_refuses_the_edit(org, admin_actor, contract_form):
    steps = [step("salesperson", [{"type": "field", "field": "salesperson"}])]
    chain(admin_actor, contract_form, steps=steps, edit_while_pending="reroute")
    record, _ = submitted(org, salesperson=org.rep2.pk)
    before = db_state()
    with pytest.raises(DajianError) as exc:
        update_record(org.actor(org.rep), record.pk, {"salesperson": None})
    assert exc.value.errors[0].code == "NO_APPROVER"
    assert db_state() == before


def test_frozen_record_only_admins_edit_and_unfreeze(org, admin_actor, contract_form):
    chain(
        admin_actor,
        contract_form,
        steps=[step("manager", [{"type": "manager"}], on_reject="freeze")],
    )
    record, request = submitted(org)
    decide_task(
        org.actor(org.manager), open_task_of(request, org.manager).pk, "reject", comment="fake"
    )
    assert Record.objects.get(pk=record.pk).status == "frozen"

    before = db_state()
    assert code_of(lambda: update_record(org.actor(org.rep), record.pk, {"note": "x"})) == (
        "RECORD_FROZEN"
    )
    assert code_of(lambda: delete_record(org.actor(org.rep), record.pk)) == "RECORD_FROZEN"
    assert code_of(lambda: unfreeze_record(org.actor(org.manager), record.pk, "ok")) == (
        "PERMISSION_DENIED"
    )
    assert db_state() == before

    update_record(admin_actor, record.pk, {"note": "checked by admin"})
    assert Record.objects.get(pk=record.pk).status == "frozen"

    unfreeze_record(admin_actor, record.pk, "customer verified")

    stored = Record.objects.get(pk=record.pk)
    assert stored.status == "active"
    assert ApprovalEvent.objects.filter(
        request=request, kind="unfrozen", comment="customer verified"
    ).exists()
    assert AuditEvent.objects.filter(action="record.unfrozen", object_id=str(record.pk)).exists()
    assert code_of(lambda: unfreeze_record(admin_actor, record.pk)) == "NOT_FROZEN"
    update_record(org.actor(org.rep), record.pk, {"note": "editable again"})


def test_approved_request_leaves_the_record_editable(org, admin_actor, contract_form):
    chain(admin_actor, contract_form)
    record, request = submitted(org)
    decide_task(org.actor(org.manager), open_task_of(request, org.manager).pk, "approve")
    update_record(org.actor(org.rep), record.pk, {"note": "after approval"})
    assert not ApprovalTask.objects.filter(request=request, status="open").exists()
