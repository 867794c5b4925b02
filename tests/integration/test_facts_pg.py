"""Promoted facts of dashboards on PostgreSQL (``dajian.runtime.dashboards.facts``):
every write path keeps a promoted form's facts equal to its records, bad values become
NULL instead of failing the write, slots are stable and limited, existing records are
backfilled, and other forms are left alone."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.utils import timezone

from dajian.builder.models import Form
from dajian.builder.services.forms import publish_form, save_form_draft
from dajian.builder.services.metadata import save_workflow
from dajian.platform.actors import Actor
from dajian.platform.errors import DajianError
from dajian.platform.models import Membership
from dajian.platform.org import create_org_unit
from dajian.platform.sql import copy_rows
from dajian.runtime.approvals.services import submit_for_approval, withdraw_approval
from dajian.runtime.dashboards import facts
from dajian.runtime.dashboards.facts import (
    ALL_SLOTS,
    LOCAL_DATES,
    cast_of,
    date_instant,
    fact_queryset,
    promote,
    promoted_columns,
)
from dajian.runtime.models import FormPromotion, Record, RecordFact, RecordStatus
from dajian.runtime.models.facts import TIME_SLOTS
from dajian.runtime.ownership.handover import transfer_ownership
from dajian.runtime.ownership.pool import claim_record, reassign_record, release_record
from dajian.runtime.policies import definition_of
from dajian.runtime.services.records import create_record, delete_record, update_record
from dajian.runtime.stages.engine import advance_stage
from tests.automation_helpers import run_action
from tests.factories import build_chain, build_form, build_workflow, make_actor, make_user
from tests.runtime.test_pool import OwnershipOrg, ownership_org

SHANGHAI = ZoneInfo("Asia/Shanghai")
PERMISSIONS = [
    {"role": "rep", "create": True, "read": "own", "update": "own", "delete": "own"},
    {"role": "manager", "create": True, "read": "team", "update": "team", "delete": "none"},
    {"role": "auditor", "create": False, "read": "all", "update": "none", "delete": "none"},
]
VISIT = [
    {
        "key": "region",
        "type": "single_select",
        "label": "Region",
        "choices": [{"value": v, "label": v} for v in ("east", "north", "south")],
    },
    {"key": "store", "type": "text", "label": "Store"},
    {"key": "rep", "type": "user", "label": "Rep"},
    {"key": "unit", "type": "department", "label": "Unit"},
    {"key": "customer", "type": "relation", "label": "Customer", "target": "customer"},
    {"key": "amount", "type": "money", "label": "Amount"},
    {"key": "share", "type": "percent", "label": "Share"},
    {"key": "stars", "type": "rating", "label": "Stars"},
    {"key": "qty", "type": "number", "label": "Quantity"},
    {
        "key": "double",
        "type": "formula",
        "label": "Double",
        "expression": "amount * 2.0",
        "result_type": "number",
    },
    {"key": "visited_on", "type": "date", "label": "Visited on"},
    {"key": "visited_at", "type": "datetime", "label": "Visited at"},
    {"key": "summary", "type": "long_text", "label": "Summary"},
    {
        "key": "tags",
        "type": "multi_select",
        "label": "Tags",
        "choices": [{"value": "x", "label": "x"}],
    },
    {"key": "done", "type": "boolean", "label": "Done"},
]
PROMOTED = [
    "region",
    "store",
    "rep",
    "unit",
    "customer",
    "amount",
    "share",
    "stars",
    "qty",
    "double",
    "visited_on",
    "visited_at",
]
WORKFLOW = {
    "stages": [
        {"key": "new", "label": "New"},
        {"key": "visited", "label": "Visited"},
        {"key": "won", "label": "Won", "terminal": True, "outcome": "won"},
    ],
    "initial": "new",
    "transitions": [{"from": "new", "to": "visited"}, {"from": "visited", "to": "won"}],
}
CHAIN = {
    "schema_version": 1,
    "label": "Check",
    "steps": [
        {
            "key": "check",
            "label": "Check",
            "approvers": [{"type": "user", "users": ["manager"]}],
            "decisions": ["approve", "reject"],
        }
    ],
}


# --- helpers ------------------------------------------------------------------------------


def expected_slot(cast: str, value: Any, zone: ZoneInfo) -> Any:
    """What a slot must hold for a valid stored value (the Python side of the casts)."""
    if value is None:
        return None
    if cast == "text":
        return value if isinstance(value, str) else None
    if cast == "id":
        return str(value)
    if cast == "number":
        return Decimal(str(value)).quantize(Decimal("0.00000001"))
    if cast == "date":
        return date_instant(value, zone)
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


def expected_local_date(cast: str, value: Any, zone: ZoneInfo) -> dt.date | None:
    """What a d-slot's local date column holds: a date's own day, a datetime's day in
    the workspace's zone."""
    if value is None:
        return None
    if cast == "date":
        return dt.date.fromisoformat(value)
    return expected_slot(cast, value, zone).astimezone(zone).date()


