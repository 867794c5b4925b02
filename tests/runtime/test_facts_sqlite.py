"""Promoted facts are PostgreSQL's: on SQLite ``promote`` does nothing and dashboards
read the records' JSON (``promoted_columns`` is None)."""

from __future__ import annotations

from django.db import connection

from dajian.runtime.dashboards.facts import fact_queryset, promote, promoted_columns
from dajian.runtime.models import FormPromotion, RecordFact
from dajian.runtime.services.records import create_record

FIELDS = [
    {"key": "region", "type": "text", "label": "Region"},
    {"key": "amount", "type": "number", "label": "Amount"},
]


def test_promote_is_a_no_op_on_sqlite(admin_actor, form_factory):
    assert connection.vendor == "sqlite"
    form = form_factory(FIELDS, key="visit")
    create_record(admin_actor, "sales", "visit", {"region": "east", "amount": 3})

    assert promote(form, ["region", "amount"]) == {}

    assert not FormPromotion.objects.exists()
    assert not RecordFact.objects.exists()
    assert promoted_columns(form) is None
    assert fact_queryset(admin_actor, form).count() == 0
