"""R16 guarded corrections: back-filled or corrected data must cite a source document
and pass a two-level approval (the manager, then the sales director) before it counts.

Expressed with metadata only: a form rule requires the source document number, a
workflow moves a correction from ``pending`` to ``applied`` only through the chain
``correction_approval``, and reports count ``applied`` corrections.
"""

from __future__ import annotations

import pytest

from dajian.platform.errors import DajianError
from dajian.runtime.approvals.services import decide_task, submit_for_approval
from dajian.runtime.models import Record
from dajian.runtime.selectors import list_records
from dajian.runtime.services.records import create_record, update_record
from dajian.runtime.stages.engine import advance_stage
from tests.factories import build_chain, build_workflow
from tests.runtime.approval_fixtures import open_task_of, open_tasks

pytest_plugins = ["tests.runtime.approval_plugin"]

CORRECTION_FIELDS = [
    {"key": "customer", "type": "text", "label": "Customer", "required": True},
    {"key": "corrected_amount", "type": "number", "label": "Corrected amount", "precision": 2},
    {"key": "source_doc_no", "type": "text", "label": "Source document No."},
]
SOURCE_RULE = {
    "key": "source_document",
    "expression": "source_doc_no != null && source_doc_no.matches('^[A-Z]{2}-[0-9]{4,}$')",
    "message": {
        "en": "Cite the source document number (e.g. SO-20240).",
        "zh-CN": "请填写来源单据编号（如 SO-20240）。",
    },
    "code": "SOURCE_DOCUMENT_REQUIRED",
    "fields": ["source_doc_no"],
}
WORKFLOW = {
    "schema_version": 1,
    "initial": "pending",
    "stages": [
        {"key": "pending", "label": {"en": "Pending", "zh-CN": "待审核"}},
        {"key": "applied", "label": {"en": "Applied", "zh-CN": "已生效"}, "terminal": True},
    ],
    "transitions": [{"from": "pending", "to": "applied", "approval": "correction_approval"}],
}
CHAIN = {
    "schema_version": 1,
    "label": {"en": "Correction approval", "zh-CN": "数据更正审批"},
    "steps": [
        {"key": "manager", "label": "Manager", "approvers": [{"type": "manager"}]},
        {
            "key": "director",
            "label": "Sales director",
            "approvers": [{"type": "role", "role": "sales_director"}],
        },
    ],
}
APPLIED = {"field": "stage", "op": "eq", "value": "applied"}


@pytest.fixture
def corrections(form_factory, admin_actor):
    form = form_factory(CORRECTION_FIELDS, key="correction", rules=[SOURCE_RULE])
    build_workflow(admin_actor, form, WORKFLOW)
    build_chain(admin_actor, form, "correction_approval", CHAIN)
    return form


def correct(org, **data):
    values = {"customer": "Acme", "corrected_amount": 1200, "source_doc_no": "SO-20240", **data}
    return create_record(org.actor(org.rep), "sales", "correction", values).record


def counted(org):
    page = list_records(org.actor(org.director), "sales", "correction", filter=APPLIED)
    return sum(v.record.data["corrected_amount"] for v in page.items)


def test_a_correction_must_cite_its_source_document(org, corrections):
    for bad in ({"source_doc_no": None}, {"source_doc_no": "see email"}):
        with pytest.raises(DajianError) as exc:
            correct(org, **bad)
        error = exc.value.errors[0]
        assert (error.code, error.field) == ("SOURCE_DOCUMENT_REQUIRED", "source_doc_no")
    assert not Record.objects.exists()


def test_a_correction_counts_only_after_both_levels_approve(org, corrections):
    record = correct(org)
    assert record.stage == "pending" and counted(org) == 0

    result = advance_stage(org.actor(org.rep), record.pk, "applied")

    request = result.request
    assert request is not None and request.transition_to == "applied"
    assert Record.objects.get(pk=record.pk).stage == "pending"
    # Pending: the data is locked, so what gets approved is what will count.
    with pytest.raises(DajianError) as exc:
        update_record(org.actor(org.rep), record.pk, {"corrected_amount": 99999})
    assert exc.value.errors[0].code == "APPROVAL_PENDING"

    decide_task(org.actor(org.manager), open_task_of(request, org.manager).pk, "approve")
    assert Record.objects.get(pk=record.pk).stage == "pending" and counted(org) == 0
    assert [t.assignee_id for t in open_tasks(request)] == [org.director.pk]

    decide_task(org.actor(org.director), open_task_of(request, org.director).pk, "approve")

    stored = Record.objects.get(pk=record.pk)
    assert (stored.stage, stored.status) == ("applied", "active")
    assert counted(org) == 1200


def test_a_rejected_correction_never_counts(org, corrections):
    record = correct(org)
    request = advance_stage(org.actor(org.rep), record.pk, "applied").request
    decide_task(org.actor(org.manager), open_task_of(request, org.manager).pk, "approve")
    decide_task(
        org.actor(org.director),
        open_task_of(request, org.director).pk,
        "reject",
        comment="the source document shows 1,100",
    )

    request.refresh_from_db()
    assert request.status == "rejected"
    assert Record.objects.get(pk=record.pk).stage == "pending" and counted(org) == 0

    # Fixed and resubmitted, it goes through both levels again.
    update_record(org.actor(org.rep), record.pk, {"corrected_amount": 1100})
    again = advance_stage(org.actor(org.rep), record.pk, "applied").request
    assert again.previous_id == request.pk
    decide_task(org.actor(org.manager), open_task_of(again, org.manager).pk, "approve")
    decide_task(org.actor(org.director), open_task_of(again, org.director).pk, "approve")
    assert counted(org) == 1100


def test_skipping_the_workflow_does_not_apply_a_correction(org, corrections):
    # Submitting the chain directly approves the data but does not move the stage:
    # only the transition's approval makes a correction count.
    record = correct(org)
    request = submit_for_approval(org.actor(org.rep), record.pk, "correction_approval")
    decide_task(org.actor(org.manager), open_task_of(request, org.manager).pk, "approve")
    decide_task(org.actor(org.director), open_task_of(request, org.director).pk, "approve")
    assert counted(org) == 0