def expected_fact(record: Record, columns: dict[str, str], zone: ZoneInfo) -> dict[str, Any]:
    definition = definition_of(record.form)
    assert definition is not None
    row: dict[str, Any] = {
        "workspace_id": record.workspace_id,
        "form_id": record.form_id,
        "owner_id": record.owner_id,
        "stage": record.stage,
        "status": record.status,
        "created_at": record.created_at,
        "updated_at": record.updated_at,
        "flags": record.flags,
        "created_on": record.created_at.astimezone(zone).date(),
    }
    row.update({slot: None for slot in ALL_SLOTS})
    row.update({LOCAL_DATES[slot]: None for slot in TIME_SLOTS})
    for key, slot in columns.items():
        cast = cast_of(definition.field_types[key])
        assert cast is not None
        row[slot] = expected_slot(cast, record.data.get(key), zone)
        if slot in TIME_SLOTS:
            row[LOCAL_DATES[slot]] = expected_local_date(cast, record.data.get(key), zone)
    return row


def facts_of(form) -> dict[int, dict[str, Any]]:
    fields = ["record_id", "workspace_id", "form_id", "owner_id", "stage", "status"]
    fields += ["created_at", "updated_at", "flags", *ALL_SLOTS, *LOCAL_DATES.values()]
    rows = RecordFact.objects.filter(form_id=form.pk).values(*fields)
    return {row.pop("record_id"): row for row in rows}


def assert_in_sync(form, zone: ZoneInfo = SHANGHAI) -> int:
    """Every record of ``form`` has exactly its fact, and no other fact exists; returns
    how many records there are."""
    columns = FormPromotion.objects.get(form_id=form.pk).columns
    records = Record.objects.select_related("form").filter(form_id=form.pk)
    wanted = {r.pk: expected_fact(r, columns, zone) for r in records}
    assert facts_of(form) == wanted
    return len(wanted)


@pytest.fixture
def people(workspace, admin):
    manager = make_user("manager", workspace, roles=["manager"])
    rep = make_user("rep", workspace, roles=["rep"], manager=manager)
    rep2 = make_user("rep2", workspace, roles=["rep"], manager=manager)
    outsider = make_user("outsider", workspace, roles=["rep"])
    auditor = make_user("auditor", workspace, roles=["auditor"])
    return {"manager": manager, "rep": rep, "rep2": rep2, "outsider": outsider, "auditor": auditor}


@pytest.fixture
def visit_form(admin_actor):
    build_form(admin_actor, [{"key": "name", "type": "text", "label": "Name"}], key="customer")
    return build_form(admin_actor, VISIT, key="visit", permissions=PERMISSIONS)


@pytest.fixture
def unit(workspace):
    return create_org_unit(workspace, "East")


