"""Concurrent writes on PostgreSQL with real threads: exactly-once guarantees hold."""

from __future__ import annotations

import pytest
from django.db import connection

from dajian.platform.audit import verify_chain
from dajian.runtime.models import Record
from dajian.runtime.services.records import create_record, update_record
from tests.integration.threads import outcome, run_at_once

pytestmark = pytest.mark.django_db(transaction=True)
THREADS = 6
ROUNDS = 10

CUSTOMER = [
    {"key": "name", "type": "text", "label": "Name", "required": True},
    {"key": "city", "type": "text", "label": "City"},
    {"key": "credit_code", "type": "text", "label": "USCC", "unique": True},
    {"key": "no", "type": "autonumber", "label": "No.", "pattern": "C-{seq:5}"},
    {"key": "visits", "type": "number", "label": "Visits", "precision": 0},
]
DUPLICATES = [{"key": "name_city", "fields": ["name", "city"], "action": "block"}]


@pytest.fixture
def form(form_factory):
    return form_factory(CUSTOMER, duplicates=DUPLICATES)


def test_unique_value_exactly_one_wins(admin_actor, form):
    violations = 0
    for round_no in range(ROUNDS):
        results = run_at_once(
            lambda i, n=round_no: create_record(
                admin_actor, "sales", "customer", {"name": f"c{n}-{i}", "credit_code": f"U{n}"}
            )
        )
        counts = outcome(results)
        violations += counts["ok"] != 1 or counts["DUPLICATE_VALUE"] != THREADS - 1
    assert violations == 0
    assert Record.objects.count() == ROUNDS


def test_blocking_duplicate_rule_exactly_one_wins(admin_actor, form):
    violations = 0
    for round_no in range(ROUNDS):
        results = run_at_once(
            lambda i, n=round_no: create_record(
                admin_actor, "sales", "customer", {"name": f"Same {n}", "city": "上海"}
            )
        )
        counts = outcome(results)
        violations += counts["ok"] != 1 or counts["DUPLICATE_RECORD"] != THREADS - 1
    assert violations == 0


def test_autonumbers_are_unique_and_gapless(admin_actor, form):
    def work(i: int) -> list[str]:
        return [
            create_record(admin_actor, "sales", "customer", {"name": f"n{i}-{k}"}).record.data["no"]
            for k in range(ROUNDS)
        ]

    numbers = [n for batch in run_at_once(work) for n in batch]
    assert sorted(numbers) == [f"C-{k:05d}" for k in range(1, THREADS * ROUNDS + 1)]


def test_concurrent_updates_with_the_same_expected_version(admin_actor, form):
    violations = 0
    for round_no in range(ROUNDS):
        record = create_record(admin_actor, "sales", "customer", {"name": f"u{round_no}"}).record
        results = run_at_once(
            lambda i, pk=record.pk: update_record(
                admin_actor, pk, {"visits": i}, expected_version=1
            )
        )
        counts = outcome(results)
        violations += counts["ok"] != 1 or counts["STALE_VERSION"] != THREADS - 1
        assert Record.objects.get(pk=record.pk).version == 2
    assert violations == 0


def test_idempotent_creates_make_one_record(admin_actor, form):
    for round_no in range(ROUNDS):
        results = run_at_once(
            lambda i, n=round_no: create_record(
                admin_actor, "sales", "customer", {"name": f"i{n}-{i}"}, f"key-{n}"
            )
        )
        assert len({r.record.pk for r in results}) == 1
        assert sum(r.created for r in results) == 1
    assert Record.objects.count() == ROUNDS


def test_audit_chain_stays_valid_under_concurrency(admin_actor, form, workspace):
    run_at_once(
        lambda i: [
            create_record(admin_actor, "sales", "customer", {"name": f"a{i}-{k}"})
            for k in range(ROUNDS)
        ]
    )
    result = verify_chain(workspace)
    assert result.ok, result


def test_indexed_field_filter_uses_the_expression_index(admin_actor, form_factory):
    from dajian.runtime.selectors import list_records

    form = form_factory(
        [
            {"key": "name", "type": "text", "label": "Name"},
            {
                "key": "level",
                "type": "single_select",
                "label": "Level",
                "indexed": True,
                "choices": [{"value": "A", "label": "A"}, {"value": "B", "label": "B"}],
            },
        ],
        key="lead",
    )
    for i in range(20):
        create_record(admin_actor, "sales", "lead", {"name": f"l{i}", "level": "AB"[i % 2]})
    page = list_records(
        admin_actor, "sales", "lead", filter={"field": "level", "op": "eq", "value": "A"}, first=5
    )
    sql, params = page.queryset.filter().order_by("-created_at", "-id")[:5].query.sql_with_params()
    with connection.cursor() as cursor:
        # Statistics left by earlier tests' (flushed) rows would make any index look free.
        cursor.execute("ANALYZE runtime_record")
        cursor.execute("SET enable_seqscan = off")
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute("RESET enable_seqscan")
    assert f"rx_{form.pk}_level_i" in plan, plan
    assert [v.record.data["level"] for v in page.items] == ["A"] * 5
