"""Automations triggered by approvals: a request's outcome and an approval step SLA."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from dajian.runtime.approvals.services import decide_task, submit_for_approval
from dajian.runtime.models import Notification
from dajian.runtime.timers import fire_due_timers
from tests.automation_helpers import drain_outbox, publish_automation
from tests.runtime.approval_fixtures import chain, new_contract, open_task_of, step

pytest_plugins = ["tests.runtime.approval_plugin"]


def notify_owner(text):
    return {"type": "notify", "to": [{"type": "owner"}], "message": text}


def test_approval_decided_fires_for_the_listed_outcomes_and_chain(org, admin_actor, contract_form):
    chain(admin_actor, contract_form)
    publish_automation(
        admin_actor,
        contract_form,
        "on_approved",
        {
            "trigger": {
                "type": "approval_decided",
                "chain": "contract_approval",
                "outcomes": ["approved"],
            },
            "actions": [notify_owner("approved {{ title }}")],
        },
    )
    publish_automation(
        admin_actor,
        contract_form,
        "other_chain",
        {
            "trigger": {"type": "approval_decided", "chain": "another"},
            "actions": [notify_owner("never")],
        },
    )
    approved = new_contract(org.actor(org.rep), title="A")
    rejected = new_contract(org.actor(org.rep), title="B")
    for record, decision in ((approved, "approve"), (rejected, "reject")):
        request = submit_for_approval(org.actor(org.rep), record.pk, "contract_approval")
        task = open_task_of(request, org.manager)
        decide_task(org.actor(org.manager), task.pk, decision, comment="ok")
    drain_outbox()
    notes = Notification.objects.filter(kind="automation")
    assert [(n.record_id, n.message["en"]) for n in notes] == [(approved.pk, "approved A")]


def test_an_approval_sla_passing_fires_time_limit_automations(org, admin_actor, contract_form):
    chain(
        admin_actor,
        contract_form,
        steps=[
            step(
                "manager",
                [{"type": "manager"}],
                decisions=["approve", "reject"],
                sla={"within": {"hours": 4}, "then": "remind"},
            )
        ],
    )
    publish_automation(
        admin_actor,
        contract_form,
        "slow_approval",
        {
            "trigger": {"type": "time_limit", "of": "approval"},
            "actions": [notify_owner("approval of {{ title }} is late")],
        },
    )
    record = new_contract(org.actor(org.rep), title="Late")
    submit_for_approval(org.actor(org.rep), record.pk, "contract_approval")
    drain_outbox()
    assert fire_due_timers(now=timezone.now() + dt.timedelta(days=2)) == 1
    drain_outbox()
    notes = Notification.objects.filter(kind="automation")
    assert [(n.record_id, n.recipient_id) for n in notes] == [(record.pk, org.rep.pk)]