def visit_data(people, unit, customer_id: int, **extra: Any) -> dict[str, Any]:
    return {
        "region": "east",
        "store": "Store 1",
        "rep": people["rep"].pk,
        "unit": unit.pk,
        "customer": customer_id,
        "amount": "1234.56",
        "share": 0.125,
        "stars": 4,
        "qty": 3,
        "visited_on": "2026-01-05",
        "visited_at": "2026-01-05T23:30:00Z",
        "summary": "long text is not promoted",
        "tags": ["x"],
        "done": True,
        **extra,
    }


def customer_id(actor: Actor) -> int:
    return create_record(actor, "sales", "customer", {"name": "ACME"}).record.pk


# --- promotion ------------------------------------------------------------------------------


def test_promote_assigns_slots_by_type_and_backfills_existing_records(
    admin_actor, people, visit_form, unit
):
    # given records written before any promotion
    cid = customer_id(admin_actor)
    rep = make_actor(people["rep"], admin_actor.workspace)
    first = create_record(rep, "sales", "visit", visit_data(people, unit, cid)).record
    create_record(rep, "sales", "visit", visit_data(people, unit, cid, region="north", qty=None))
    assert promoted_columns(visit_form) is None
    assert not RecordFact.objects.exists()

    # when
    columns = promote(visit_form, [*PROMOTED, "summary", "tags", "done", "stage", "owner"])

    # then: text-like fields in t-slots, numbers in n-slots, times in d-slots, in order;
    # long text, multi select, boolean and record columns take no slot
    assert columns == {
        "region": "t1",
        "store": "t2",
        "rep": "t3",
        "unit": "t4",
        "customer": "t5",
        "amount": "n1",
        "share": "n2",
        "stars": "n3",
        "qty": "n4",
        "double": "n5",
        "visited_on": "d1",
        "visited_at": "d2",
    }
    assert promoted_columns(visit_form) == columns
    assert assert_in_sync(visit_form) == 2
    fact = RecordFact.objects.get(record_id=first.pk)
    assert (fact.t1, fact.t3, fact.t4) == ("east", str(people["rep"].pk), str(unit.pk))
    assert (fact.n1, fact.n2, fact.n5) == (Decimal("1234.56"), Decimal("0.125"), Decimal("2469.12"))
    # a date is the local midnight of its day in the workspace's zone; a datetime its instant
    assert fact.d1 == dt.datetime(2026, 1, 5, tzinfo=SHANGHAI)
    assert fact.d2 == dt.datetime(2026, 1, 5, 23, 30, tzinfo=dt.UTC)


def test_slots_stay_where_they_are_when_fields_are_added(admin_actor, visit_form):
    assert promote(visit_form, ["qty", "store"]) == {"qty": "n1", "store": "t1"}

    columns = promote(visit_form, ["amount", "region", "qty"])

    assert columns == {"qty": "n1", "store": "t1", "amount": "n2", "region": "t2"}
    assert FormPromotion.objects.get(form_id=visit_form.pk).columns == columns


def test_promoting_the_same_fields_again_changes_nothing(admin_actor, people, visit_form, unit):
    cid = customer_id(admin_actor)
    record = create_record(admin_actor, "sales", "visit", visit_data(people, unit, cid)).record
    promote(visit_form, ["region", "qty"])
    before = FormPromotion.objects.get(form_id=visit_form.pk)
    # a fact changed behind the trigger's back shows whether promote backfills again
    RecordFact.objects.filter(record_id=record.pk).update(t1="tampered")

    assert promote(visit_form, ["qty"]) == {"region": "t1", "qty": "n1"}

    after = FormPromotion.objects.get(form_id=visit_form.pk)
    assert (after.trigger_hash, after.updated_at) == (before.trigger_hash, before.updated_at)
    assert RecordFact.objects.get(record_id=record.pk).t1 == "tampered"


