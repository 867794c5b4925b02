"""The record actions of automations: notify, create_todo, set_fields, create_record,
update_related and start_approval — their save-time checks and what they do."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from dajian.platform.actors import Actor
from dajian.platform.calendars import deadline
from dajian.platform.durations import Duration
from dajian.platform.models import AuditEvent
from dajian.runtime.automations import actions
from dajian.runtime.automations.actions import update_related
from dajian.runtime.automations.activation import load_targets, with_rollup_values
from dajian.runtime.automations.checks import check_action
from dajian.runtime.automations.context import LoadedAutomation, RunContext
from dajian.runtime.models import (
    ApprovalRequest,
    AutomationRun,
    Notification,
    OutboxEvent,
    Record,
    RecordStatus,
    Task,
    TaskKind,
    TodoTask,
)
from dajian.runtime.policies import definition_of
from dajian.runtime.services.records import create_record
from tests.automation_helpers import check_context, publish_automation, run_action
from tests.factories import build_chain, build_form, make_actor, make_user

CUSTOMER = [
    {"key": "name", "type": "text", "label": "Name", "required": True},
    {"key": "credit", "type": "number", "label": "Credit"},
    {
        "key": "level",
        "type": "single_select",
        "label": "Level",
        "choices": [{"value": v, "label": v} for v in "ABC"],
    },
    {"key": "since", "type": "date", "label": "Since"},
    {"key": "sales", "type": "user", "label": "Salesperson"},
    {"key": "main_contract", "type": "relation", "label": "Main contract", "target": "contract"},
    {
        "key": "double_credit",
        "type": "formula",
        "label": "Double credit",
        "expression": "credit * 2.0",
        "result_type": "number",
    },
]
CONTRACT = [
    {"key": "title", "type": "text", "label": "Title", "required": True},
    {"key": "customer", "type": "relation", "label": "Customer", "target": "customer"},
    {"key": "delivered", "type": "boolean", "label": "Delivered"},
    {"key": "freeze_reason", "type": "text", "label": "Freeze reason"},
    {"key": "amount", "type": "number", "label": "Amount"},
    {
        "key": "partners",
        "type": "relation",
        "label": "Partners",
        "target": "customer",
        "multiple": True,
    },
]
VISIT = [
    {"key": "customer", "type": "relation", "label": "Customer", "target": "customer"},
    {"key": "note", "type": "long_text", "label": "Note"},
    {"key": "planned", "type": "number", "label": "Planned"},
]
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

_keys = itertools.count()


@pytest.fixture
def people(workspace, admin):
    manager = make_user("manager", workspace, roles=["manager"])
    rep = make_user("rep", workspace, roles=["rep"], manager=manager)
    rep2 = make_user("rep2", workspace, roles=["rep"], manager=manager)
    finance = make_user("finance", workspace, roles=["finance"])
    return {"manager": manager, "rep": rep, "rep2": rep2, "finance": finance}


@pytest.fixture
def forms(form_factory):
    return {
        "customer": form_factory(CUSTOMER, key="customer"),
        "contract": form_factory(CONTRACT, key="contract"),
        "visit": form_factory(VISIT, key="visit"),
    }


def as_(user, workspace) -> Actor:
    return make_actor(user, workspace)


def customer(actor: Actor, **data):
    return create_record(actor, "sales", "customer", {"name": "ACME", **data}).record


def contract(actor: Actor, **data):
    return create_record(actor, "sales", "contract", {"title": "C", **data}).record


def check(form, spec: dict, **ctx) -> list[tuple[str, str | None]]:
    """(code, path) of every problem of ``spec`` as ``actions.0`` of an automation."""
    return [(e.code, e.path) for e in check_action(spec, "actions.0", check_context(form, **ctx))]


def bulk_records(form, owners: list, n: int, **data) -> list[Record]:
    """``n`` records of ``form`` spread over ``owners``, in one INSERT (fast setup)."""
    now = timezone.now()
    rows = [
        Record(
            workspace=form.workspace,
            form=form,
            form_version=form.published,
            owner=owners[i % len(owners)],
            created_by=owners[i % len(owners)],
            data={**data, "name": f"c{i}"},
            created_at=now,
            updated_at=now,
        )
        for i in range(n)
    ]
    return Record.objects.bulk_create(rows)


def reads(queries: CaptureQueriesContext) -> int:
    return sum(not q["sql"].startswith("INSERT") for q in queries.captured_queries)


def inserts(queries: CaptureQueriesContext) -> set[str]:
    """The tables written by INSERT statements."""
    return {
        q["sql"].split('"')[1] for q in queries.captured_queries if q["sql"].startswith("INSERT")
    }


def context(admin_actor, form, spec: dict, records) -> tuple[Any, RunContext, list]:
    """The action, one run's context and targets, as the engine builds them (for
    running an action twice in the same firing)."""
    key = f"auto{next(_keys)}"
    meta = publish_automation(
        admin_actor, form, key, {"trigger": {"type": "record_created"}, "actions": [spec]}
    )
    definition = definition_of(form)
    system = Actor.system(admin_actor.workspace)
    automation = LoadedAutomation(
        meta.pk, meta.published_id, form.workspace_id, form.app_id, "sales", key, form,
        meta.published.definition,
    )  # fmt: skip
    run = AutomationRun.objects.create(
        workspace=form.workspace, automation=meta, trigger="test", trigger_key="fixed"
    )
    now = timezone.now()
    rows = with_rollup_values(
        Record.objects.filter(pk__in=[r.pk for r in records]), form, definition
    )
    targets = load_targets(system, form, definition, rows, now)
    ctx = RunContext(system, automation, run, spec, 0, now, definition)
    return actions.get(spec["type"]), ctx, targets


# --- notify ----------------------------------------------------------------------------


NOTIFY = {
    "type": "notify",
    "to": [{"type": "owner"}, {"type": "manager"}],
    "message": {"en": "{{ name }} needs a visit", "zh-CN": "{{ name }} 需要拜访"},
}


def test_notify_checks_recipients_and_templates(forms, people):
    form = forms["customer"]
    spec = {
        "type": "notify",
        "to": [
            {"type": "role", "role": "nobody"},
            {"type": "user", "users": ["ghost"]},
            {"type": "manager", "of": "submitter"},
            {"type": "field", "field": "name"},
        ],
        "message": {"en": "{{ nope }}", "zh-CN": "{{ name }}"},
    }
    assert sorted(check(form, spec)) == [
        ("NOT_A_USER_FIELD", "actions.0.to.3.field"),
        ("NO_SUBMITTER", "actions.0.to.2.of"),
        ("UNKNOWN_REFERENCE", "actions.0.message.en"),
        ("UNKNOWN_ROLE", "actions.0.to.0.role"),
        ("UNKNOWN_USER", "actions.0.to.1.users.0"),
    ]
    assert check(form, NOTIFY) == []
    assert check(form, {**NOTIFY, "extra": 1}) == [("UNKNOWN_PROPERTY", "actions.0")]


def test_a_digest_template_reads_the_records_not_one_record(forms, people):
    form = forms["customer"]
    digest = {**NOTIFY, "digest": True}
    assert check(form, digest) == [
        ("UNKNOWN_REFERENCE", "actions.0.message.en"),
        ("UNKNOWN_REFERENCE", "actions.0.message.zh-CN"),
    ]
    ok = {**digest, "message": "{{ count }}: {% for r in records %}{{ r.name }} {% endfor %}"}
    assert check(form, ok) == []


def test_notify_writes_one_notification_per_person_and_record(
    forms, people, workspace, admin_actor
):
    rep = as_(people["rep"], workspace)
    first, second = customer(rep, name="Alpha"), customer(rep, name="Beta")

    outcomes = run_action(admin_actor, forms["customer"], NOTIFY, [first, second])

    assert all(o.ok for o in outcomes)
    assert outcomes[0].result["notified"] == [people["rep"].pk, people["manager"].pk]
    rows = Notification.objects.order_by("record_id", "recipient_id")
    assert [(n.record_id, n.recipient_id, n.message["en"]) for n in rows] == [
        (first.pk, people["manager"].pk, "Alpha needs a visit"),
        (first.pk, people["rep"].pk, "Alpha needs a visit"),
        (second.pk, people["manager"].pk, "Beta needs a visit"),
        (second.pk, people["rep"].pk, "Beta needs a visit"),
    ]
    assert rows[0].message["zh-CN"] == "Alpha 需要拜访"
    assert rows[0].payload["automation"] == "automation:sales.test"


def test_notify_field_recipients_are_resolved_per_record(forms, people, workspace, admin_actor):
    rep = as_(people["rep"], workspace)
    one = customer(rep, sales=people["finance"].pk)
    two = customer(rep, sales=people["rep2"].pk)
    spec = {**NOTIFY, "to": [{"type": "field", "field": "sales"}]}

    outcomes = run_action(admin_actor, forms["customer"], spec, [one, two])

    assert [o.result["notified"] for o in outcomes] == [[people["finance"].pk], [people["rep2"].pk]]


def test_notify_never_reaches_people_of_another_workspace(
    forms, people, workspace, other_workspace, admin_actor
):
    make_user("outsider", other_workspace)
    record = customer(as_(people["rep"], workspace))
    spec = {**NOTIFY, "to": [{"type": "user", "users": ["outsider", "finance"]}]}

    outcomes = run_action(admin_actor, forms["customer"], spec, [record])

    assert outcomes[0].result["notified"] == [people["finance"].pk]
    assert set(Notification.objects.values_list("workspace_id", flat=True)) == {workspace.pk}


def test_a_digest_is_one_notification_per_person_listing_their_records(
    forms, people, workspace, admin_actor
):
    mine = [customer(as_(people["rep"], workspace), name=f"R{i}") for i in range(3)]
    theirs = [customer(as_(people["rep2"], workspace), name="S")]
    spec = {
        "type": "notify",
        "to": [{"type": "owner"}],
        "digest": True,
        "message": "{{ count }} stale: {% for r in records %}{{ r.name }};{% endfor %}",
    }

    outcomes = run_action(admin_actor, forms["customer"], spec, mine + theirs)

    assert all(o.ok for o in outcomes)
    by_person = {n.recipient_id: n for n in Notification.objects.all()}
    assert set(by_person) == {people["rep"].pk, people["rep2"].pk}
    rep_digest = by_person[people["rep"].pk]
    assert rep_digest.message["en"] == "3 stale: R0;R1;R2;"
    assert rep_digest.payload["records"] == [r.pk for r in mine]
    assert rep_digest.record_id is None and rep_digest.kind == "automation.digest"
    assert by_person[people["rep2"].pk].payload["records"] == [theirs[0].pk]


def test_notify_on_a_thousand_records_costs_a_handful_of_queries(
    forms, people, admin_actor, django_assert_max_num_queries
):
    records = bulk_records(forms["customer"], [people["rep"], people["rep2"]], 1000)
    action, ctx, targets = context(admin_actor, forms["customer"], NOTIFY, records)

    with CaptureQueriesContext(connection) as queries:
        outcomes = action.run(ctx, targets)

    assert len(outcomes) == 1000
    assert Notification.objects.count() == 2000  # owner + manager of each record
    # per distinct owner: memberships, org units, active members; then the INSERT
    # (which SQLite splits into batches of its parameter limit)
    assert reads(queries) == 6 and inserts(queries) == {"runtime_notification"}
    digest, ctx, targets = context(
        admin_actor, forms["customer"], {**NOTIFY, "digest": True}, records
    )
    with django_assert_max_num_queries(7):
        digest.run(ctx, targets)
    assert Notification.objects.filter(kind="automation.digest").count() == 3


# --- create_todo -----------------------------------------------------------------------


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


# --- set_fields ------------------------------------------------------------------------


def test_set_fields_checks_keys_and_expressions(forms, people):
    form = forms["customer"]
    spec = {
        "type": "set_fields",
        "values": {
            "nope": "1",
            "double_credit": "2.0",
            "level": "credit >",
            "credit": "unknown_name + 1.0",
        },
    }
    assert sorted(check(form, spec)) == [
        ("EXPRESSION_SYNTAX", "actions.0.values.level"),
        ("READ_ONLY_FIELD", "actions.0.values.double_credit"),
        ("UNKNOWN_FIELD", "actions.0.values.nope"),
        ("UNKNOWN_REFERENCE", "actions.0.values.credit"),
    ]
    ok = {"type": "set_fields", "values": {"level": "credit > 100.0 ? 'A' : 'B'"}}
    assert check(form, ok) == []


def test_set_fields_writes_through_the_record_service(forms, people, workspace, admin_actor):
    record = customer(as_(people["rep"], workspace), credit=500)
    spec = {
        "type": "set_fields",
        "values": {"level": "credit > 100.0 ? 'A' : 'B'", "since": "now", "name": "name + '!'"},
    }

    outcomes = run_action(admin_actor, forms["customer"], spec, [record])

    record.refresh_from_db()
    assert outcomes[0].ok and outcomes[0].result["changed"] == ["level", "name", "since"]
    assert record.data["level"] == "A" and record.data["name"] == "ACME!"
    assert record.data["since"] == timezone.localdate().isoformat()
    assert record.data["double_credit"] == 1000  # formulas recomputed by the service
    assert record.version == 2 and record.updated_by is None
    event = OutboxEvent.objects.filter(topic="record.updated").get()
    assert event.payload["depth"] == 1  # one automation level deeper: loop protection


def test_set_fields_that_changes_nothing_writes_nothing(forms, people, workspace, admin_actor):
    record = customer(as_(people["rep"], workspace), level="A")
    spec = {"type": "set_fields", "values": {"level": "'A'"}}

    outcomes = run_action(admin_actor, forms["customer"], spec, [record])

    record.refresh_from_db()
    assert outcomes[0].result == {"changed": []} and record.version == 1


def test_set_fields_refused_by_validation_fails_for_good(forms, people, workspace, admin_actor):
    good = customer(as_(people["rep"], workspace), credit=1)
    bad = customer(as_(people["rep"], workspace), credit=2)
    spec = {"type": "set_fields", "values": {"level": "credit > 1.0 ? 'Z' : 'A'"}}

    ok, refused = run_action(admin_actor, forms["customer"], spec, [good, bad])

    assert ok.ok
    assert not refused.ok and not refused.retry and "level" in refused.error
    bad.refresh_from_db()
    assert "level" not in bad.data and bad.version == 1


def test_set_fields_expression_failure_fails_for_good(forms, people, workspace, admin_actor):
    record = customer(as_(people["rep"], workspace), credit=1)
    spec = {"type": "set_fields", "values": {"credit": "credit / 0.0 + {'a': 1}['b']"}}

    outcomes = run_action(admin_actor, forms["customer"], spec, [record])

    assert not outcomes[0].ok and not outcomes[0].retry
    assert outcomes[0].error.startswith("credit:")


# --- create_record ---------------------------------------------------------------------


VISIT_SPEC = {
    "type": "create_record",
    "form": "visit",
    "values": {"customer": "record.id", "note": "'Follow up ' + name", "planned": "credit"},
}


def test_create_record_checks(forms, people, admin_actor):
    form = forms["customer"]
    build_form(admin_actor, VISIT, key="draft_only", publish=False)
    assert check(form, {**VISIT_SPEC, "form": "nope"}) == [("UNKNOWN_FORM", "actions.0.form")]
    assert check(form, {**VISIT_SPEC, "form": "draft_only"}) == [("UNKNOWN_FORM", "actions.0.form")]
    assert check(form, {**VISIT_SPEC, "values": {"nope": "1", "note": "nme"}}) == [
        ("UNKNOWN_FIELD", "actions.0.values.nope"),
        ("UNKNOWN_REFERENCE", "actions.0.values.note"),
    ]
    assert check(form, VISIT_SPEC) == []


def test_create_record_creates_it_for_the_source_owner(forms, people, workspace, admin_actor):
    source = customer(as_(people["rep"], workspace), name="Alpha", credit=3)

    outcomes = run_action(admin_actor, forms["customer"], VISIT_SPEC, [source])

    visit = Record.objects.get(form=forms["visit"])
    assert outcomes[0].result == {"record": visit.pk, "created": True, "owner": people["rep"].pk}
    assert visit.data == {"customer": source.pk, "note": "Follow up Alpha", "planned": 3}
    assert visit.owner_id == people["rep"].pk and visit.created_by_id is None
    topics = list(
        OutboxEvent.objects.filter(payload__record=visit.pk).values_list("topic", flat=True)
    )
    assert topics == ["record.created", "record.owner_changed"]


def test_create_record_run_again_in_the_same_firing_creates_nothing(
    forms, people, workspace, admin_actor
):
    source = customer(as_(people["rep"], workspace))
    action, ctx, targets = context(admin_actor, forms["customer"], VISIT_SPEC, [source])

    first = action.run(ctx, targets)
    again = action.run(ctx, targets)

    assert Record.objects.filter(form=forms["visit"]).count() == 1
    assert again[0].result["record"] == first[0].result["record"]
    assert (first[0].result["created"], again[0].result["created"]) == (True, False)


def test_create_record_from_a_pool_record_stays_in_the_pool(forms, people, workspace, admin_actor):
    source = customer(as_(people["rep"], workspace))
    Record.objects.filter(pk=source.pk).update(owner=None)

    outcomes = run_action(admin_actor, forms["customer"], VISIT_SPEC, [source])

    assert outcomes[0].result["owner"] is None
    assert Record.objects.get(form=forms["visit"]).owner_id is None


def test_create_record_stays_in_the_workspace(
    forms, people, workspace, other_workspace, admin_actor
):
    outsider = make_user("owner2", other_workspace, is_admin=True)
    build_form(make_actor(outsider, other_workspace), VISIT, key="visit")
    source = customer(as_(people["rep"], workspace))

    run_action(admin_actor, forms["customer"], VISIT_SPEC, [source])

    assert Record.objects.filter(workspace=other_workspace).count() == 0
    assert Record.objects.filter(workspace=workspace, form=forms["visit"]).count() == 1


def test_create_record_refused_by_validation_fails_for_good(forms, people, workspace, admin_actor):
    source = customer(as_(people["rep"], workspace))
    spec = {**VISIT_SPEC, "values": {"customer": "999999"}}

    outcomes = run_action(admin_actor, forms["customer"], spec, [source])

    assert not outcomes[0].ok and not outcomes[0].retry
    assert "INVALID_REFERENCE" in outcomes[0].error
    assert not Record.objects.filter(form=forms["visit"]).exists()


# --- update_related --------------------------------------------------------------------


FREEZE = {
    "type": "update_related",
    "form": "contract",
    "via": "customer",
    "filter": {"field": "delivered", "op": "eq", "value": False},
    "values": {"freeze_reason": "'payment anomaly of ' + name"},
    "status": "frozen",
}


def test_update_related_checks(forms, people):
    form = forms["customer"]
    assert check(form, {**FREEZE, "form": "nope"}) == [("UNKNOWN_FORM", "actions.0.form")]
    both = {**FREEZE, "through": "main_contract"}
    assert check(form, both) == [("ONE_LINK", "actions.0.via")]
    assert check(form, {**FREEZE, "via": "title"}) == [("NOT_A_RELATION", "actions.0.via")]
    through = {k: v for k, v in FREEZE.items() if k != "via"}
    assert check(form, {**through, "through": "sales"}) == [("NOT_A_RELATION", "actions.0.through")]
    bad = {**FREEZE, "filter": {"field": "nope", "op": "eq", "value": 1}, "values": {"x": "1"}}
    assert sorted(check(form, bad)) == [
        ("UNKNOWN_FIELD", "actions.0.filter.field"),
        ("UNKNOWN_FIELD", "actions.0.values.x"),
    ]
    nothing = {"type": "update_related", "form": "contract", "via": "customer"}
    assert check(form, nothing) == [("NOTHING_TO_DO", "actions.0")]
    assert check(form, FREEZE) == []
    assert check(form, {**through, "through": "main_contract"}) == []


def test_update_related_freezes_the_undelivered_contracts(forms, people, workspace, admin_actor):
    rep = as_(people["rep"], workspace)
    anomalous, fine = customer(rep, name="Alpha"), customer(rep, name="Beta")
    open_one = contract(rep, customer=anomalous.pk, delivered=False)
    delivered = contract(rep, customer=anomalous.pk, delivered=True)
    pending = contract(rep, customer=anomalous.pk, delivered=False)
    Record.objects.filter(pk=pending.pk).update(status=RecordStatus.IN_APPROVAL)
    other = contract(rep, customer=fine.pk, delivered=False)

    outcomes = run_action(admin_actor, forms["customer"], FREEZE, [anomalous])

    assert outcomes[0].result == {
        "related": 2,
        "updated": [open_one.pk],
        "status_changed": [open_one.pk],
        "skipped": [pending.pk],
    }
    states = {r.pk: r for r in Record.objects.filter(form=forms["contract"])}
    assert states[open_one.pk].status == RecordStatus.FROZEN
    assert states[open_one.pk].data["freeze_reason"] == "payment anomaly of Alpha"
    assert states[open_one.pk].version == 3  # the values, then the freeze
    for untouched in (delivered, other):
        assert states[untouched.pk].status == RecordStatus.ACTIVE
        assert states[untouched.pk].version == 1
    assert states[pending.pk].version == 1
    assert OutboxEvent.objects.filter(topic="record.frozen", payload__record=open_one.pk).exists()
    audit = AuditEvent.objects.get(action="record.frozen")
    assert audit.object_id == str(open_one.pk) and audit.diff == {"status": ["active", "frozen"]}


def test_update_related_lifts_a_freeze(forms, people, workspace, admin_actor):
    rep = as_(people["rep"], workspace)
    owner = customer(rep)
    frozen = contract(rep, customer=owner.pk)
    active = contract(rep, customer=owner.pk)
    Record.objects.filter(pk=frozen.pk).update(status=RecordStatus.FROZEN)
    spec = {"type": "update_related", "form": "contract", "via": "customer", "status": "active"}

    outcomes = run_action(admin_actor, forms["customer"], spec, [owner])

    assert outcomes[0].result["status_changed"] == [frozen.pk]
    assert Record.objects.get(pk=frozen.pk).status == RecordStatus.ACTIVE
    assert Record.objects.get(pk=active.pk).version == 1


def test_update_related_through_a_relation_of_the_record(forms, people, workspace, admin_actor):
    rep = as_(people["rep"], workspace)
    main = contract(rep, amount=1)
    contract(rep, amount=1)
    source = customer(rep, main_contract=main.pk, credit=7)
    spec = {
        "type": "update_related",
        "form": "contract",
        "through": "main_contract",
        "values": {"amount": "credit * 10.0"},
    }

    outcomes = run_action(admin_actor, forms["customer"], spec, [source])

    assert outcomes[0].result["updated"] == [main.pk]
    amounts = dict(Record.objects.filter(form=forms["contract"]).values_list("pk", "data__amount"))
    assert amounts == {main.pk: 70, main.pk + 1: 1}


def test_update_related_via_a_multiple_relation(forms, people, workspace, admin_actor):
    rep = as_(people["rep"], workspace)
    one, two, three = customer(rep), customer(rep), customer(rep)
    shared = contract(rep, partners=[one.pk, two.pk])
    spec = {"type": "update_related", "form": "contract", "via": "partners", "status": "frozen"}

    outcomes = run_action(admin_actor, forms["customer"], spec, [one, two, three])

    assert [o.result["related"] for o in outcomes] == [1, 1, 0]
    # the first record froze it; for the second it was frozen already
    assert [o.result["status_changed"] for o in outcomes] == [[shared.pk], [], []]
    assert Record.objects.get(pk=shared.pk).status == RecordStatus.FROZEN


def test_update_related_batch_selects_in_one_query_and_stays_in_the_workspace(
    forms, people, workspace, other_workspace, admin_actor, django_assert_num_queries
):
    outsider = make_user("owner2", other_workspace, is_admin=True)
    foreign_form = build_form(make_actor(outsider, other_workspace), CONTRACT, key="contract")
    rep = as_(people["rep"], workspace)
    owners = [customer(rep, name=f"c{i}") for i in range(3)]
    mine = [contract(rep, customer=c.pk) for c in owners]
    # a contract of another workspace that holds the same id in its relation field
    foreign = Record.objects.create(
        workspace=other_workspace, form=foreign_form, form_version=foreign_form.published,
        data={"title": "X", "customer": owners[0].pk},
    )  # fmt: skip
    spec = {"type": "update_related", "form": "contract", "via": "customer", "status": "frozen"}
    action, ctx, targets = context(admin_actor, forms["customer"], spec, owners)

    with django_assert_num_queries(2):  # the related form, then every related record
        selected = update_related._select(ctx, targets)
    outcomes = action.run(ctx, targets)

    assert selected == {c.pk: [(k.pk, "active")] for c, k in zip(owners, mine, strict=True)}
    assert [o.result["status_changed"] for o in outcomes] == [[k.pk] for k in mine]
    assert Record.objects.get(pk=foreign.pk).status == RecordStatus.ACTIVE


def test_update_related_over_the_cap_fails_for_good(
    forms, people, workspace, admin_actor, monkeypatch
):
    monkeypatch.setattr(update_related, "MAX_RELATED", 2)
    rep = as_(people["rep"], workspace)
    source = customer(rep)
    for _ in range(3):
        contract(rep, customer=source.pk)
    spec = {"type": "update_related", "form": "contract", "via": "customer", "status": "frozen"}

    outcomes = run_action(admin_actor, forms["customer"], spec, [source])

    assert not outcomes[0].ok and not outcomes[0].retry and "at most 2" in outcomes[0].error
    assert not Record.objects.filter(status=RecordStatus.FROZEN).exists()


def test_update_related_values_refused_roll_the_record_back(forms, people, workspace, admin_actor):
    rep = as_(people["rep"], workspace)
    source = customer(rep)
    fine = contract(rep, customer=source.pk, delivered=False)
    untitled = Record.objects.create(  # written before "title" became required
        workspace=workspace, form=forms["contract"], form_version=forms["contract"].published,
        data={"customer": source.pk, "delivered": False},
    )  # fmt: skip

    outcomes = run_action(admin_actor, forms["customer"], FREEZE, [source])

    assert not outcomes[0].ok and not outcomes[0].retry and "REQUIRED" in outcomes[0].error
    for pk in (fine.pk, untitled.pk):  # the first contract's update is rolled back too
        row = Record.objects.get(pk=pk)
        assert (row.version, row.status, "freeze_reason" in row.data) == (1, "active", False)


# --- start_approval --------------------------------------------------------------------


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


def test_actions_schemas_refuse_unknown_options_and_bad_shapes(forms, people):
    form = forms["customer"]
    assert check(form, {"type": "set_fields", "values": {}}) != []
    assert check(form, {"type": "create_todo", "assignee": [], "title": "T"}) != []
    assert check(form, {**FREEZE, "status": "deleted"}) != []
    for name in ("notify", "create_todo", "set_fields", "create_record", "update_related"):
        assert actions.get(name) is not None
