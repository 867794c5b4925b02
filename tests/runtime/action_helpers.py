"""Helpers of the record-action tests (``tests/runtime/test_action_*.py``): the forms
``sales/customer``, ``sales/contract`` and ``sales/visit`` (their fixtures are in
:mod:`tests.runtime.action_plugin`), records written through the record service, the
save-time checks of one action, and one run's context for running an action directly."""

from __future__ import annotations

import itertools
from typing import Any

from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from dajian.platform.actors import Actor
from dajian.runtime.automations.checks import check_action
from dajian.runtime.automations.context import RunContext
from dajian.runtime.models import Record
from dajian.runtime.services.records import create_record
from tests.automation_helpers import check_context, prepare_action
from tests.factories import make_actor

CUSTOMER = [
    {"key": "name", "type": "text", "label": "Name", "required": True},
    {"key": "credit", "type": "number", "label": "Credit"},
    {
        "key": "level",
        "type": "single_select",
        "label": "Level",
        "choices": [{"value": v, "label": v} for v in "ABC"],
    },
    {"key": "since", "type": "date", "label": "Since"},
    {"key": "sales", "type": "user", "label": "Salesperson"},
    {"key": "main_contract", "type": "relation", "label": "Main contract", "target": "contract"},
    {
        "key": "double_credit",
        "type": "formula",
        "label": "Double credit",
        "expression": "credit * 2.0",
        "result_type": "number",
    },
]
CONTRACT = [
    {"key": "title", "type": "text", "label": "Title", "required": True},
    {"key": "customer", "type": "relation", "label": "Customer", "target": "customer"},
    {"key": "delivered", "type": "boolean", "label": "Delivered"},
    {"key": "freeze_reason", "type": "text", "label": "Freeze reason"},
    {"key": "amount", "type": "number", "label": "Amount"},
    {
        "key": "partners",
        "type": "relation",
        "label": "Partners",
        "target": "customer",
        "multiple": True,
    },
]
VISIT = [
    {"key": "customer", "type": "relation", "label": "Customer", "target": "customer"},
    {"key": "note", "type": "long_text", "label": "Note"},
    {"key": "planned", "type": "number", "label": "Planned"},
]

_keys = itertools.count()


def as_(user, workspace) -> Actor:
    return make_actor(user, workspace)


def customer(actor: Actor, **data):
    return create_record(actor, "sales", "customer", {"name": "ACME", **data}).record


def contract(actor: Actor, **data):
    return create_record(actor, "sales", "contract", {"title": "C", **data}).record


def check(form, spec: dict, **ctx) -> list[tuple[str, str | None]]:
    """(code, path) of every problem of ``spec`` as ``actions.0`` of an automation."""
    return [(e.code, e.path) for e in check_action(spec, "actions.0", check_context(form, **ctx))]


def bulk_records(form, owners: list, n: int, **data) -> list[Record]:
    """``n`` records of ``form`` spread over ``owners``, in one INSERT (fast setup)."""
    now = timezone.now()
    rows = [
        Record(
            workspace=form.workspace,
            form=form,
            form_version=form.published,
            owner=owners[i % len(owners)],
            created_by=owners[i % len(owners)],
            data={**data, "name": f"c{i}"},
            created_at=now,
            updated_at=now,
        )
        for i in range(n)
    ]
    return Record.objects.bulk_create(rows)


def reads(queries: CaptureQueriesContext) -> int:
    return sum(not q["sql"].startswith("INSERT") for q in queries.captured_queries)


def inserts(queries: CaptureQueriesContext) -> set[str]:
    """The tables written by INSERT statements."""
    return {
        q["sql"].split('"')[1] for q in queries.captured_queries if q["sql"].startswith("INSERT")
    }


def context(admin_actor, form, spec: dict, records) -> tuple[Any, RunContext, list]:
    """The action, one run's context and targets, as the engine builds them (for
    running an action twice in the same firing)."""
    return prepare_action(
        admin_actor, form, spec, records, key=f"auto{next(_keys)}", trigger_key="fixed"
    )