def test_the_slot_limit_at_and_past_it(admin_actor, form_factory):
    texts = [{"key": f"text{i}", "type": "text", "label": f"T{i}"} for i in range(1, 11)]
    dates = [{"key": f"day{i}", "type": "date", "label": f"D{i}"} for i in range(1, 6)]
    form = form_factory(texts + dates, key="wide")

    # at the limit: 8 text slots and 4 time slots are enough
    columns = promote(form, [f"text{i}" for i in range(1, 9)] + [f"day{i}" for i in range(1, 5)])
    assert sorted(columns.values()) == sorted(
        [f"t{i}" for i in range(1, 9)] + ["d1", "d2", "d3", "d4"]
    )
    before = FormPromotion.objects.get(form_id=form.pk)

    # past it: every field that does not fit is named, and nothing changes
    with pytest.raises(DajianError) as caught:
        promote(form, ["text9", "day5", "text10"])

    assert [(e.code, e.path, e.field) for e in caught.value.errors] == [
        ("LIMIT_EXCEEDED", "text9", "text9"),
        ("LIMIT_EXCEEDED", "day5", "day5"),
        ("LIMIT_EXCEEDED", "text10", "text10"),
    ]
    after = FormPromotion.objects.get(form_id=form.pk)
    assert (after.columns, after.trigger_hash) == (before.columns, before.trigger_hash)


def test_an_unknown_field_is_refused_with_its_key(visit_form):
    with pytest.raises(DajianError) as caught:
        promote(visit_form, ["region", "nope"])

    assert [(e.code, e.path) for e in caught.value.errors] == [("UNKNOWN_FIELD", "nope")]
    assert not FormPromotion.objects.filter(form_id=visit_form.pk).exists()


def test_a_field_changing_type_frees_its_slot_and_stale_facts_are_not_used(
    admin_actor, people, visit_form, unit
):
    cid = customer_id(admin_actor)
    create_record(admin_actor, "sales", "visit", visit_data(people, unit, cid, qty=7))
    assert promote(visit_form, ["qty", "store"]) == {"qty": "n1", "store": "t1"}

    # the designer turns qty into a text field: the trigger's cast no longer fits
    fields = [
        {"key": "qty", "type": "text", "label": "Quantity"} if f["key"] == "qty" else f
        for f in VISIT
    ]
    definition = {"key": "visit", "name": "Visit", "fields": fields, "permissions": PERMISSIONS}
    save_form_draft(admin_actor, "sales", "visit", definition)
    publish_form(admin_actor, "sales", "visit")
    visit_form.refresh_from_db()
    assert promoted_columns(visit_form) is None  # dashboards read the JSON meanwhile

    assert promote(visit_form, ["qty"]) == {"store": "t1", "qty": "t2"}

    assert promoted_columns(visit_form) == {"store": "t1", "qty": "t2"}
    fact = RecordFact.objects.get(form_id=visit_form.pk)
    assert (fact.n1, fact.t2) == (None, None)  # 7 is a number, not text: NULL
    assert_in_sync(visit_form)


def test_a_time_zone_change_needs_a_new_promotion(admin_actor, people, visit_form, unit):
    cid = customer_id(admin_actor)
    create_record(admin_actor, "sales", "visit", visit_data(people, unit, cid))
    promote(visit_form, ["visited_on"])
    workspace = admin_actor.workspace

    workspace.time_zone = "Europe/Berlin"
    workspace.save(update_fields=["time_zone"])
    assert promoted_columns(visit_form) is None

    promote(visit_form, [])

    assert promoted_columns(visit_form) == {"visited_on": "d1"}
    berlin = ZoneInfo("Europe/Berlin")
    assert RecordFact.objects.get().d1 == dt.datetime(2026, 1, 5, tzinfo=berlin)
    assert_in_sync(visit_form, berlin)


def local_dates(record_id: int) -> tuple[Any, ...]:
    fact = RecordFact.objects.get(record_id=record_id)
    return fact.created_on, fact.d1_on, fact.d2_on


