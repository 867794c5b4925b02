"""createRecord / updateRecord / deleteRecord services: validation, rules, all-or-nothing."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from dajian.platform.errors import DajianError
from dajian.platform.models import AuditEvent
from dajian.runtime.models import OutboxEvent, Record
from dajian.runtime.services.records import create_record, delete_record, update_record
from tests.factories import make_actor

FIELDS = [
    {"key": "name", "type": "text", "label": "Name", "required": True, "max_length": 20},
    {
        "key": "level",
        "type": "single_select",
        "label": "Level",
        "choices": [{"value": "A", "label": "A"}, {"value": "B", "label": "B"}],
    },
    {
        "key": "amount",
        "type": "number",
        "label": "Amount",
        "precision": 2,
        "rules": [
            {
                "expression": "amount >= 0.0",
                "message": {"en": "Amount cannot be negative", "zh-CN": "金额不能为负"},
            }
        ],
    },
    {"key": "visits", "type": "number", "label": "Visits", "precision": 0},
    {"key": "proposal", "type": "long_text", "label": "Proposal", "required_if": "level == 'A'"},
    {"key": "reason", "type": "text", "label": "Reason", "visible_if": "level == 'B'"},
]


def refused(call, *args, **kwargs):
    with pytest.raises(DajianError) as exc:
        call(*args, **kwargs)
    return sorted((e.path, e.code) for e in exc.value.errors), exc.value.errors


@pytest.fixture
def form(form_factory):
    return form_factory(FIELDS)


def test_create_stores_clean_values_and_writes_audit_and_outbox(admin_actor, form):
    result = create_record(admin_actor, "sales", "customer", {"name": "  Acme ", "visits": 3})
    record = Record.objects.get(pk=result.record.pk)
    assert record.data == {"name": "Acme", "visits": 3}
    assert record.version == 1 and record.owner_id == admin_actor.user_id
    event = AuditEvent.objects.get(action="record.created")
    assert event.object_id == str(record.pk) and event.diff["name"] == [None, "Acme"]
    assert OutboxEvent.objects.filter(topic="record.created").count() == 1


def test_only_the_system_creates_a_record_for_someone_else(admin_actor, form, workspace):
    from dajian.platform.actors import Actor

    system = Actor.system(workspace)
    made = create_record(
        system, "sales", "customer", {"name": "For boss"}, owner_id=admin_actor.user_id
    )
    assert Record.objects.get(pk=made.record.pk).owner_id == admin_actor.user_id
    _, errors = refused(
        create_record, admin_actor, "sales", "customer", {"name": "x"}, owner_id=admin_actor.user_id
    )
    assert [e.code for e in errors] == ["PERMISSION_DENIED"]
    assert Record.objects.count() == 1


def test_all_errors_are_returned_at_once(admin_actor, form):
    problems, _ = refused(
        create_record,
        admin_actor,
        "sales",
        "customer",
        {"nmae": "x", "name": "y" * 21, "visits": "three", "amount": -1, "level": "Z"},
    )
    assert problems == [
        ("amount", "RULE_VIOLATED"),
        ("level", "INVALID_CHOICE"),
        ("name", "TOO_LONG"),
        ("nmae", "UNKNOWN_FIELD"),
        ("visits", "INVALID_TYPE"),
    ]
    assert (
        Record.objects.count() == 0
        and AuditEvent.objects.filter(action="record.created").count() == 0
    )


def test_required_field(admin_actor, form):
    problems, errors = refused(create_record, admin_actor, "sales", "customer", {})
    assert problems == [("name", "REQUIRED")]
    assert errors[0].message  # localised default message


def test_string_at_and_past_its_limit(admin_actor, form):
    assert create_record(admin_actor, "sales", "customer", {"name": "x" * 20}).record.pk
    problems, _ = refused(create_record, admin_actor, "sales", "customer", {"name": "x" * 21})
    assert problems == [("name", "TOO_LONG")]


def test_limit_counts_characters_not_bytes(admin_actor, form):
    assert create_record(admin_actor, "sales", "customer", {"name": "客" * 20}).record.pk


def test_payload_over_the_size_limit(admin_actor, form, settings):
    settings.DAJIAN = {**settings.DAJIAN, "MAX_RECORD_BYTES": 100}
    problems, _ = refused(create_record, admin_actor, "sales", "customer", {"name": "n" * 200})
    assert problems == [("data", "PAYLOAD_TOO_LARGE")]


def test_rule_messages_are_localised(admin_actor, form):
    from django.utils import translation

    with translation.override("en"):
        _, errors = refused(
            create_record, admin_actor, "sales", "customer", {"name": "x", "amount": -5}
        )
    assert errors[0].message == "Amount cannot be negative"
    with translation.override("zh-hans"):
        _, errors = refused(
            create_record, admin_actor, "sales", "customer", {"name": "x", "amount": -5}
        )
    assert errors[0].message == "金额不能为负"


def test_conditional_required(admin_actor, form):
    problems, _ = refused(
        create_record, admin_actor, "sales", "customer", {"name": "x", "level": "A"}
    )
    assert problems == [("proposal", "REQUIRED")]
    ok = create_record(
        admin_actor, "sales", "customer", {"name": "x", "level": "A", "proposal": "tailored"}
    )
    assert ok.record.data["proposal"] == "tailored"


def test_invisible_fields_keep_no_value(admin_actor, form):
    result = create_record(
        admin_actor,
        "sales",
        "customer",
        {"name": "x", "level": "A", "proposal": "p", "reason": "r"},
    )
    assert "reason" not in result.record.data
    result = create_record(
        admin_actor, "sales", "customer", {"name": "y", "level": "B", "reason": "r"}
    )
    assert result.record.data["reason"] == "r"


def test_conditional_read_only(admin_actor, form_factory):
    form_factory(
        [
            {"key": "name", "type": "text", "label": "Name"},
            {"key": "locked", "type": "boolean", "label": "Locked"},
            {"key": "price", "type": "number", "label": "Price", "readonly_if": "locked == true"},
        ],
        key="quote",
    )
    rec = create_record(admin_actor, "sales", "quote", {"price": 5, "locked": True}).record
    problems, _ = refused(update_record, admin_actor, rec.pk, {"price": 6})
    assert problems == [("price", "READ_ONLY_FIELD")]
    unlocked = update_record(admin_actor, rec.pk, {"locked": False, "price": 6})
    assert unlocked.record.data["price"] == 6


def test_soft_rules_flag_instead_of_refusing(admin_actor, form_factory):
    form_factory(
        [
            {"key": "store", "type": "text", "label": "Store", "required": True},
            {"key": "summary", "type": "text", "label": "Summary"},
            {"key": "photos", "type": "number", "label": "Photos", "precision": 0},
        ],
        key="visit",
        rules=[
            {
                "key": "evidence",
                "expression": "photos >= 2 && size(summary) > 0",
                "message": "Needs evidence",
                "severity": "flag",
                "flag": "pending_verification",
            }
        ],
    )
    weak = create_record(admin_actor, "sales", "visit", {"store": "S1", "photos": 1})
    assert weak.record.flags == ["pending_verification"]
    missing = create_record(admin_actor, "sales", "visit", {"store": "S2"})
    assert missing.record.flags == ["pending_verification"]
    fixed = update_record(admin_actor, weak.record.pk, {"photos": 2, "summary": "ok"})
    assert fixed.record.flags == []


def test_update_is_partial_and_versioned(admin_actor, form):
    rec = create_record(admin_actor, "sales", "customer", {"name": "x", "visits": 1}).record
    result = update_record(admin_actor, rec.pk, {"visits": 2}, expected_version=1)
    assert result.record.data == {"name": "x", "visits": 2} and result.record.version == 2
    cleared = update_record(admin_actor, rec.pk, {"visits": None})
    assert cleared.record.data == {"name": "x"}
    diff = AuditEvent.objects.filter(action="record.updated").order_by("seq").first().diff
    assert diff == {"visits": [1, 2]}


def test_stale_expected_version(admin_actor, form):
    rec = create_record(admin_actor, "sales", "customer", {"name": "x"}).record
    update_record(admin_actor, rec.pk, {"name": "y"}, expected_version=1)
    problems, _ = refused(update_record, admin_actor, rec.pk, {"name": "z"}, expected_version=1)
    assert problems == [("expectedVersion", "STALE_VERSION")]
    assert Record.objects.get(pk=rec.pk).data["name"] == "y"


def test_idempotency_key_returns_the_first_record(admin_actor, form):
    first = create_record(admin_actor, "sales", "customer", {"name": "x"}, "key-1")
    again = create_record(admin_actor, "sales", "customer", {"name": "other"}, "key-1")
    assert again.record.pk == first.record.pk and again.created is False
    assert Record.objects.count() == 1


def test_ids_of_another_workspace_are_not_found(admin_actor, form, other_workspace, user_factory):
    rec = create_record(admin_actor, "sales", "customer", {"name": "x"}).record
    stranger = make_actor(user_factory(workspace=other_workspace, is_admin=True), other_workspace)
    for call in (
        lambda: update_record(stranger, rec.pk, {"name": "hacked"}),
        lambda: delete_record(stranger, rec.pk),
        lambda: create_record(stranger, "sales", "customer", {"name": "x"}),
    ):
        with pytest.raises(DajianError) as exc:
            call()
        assert exc.value.errors[0].code == "NOT_FOUND"
    assert Record.objects.get(pk=rec.pk).data == {"name": "x"}


def test_delete_keeps_history(admin_actor, form):
    rec = create_record(admin_actor, "sales", "customer", {"name": "x"}).record
    delete_record(admin_actor, rec.pk)
    assert not Record.objects.filter(pk=rec.pk).exists()
    assert AuditEvent.objects.get(action="record.deleted").diff == {"name": ["x", None]}


def test_failed_write_leaves_no_trace(admin_actor, form):
    before = (AuditEvent.objects.count(), OutboxEvent.objects.count())
    refused(create_record, admin_actor, "sales", "customer", {"name": "x", "amount": -1})
    assert (AuditEvent.objects.count(), OutboxEvent.objects.count()) == before


def test_create_uses_a_bounded_number_of_queries(admin_actor, form):
    create_record(admin_actor, "sales", "customer", {"name": "warm"})
    with CaptureQueriesContext(connection) as queries:
        create_record(admin_actor, "sales", "customer", {"name": "x", "level": "B"})
    assert len(queries) <= 12, [q["sql"] for q in queries]


def test_value_errors_are_localised(admin_actor, form):
    from django.utils import translation

    with translation.override("zh-hans"):
        _, errors = refused(create_record, admin_actor, "sales", "customer", {"name": "x" * 21})
    assert errors[0].message == "内容超出长度上限。"
    with translation.override("en"):
        _, errors = refused(create_record, admin_actor, "sales", "customer", {"name": "x" * 21})
    assert "20" in errors[0].message  # the precise English text names the limit


def test_payload_exactly_at_the_size_limit(admin_actor, form, settings):
    import json

    data = {"name": "n" * 20, "visits": 7}
    size = len(json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode())
    settings.DAJIAN = {**settings.DAJIAN, "MAX_RECORD_BYTES": size}
    assert create_record(admin_actor, "sales", "customer", data).record.pk
    settings.DAJIAN = {**settings.DAJIAN, "MAX_RECORD_BYTES": size - 1}
    problems, _ = refused(create_record, admin_actor, "sales", "customer", data)
    assert problems == [("data", "PAYLOAD_TOO_LARGE")]
