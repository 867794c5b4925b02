"""A B2B funnel with stages for the stage-engine tests: fields, workflow and helpers.

Stages: ``lead`` (2 working hours to first contact, escalated to the owner's manager)
→ ``requirement`` (required fields, a CEL check, 7/14-day limits) → ``proposal``
(a proposal document uploaded at least 72 hours before leaving) → ``negotiation``
(two recent images) → ``won`` (managers only, with reasons); ``lost`` from any
open stage, with reasons.
"""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

from django.utils import timezone

from dajian.platform.models import Attachment
from tests.factories import build_workflow

FIELDS: list[dict[str, Any]] = [
    {"key": "name", "type": "text", "label": {"en": "Name", "zh-CN": "名称"}, "required": True},
    {"key": "amount", "type": "number", "label": {"en": "Amount", "zh-CN": "金额"}, "precision": 2},
    {"key": "pain_point", "type": "long_text", "label": {"en": "Pain point", "zh-CN": "痛点"}},
    {
        "key": "next_follow_up",
        "type": "datetime",
        "label": {"en": "Next follow-up", "zh-CN": "下次跟进"},
    },
    {"key": "proposal_doc", "type": "attachment", "label": {"en": "Proposal", "zh-CN": "方案"}},
    {
        "key": "visit_files",
        "type": "attachment",
        "label": {"en": "Visit files", "zh-CN": "拜访资料"},
    },
]

LOST_REASONS = [
    {"key": "competitor", "label": {"en": "Lost to a competitor", "zh-CN": "输给竞争对手"}},
    {"key": "budget", "label": {"en": "No budget", "zh-CN": "没有预算"}},
]

WORKFLOW: dict[str, Any] = {
    "schema_version": 1,
    "initial": "lead",
    "stages": [
        {
            "key": "lead",
            "label": {"en": "New lead", "zh-CN": "新线索"},
            "color": "#1677ff",
            "time_limit": {
                "warning": {"hours": 1},
                "overdue": {"hours": 2},
                "business": True,
                "notify": [{"type": "owner"}],
                "escalate_to": [{"type": "manager"}],
            },
        },
        {
            "key": "requirement",
            "label": {"en": "Requirement confirmation", "zh-CN": "需求确认"},
            "requirements": {
                "fields": ["pain_point", "next_follow_up"],
                "checks": [
                    {
                        "expression": "amount > 0.0",
                        "field": "amount",
                        "code": "AMOUNT_MISSING",
                        "message": {"en": "Estimate the amount", "zh-CN": "请估算金额"},
                    }
                ],
            },
            "time_limit": {
                "warning": {"days": 7},
                "overdue": {"days": 14},
                "notify": [{"type": "owner"}],
            },
        },
        {
            "key": "proposal",
            "label": {"en": "Proposal", "zh-CN": "方案报价"},
            "requirements": {
                "evidence": [{"field": "proposal_doc", "min_count": 1, "min_age": {"hours": 72}}]
            },
        },
        {
            "key": "negotiation",
            "label": {"en": "Price negotiation", "zh-CN": "价格谈判"},
            "requirements": {
                "evidence": [
                    {
                        "field": "visit_files",
                        "min_count": 2,
                        "images_only": True,
                        "max_age": {"days": 30},
                    }
                ]
            },
        },
        {
            "key": "won",
            "label": {"en": "Won", "zh-CN": "赢单"},
            "terminal": True,
            "outcome": "won",
            "reasons": [{"key": "price", "label": {"en": "Best price", "zh-CN": "价格优势"}}],
        },
        {
            "key": "lost",
            "label": {"en": "Lost", "zh-CN": "输单"},
            "terminal": True,
            "outcome": "lost",
            "reasons": LOST_REASONS,
        },
    ],
    "transitions": [
        {"from": "lead", "to": "requirement"},
        {"from": "requirement", "to": "proposal", "roles": ["rep", "manager"]},
        {
            "from": "proposal",
            "to": "negotiation",
            "guard": "amount >= 10000.0",
            "guard_message": {
                "en": "Negotiate deals of 10,000 or more",
                "zh-CN": "金额满一万才谈判",
            },
        },
        {"from": "negotiation", "to": "won", "roles": ["manager"]},
        {"from": "*", "to": "lost"},
    ],
}

_names = itertools.count()


def build_pipeline(actor: Any, form_factory: Any, key: str = "deal") -> Any:
    """The ``sales/deal`` form with :data:`WORKFLOW` published; returns the form."""
    form = form_factory(FIELDS, key=key)
    build_workflow(actor, form, WORKFLOW)
    return form


def upload(
    workspace: Any,
    user: Any = None,
    kind: str = "document",
    age: dt.timedelta = dt.timedelta(days=5),
    now: dt.datetime | None = None,
) -> Attachment:
    """An upload the server received ``age`` before ``now`` (a stored row; the file
    content does not matter to the stage engine)."""
    n = next(_names)
    return Attachment.objects.create(
        workspace=workspace,
        uploaded_by=user,
        file=f"attachments/test/{n}.bin",
        original_name=f"file{n}",
        content_type="image/jpeg" if kind == "image" else "application/pdf",
        kind=kind,
        size=1,
        sha256=f"{n:064d}",
        uploaded_at=(now or timezone.now()) - age,
    )


def gid(model: str, pk: int) -> str:
    from graphql_relay import to_global_id

    return to_global_id(model, pk)


# Data that satisfies the requirement stage.
REQUIREMENT_DATA = {
    "pain_point": "Manual stock counts",
    "next_follow_up": "2030-01-01T02:00:00Z",
    "amount": 50000,
}