def test_local_dates_are_the_days_in_the_workspace_zone_and_move_with_it(
    admin_actor, people, visit_form, unit
):
    # given a record created, and visited, at 20:00 UTC on 5 January: the 6th in Shanghai
    cid = customer_id(admin_actor)
    values = visit_data(people, unit, cid, visited_at="2026-01-05T20:00:00Z")
    record = create_record(admin_actor, "sales", "visit", values).record
    Record.objects.filter(pk=record.pk).update(
        created_at=dt.datetime(2026, 1, 5, 20, 0, tzinfo=dt.UTC)
    )
    assert promote(visit_form, ["visited_on", "visited_at"]) == {
        "visited_on": "d1",
        "visited_at": "d2",
    }
    sixth, fifth = dt.date(2026, 1, 6), dt.date(2026, 1, 5)
    # a date field is its own day whatever the zone
    assert local_dates(record.pk) == (sixth, fifth, sixth)

    # when the workspace moves to Berlin (20:00 UTC is 21:00 there, on the 5th)
    workspace = admin_actor.workspace
    workspace.time_zone = "Europe/Berlin"
    workspace.save(update_fields=["time_zone"])

    # then the facts are stale (dashboards read the records) until promoted again
    assert promoted_columns(visit_form) is None
    assert local_dates(record.pk) == (sixth, fifth, sixth)
    promote(visit_form, [])
    assert promoted_columns(visit_form) == {"visited_on": "d1", "visited_at": "d2"}
    assert local_dates(record.pk) == (fifth, fifth, fifth)
    assert_in_sync(visit_form, ZoneInfo("Europe/Berlin"))


def test_a_backfill_that_changes_no_value_writes_no_row_version(admin_actor, visit_form):
    records = [
        create_record(admin_actor, "sales", "visit", {"region": region}).record
        for region in ("east", "north")
    ]
    promote(visit_form, ["region"])

    def versions() -> dict[int, str]:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT record_id, ctid::text FROM runtime_recordfact WHERE form_id = %s",
                [visit_form.pk],
            )
            return dict(cursor.fetchall())

    before = versions()
    # a new trigger and a backfill, but no record has a quantity: every fact stays as it is
    assert promote(visit_form, ["qty"]) == {"region": "t1", "qty": "n1"}
    assert versions() == before

    # a value that does change rewrites that fact only
    Record.objects.filter(pk=records[0].pk).update(data={"region": "east", "stars": 5})
    promote(visit_form, ["stars"])
    after = versions()
    assert after[records[1].pk] == before[records[1].pk]
    assert after[records[0].pk] != before[records[0].pk]
    assert_in_sync(visit_form)


def test_promoted_columns_sees_a_promotion_made_elsewhere(visit_form):
    assert promoted_columns(visit_form) is None  # cached now

    promote(visit_form, ["region"])

    assert promoted_columns(visit_form) == {"region": "t1"}


# --- every write path -----------------------------------------------------------------------


def test_create_update_and_delete_keep_the_facts(admin_actor, people, visit_form, unit):
    promote(visit_form, PROMOTED)
    cid = customer_id(admin_actor)
    rep = make_actor(people["rep"], admin_actor.workspace)

    record = create_record(rep, "sales", "visit", visit_data(people, unit, cid)).record
    assert assert_in_sync(visit_form) == 1

    update_record(rep, record.pk, {"region": "south", "amount": 10, "visited_on": None})
    assert assert_in_sync(visit_form) == 1
    fact = RecordFact.objects.get(record_id=record.pk)
    assert (fact.t1, fact.n1, fact.n5, fact.d1) == ("south", Decimal(10), Decimal(20), None)

    delete_record(rep, record.pk)
    assert assert_in_sync(visit_form) == 0
    assert not RecordFact.objects.exists()


