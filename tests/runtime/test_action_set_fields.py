"""The ``set_fields`` action of automations: its save-time checks and its writes through
the record service."""

from __future__ import annotations

from django.utils import timezone

from dajian.runtime.models import OutboxEvent
from tests.automation_helpers import run_action
from tests.runtime.action_helpers import as_, check, customer

pytest_plugins = ["tests.runtime.action_plugin"]


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
