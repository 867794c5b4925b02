"""The ``notify`` action of automations: its save-time checks (recipients, templates,
digests) and the notifications it writes, one per person and record or one digest per
person."""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext

from dajian.runtime.automations import engine
from dajian.runtime.models import Notification
from tests.automation_helpers import run_action
from tests.factories import make_user
from tests.runtime.action_helpers import as_, bulk_records, check, context, customer, inserts, reads

pytest_plugins = ["tests.runtime.action_plugin"]


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
    with django_assert_max_num_queries(6):
        outcomes = digest.run(ctx, targets)
    assert not Notification.objects.filter(kind="automation.digest").exists()
    # the digests are written when the run finishes: one per person for the whole run
    firing = engine.Firing(ctx.automation, ctx.run, ctx.actor, ctx.form_definition, None, ctx.now)
    engine.record_outcomes(firing, 0, targets, outcomes)
    # whatever the number of records: savepoints, the done check, the executions read,
    # the INSERT of the digests and their own execution
    with django_assert_max_num_queries(10):
        engine.finish_actions(firing)
    assert Notification.objects.filter(kind="automation.digest").count() == 3