def test_a_stage_move_moves_the_fact(admin_actor, visit_form):
    build_workflow(admin_actor, visit_form, WORKFLOW)
    promote(visit_form, ["region"])
    record = create_record(admin_actor, "sales", "visit", {"region": "east"}).record
    assert RecordFact.objects.get(record_id=record.pk).stage == "new"

    advance_stage(admin_actor, record.pk, "visited")

    assert RecordFact.objects.get(record_id=record.pk).stage == "visited"
    assert_in_sync(visit_form)


def test_publishing_a_workflow_moves_existing_facts_into_its_first_stage(admin_actor, visit_form):
    promote(visit_form, ["region"])
    records = [create_record(admin_actor, "sales", "visit", {"region": "east"}).record]
    records += [create_record(admin_actor, "sales", "visit", {"region": "north"}).record]
    assert set(RecordFact.objects.values_list("stage", flat=True)) == {None}

    # one bulk UPDATE of every record without a stage
    save_workflow(admin_actor, "sales", "visit", {"schema_version": 1, **WORKFLOW}, publish=True)

    assert set(RecordFact.objects.values_list("stage", flat=True)) == {"new"}
    assert assert_in_sync(visit_form) == 2


def test_approval_status_changes_reach_the_fact(admin_actor, people, visit_form):
    build_chain(admin_actor, visit_form, "check", CHAIN)
    promote(visit_form, ["region"])
    record = create_record(admin_actor, "sales", "visit", {"region": "east"}).record

    request = submit_for_approval(admin_actor, record.pk, "check")
    assert RecordFact.objects.get(record_id=record.pk).status == RecordStatus.IN_APPROVAL
    assert_in_sync(visit_form)

    withdraw_approval(admin_actor, request.pk)
    assert RecordFact.objects.get(record_id=record.pk).status == RecordStatus.ACTIVE
    assert_in_sync(visit_form)


@pytest.fixture
def org(workspace, admin, form_factory) -> OwnershipOrg:
    return ownership_org(workspace, admin, form_factory)


def test_claim_release_reassign_and_transfer_move_the_owner(org: OwnershipOrg):
    form = Form.objects.get(workspace=org.workspace, key="customer")
    promote(form, ["name", "sales"])
    record = org.owned_record(org.rep1, "Alpha")
    other = org.owned_record(org.rep1, "Beta")

    release_record(org.actor(org.rep1), record.pk)
    assert RecordFact.objects.get(record_id=record.pk).owner_id is None

    claim_record(org.actor(org.rep2), record.pk)
    assert RecordFact.objects.get(record_id=record.pk).owner_id == org.rep2.pk

    reassign_record(org.actor(org.manager), record.pk, org.rep1.pk)
    assert RecordFact.objects.get(record_id=record.pk).owner_id == org.rep1.pk

    # the handover moves all of rep1's records with one bulk UPDATE
    transfer_ownership(org.actor(org.admin), org.rep1.pk, org.rep3.pk, "sales")
    owners = dict(RecordFact.objects.values_list("record_id", "owner_id"))
    assert owners == {record.pk: org.rep3.pk, other.pk: org.rep3.pk}
    assert_in_sync(form)


