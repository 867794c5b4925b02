"""R15 confirm-or-appeal: an incentive created for a salesperson is confirmed by them, or
appealed with a screenshot; the supervisor then decides within 4 hours.

Expressed as a chain: step 1 goes to the user in the record's ``salesperson`` field and
allows only CONFIRM and APPEAL (an appeal needs one attachment); step 2 goes to the
supervisor (role ``manager``) with a 4-hour SLA that escalates to the supervisor's own
manager. Confirming ends the request approved without step 2; an appeal opens step 2;
a rejected appeal returns the incentive to finance, who created it, to correct.
"""

from __future__ import annotations

import datetime as dt

import pytest

from dajian.platform.errors import DajianError
from dajian.runtime.approvals.services import decide_task, submit_for_approval
from dajian.runtime.inbox.selectors import my_tasks
from dajian.runtime.models import ApprovalEvent, ApprovalTask
from dajian.runtime.services.records import create_record, update_record
from dajian.runtime.timers import fire_due_timers
from tests.factories import build_chain
from tests.runtime.approval_fixtures import open_task_of, open_tasks, screenshot

pytest_plugins = ["tests.runtime.approval_plugin"]

INCENTIVE_FIELDS = [
    {"key": "salesperson", "type": "user", "label": "Salesperson", "required": True},
    {"key": "amount", "type": "number", "label": "Incentive", "precision": 2},
    {"key": "period", "type": "text", "label": "Period"},
]
CHAIN = {
    "schema_version": 1,
    "label": {"en": "Incentive confirmation", "zh-CN": "激励确认"},
    "steps": [
        {
            "key": "salesperson",
            "label": {"en": "Salesperson confirms", "zh-CN": "销售确认"},
            "approvers": [{"type": "field", "field": "salesperson"}],
            "decisions": ["confirm", "appeal"],
            "appeal_min_evidence": 1,
        },
        {
            "key": "supervisor",
            "label": {"en": "Supervisor decides the appeal", "zh-CN": "主管裁决申诉"},
            "approvers": [{"type": "role", "role": "manager"}],
            "decisions": ["approve", "reject"],
            "on_reject": "return",
            "sla": {"within": {"hours": 4}, "then": "escalate"},
        },
    ],
}


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def incentive(org, form_factory, admin_actor):
    """An incentive for ``rep`` created and submitted by ``finance``."""
    form = form_factory(
        INCENTIVE_FIELDS,
        key="incentive",
        permissions=[
            {"role": "*", "create": True, "read": "all", "update": "own", "delete": "own"}
        ],
    )
    build_chain(admin_actor, form, "incentive_confirmation", CHAIN)
    finance = org.actor(org.finance)
    record = create_record(
        finance,
        "sales",
        "incentive",
        {"salesperson": org.rep.pk, "amount": 3000, "period": "2025-06"},
    ).record
    return submit_for_approval(finance, record.pk, "incentive_confirmation")


def test_the_salesperson_sees_confirm_and_appeal(org, incentive):
    page = my_tasks(org.actor(org.rep))
    assert [i.task.pk for i in page.items] == [open_task_of(incentive, org.rep).pk]
    assert page.items[0].allowed_decisions == ["confirm", "appeal"]
    assert page.items[0].task.due_at is None  # no SLA on the salesperson's step


def test_confirm_ends_the_request_without_the_supervisor(org, incentive):
    task = open_task_of(incentive, org.rep)
    for refused in ("approve", "reject"):
        with pytest.raises(DajianError) as exc:
            decide_task(org.actor(org.rep), task.pk, refused, comment="x")
        assert exc.value.errors[0].code == "DECISION_NOT_ALLOWED"

    decide_task(org.actor(org.rep), task.pk, "confirm")

    incentive.refresh_from_db()
    assert incentive.status == "approved"
    assert not ApprovalTask.objects.filter(request=incentive, step_key="supervisor").exists()


def test_appeal_with_a_screenshot_goes_to_the_supervisor_within_four_hours(org, incentive):
    rep = org.actor(org.rep)
    task = open_task_of(incentive, org.rep)
    with pytest.raises(DajianError) as exc:
        decide_task(rep, task.pk, "appeal", comment="I closed two more deals")
    assert exc.value.errors[0].code == "EVIDENCE_REQUIRED"

    shot = screenshot(rep)
    decide_task(rep, task.pk, "appeal", comment="I closed two more deals", attachments=[shot.pk])

    appeal = ApprovalEvent.objects.get(request=incentive, kind="decided")
    assert (appeal.payload["decision"], appeal.attachments) == ("appeal", [shot.pk])
    supervisor_task = open_task_of(incentive, org.manager)
    assert supervisor_task.due_at - supervisor_task.created_at == dt.timedelta(hours=4)
    assert my_tasks(org.actor(org.manager)).items[0].sla_color == "green"

    decide_task(org.actor(org.manager), supervisor_task.pk, "approve", comment="agreed")

    incentive.refresh_from_db()
    assert incentive.status == "approved"


def test_an_unanswered_appeal_escalates_after_four_hours(org, incentive):
    rep = org.actor(org.rep)
    decide_task(
        rep, open_task_of(incentive, org.rep).pk, "appeal", attachments=[screenshot(rep).pk]
    )
    supervisor_task = open_task_of(incentive, org.manager)

    fire_due_timers(supervisor_task.due_at + dt.timedelta(seconds=1))

    escalated = open_task_of(incentive, org.director)
    assert escalated.escalated
    decide_task(org.actor(org.director), escalated.pk, "approve")
    incentive.refresh_from_db()
    assert incentive.status == "approved"


def test_a_rejected_appeal_returns_the_incentive_to_finance(org, incentive):
    rep = org.actor(org.rep)
    decide_task(
        rep, open_task_of(incentive, org.rep).pk, "appeal", attachments=[screenshot(rep).pk]
    )
    decide_task(
        org.actor(org.manager),
        open_task_of(incentive, org.manager).pk,
        "reject",
        comment="the two deals closed in July",
    )

    incentive.refresh_from_db()
    assert incentive.status == "returned" and not open_tasks(incentive)

    finance = org.actor(org.finance)
    update_record(finance, incentive.record_id, {"amount": 3200})
    again = submit_for_approval(finance, incentive.record_id, "incentive_confirmation")
    assert again.previous_id == incentive.pk
    decide_task(rep, open_task_of(again, org.rep).pk, "confirm")
    again.refresh_from_db()
    assert again.status == "approved" and again.snapshot["amount"] == 3200
