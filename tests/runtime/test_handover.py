"""Handover (R25): a leaver's records in one app move to a successor at once, with
their open to-dos and verification tasks, and a handover list is stored."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from dajian.platform.errors import DajianError
from dajian.platform.models import AuditEvent, Membership
from dajian.runtime.approvals.services import submit_for_approval
from dajian.runtime.models import (
    ApprovalTask,
    OutboxEvent,
    Record,
    Task,
    TaskKind,
    TaskStatus,
    TodoTask,
    VerificationTask,
)
from dajian.runtime.ownership.handover import get_handover, list_handovers, transfer_ownership
from dajian.runtime.services.records import create_record, update_record
from tests.factories import build_chain, make_user, make_workspace
from tests.runtime.test_pool import FIELDS, PERMISSIONS, OwnershipOrg, ownership_org


@pytest.fixture
def org(workspace, admin, form_factory) -> OwnershipOrg:
    org = ownership_org(workspace, admin, form_factory)
    form_factory(FIELDS, key="contact", permissions=PERMISSIONS)
    form_factory(FIELDS, key="ticket", app="service", permissions=PERMISSIONS)
    return org


def refusal(call) -> str:
    with pytest.raises(DajianError) as caught:
        call()
    return caught.value.errors[0].code


def todo(org, user, record, title="Call back", done=False, due=None) -> Task:
    return TodoTask.objects.create(
        workspace=org.workspace,
        assignee=user,
        kind=TaskKind.TODO,
        status=TaskStatus.DONE if done else TaskStatus.OPEN,
        title={"en": title, "zh-CN": title},
        record=record,
        created_at=timezone.now(),
        due_at=due,
    )


def approval_task_for(org, approver, record) -> ApprovalTask:
    """An open approval task of ``approver`` on ``record`` (a one-step chain)."""
    form = record.form
    chain = {
        "schema_version": 1,
        "label": "Check",
        "steps": [
            {
                "key": "check",
                "label": "Check",
                "approvers": [{"type": "user", "users": [approver.username]}],
                "decisions": ["approve", "reject"],
            }
        ],
    }
    build_chain(org.actor(org.admin), form, "check", chain)
    request = submit_for_approval(org.actor(org.admin), record.pk, "check")
    return ApprovalTask.objects.non_polymorphic().get(request=request, assignee=approver)


def owners(*records) -> list[int | None]:
    return [Record.objects.get(pk=r.pk).owner_id for r in records]


def test_every_record_of_the_app_moves_in_one_handover(org):
    a = org.owned_record(org.rep1, "Alpha")
    b = org.owned_record(org.rep1, "Beta")
    c = org.owned_record(org.rep1, "Carol", form="contact")
    Record.objects.filter(pk=a.pk).update(stage="lead")
    theirs = org.owned_record(org.rep2, "Theirs")
    ticket = create_record(org.actor(org.rep1), "service", "ticket", {"name": "Ticket"}).record

    handover = transfer_ownership(org.actor(org.admin), org.rep1.pk, org.rep2.pk, "sales")

    assert owners(a, b, c, theirs, ticket) == [org.rep2.pk] * 4 + [org.rep1.pk]
    assert [Record.objects.get(pk=r.pk).version for r in (a, b, c, theirs, ticket)] == [
        2,
        2,
        2,
        1,
        1,
    ]
    assert (handover.record_count, handover.task_count) == (3, 0)
    assert handover.created_by_id == org.admin.pk
    listed = {r["id"]: r for r in handover.items["records"]}
    assert set(listed) == {a.pk, b.pk, c.pk}
    assert {k: listed[a.pk][k] for k in ("form", "title", "stage", "status")} == {
        "form": "customer",
        "title": "Alpha",
        "stage": "lead",
        "status": "active",
    }
    assert listed[c.pk]["form"] == "contact"
    events = OutboxEvent.objects.filter(topic="record.owner_changed")
    assert sorted(e.payload["record"] for e in events) == sorted([a.pk, b.pk, c.pk])
    assert {(e.payload["from"], e.payload["to"], e.payload["version"]) for e in events} == {
        (org.rep1.pk, org.rep2.pk, 2)
    }
    audit = AuditEvent.objects.get(action="ownership.transferred")
    assert (audit.object_type, audit.object_id) == ("Handover", str(handover.pk))
    assert sorted(audit.diff["records"]) == sorted([a.pk, b.pk, c.pk])
    assert audit.diff["owner"] == [org.rep1.pk, org.rep2.pk]


def test_open_todos_and_verifications_follow_their_records_and_approvals_stay(org):
    deal = org.owned_record(org.rep1, "Deal")
    other = org.owned_record(org.rep2, "Not theirs")
    due = timezone.now() + dt.timedelta(days=2)
    follow_up = todo(org, org.rep1, deal, "Follow up", due=due)
    closed = todo(org, org.rep1, deal, "Old", done=True)
    unrelated = todo(org, org.rep1, other, "Help rep2")
    verify = VerificationTask.objects.create(
        workspace=org.workspace,
        assignee=org.rep1,
        kind=TaskKind.VERIFICATION,
        title={"en": "Check the visit"},
        record=deal,
        created_at=timezone.now(),
    )
    approval = approval_task_for(org, org.rep1, deal)

    handover = transfer_ownership(org.actor(org.manager), org.rep1.pk, org.rep3.pk, "sales")

    assignees = dict(Task.objects.non_polymorphic().values_list("pk", "assignee_id"))
    assert assignees[follow_up.pk] == org.rep3.pk
    assert assignees[verify.pk] == org.rep3.pk
    assert assignees[approval.pk] == org.rep1.pk  # the approver was asked, not the owner
    assert assignees[closed.pk] == org.rep1.pk
    assert assignees[unrelated.pk] == org.rep1.pk  # not on a moved record
    tasks = {t["id"]: t for t in handover.items["tasks"]}
    assert set(tasks) == {follow_up.pk, verify.pk, approval.pk}
    assert tasks[follow_up.pk] == {
        "id": follow_up.pk,
        "kind": "todo",
        "title": {"en": "Follow up", "zh-CN": "Follow up"},
        "due": due.isoformat(),
        "record": deal.pk,
        "moved": True,
    }
    assert (tasks[approval.pk]["kind"], tasks[approval.pk]["moved"]) == ("approval", False)
    assert handover.task_count == 3
    assert sorted(AuditEvent.objects.get(action="ownership.transferred").diff["tasks"]) == sorted(
        [follow_up.pk, verify.pk]
    )


def test_each_record_lists_its_last_three_activities_newest_first(org):
    deal = org.owned_record(org.rep1, "Deal")
    quiet = org.owned_record(org.rep1, "Quiet")
    rep1 = org.actor(org.rep1)
    for i in range(4):
        update_record(rep1, deal.pk, {"name": f"Deal v{i}"})

    handover = transfer_ownership(org.actor(org.admin), org.rep1.pk, org.rep2.pk, "sales")

    listed = {r["id"]: r for r in handover.items["records"]}
    assert [a["action"] for a in listed[deal.pk]["activities"]] == ["record.updated"] * 3
    history = AuditEvent.objects.filter(object_type="Record", object_id=str(deal.pk))
    # the list shows what happened before the handover; the handover itself is in each
    # record's history after it
    assert history.order_by("-seq").first().action == "record.transferred"
    assert history.order_by("-seq").first().diff == {"owner": [org.rep1.pk, org.rep2.pk]}
    latest = history.exclude(action="record.transferred").order_by("-seq")[:3]
    assert [a["at"] for a in listed[deal.pk]["activities"]] == [e.at.isoformat() for e in latest]
    assert [a["actor"] for a in listed[quiet.pk]["activities"]] == ["rep1"]
    assert listed[deal.pk]["title"] == "Deal v3"


def test_the_number_of_queries_does_not_grow_with_the_records(org):
    def transfer_queries(count: int, to_user) -> int:
        for i in range(count):
            org.owned_record(org.rep1, f"r{i}")
            org.owned_record(org.rep1, f"c{i}", form="contact")
        with CaptureQueriesContext(connection) as queries:
            handover = transfer_ownership(org.actor(org.admin), org.rep1.pk, to_user.pk, "sales")
        assert handover.record_count == 2 * count
        return len(queries)

    few = transfer_queries(1, org.rep2)
    many = transfer_queries(10, org.rep3)  # rep1's first two went to rep2
    assert many == few


def test_admins_and_managers_of_the_leaver_transfer_and_others_may_not(org):
    record = org.owned_record(org.rep1, "Deal")
    for user in (org.rep2, org.other_mgr, org.auditor):
        assert refusal(
            lambda user=user: transfer_ownership(org.actor(user), org.rep1.pk, org.rep2.pk, "sales")
        ) == ("PERMISSION_DENIED")
    assert owners(record) == [org.rep1.pk]
    transfer_ownership(org.actor(org.manager), org.rep1.pk, org.rep2.pk, "sales")
    assert owners(record) == [org.rep2.pk]


def test_a_leaver_may_be_inactive_but_the_successor_must_be_active(org):
    record = org.owned_record(org.rep1, "Deal")
    admin = org.actor(org.admin)
    Membership.objects.filter(user=org.rep1).update(is_active=False)
    Membership.objects.filter(user=org.rep3).update(is_active=False)
    assert refusal(lambda: transfer_ownership(admin, org.rep1.pk, org.rep3.pk, "sales")) == (
        "INACTIVE_MEMBER"
    )
    transfer_ownership(admin, org.rep1.pk, org.rep2.pk, "sales")
    assert owners(record) == [org.rep2.pk]


def test_bad_arguments_are_refused(org):
    admin = org.actor(org.admin)
    stranger = make_user("stranger", make_workspace("elsewhere"))
    cases = [
        ((org.rep1.pk, org.rep2.pk, "nope"), ("NOT_FOUND", "app")),
        ((stranger.pk, org.rep2.pk, "sales"), ("NOT_FOUND", "fromUser")),
        ((org.rep1.pk, stranger.pk, "sales"), ("NOT_FOUND", "toUser")),
        ((org.rep1.pk, org.rep1.pk, "sales"), ("SAME_USER", "toUser")),
    ]
    for args, expected in cases:
        with pytest.raises(DajianError) as caught:
            transfer_ownership(admin, *args)
        error = caught.value.errors[0]
        assert (error.code, error.field) == expected, args


def test_handovers_are_visible_to_admins_and_the_people_involved(org):
    org.owned_record(org.rep1, "Deal")
    handover = transfer_ownership(org.actor(org.manager), org.rep1.pk, org.rep2.pk, "sales")
    for user in (org.admin, org.manager, org.rep1, org.rep2):
        assert get_handover(org.actor(user), handover.pk).pk == handover.pk
        assert [h.pk for h in list_handovers(org.actor(user), None, None).items] == [handover.pk]
    assert refusal(lambda: get_handover(org.actor(org.rep3), handover.pk)) == "NOT_FOUND"
    assert list_handovers(org.actor(org.rep3), None, None).items == []


def test_handovers_page_newest_first(org):
    admin = org.actor(org.admin)
    made = [
        transfer_ownership(admin, org.rep1.pk, org.rep2.pk, "sales").pk,
        transfer_ownership(admin, org.rep2.pk, org.rep1.pk, "sales").pk,
        transfer_ownership(admin, org.rep1.pk, org.rep3.pk, "sales").pk,
    ]
    first = list_handovers(admin, 2, None)
    assert [h.pk for h in first.items] == made[::-1][:2] and first.has_next
    second = list_handovers(admin, 2, first.end_cursor)
    assert [h.pk for h in second.items] == [made[0]] and not second.has_next


def test_a_handover_that_fails_moves_nothing(org, monkeypatch):
    from dajian.runtime.models import Handover
    from dajian.runtime.ownership import handover as module

    deal = org.owned_record(org.rep1, "Alpha")
    contact = org.owned_record(org.rep1, "Carol", form="contact")

    def fail(*args, **kwargs):
        raise RuntimeError("the audit log is unavailable")

    monkeypatch.setattr(module, "record_event", fail)  # the last write of the handover
    with pytest.raises(RuntimeError):
        transfer_ownership(org.actor(org.admin), org.rep1.pk, org.rep2.pk, "sales")

    assert owners(deal, contact) == [org.rep1.pk, org.rep1.pk]
    assert [Record.objects.get(pk=r.pk).version for r in (deal, contact)] == [1, 1]
    assert not Handover.objects.exists()
    assert not AuditEvent.objects.filter(action="record.transferred").exists()
