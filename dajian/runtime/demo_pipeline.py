"""The demo's sales pipeline: an opportunity form with the four-stage B2B funnel (R7),
stage time limits (R8), a first-contact SLA (R9) and a contract approval chain with a
director step above 500,000 (R11). Installed by ``dajian demo`` into the ``crm`` app;
idempotent (a second run changes nothing)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone

from dajian.builder.models import Form, Metadata
from dajian.builder.services.forms import publish_form, save_form_draft
from dajian.builder.services.metadata import save_approval_chain, save_workflow
from dajian.platform.actors import Actor
from dajian.platform.audit import format_utc
from dajian.platform.models import Role, Workspace

APP = "crm"
OPPORTUNITY: dict[str, Any] = {
    "key": "opportunity",
    "name": {"zh-CN": "商机", "en": "Opportunity"},
    "title_fields": ["title"],
    "fields": [
        {
            "key": "title",
            "type": "text",
            "required": True,
            "label": {"zh-CN": "商机名称", "en": "Title"},
        },
        {
            "key": "customer",
            "type": "relation",
            "target": "customer",
            "label": {"zh-CN": "客户", "en": "Customer"},
        },
        {"key": "amount", "type": "number", "label": {"zh-CN": "金额", "en": "Amount"}, "min": 0},
        {
            "key": "pain_point",
            "type": "long_text",
            "label": {"zh-CN": "客户痛点", "en": "Pain point"},
        },
        {
            "key": "competitor_response",
            "type": "long_text",
            "label": {"zh-CN": "竞品应对", "en": "Competitor response"},
        },
        {
            "key": "next_follow_up_at",
            "type": "datetime",
            "label": {"zh-CN": "下次跟进时间", "en": "Next follow-up"},
        },
        {
            "key": "proposal_files",
            "type": "attachment",
            "label": {"zh-CN": "方案文件", "en": "Proposal files"},
        },
        {
            "key": "discount",
            "type": "number",
            "label": {"zh-CN": "折扣(%)", "en": "Discount (%)"},
            "min": 0,
            "max": 100,
        },
    ],
    "permissions": [
        {"role": "rep", "create": True, "read": "own", "update": "own", "delete": "none"},
        {"role": "manager", "create": True, "read": "team", "update": "team", "delete": "team"},
    ],
}


def _label(zh: str, en: str) -> dict[str, str]:
    return {"zh-CN": zh, "en": en}


WORKFLOW: dict[str, Any] = {
    "schema_version": 1,
    "initial": "requirement",
    "stages": [
        {
            "key": "requirement",
            "label": _label("需求确认", "Requirement confirmation"),
            "color": "#1677ff",
            "requirements": {"fields": ["pain_point", "next_follow_up_at"]},
            "time_limit": {
                "overdue": {"hours": 2},
                "business": True,
                "notify": [{"type": "owner"}],
                "escalate_to": [{"type": "manager"}],
            },
        },
        {
            "key": "proposal",
            "label": _label("方案报价", "Proposal"),
            "color": "#13c2c2",
            "requirements": {
                "fields": ["competitor_response", "amount"],
                "evidence": [
                    {
                        "field": "proposal_files",
                        "min_count": 1,
                        "message": _label("请上传方案文件", "Upload the proposal"),
                    }
                ],
            },
            "time_limit": {
                "warning": {"days": 7},
                "overdue": {"days": 14},
                "notify": [{"type": "owner"}, {"type": "manager"}],
            },
        },
        {
            "key": "negotiation",
            "label": _label("价格谈判", "Price negotiation"),
            "color": "#faad14",
            "requirements": {
                "checks": [
                    {
                        "expression": "discount <= 30.0",
                        "field": "discount",
                        "message": _label("折扣不能超过 30%", "Discount above 30%"),
                    }
                ]
            },
        },
        {"key": "contract", "label": _label("合同审批", "Contract approval"), "color": "#722ed1"},
        {
            "key": "won",
            "label": _label("赢单", "Won"),
            "color": "#52c41a",
            "terminal": True,
            "outcome": "won",
        },
        {
            "key": "lost",
            "label": _label("输单", "Lost"),
            "color": "#ff4d4f",
            "terminal": True,
            "outcome": "lost",
            "reasons": [
                {"key": "price", "label": _label("价格", "Price")},
                {"key": "competitor", "label": _label("竞品", "Competitor")},
                {"key": "no_budget", "label": _label("无预算", "No budget")},
            ],
        },
    ],
    "transitions": [
        {"from": "requirement", "to": "proposal"},
        {"from": "proposal", "to": "negotiation"},
        {"from": "negotiation", "to": "contract", "approval": "contract_approval"},
        {"from": "contract", "to": "won", "roles": ["manager"]},
        {"from": "*", "to": "lost", "check_requirements": False},
    ],
}
CONTRACT_CHAIN: dict[str, Any] = {
    "schema_version": 1,
    "form": "opportunity",
    "label": _label("合同审批", "Contract approval"),
    "steps": [
        {
            "key": "manager",
            "label": _label("直属经理", "Direct manager"),
            "approvers": [{"type": "manager"}],
            "decisions": ["approve", "reject", "return", "delegate"],
            "sla": {"within": {"hours": 4}, "business": True, "then": "remind"},
        },
        {
            "key": "director",
            "label": _label("销售总监", "Sales director"),
            "condition": "amount > 500000.0",
            "approvers": [{"type": "role", "role": "admin"}],
            "decisions": ["approve", "reject"],
            "on_reject": "freeze",
        },
    ],
}


def install_demo_pipeline(workspace: Workspace, admin: Actor, reps: list[Actor]) -> None:
    """Add the opportunity form, its workflow and the contract chain once."""
    if Metadata.objects.filter(
        app__workspace=workspace, app__key=APP, key="contract_approval"
    ).exists():
        return
    for role in ("rep", "manager", "admin"):
        Role.objects.get_or_create(workspace=workspace, key=role, defaults={"name": role})
    if not Form.objects.filter(workspace=workspace, app__key=APP, key="opportunity").exists():
        save_form_draft(admin, APP, "opportunity", OPPORTUNITY)
        publish_form(admin, APP, "opportunity")
    save_approval_chain(admin, APP, "contract_approval", CONTRACT_CHAIN, publish=True)
    save_workflow(admin, APP, "opportunity", WORKFLOW, publish=True)
    _sample_opportunities(reps)


SAMPLES = (
    ("华东食品 年度陈列合作", 180_000.0, 0),
    ("鑫源贸易 仓配一体化", 650_000.0, 2),
    ("百味连锁 新店铺货", 90_000.0, 1),
    ("乐购便利 冷柜投放", 320_000.0, 2),
    ("金桥商贸 区域代理", 1_200_000.0, 1),
    ("惠民超市 促销季", 45_000.0, 0),
)


def _sample_opportunities(reps: list[Actor]) -> None:
    """Opportunities spread over the first stages; the ones past requirement
    confirmation carry what that stage asks for."""
    from dajian.runtime.services.records import create_record, update_record
    from dajian.runtime.stages.engine import advance_stage

    now = timezone.now()
    for i, (title, amount, moves) in enumerate(SAMPLES):
        rep = reps[i % len(reps)]
        data: dict[str, Any] = {"title": title, "amount": amount}
        if moves:
            data["pain_point"] = "门店缺货率高，补货周期长"
            data["next_follow_up_at"] = format_utc(now + timedelta(days=3))
        record = create_record(rep, APP, "opportunity", data).record
        if moves >= 1:
            record = advance_stage(rep, record.pk, "proposal").record
        if moves >= 2:
            update_record(rep, record.pk, {"competitor_response": "对手降价 5%，我方以服务取胜"})
