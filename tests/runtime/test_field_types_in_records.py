"""Field types working inside record writes and reads: references, formulas, subtables,
rollups, typed CEL values."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from graphql_relay import to_global_id

from dajian.platform.errors import DajianError
from dajian.platform.models import Attachment
from dajian.runtime.models import Record
from dajian.runtime.selectors import get_record, list_records
from dajian.runtime.services.records import create_record
from tests.factories import make_actor, make_user

CUSTOMER = [
    {"key": "name", "type": "text", "label": "Name"},
    {
        "key": "visits_30d",
        "type": "rollup",
        "label": "Visits (30 d)",
        "source": {"form": "visit", "field": "customer"},
        "function": "count",
        "window": {"field": "created_at", "days": 30},
    },
    {
        "key": "spend",
        "type": "rollup",
        "label": "Spend",
        "source": {"form": "visit", "field": "customer"},
        "function": "sum",
        "value_field": "amount",
    },
]
VISIT = [
    {
        "key": "customer",
        "type": "relation",
        "target": "customer",
        "label": "Customer",
        "required": True,
    },
    {"key": "amount", "type": "money", "label": "Amount"},
    {"key": "photos", "type": "photo", "label": "Photos"},
    {"key": "visited_at", "type": "datetime", "label": "Visited at"},
]


def codes(exc):
    return sorted((e.path, e.code) for e in exc.value.errors)


@pytest.fixture
def forms(form_factory):
    form_factory(VISIT, key="visit")  # first: the customer's rollups read visits
    form_factory(CUSTOMER, key="customer")


def attachment(workspace, kind="image"):
    return Attachment.objects.create(
        workspace=workspace,
        file="x.jpg",
        content_type="image/jpeg",
        kind=kind,
        size=1,
        sha256="0" * 64,
        uploaded_at=timezone.now(),
    )


def test_relation_accepts_global_ids_and_returns_them(admin_actor, forms):
    customer = create_record(admin_actor, "sales", "customer", {"name": "Acme"}).record
    gid = to_global_id("Record", customer.pk)
    visit = create_record(admin_actor, "sales", "visit", {"customer": gid}).record
    assert Record.objects.get(pk=visit.pk).data["customer"] == customer.pk  # stored as id
    assert get_record(admin_actor, visit.pk).data["customer"] == gid


def test_relation_to_a_missing_or_foreign_record_is_refused(
    admin_actor, forms, other_workspace, form_factory
):
    stranger = make_actor(make_user("s", other_workspace, is_admin=True), other_workspace)
    from tests.factories import build_form

    build_form(stranger, VISIT, key="visit")
    build_form(stranger, CUSTOMER, key="customer")
    foreign = create_record(stranger, "sales", "customer", {"name": "Theirs"}).record
    for ref in (foreign.pk, 999_999):
        with pytest.raises(DajianError) as exc:
            create_record(admin_actor, "sales", "visit", {"customer": ref})
        assert codes(exc) == [("customer", "INVALID_REFERENCE")]


def test_relation_to_a_record_the_actor_cannot_read_is_refused(workspace, form_factory):
    rules = [{"role": "rep", "create": True, "read": "own", "update": "own"}]
    form_factory(VISIT, key="visit", permissions=rules)
    form_factory(CUSTOMER, key="customer", permissions=rules)
    rep_a, rep_b = (
        make_actor(make_user(n, workspace, roles=["rep"]), workspace) for n in ("ra", "rb")
    )
    theirs = create_record(rep_b, "sales", "customer", {"name": "B's"}).record
    with pytest.raises(DajianError) as exc:
        create_record(rep_a, "sales", "visit", {"customer": theirs.pk})
    assert codes(exc) == [("customer", "INVALID_REFERENCE")]


def test_photo_references_are_checked_by_workspace_and_kind(
    admin_actor, forms, workspace, other_workspace
):
    customer = create_record(admin_actor, "sales", "customer", {"name": "Acme"}).record
    mine, audio, theirs = (
        attachment(workspace),
        attachment(workspace, "audio"),
        attachment(other_workspace),
    )
    ok = create_record(
        admin_actor, "sales", "visit", {"customer": customer.pk, "photos": [mine.pk]}
    ).record
    assert ok.data["photos"] == [mine.pk]
    for bad in (audio.pk, theirs.pk):
        with pytest.raises(DajianError) as exc:
            create_record(admin_actor, "sales", "visit", {"customer": customer.pk, "photos": [bad]})
        assert codes(exc) == [("photos", "INVALID_REFERENCE")]


def test_datetimes_are_stored_as_utc_text(admin_actor, forms):
    customer = create_record(admin_actor, "sales", "customer", {"name": "Acme"}).record
    visit = create_record(
        admin_actor,
        "sales",
        "visit",
        {"customer": customer.pk, "visited_at": "2026-03-01T09:30:00+08:00"},
    ).record
    assert visit.data["visited_at"].startswith("2026-03-01T01:30:00")
    assert visit.data["visited_at"].endswith("Z")


def test_rollups_are_computed_in_the_list_query(admin_actor, forms):
    acme = create_record(admin_actor, "sales", "customer", {"name": "Acme"}).record
    beta = create_record(admin_actor, "sales", "customer", {"name": "Beta"}).record
    for amount in (100, 250.5):
        create_record(admin_actor, "sales", "visit", {"customer": acme.pk, "amount": amount})
    old = create_record(admin_actor, "sales", "visit", {"customer": acme.pk, "amount": 1}).record
    Record.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=45))
    with CaptureQueriesContext(connection) as queries:
        page = list_records(admin_actor, "sales", "customer", order_by=["created_at"])
        values = {v.data["name"]: v.data for v in page.items}
    assert values["Acme"]["visits_30d"] == 2  # the 45-day-old visit is outside the window
    assert values["Acme"]["spend"] == pytest.approx(351.5)
    assert isinstance(values["Acme"]["spend"], float)  # a JSON number, not a Decimal
    assert values["Beta"]["visits_30d"] == 0 and values["Beta"]["spend"] == 0
    assert len([q for q in queries if "runtime_record" in q["sql"]]) == 1
    assert get_record(admin_actor, beta.pk).data["visits_30d"] == 0
    with pytest.raises(DajianError) as exc:  # rollups are never written
        create_record(admin_actor, "sales", "customer", {"name": "X", "visits_30d": 3})
    assert codes(exc) == [("visits_30d", "READ_ONLY_FIELD")]


def test_formula_is_computed_on_write_with_typed_values(admin_actor, form_factory):
    form_factory(
        [
            {"key": "qty", "type": "number", "label": "Qty", "precision": 0},
            {"key": "price", "type": "money", "label": "Price"},
            {
                "key": "total",
                "type": "formula",
                "label": "Total",
                "result_type": "number",
                "expression": "double(qty) * price",
            },
            {
                "key": "even",
                "type": "formula",
                "label": "Even",
                "result_type": "boolean",
                "expression": "qty % 2 == 0",
            },  # % needs qty to arrive as an int
        ],
        key="line",
    )
    record = create_record(admin_actor, "sales", "line", {"qty": 4, "price": 2.5}).record
    assert record.data["total"] == 10 and record.data["even"] is True
    with pytest.raises(DajianError) as exc:
        create_record(admin_actor, "sales", "line", {"qty": 1, "total": 99})
    assert codes(exc) == [("total", "READ_ONLY_FIELD")]


def test_subtable_errors_carry_row_paths(admin_actor, form_factory):
    form_factory(
        [
            {
                "key": "lines",
                "type": "subtable",
                "label": "Lines",
                "fields": [
                    {"key": "sku", "type": "text", "label": "SKU", "required": True},
                    {"key": "qty", "type": "number", "label": "Qty", "precision": 0},
                ],
            },
        ],
        key="order",
    )
    ok = create_record(
        admin_actor, "sales", "order", {"lines": [{"sku": "A", "qty": 1}, {"sku": "B"}]}
    ).record
    assert ok.data["lines"][1] == {"sku": "B"}
    with pytest.raises(DajianError) as exc:
        create_record(
            admin_actor,
            "sales",
            "order",
            {"lines": [{"sku": "A", "qty": 1}, {"qty": 2}, {"sku": "C", "qty": 1.5}]},
        )
    paths = codes(exc)
    assert ("lines.1.sku", "REQUIRED") in paths
    assert any(p == "lines.2.qty" for p, _ in paths)
