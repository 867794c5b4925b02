"""The ``start_approval`` action of automations: its save-time checks and the approval it
submits on the record owner's behalf."""

from __future__ import annotations

import pytest

from dajian.platform.models import AuditEvent
from dajian.runtime.models import ApprovalRequest, Record, RecordStatus, Task, TaskKind
from tests.automation_helpers import run_action
from tests.factories import build_chain
from tests.runtime.action_helpers import as_, check, contract

pytest_plugins = ["tests.runtime.action_plugin"]


CHAIN = {
    "schema_version": 1,
    "label": {"en": "Contract approval", "zh-CN": "合同审批"},
    "steps": [
        {
            "key": "manager",
            "label": {"en": "Manager", "zh-CN": "上级"},
            "approvers": [{"type": "manager", "of": "submitter"}],
            "decisions": ["approve", "reject"],
        }
    ],
}


@pytest.fixture
def approval_chain(forms, admin_actor):
    return build_chain(admin_actor, forms["contract"], "contract_approval", CHAIN)


CHAINS = {"contract_approval": "contract"}


def test_start_approval_checks(forms, people, approval_chain):
    spec = {"type": "start_approval", "chain": "contract_approval"}
    assert check(forms["contract"], {**spec, "chain": "nope"}, chains=CHAINS) == [
        ("UNKNOWN_CHAIN", "actions.0.chain")
    ]
    assert check(forms["customer"], spec, chains=CHAINS) == [
        ("CHAIN_FORM_MISMATCH", "actions.0.chain")
    ]
    assert check(forms["contract"], spec, chains=CHAINS) == []


def test_start_approval_submits_as_the_owner(forms, people, workspace, admin_actor, approval_chain):
    record = contract(as_(people["rep"], workspace))
    spec = {"type": "start_approval", "chain": "contract_approval"}

    outcomes = run_action(admin_actor, forms["contract"], spec, [record])

    request = ApprovalRequest.objects.get()
    assert outcomes[0].result == {
        "request": request.pk,
        "submitter": people["rep"].pk,
        "status": "pending",
    }
    assert request.submitted_by_id == people["rep"].pk
    # the step's approver is the *submitter's* manager: the owner counts as submitter
    task = Task.objects.non_polymorphic().get(kind=TaskKind.APPROVAL)
    assert task.assignee_id == people["manager"].pk
    assert Record.objects.get(pk=record.pk).status == RecordStatus.IN_APPROVAL
    audit = AuditEvent.objects.get(action="automation.approval_started")
    assert audit.actor_id is None and audit.diff["submitted_as"] == [None, people["rep"].pk]


def test_start_approval_on_a_record_in_approval_fails_for_good(
    forms, people, workspace, admin_actor, approval_chain
):
    record = contract(as_(people["rep"], workspace))
    spec = {"type": "start_approval", "chain": "contract_approval"}
    run_action(admin_actor, forms["contract"], spec, [record])

    again = run_action(admin_actor, forms["contract"], spec, [record], key="again")

    assert not again[0].ok and not again[0].retry
    assert ApprovalRequest.objects.count() == 1


def test_start_approval_without_an_owner_is_submitted_by_the_system(
    forms, people, workspace, admin_actor, approval_chain
):
    record = contract(as_(people["rep"], workspace))
    Record.objects.filter(pk=record.pk).update(owner=None)
    spec = {"type": "start_approval", "chain": "contract_approval"}

    outcomes = run_action(admin_actor, forms["contract"], spec, [record])

    # nobody submitted, so the submitter's manager is nobody: the step has no approver
    assert not outcomes[0].ok and "NO_APPROVER" in outcomes[0].error
    assert not ApprovalRequest.objects.exists()
