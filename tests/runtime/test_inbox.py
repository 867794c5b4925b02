"""The task inbox: listing, counts, SLA colours and bulk decisions."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from dajian.platform.audit import verify_chain
from dajian.platform.errors import DajianError
from dajian.platform.models import AuditEvent
from dajian.runtime.approvals.services import decide_task, submit_for_approval
from dajian.runtime.inbox.bulk import bulk_decide
from dajian.runtime.inbox.complete import complete_task
from dajian.runtime.inbox.selectors import my_tasks, sla_color, task_counts
from dajian.runtime.models import ApprovalRequest, Task, TodoTask, VerificationTask
from tests.factories import make_actor, make_user, make_workspace
from tests.runtime.approval_fixtures import chain, db_state, new_contract, open_task_of, step

pytest_plugins = ["tests.runtime.approval_plugin"]

CHAIN = "contract_approval"


@pytest.fixture
def requests(org, admin_actor, contract_form):
    """Five pending requests, each with one task for the manager (4-hour SLA)."""
    chain(
        admin_actor,
        contract_form,
        steps=[
            step(
                "manager",
                [{"type": "manager"}],
                sla={"within": {"hours": 4}},
                decisions=["approve", "reject", "delegate"],
            )
        ],
    )
    rep = org.actor(org.rep)
    return [
        submit_for_approval(rep, new_contract(rep, title=f"deal {i}").pk, CHAIN) for i in range(5)
    ]


def todo(user, workspace, **kwargs):
    return TodoTask.objects.create(
        workspace=workspace,
        assignee=user,
        kind="todo",
        created_at=timezone.now(),
        title={"en": "Call back"},
        **kwargs,
    )


def test_open_tasks_newest_first_with_record_request_and_step(org, requests):
    page = my_tasks(org.actor(org.manager))
    assert [i.approval.request.pk for i in page.items] == [r.pk for r in reversed(requests)]
    item = page.items[0]
    assert item.record == {
        "id": requests[-1].record_id,
        "stage": None,
        "status": "in_approval",
        "form__key": "contract",
        "form__app__key": "sales",
    }
    assert (item.approval.step.key, item.allowed_decisions) == (
        "manager",
        ["approve", "reject", "delegate"],
    )
    assert item.sla_color == "green" and not page.has_next
    assert my_tasks(org.actor(org.rep)).items == []


def test_keyset_pages_cover_every_task_once(org, requests):
    actor = org.actor(org.manager)
    seen, after = [], None
    while True:
        page = my_tasks(actor, first=2, after=after)
        seen += [i.task.pk for i in page.items]
        if not page.has_next:
            break
        after = page.end_cursor
    assert len(seen) == len(set(seen)) == 5
    with pytest.raises(DajianError) as exc:
        my_tasks(actor, after="not-a-cursor")
    assert exc.value.errors[0].code == "INVALID_CURSOR"
    with pytest.raises(DajianError) as exc:
        my_tasks(actor, first=101)
    assert exc.value.errors[0].code == "LIMIT_EXCEEDED"


def test_done_tasks_kinds_and_counts(org, requests):
    manager = org.actor(org.manager)
    decide_task(manager, open_task_of(requests[0], org.manager).pk, "approve")
    todo(org.manager, org.workspace)
    VerificationTask.objects.create(
        workspace=org.workspace,
        assignee=org.manager,
        kind="verification",
        created_at=timezone.now(),
    )

    done = my_tasks(manager, status="done")
    assert [i.task.decision for i in done.items] == ["approve"]
    assert done.items[0].allowed_decisions == [] and done.items[0].sla_color == "none"
    todos = my_tasks(manager, kind="todo")
    assert [i.task.kind for i in todos.items] == ["todo"] and todos.items[0].approval is None
    counts = {(c.kind, c.status): c.count for c in task_counts(manager)}
    assert counts == {
        ("approval", "open"): 4,
        ("approval", "done"): 1,
        ("todo", "open"): 1,
        ("verification", "open"): 1,
    }


def test_other_workspaces_tasks_are_not_listed(org, requests):
    elsewhere = make_workspace("elsewhere")
    todo(org.manager, elsewhere)
    make_user("someone", elsewhere)
    assert len(my_tasks(org.actor(org.manager)).items) == 5
    other = make_user("manager2", elsewhere)
    assert my_tasks(make_actor(other, elsewhere)).items == []


def test_a_page_costs_a_fixed_number_of_queries(org, requests):
    actor = org.actor(org.manager)
    for _ in range(3):
        todo(org.manager, org.workspace, message={"en": "Call the customer"})
    with CaptureQueriesContext(connection) as queries:
        page = my_tasks(actor, first=20)
        [(i.allowed_decisions, i.record, i.approval and i.approval.step.key) for i in page.items]
        task_counts(actor)
    assert len(page.items) == 8
    assert [i.todo.message for i in page.items[:3]] == [{"en": "Call the customer"}] * 3
    # tasks, approval details, requests, to-do messages, records, counts
    assert len(queries) <= 6, [q["sql"] for q in queries]
    assert not any("django_content_type" in q["sql"] for q in queries)


@pytest.mark.parametrize(
    ("status", "due_in", "window", "color"),
    [
        ("open", None, 4, "none"),
        ("open", 3, 4, "green"),
        ("open", 0.9, 4, "yellow"),
        ("open", -0.1, 4, "red"),
        ("done", -1, 4, "none"),
    ],
)
def test_sla_color(status, due_in, window, color):
    now = timezone.now()
    created = now - dt.timedelta(hours=window - (due_in or 0))
    task = Task(
        status=status,
        created_at=created,
        due_at=None if due_in is None else now + dt.timedelta(hours=due_in),
    )
    assert sla_color(task, now) == color


# --- bulk decisions --------------------------------------------------------------------


def limit(settings, value):
    settings.DAJIAN = {**settings.DAJIAN, "MAX_BULK_DECISIONS": value}


def task_ids(org, requests):
    return [open_task_of(r, org.manager).pk for r in requests]


def test_bulk_approve_at_the_limit(org, requests, settings):
    limit(settings, 5)
    results = bulk_decide(org.actor(org.manager), task_ids(org, requests), "approve")
    assert len(results) == 5
    assert set(ApprovalRequest.objects.values_list("status", flat=True)) == {"approved"}


def test_bulk_above_the_limit_is_refused(org, requests, settings):
    limit(settings, 4)
    before = db_state()
    with pytest.raises(DajianError) as exc:
        bulk_decide(org.actor(org.manager), task_ids(org, requests), "approve")
    assert (exc.value.errors[0].code, exc.value.errors[0].field) == ("LIMIT_EXCEEDED", "taskIds")
    assert db_state() == before


def test_bulk_is_all_or_nothing(org, requests, admin_actor):
    ids = task_ids(org, requests)
    decide_task(org.actor(org.manager), ids[3], "approve")
    before = db_state()
    foreign = todo(org.director, org.workspace)

    with pytest.raises(DajianError) as exc:
        bulk_decide(org.actor(org.manager), [*ids, foreign.pk], "approve")

    assert [(e.code, e.path) for e in exc.value.errors] == [
        ("ALREADY_DECIDED", "taskIds.3"),
        ("NOT_FOUND", "taskIds.5"),
    ]
    after = db_state()
    assert after["tasks"][:-1] == before["tasks"] and after["requests"] == before["requests"]
    assert (after["audit"], after["events"]) == (before["audit"], before["events"])


@pytest.mark.parametrize(
    ("ids", "decision", "comment", "code", "path"),
    [
        ("none", "approve", "", "INVALID_INPUT", "taskIds"),
        ("dup", "approve", "", "INVALID_INPUT", "taskIds.1"),
        ("all", "delegate", "", "DECISION_NOT_ALLOWED", "decision"),
        ("all", "reject", "", "REASON_REQUIRED", "taskIds.0"),
    ],
)
def test_bulk_bad_input(org, requests, ids, decision, comment, code, path):
    every = task_ids(org, requests)
    ids = {"none": [], "dup": [every[0], every[0]], "all": every}[ids]
    before = db_state()
    with pytest.raises(DajianError) as exc:
        bulk_decide(org.actor(org.manager), ids, decision, comment)
    assert (exc.value.errors[0].code, exc.value.errors[0].path) == (code, path)
    assert db_state() == before


# --- completing to-dos -----------------------------------------------------------------


def test_complete_a_todo_and_a_verification_task(org):
    manager = org.actor(org.manager)
    task = todo(org.manager, org.workspace)
    check = VerificationTask.objects.create(
        workspace=org.workspace,
        assignee=org.manager,
        kind="verification",
        created_at=timezone.now(),
    )

    done = complete_task(manager, task.pk, "  Called, they will sign  ")
    complete_task(manager, check.pk)

    row = Task.objects.non_polymorphic().get(pk=task.pk)
    assert (row.status, row.decided_by_id, row.comment, row.version) == (
        "done",
        org.manager.pk,
        "Called, they will sign",
        2,
    )
    assert row.completed_at == done.completed_at is not None
    assert Task.objects.non_polymorphic().get(pk=check.pk).status == "done"
    events = AuditEvent.objects.filter(action="task.completed").order_by("seq")
    assert [(e.object_id, e.diff) for e in events] == [
        (str(task.pk), {"status": ["open", "done"], "comment": ["", "Called, they will sign"]}),
        (str(check.pk), {"status": ["open", "done"]}),
    ]
    assert verify_chain(org.workspace).ok


def test_complete_task_refusals_change_nothing(org, requests):
    mine = todo(org.manager, org.workspace)
    theirs = todo(org.director, org.workspace)
    elsewhere = todo(org.manager, make_workspace("elsewhere"))
    approval = open_task_of(requests[0], org.manager)
    manager = org.actor(org.manager)
    complete_task(manager, mine.pk)
    before = db_state()

    cases = [
        (elsewhere.pk, "NOT_FOUND"),
        (theirs.pk, "NOT_ASSIGNEE"),
        (approval.pk, "USE_DECIDE_TASK"),
        (mine.pk, "ALREADY_DECIDED"),
    ]
    for task_id, code in cases:
        with pytest.raises(DajianError) as exc:
            complete_task(manager, task_id)
        assert exc.value.errors[0].code == code, task_id
    with pytest.raises(DajianError) as exc:
        complete_task(manager, theirs.pk, "x" * 2001)
    assert exc.value.errors[0].code == "INVALID_INPUT"
    assert db_state() == before
