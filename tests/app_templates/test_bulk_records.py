"""Bulk record creation: validated exactly like createRecord, written in batches with a
constant number of queries, no outbox events."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from dajian.platform.models import AuditEvent
from dajian.runtime.models import OutboxEvent, Record, RecordDedupeKey, StageEntry
from dajian.runtime.services.bulk import BulkRow, StageVisit, bulk_create_records
from dajian.runtime.services.records import create_record
from tests.factories import build_workflow, make_actor, make_user

pytestmark = pytest.mark.django_db

FIELDS = [
    {"key": "name", "type": "text", "label": "Name", "required": True},
    {"key": "phone", "type": "phone", "label": "Phone"},
    {"key": "code", "type": "autonumber", "label": "No.", "pattern": "C-{seq:5}"},
    {"key": "credit_code", "type": "text", "label": "USCC", "unique": True},
    {"key": "amount", "type": "money", "label": "Amount"},
    {"key": "tax", "type": "formula", "label": "Tax", "expression": "amount * 0.13",
     "result_type": "number"},
    {"key": "photos", "type": "photo", "label": "Photos"},
    {"key": "level", "type": "single_select", "label": "Level",
     "choices": [{"value": "A", "label": "A"}, {"value": "B", "label": "B"}]},
]  # fmt: skip
RULES = [
    {
        "key": "evidence",
        "severity": "flag",
        "flag": "pending_verification",
        "expression": "size(photos) >= 1",
        "message": "No photo",
    }
]
DUPLICATES = [
    {"key": "phone", "fields": ["phone"], "normalize": "digits", "action": "warn"},
    {"key": "name", "fields": ["name"], "action": "block", "message": "同名客户已存在"},
]
WORKFLOW = {
    "initial": "new",
    "stages": [
        {"key": "new", "label": "New"},
        {"key": "qualified", "label": "Qualified"},
        {"key": "lost", "label": "Lost", "terminal": True, "outcome": "lost",
         "reasons": [{"key": "price", "label": "Price"}]},
    ],
    "transitions": [{"from": "new", "to": "qualified"}, {"from": "*", "to": "lost"}],
}  # fmt: skip
DATA = {
    "name": " 华东食品 ",
    "phone": "１３８ ００１３ ８０００",
    "amount": "1234.50",
    "level": "A",
}


@pytest.fixture
def forms(form_factory, admin_actor):
    """Two forms with the same definition: one written by createRecord, one in bulk."""
    made = {}
    for key in ("one_by_one", "in_bulk"):
        form = form_factory(FIELDS, key=key, rules=RULES, duplicates=DUPLICATES)
        build_workflow(admin_actor, form, WORKFLOW)
        made[key] = form
    return made


def audit_diffs(form_key: str) -> list[dict]:
    ids = [str(pk) for pk in Record.objects.filter(form__key=form_key).values_list("pk", flat=True)]
    events = AuditEvent.objects.filter(object_type="Record", object_id__in=ids).order_by("seq")
    return [(e.action, e.diff) for e in events]


def dedupe_keys_of(record: Record) -> list:
    return sorted(
        RecordDedupeKey.objects.filter(record=record).values_list("rule", "key_hash", "blocking")
    )


def stage_entry_of(record: Record) -> tuple:
    return (
        StageEntry.objects.filter(record=record)
        .values_list("stage", "entered_by", "exited_at")
        .get()
    )


def test_bulk_records_equal_records_created_one_by_one(admin_actor, forms):
    second = {**DATA, "name": "鑫源贸易", "credit_code": "914403001922038216"}
    singles = [create_record(admin_actor, "sales", "one_by_one", d).record for d in (DATA, second)]

    result = bulk_create_records(
        admin_actor, "sales", "in_bulk", [BulkRow(data=DATA), BulkRow(data=second)]
    )

    for single, bulk in zip(singles, result.records, strict=True):
        bulk = Record.objects.get(pk=bulk.pk)
        single.refresh_from_db()
        assert bulk.data == single.data
        assert bulk.flags == single.flags
        assert (bulk.stage, bulk.owner_id, bulk.created_by_id, bulk.version) == (
            single.stage,
            single.owner_id,
            single.created_by_id,
            single.version,
        )
        assert dedupe_keys_of(bulk) == dedupe_keys_of(single)
        assert stage_entry_of(bulk) == stage_entry_of(single)
    assert singles[1].flags == ["pending_verification", "possible_duplicate"]
    assert singles[0].data["name"] == "华东食品" and singles[0].data["phone"] == "13800138000"
    assert singles[0].data["tax"] == pytest.approx(160.485)
    assert audit_diffs("in_bulk") == audit_diffs("one_by_one")


def test_no_outbox_events_and_no_automations(admin_actor, forms):
    before = OutboxEvent.objects.count()

    bulk_create_records(
        admin_actor, "sales", "in_bulk", [BulkRow(data={"name": f"c{i}"}) for i in range(5)]
    )

    assert OutboxEvent.objects.count() == before


def test_autonumbers_continue_the_counter_in_row_order(admin_actor, forms):
    create_record(admin_actor, "sales", "in_bulk", {"name": "first"})

    result = bulk_create_records(
        admin_actor, "sales", "in_bulk", [BulkRow(data={"name": f"n{i}"}) for i in range(3)]
    )

    assert [r.data["code"] for r in result.records] == ["C-00002", "C-00003", "C-00004"]
    assert (
        create_record(admin_actor, "sales", "in_bulk", {"name": "last"}).record.data["code"]
        == "C-00005"
    )


def test_refused_rows_are_reported_with_their_row_index(admin_actor, forms):
    other = create_record(admin_actor, "sales", "one_by_one", {"name": "elsewhere"}).record
    create_record(admin_actor, "sales", "in_bulk", {"name": "taken", "credit_code": "U1"})
    rows = [
        BulkRow(data={"name": "ok"}),
        BulkRow(data={"name": "taken"}),  # blocking duplicate of a stored record
        BulkRow(data={"name": "ok"}),  # blocking duplicate of row 0
        BulkRow(data={"name": "x", "credit_code": "U1"}),  # unique value taken
        BulkRow(data={"name": "y", "credit_code": "U2"}),
        BulkRow(data={"name": "z", "credit_code": "U2"}),  # unique value of row 4
        BulkRow(data={"name": "w", "amount": "abc", "level": "Z"}),
        BulkRow(data={"name": "v"}, owner_id=other.pk + 10_000),  # not a member
    ]

    result = bulk_create_records(admin_actor, "sales", "in_bulk", rows, collect_errors=True)

    assert [r.data["name"] for r in result.records] == ["ok", "y"]
    codes = {i: sorted({(e.code, e.path) for e in errors}) for i, errors in result.errors.items()}
    assert codes == {
        1: [("DUPLICATE_RECORD", "name")],
        2: [("DUPLICATE_RECORD", "name")],
        3: [("DUPLICATE_VALUE", "credit_code")],
        5: [("DUPLICATE_VALUE", "credit_code")],
        6: [("INVALID_CHOICE", "level"), ("INVALID_FORMAT", "amount")],
        7: [("INVALID_REFERENCE", "owner")],
    }
    assert result.errors[1][0].message == "同名客户已存在"


def test_without_collecting_one_refused_row_creates_nothing(admin_actor, forms):
    from dajian.platform.errors import DajianError

    before = Record.objects.count()
    with pytest.raises(DajianError) as caught:
        bulk_create_records(
            admin_actor, "sales", "in_bulk", [BulkRow(data={"name": "a"}), BulkRow(data={})]
        )
    assert [(e.code, e.path) for e in caught.value.errors] == [("REQUIRED", "rows.1.name")]
    assert Record.objects.count() == before


def test_references_are_checked_for_the_whole_batch(admin_actor, form_factory):
    customer = form_factory([{"key": "name", "type": "text", "label": "Name"}], key="customer")
    form_factory(
        [{"key": "customer", "type": "relation", "target": "customer", "label": "Customer"}],
        key="visit",
    )
    stranger = form_factory([{"key": "name", "type": "text", "label": "Name"}], key="stranger")
    mine = create_record(admin_actor, "sales", "customer", {"name": "c"}).record
    alien = create_record(admin_actor, "sales", "stranger", {"name": "s"}).record
    assert customer.pk != stranger.pk

    result = bulk_create_records(
        admin_actor,
        "sales",
        "visit",
        [BulkRow(data={"customer": mine.pk}), BulkRow(data={"customer": alien.pk})],
        collect_errors=True,
    )

    assert [r.data for r in result.records] == [{"customer": mine.pk}]
    assert [(e.code, e.path) for e in result.errors[1]] == [("INVALID_REFERENCE", "customer")]


def test_owners_times_and_stage_paths(admin_actor, forms, team):
    rep = team["reps"][0]
    created = timezone.now() - dt.timedelta(days=20)
    moved = created + dt.timedelta(days=3)
    lost = created + dt.timedelta(days=9)
    row = BulkRow(
        data={"name": "deal"},
        owner_id=rep.pk,
        created_at=created,
        updated_at=lost,
        stages=[
            StageVisit("new", created),
            StageVisit("qualified", moved),
            StageVisit("lost", lost, "price"),
        ],
    )

    record = bulk_create_records(admin_actor, "sales", "in_bulk", [row]).records[0]

    record = Record.objects.get(pk=record.pk)
    assert (record.owner_id, record.created_at, record.updated_at) == (rep.pk, created, lost)
    assert (record.stage, record.stage_entered_at) == ("lost", lost)
    entries = list(
        StageEntry.objects.filter(record=record)
        .order_by("entered_at")
        .values_list("stage", "entered_at", "exited_at", "next_stage", "reason", "entered_by")
    )
    assert entries == [
        ("new", created, moved, "qualified", "", admin_actor.user_id),
        ("qualified", moved, lost, "lost", "", rep.pk),
        ("lost", lost, None, None, "price", rep.pk),
    ]
    actions = [a for a, _ in audit_diffs("in_bulk")]
    assert actions == ["record.created", "record.stage_changed", "record.stage_changed"]


def test_members_bulk_create_only_as_themselves(workspace, forms, team):
    rep = make_actor(team["reps"][0], workspace)
    from dajian.platform.errors import DajianError

    with pytest.raises(DajianError) as caught:
        bulk_create_records(rep, "sales", "in_bulk", [BulkRow(data={"name": "a"}, owner_id=None)])
    assert caught.value.errors[0].code == "PERMISSION_DENIED"

    made = bulk_create_records(rep, "sales", "in_bulk", [BulkRow(data={"name": "mine"})])
    assert made.records[0].owner_id == rep.user_id


def test_queries_per_batch_do_not_grow_with_rows(admin_actor, forms, team):
    owner = make_user("owner", admin_actor.workspace).pk

    def queries_for(count: int, start: int) -> int:
        rows = [
            BulkRow(
                data={**DATA, "name": f"n{start + i}", "credit_code": f"U{start + i}"},
                owner_id=owner,
            )
            for i in range(count)
        ]
        with CaptureQueriesContext(connection) as captured:
            bulk_create_records(admin_actor, "sales", "in_bulk", rows, batch_size=100)
        return len(captured.captured_queries)

    assert queries_for(5, 0) == queries_for(60, 100)