def test_set_fields_and_update_related_actions_keep_the_facts(admin_actor, form_factory):
    customers = form_factory(
        [
            {"key": "name", "type": "text", "label": "Name"},
            {"key": "credit", "type": "number", "label": "Credit"},
        ],
        key="customer",
    )
    contracts = form_factory(
        [
            {"key": "title", "type": "text", "label": "Title"},
            {"key": "customer", "type": "relation", "label": "Customer", "target": "customer"},
            {"key": "reason", "type": "text", "label": "Reason"},
        ],
        key="contract",
    )
    promote(customers, ["name", "credit"])
    promote(contracts, ["title", "customer", "reason"])
    acme = create_record(admin_actor, "sales", "customer", {"name": "ACME", "credit": 1}).record
    deals = [
        create_record(
            admin_actor, "sales", "contract", {"title": f"C{i}", "customer": acme.pk}
        ).record
        for i in range(3)
    ]

    run_action(
        admin_actor,
        customers,
        {"type": "set_fields", "values": {"credit": "credit + 41.0"}},
        [acme],
    )
    spec = {
        "type": "update_related",
        "form": "contract",
        "via": "customer",
        "values": {"reason": "'anomaly of ' + name"},
        "status": "frozen",
    }
    run_action(admin_actor, customers, spec, [Record.objects.get(pk=acme.pk)], key="freeze")

    assert RecordFact.objects.get(record_id=acme.pk).n1 == Decimal(42)
    frozen = RecordFact.objects.filter(record_id__in=[d.pk for d in deals])
    assert {(f.status, f.t3) for f in frozen} == {(RecordStatus.FROZEN, "anomaly of ACME")}
    assert_in_sync(customers)
    assert_in_sync(contracts)


def _copy(form, rows: list[dict[str, Any]], owner_id: int | None = None) -> int:
    now = timezone.now()
    columns = (
        "workspace_id",
        "form_id",
        "form_version_id",
        "owner_id",
        "status",
        "created_at",
        "updated_at",
        "version",
        "data",
        "flags",
    )
    values = [
        (form.workspace_id, form.pk, form.published_id, owner_id, "active", now, now, 1, d, [])
        for d in rows
    ]
    return copy_rows(Record, columns, values)


def test_a_raw_copy_insert_gets_its_facts(admin_actor, people, visit_form, unit):
    promote(visit_form, PROMOTED)
    cid = customer_id(admin_actor)

    written = _copy(
        visit_form,
        [visit_data(people, unit, cid, store=f"S{i}", qty=i) for i in range(50)],
        owner_id=people["rep"].pk,
    )

    assert written == 50
    assert assert_in_sync(visit_form) == 50
    assert RecordFact.objects.filter(form_id=visit_form.pk, owner_id=people["rep"].pk).count() == 50


def test_values_that_do_not_parse_become_null_instead_of_failing(admin_actor, visit_form):
    promote(visit_form, PROMOTED)
    bad = {
        "region": 5,
        "store": ["a list"],
        "rep": "Alice",
        "unit": -3,
        "customer": 1.5,
        "amount": "12,50",
        "share": "NaN",
        "stars": True,
        "qty": 1e30,
        "double": {"x": 1},
        "visited_on": "2026-02-30",
        "visited_at": "2026-01-05T25:00:00Z",
    }
    # a raw write (import script, SQL console) that no validation saw
    _copy(visit_form, [bad])
    record = Record.objects.get(form_id=visit_form.pk)
    fact = RecordFact.objects.get(record_id=record.pk)
    assert all(getattr(fact, slot) is None for slot in ALL_SLOTS)

    fine = {"region": "east", "qty": " 12.5 ", "visited_on": "2024-02-29"}
    Record.objects.filter(pk=record.pk).update(data=fine)

    fact = RecordFact.objects.get(record_id=record.pk)
    assert (fact.t1, fact.n4) == ("east", Decimal("12.5"))
    assert fact.d1 == dt.datetime(2024, 2, 29, tzinfo=SHANGHAI)


