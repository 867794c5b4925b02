"""Duplicate rules (R5), unique fields (database unique indexes) and autonumbers."""

from __future__ import annotations

import pytest

from dajian.platform.errors import DajianError
from dajian.runtime.models import Record
from dajian.runtime.services.records import create_record, update_record

CUSTOMER = [
    {"key": "name", "type": "text", "label": "Name", "required": True},
    {"key": "city", "type": "text", "label": "City"},
    {"key": "credit_code", "type": "text", "label": "USCC", "unique": True},
    {"key": "phone", "type": "phone", "label": "Phone"},
]
DUPLICATES = [
    {
        "key": "name_city",
        "fields": ["name", "city"],
        "normalize": "text",
        "action": "block",
        "message": {"en": "Same name in the same city", "zh-CN": "同城同名客户已存在"},
    },
    {"key": "same_phone", "fields": ["phone"], "normalize": "digits", "action": "warn"},
]


@pytest.fixture
def form(form_factory):
    return form_factory(CUSTOMER, duplicates=DUPLICATES)


def codes(exc):
    return sorted((e.path, e.code) for e in exc.value.errors)


def test_blocking_duplicate_rule_normalises_text(admin_actor, form):
    create_record(admin_actor, "sales", "customer", {"name": "Acme  Ltd", "city": "上海"})
    with pytest.raises(DajianError) as exc:
        create_record(admin_actor, "sales", "customer", {"name": "acme ltd", "city": "上海 "})
    assert codes(exc) == [("city", "DUPLICATE_RECORD"), ("name", "DUPLICATE_RECORD")]
    assert Record.objects.count() == 1
    # full-width letters are the same name
    with pytest.raises(DajianError):
        create_record(admin_actor, "sales", "customer", {"name": "ＡＣＭＥ ltd", "city": "上海"})
    # another city is another customer
    assert create_record(admin_actor, "sales", "customer", {"name": "Acme Ltd", "city": "北京"})


def test_warning_rule_saves_and_flags(admin_actor, form):
    create_record(admin_actor, "sales", "customer", {"name": "A", "phone": "138 0013 8000"})
    second = create_record(admin_actor, "sales", "customer", {"name": "B", "phone": "13800138000"})
    assert second.record.flags == ["possible_duplicate"]
    assert [(w.field, w.code) for w in second.warnings] == [("phone", "DUPLICATE_RECORD")]


def test_update_into_a_duplicate_is_refused(admin_actor, form):
    create_record(admin_actor, "sales", "customer", {"name": "A", "city": "X"})
    other = create_record(admin_actor, "sales", "customer", {"name": "B", "city": "X"}).record
    with pytest.raises(DajianError) as exc:
        update_record(admin_actor, other.pk, {"name": "a"})
    assert ("name", "DUPLICATE_RECORD") in codes(exc)
    # updating a record without changing its keys does not collide with itself
    assert update_record(admin_actor, other.pk, {"city": "X"}).record.version == 2


def test_unique_field_is_enforced_by_the_database(admin_actor, form):
    create_record(admin_actor, "sales", "customer", {"name": "A", "credit_code": "91310000X"})
    with pytest.raises(DajianError) as exc:
        create_record(admin_actor, "sales", "customer", {"name": "B", "credit_code": "91310000X"})
    assert codes(exc) == [("credit_code", "DUPLICATE_VALUE")]
    # bypassing the service still hits the unique index
    from django.db import IntegrityError, transaction

    first = Record.objects.first()
    with pytest.raises(IntegrityError), transaction.atomic():
        Record.objects.create(
            workspace=first.workspace,
            form=first.form,
            form_version=first.form_version,
            data={"name": "C", "credit_code": "91310000X"},
        )


def test_unique_is_per_form(admin_actor, form, form_factory):
    form_factory(CUSTOMER, key="supplier")
    create_record(admin_actor, "sales", "customer", {"name": "A", "credit_code": "X1"})
    assert create_record(admin_actor, "sales", "supplier", {"name": "A", "credit_code": "X1"})


def test_publishing_unique_over_existing_duplicates_is_refused(admin_actor, form_factory):
    from dajian.builder.services.forms import publish_form, save_form_draft

    fields = [{"key": "code", "type": "text", "label": "Code"}]
    form_factory(fields, key="item")
    create_record(admin_actor, "sales", "item", {"code": "same"})
    create_record(admin_actor, "sales", "item", {"code": "same"})
    save_form_draft(
        admin_actor,
        "sales",
        "item",
        {"key": "item", "name": "Item", "fields": [{**fields[0], "unique": True}]},
    )
    with pytest.raises(Exception):  # noqa: B017 - the index build fails on existing data
        publish_form(admin_actor, "sales", "item")
    from dajian.builder.models import Form

    assert Form.objects.get(key="item").published.number == 1


def test_autonumber(admin_actor, form_factory):
    from django.utils import timezone

    form_factory(
        [
            {"key": "number", "type": "autonumber", "label": "No.", "pattern": "HT-{YYYY}-{seq:4}"},
            {"key": "title", "type": "text", "label": "Title"},
        ],
        key="contract",
    )
    year = timezone.now().year
    numbers = [
        create_record(admin_actor, "sales", "contract", {"title": str(i)}).record.data["number"]
        for i in range(3)
    ]
    assert numbers == [f"HT-{year}-0001", f"HT-{year}-0002", f"HT-{year}-0003"]
    with pytest.raises(DajianError) as exc:
        create_record(admin_actor, "sales", "contract", {"number": "HT-1-1"})
    assert codes(exc) == [("number", "READ_ONLY_FIELD")]
