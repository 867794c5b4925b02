"""What an automation's condition and templates see of a record: the same values as
validation's activation, plus rollups and related records, computed when read."""

from __future__ import annotations

import pytest
from django.utils import timezone

from dajian.platform.actors import Actor
from dajian.runtime.automations.activation import load_targets, with_rollup_values
from dajian.runtime.models import Record
from dajian.runtime.policies import definition_of
from dajian.runtime.services.records import create_record
from dajian.runtime.validation import record_activation

FIELDS = [
    {"key": "name", "type": "text", "label": "Name"},
    {"key": "amount", "type": "number", "label": "Amount"},
    {"key": "met_at", "type": "datetime", "label": "Met"},
    {
        "key": "tags",
        "type": "multi_select",
        "label": "Tags",
        "choices": [{"value": v, "label": v} for v in ("a", "b")],
    },
]


@pytest.fixture
def target(admin_actor, form_factory):
    form = form_factory(FIELDS)
    data = {"name": "Acme", "amount": 12, "met_at": "2026-11-23T09:00:00+08:00", "tags": ["a"]}
    record = create_record(admin_actor, "sales", "customer", data).record
    definition = definition_of(form)
    now = timezone.now()
    system = Actor.system(admin_actor.workspace)
    rows = with_rollup_values(Record.objects.filter(pk=record.pk), form, definition, now)
    (loaded,) = load_targets(system, form, definition, rows, now)
    return loaded, record_activation(system, definition, loaded.record, now)


def test_the_variables_read_like_validations_activation(target):
    loaded, expected = target
    variables = loaded.activation
    assert {k: variables[k] for k in expected} == expected
    assert set(variables) == set(expected) | {"related"}
    assert len(variables) == len(expected) + 1
    assert "amount" in variables and "nope" not in variables
    with pytest.raises(KeyError):
        variables["nope"]


def test_values_are_converted_only_when_read(target, monkeypatch):
    loaded, _ = target
    from dajian.builder.fields.multi_select import MultiSelectField

    calls = []
    original = MultiSelectField.to_cel
    monkeypatch.setattr(
        MultiSelectField, "to_cel", lambda self, value: calls.append(value) or original(self, value)
    )
    assert loaded.activation["amount"] == 12.0
    assert calls == []
    assert loaded.activation["tags"] == ["a"] and loaded.activation["tags"] == ["a"]
    assert calls == [["a"]]  # once, then cached


def test_records_built_from_rows_are_the_records_the_orm_builds(admin_actor, form_factory):
    from dajian.runtime.automations.activation import load_records

    form = form_factory(FIELDS)
    create_record(admin_actor, "sales", "customer", {"name": "Acme", "tags": ["a", "b"]})
    create_record(admin_actor, "sales", "customer", {"name": "Beta", "amount": 3})
    rows = Record.objects.filter(form=form).order_by("pk")
    fast = load_records(with_rollup_values(rows, form, definition_of(form)))
    slow = list(rows)
    fields = [f.attname for f in Record._meta.concrete_fields]
    assert [[getattr(r, f) for f in fields] for r in fast] == [
        [getattr(r, f) for f in fields] for r in slow
    ]
    assert fast[0].owner == slow[0].owner and not fast[0]._state.adding
    assert fast == slow  # model equality is by class and primary key
