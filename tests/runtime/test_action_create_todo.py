"""The ``create_todo`` action of automations: its save-time checks and the to-dos it puts
in the assignees' inboxes."""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext

from dajian.platform.calendars import deadline
from dajian.platform.durations import Duration
from dajian.runtime.models import Task, TaskKind, TodoTask
from tests.automation_helpers import run_action
from tests.runtime.action_helpers import as_, bulk_records, check, context, customer, inserts, reads

pytest_plugins = ["tests.runtime.action_plugin"]


TODO = {
    "type": "create_todo",
    "assignee": [{"type": "manager"}],
    "title": {"en": "Call {{ name }}", "zh-CN": "致电 {{ name }}"},
    "message": "Level {{ level }}",
    "suggested_actions": [{"key": "call", "label": {"en": "Call", "zh-CN": "打电话"}}],
    "due": {"hours": 2, "business": True},
}


def test_create_todo_checks(forms, people):
    form = forms["customer"]
    spec = {
        **TODO,
        "assignee": [{"type": "role", "role": "ghosts"}],
        "title": "{{ missing }}",
        "suggested_actions": [{"key": "a", "label": "A"}, {"key": "a", "label": "B"}],
        "due": {"days": 0},
    }
    assert sorted(check(form, spec)) == [
        ("DUPLICATE_KEY", "actions.0.suggested_actions.0.key"),
        ("DUPLICATE_KEY", "actions.0.suggested_actions.1.key"),
        ("INVALID_DURATION", "actions.0.due"),
        ("UNKNOWN_REFERENCE", "actions.0.title"),
        ("UNKNOWN_ROLE", "actions.0.assignee.0.role"),
    ]
    assert check(form, TODO) == []


def test_create_todo_puts_a_todo_in_the_managers_inbox(forms, people, workspace, admin_actor):
    record = customer(as_(people["rep"], workspace), name="Alpha", level="B")

    outcomes = run_action(admin_actor, forms["customer"], TODO, [record])

    task = Task.objects.get()
    assert isinstance(task, TodoTask)
    assert outcomes[0].result == {"tasks": [task.pk], "assignees": [people["manager"].pk]}
    assert task.kind == TaskKind.TODO and task.assignee_id == people["manager"].pk
    assert task.record_id == record.pk
    assert task.title == {"en": "Call Alpha", "zh-CN": "致电 Alpha"}
    assert task.message == {"en": "Level B", "zh-CN": "Level B"}
    assert task.suggested_actions == TODO["suggested_actions"]
    assert task.source == "automation:sales.test"
    assert task.due_at == deadline(workspace, task.created_at, Duration(hours=2, business=True))


def test_create_todo_makes_one_task_per_person_of_a_role(forms, people, workspace, admin_actor):
    record = customer(as_(people["rep"], workspace))
    spec = {"type": "create_todo", "assignee": [{"type": "role", "role": "rep"}], "title": "T"}

    outcomes = run_action(admin_actor, forms["customer"], spec, [record])

    assert sorted(TodoTask.objects.values_list("assignee_id", flat=True)) == sorted(
        [people["rep"].pk, people["rep2"].pk]
    )
    assert sorted(outcomes[0].result["tasks"]) == sorted(Task.objects.values_list("pk", flat=True))
    assert TodoTask.objects.filter(due_at__isnull=True).count() == 2


def test_create_todo_on_many_records_costs_a_handful_of_queries(
    forms, people, admin_actor, django_assert_max_num_queries
):
    records = bulk_records(forms["customer"], [people["rep"], people["rep2"]], 600)
    action, ctx, targets = context(admin_actor, forms["customer"], TODO, records)

    with CaptureQueriesContext(connection) as queries:
        outcomes = action.run(ctx, targets)

    assert all(o.ok for o in outcomes)
    assert TodoTask.objects.count() == 600
    assert set(TodoTask.objects.values_list("assignee_id", flat=True)) == {people["manager"].pk}
    assert Task.objects.non_polymorphic().filter(kind=TaskKind.TODO).count() == 600
    # per distinct owner: 3 to resolve the manager; the working calendar: 1 or 2; then
    # the task and to-do INSERTs (in batches of SQLite's parameter limit)
    assert reads(queries) <= 8
    assert inserts(queries) == {"runtime_task", "runtime_todotask"}


def test_create_todo_for_a_named_user(forms, people, workspace, admin_actor):
    record = customer(as_(people["rep"], workspace))
    spec = {
        "type": "create_todo",
        "assignee": [{"type": "user", "users": ["finance"]}],
        "title": "Check the credit",
    }

    run_action(admin_actor, forms["customer"], spec, [record])

    todo = TodoTask.objects.get()
    assert (todo.assignee_id, todo.record_id, todo.title["en"]) == (
        people["finance"].pk,
        record.pk,
        "Check the credit",
    )
