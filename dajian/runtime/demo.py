"""The demo app that ``dajian demo`` installs: customers and store visits with sample
records, so ``make run`` shows a working product. The real templates (store sales, B2B
sales) arrive with the app-templates issue; this one stays small and idempotent."""

from __future__ import annotations

import random
from typing import Any

from django.contrib.auth import get_user_model

from dajian.builder.models import App
from dajian.builder.services.forms import create_app, publish_form, save_form_draft
from dajian.platform.actors import Actor, actor_for
from dajian.platform.models import Workspace
from dajian.runtime.demo_automations import install_demo_automations
from dajian.runtime.demo_pipeline import install_demo_pipeline
from dajian.runtime.services.records import create_record

APP = "crm"
CUSTOMER: dict[str, Any] = {
    "key": "customer",
    "name": {"zh-CN": "客户", "en": "Customer"},
    "title_fields": ["name"],
    "search_fields": ["name", "city"],
    "fields": [
        {
            "key": "name",
            "type": "text",
            "label": {"zh-CN": "客户名称", "en": "Name"},
            "required": True,
            "max_length": 100,
        },
        {
            "key": "level",
            "type": "single_select",
            "label": {"zh-CN": "客户等级", "en": "Level"},
            "indexed": True,
            "choices": [{"value": v, "label": v} for v in ("A", "B", "C")],
        },
        {"key": "city", "type": "text", "label": {"zh-CN": "城市", "en": "City"}},
        {"key": "phone", "type": "phone", "label": {"zh-CN": "电话", "en": "Phone"}},
        {
            "key": "credit_code",
            "type": "text",
            "unique": True,
            "label": {"zh-CN": "统一社会信用代码", "en": "Credit code"},
            "max_length": 18,
        },
        {
            "key": "proposal",
            "type": "long_text",
            "required_if": "level == 'A'",
            "label": {"zh-CN": "定制方案", "en": "Tailored proposal"},
        },
        {
            "key": "visits_30d",
            "type": "rollup",
            "label": {"zh-CN": "近30天拜访", "en": "Visits (30 d)"},
            "source": {"form": "visit", "field": "customer"},
            "function": "count",
            "window": {"field": "created_at", "days": 30},
        },
    ],
    "duplicates": [
        {
            "key": "name_city",
            "fields": ["name", "city"],
            "normalize": "text",
            "action": "block",
            "message": {
                "zh-CN": "同城已有同名客户",
                "en": "A customer with this name exists in this city",
            },
        },
        {"key": "phone", "fields": ["phone"], "normalize": "digits", "action": "warn"},
    ],
    "permissions": [
        {"role": "rep", "create": True, "read": "own", "update": "own", "delete": "none"},
        {"role": "manager", "create": True, "read": "team", "update": "team", "delete": "team"},
    ],
}
VISIT: dict[str, Any] = {
    "key": "visit",
    "name": {"zh-CN": "拜访记录", "en": "Visit"},
    "title_fields": ["summary"],
    "fields": [
        {
            "key": "customer",
            "type": "relation",
            "target": "customer",
            "required": True,
            "label": {"zh-CN": "客户", "en": "Customer"},
        },
        {"key": "summary", "type": "long_text", "label": {"zh-CN": "拜访纪要", "en": "Summary"}},
        {"key": "photos", "type": "photo", "label": {"zh-CN": "门头照片", "en": "Photos"}},
        {"key": "location", "type": "location", "label": {"zh-CN": "定位", "en": "Location"}},
    ],
    "rules": [
        {
            "key": "evidence",
            "severity": "flag",
            "flag": "pending_verification",
            "expression": "size(photos) >= 1 && location != null && chars(summary) >= 10",
            "message": {
                "zh-CN": "缺少照片、定位或纪要，待核实",
                "en": "Missing photo, location or notes",
            },
        },
    ],
    "permissions": [
        {"role": "rep", "create": True, "read": "own", "update": "own", "delete": "none"},
        {"role": "manager", "create": True, "read": "team", "update": "team", "delete": "team"},
    ],
}
CITIES = ("上海", "北京", "杭州", "苏州", "南京", "深圳")
COMPANIES = (
    "华东食品",
    "鑫源贸易",
    "百味连锁",
    "乐购便利",
    "金桥商贸",
    "惠民超市",
    "海纳百货",
    "同福零售",
    "嘉禾批发",
    "新天地商行",
    "恒通供应链",
    "优品生活",
)


def install_demo_app(workspace: Workspace) -> None:
    """Install the demo CRM app with sample records once (later runs change nothing)."""
    users = {
        u.username: u
        for u in get_user_model().objects.filter(username__in=["admin", "rep1", "rep2"])
    }
    admin = actor_for(users["admin"], workspace) if "admin" in users else None
    if admin is None:
        return
    if not App.objects.filter(workspace=workspace, key=APP).exists():
        _install_crm(admin, users, workspace)
    install_demo_pipeline(workspace, admin, _reps(users, workspace) or [admin])
    install_demo_automations(workspace, admin)


def _reps(users: dict[str, Any], workspace: Workspace) -> list[Actor]:
    return [
        actor
        for name in ("rep1", "rep2")
        if name in users and (actor := actor_for(users[name], workspace)) is not None
    ]


def _install_crm(admin: Actor, users: dict[str, Any], workspace: Workspace) -> None:
    create_app(admin, APP, {"zh-CN": "客户管理", "en": "CRM"})
    for definition in (VISIT, CUSTOMER):  # visits first: the customer's rollup reads them
        save_form_draft(admin, APP, definition["key"], definition)
        publish_form(admin, APP, definition["key"])
    _sample_records(_reps(users, workspace) or [admin])


def _sample_records(reps: list[Actor]) -> None:
    rng = random.Random(7)
    for i, company in enumerate(COMPANIES):
        rep = reps[i % len(reps)]
        level = "ABC"[i % 3]
        data: dict[str, Any] = {
            "name": company,
            "level": level,
            "city": CITIES[i % len(CITIES)],
            "phone": f"1380013{8000 + i}",
            "credit_code": f"91310000MA1K{i:06d}",
        }
        if level == "A":
            data["proposal"] = "按门店数量定制的季度陈列与返利方案"
        customer = create_record(rep, APP, "customer", data).record
        for v in range(rng.randint(0, 3)):
            visit: dict[str, Any] = {"customer": customer.pk, "summary": "巡店，检查陈列与库存"}
            if v % 2 == 0:
                visit["location"] = {
                    "lat": 31.23 + rng.random() / 10,
                    "lng": 121.47 + rng.random() / 10,
                    "accuracy": 15,
                }
            create_record(rep, APP, "visit", visit)