@pytest.mark.parametrize(
    ("cast", "value", "expected"),
    [
        ("number", 1e21, Decimal("1e21")),
        ("number", 1e22, None),  # numeric(30,8) holds less than 10^22
        ("number", "-0.123456789", Decimal("-0.12345679")),
        ("number", "1e5", None),
        ("id", 42, "42"),
        ("id", "42", "42"),
        ("id", 4.2, None),
        ("date", "0000-01-01", None),
        ("date", "2023-02-29", None),
        ("date", "2026-13-01", None),
        ("date", "9999-12-31", dt.datetime(9999, 12, 31, tzinfo=SHANGHAI)),
        ("datetime", "2026-01-05T08:00:00+08:00", dt.datetime(2026, 1, 5, tzinfo=dt.UTC)),
        ("datetime", "2026-01-05T08:00:00.5Z", dt.datetime(2026, 1, 5, 8, 0, 0, 500000, dt.UTC)),
        ("datetime", "2026-01-05T08:00:00+16:00", None),
        ("datetime", "2026-01-05T08:60:00Z", None),
        ("datetime", "2026-01-05 08:00:00", None),
        ("text", "", ""),
        ("text", 5, None),
    ],
)
def test_each_cast_parses_or_gives_null(cast, value, expected, db):
    import json

    sql = facts.slot_sql(cast, "k", "r", "Asia/Shanghai")
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {sql} FROM (SELECT %s::jsonb AS data) r", [json.dumps({"k": value})]
        )
        assert cursor.fetchone()[0] == expected


def test_another_forms_records_are_untouched(admin_actor, people, visit_form, unit, form_factory):
    other = form_factory([{"key": "region", "type": "text", "label": "Region"}], key="other")
    create_record(admin_actor, "sales", "other", {"region": "before"})
    promote(visit_form, ["region"])
    cid = customer_id(admin_actor)

    create_record(admin_actor, "sales", "visit", visit_data(people, unit, cid))
    later = create_record(admin_actor, "sales", "other", {"region": "after"}).record
    update_record(admin_actor, later.pk, {"region": "changed"})
    _copy(other, [{"region": "copied"}])

    assert set(RecordFact.objects.values_list("form_id", flat=True)) == {visit_form.pk}
    assert promoted_columns(other) is None
    assert_in_sync(visit_form)


# --- reading -------------------------------------------------------------------------------


def test_fact_queryset_is_the_records_row_scope(admin_actor, people, visit_form, unit):
    promote(visit_form, ["region"])
    ws = admin_actor.workspace
    cid = customer_id(admin_actor)
    for user in ("rep", "rep2", "outsider"):
        create_record(make_actor(people[user], ws), "sales", "visit", visit_data(people, unit, cid))
    _copy(visit_form, [{"region": "north"}])  # in the public pool: nobody owns it

    for user in ("rep", "rep2", "manager", "outsider", "auditor"):
        actor = make_actor(people[user], ws)
        permitted = set(Record.objects.permitted(actor, visit_form).values_list("pk", flat=True))
        assert (
            set(fact_queryset(actor, visit_form).values_list("record_id", flat=True)) == permitted
        )
    manager = make_actor(people["manager"], ws)
    # the manager's team (rep, rep2, the manager) and the pool; not the outsider
    assert fact_queryset(manager, visit_form).count() == 3
    assert fact_queryset(make_actor(people["auditor"], ws), visit_form).count() == 4


def test_fact_queryset_reads_the_team_first_and_sees_it_change(
    admin_actor, people, visit_form, unit
):
    promote(visit_form, ["region"])
    ws = admin_actor.workspace
    cid = customer_id(admin_actor)
    for user in ("rep", "outsider"):
        create_record(make_actor(people[user], ws), "sales", "visit", visit_data(people, unit, cid))
    manager = make_actor(people["manager"], ws)

    # the team is a list of ids in the facts' query, not a subquery per row
    sql = str(fact_queryset(manager, visit_form).query)
    assert "platform_membership" not in sql and "platform_orgunit" not in sql
    assert fact_queryset(manager, visit_form).count() == 1

    # the outsider joins the manager's team: the next read counts their visit
    Membership.objects.filter(workspace=ws, user=people["outsider"]).update(
        org_unit=Membership.objects.get(workspace=ws, user=people["rep"]).org_unit
    )
    manager = make_actor(people["manager"], ws)
    permitted = set(Record.objects.permitted(manager, visit_form).values_list("pk", flat=True))
    assert len(permitted) == 2
    assert set(fact_queryset(manager, visit_form).values_list("record_id", flat=True)) == permitted
