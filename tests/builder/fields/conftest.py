"""Fixtures for field-type tests: real records in the runtime table."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jsonschema_rs
import pytest
from django.db.models import QuerySet
from django.utils import timezone
from faker import Faker

from dajian.builder.checks import check_form_definition
from dajian.builder.fields.base import FieldType
from dajian.builder.fields.registry import build
from dajian.builder.models import App, Form, FormVersion
from dajian.runtime.models import Record

MISSING = object()
_forms = itertools.count()


@pytest.fixture
def record_rows(workspace) -> Callable[..., QuerySet[Record]]:
    """``record_rows(field_def, values)``: one form holding ``field_def``, one record per
    value (``MISSING`` leaves the key out), returned as a queryset of that form."""
    app = App.objects.create(workspace=workspace, key="fieldtests", name={"en": "Field tests"})

    def make(field_def: Mapping[str, Any], values: Sequence[Any]) -> QuerySet[Record]:
        definition: dict[str, Any] = {
            "key": f"form{next(_forms)}",
            "name": "Form",
            "fields": [{"label": "F", **field_def}],
        }
        form = Form.objects.create(
            workspace=workspace, app=app, key=definition["key"], draft=definition
        )
        version = FormVersion.objects.create(
            form=form,
            number=1,
            definition=definition,
            content_hash="0" * 64,
            published_at=timezone.now(),
        )
        key = field_def["key"]
        Record.objects.bulk_create(
            Record(
                workspace=workspace,
                form=form,
                form_version=version,
                data={} if value is MISSING else {key: value},
            )
            for value in values
        )
        return Record.objects.filter(form=form)

    return make


def values_of(queryset: QuerySet[Record], key: str) -> list[Any]:
    """The field's values of the rows, in queryset order (``MISSING`` for absent keys)."""
    return [row.data.get(key, MISSING) for row in queryset.order_by("id")]


def field(definition: Mapping[str, Any]) -> FieldType:
    return build({"label": "F", **definition})


def filtered(queryset: QuerySet[Record], field_type: FieldType, op: str, value: Any) -> list[Any]:
    """Values of the rows that the filter ``op value`` keeps, as the filter compiler runs
    it (operand normalised by ``filter_value`` first), in creation order."""
    cleaned = field_type.filter_value(op, value)
    return values_of(queryset.filter(field_type.filter_q(op, cleaned)), field_type.key)


def sorted_values(queryset: QuerySet[Record], field_type: FieldType, desc: bool = False) -> list:
    """Values in ``sort_expression`` order, empty ones last (as list views sort)."""
    expr = field_type.sort_expression()
    order = expr.desc(nulls_last=True) if desc else expr.asc(nulls_last=True)
    return values_of_ordered(queryset.order_by(order, "id"), field_type.key)


def values_of_ordered(queryset: QuerySet[Record], key: str) -> list[Any]:
    return [row.data.get(key, MISSING) for row in queryset]


def option_errors(field_def: Mapping[str, Any]) -> list[tuple[str | None, str]]:
    """``(path, code)`` of every problem of a one-field form holding ``field_def``."""
    raw = {"key": "form", "name": "Form", "fields": [{"label": "F", **field_def}]}
    return [(e.path, e.code) for e in check_form_definition(raw)]


def schema_valid(field_type: FieldType, value: Any) -> bool:
    """Whether ``value`` passes the field's JSON Schema (with ``jsonschema-rs``)."""
    return jsonschema_rs.validator_for(field_type.json_schema()).is_valid(value)


@pytest.fixture
def zh_faker():
    faker = Faker("zh_CN")
    faker.seed_instance(2026)
    return faker
