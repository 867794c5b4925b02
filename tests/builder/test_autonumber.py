"""``builder.services.autonumber``: counters per form, field and period."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db import transaction

from dajian.builder.fields.registry import build
from dajian.builder.models import App, AutonumberCounter, Form
from dajian.builder.services.autonumber import assign, next_number


@pytest.fixture
def forms(workspace):
    app = App.objects.create(workspace=workspace, key="sales", name={"en": "Sales"})
    return [
        Form.objects.create(workspace=workspace, app=app, key=key, draft={})
        for key in ("contracts", "quotes")
    ]


def test_numbers_follow_each_other(forms):
    contracts = forms[0].pk
    assert [next_number(contracts, "no", "2026") for _ in range(3)] == [1, 2, 3]
    counter = AutonumberCounter.objects.get(form_id=contracts, field_key="no", period="2026")
    assert counter.value == 3


def test_each_period_field_and_form_counts_alone(forms):
    contracts, quotes = forms[0].pk, forms[1].pk
    next_number(contracts, "no", "2025")
    assert next_number(contracts, "no", "2026") == 1
    assert next_number(contracts, "no", "2026") == 2
    assert next_number(contracts, "other_no", "2026") == 1
    assert next_number(quotes, "no", "2026") == 1
    assert next_number(contracts, "no", "") == 1


def test_a_rolled_back_create_gives_its_number_back(forms):
    contracts = forms[0].pk
    assert next_number(contracts, "no", "") == 1
    with pytest.raises(RuntimeError), transaction.atomic():
        assert next_number(contracts, "no", "") == 2
        raise RuntimeError("the record was refused")
    assert next_number(contracts, "no", "") == 2


def test_assign_formats_with_the_period_counter(forms):
    field = build(
        {"key": "no", "type": "autonumber", "label": "No", "pattern": "HT-{YYYY}-{seq:4}"}
    )
    december = datetime(2025, 12, 31, 10, 0, tzinfo=UTC)
    new_year = datetime(2025, 12, 31, 20, 0, tzinfo=UTC)  # 2026-01-01 in Shanghai
    assert assign(forms[0].pk, field, december) == "HT-2025-0001"
    assert assign(forms[0].pk, field, december) == "HT-2025-0002"
    assert assign(forms[0].pk, field, new_year) == "HT-2026-0001"
    assert assign(forms[0].pk, field, datetime(2026, 6, 1, tzinfo=UTC)) == "HT-2026-0002"
