"""The scenarios of R19–R22 (and R24's release to the pool) as metadata alone: the
documents of docs/automation-recipes.md and the helpers that save and run them.

Forms and automations are published through the builder's services with all their checks
(``design``, ``automate``); records are written through the record service and their events
processed from the outbox (``create``, ``update``). No scenario has Python of its own. The
tests are ``tests/runtime/test_rules_*.py`` and, for R22 on PostgreSQL,
``tests/integration/test_rules_near_duplicate_pg.py``.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass
from typing import Any

from dajian.builder.models import Form, Metadata
from dajian.builder.services.metadata import save_automation
from dajian.platform.actors import Actor
from dajian.runtime.models import Record
from dajian.runtime.services.records import create_record, update_record
from tests.automation_helpers import drain_outbox
from tests.factories import build_form

APP = "sales"
SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")


def label(zh: str, en: str) -> dict[str, str]:
    return {"zh-CN": zh, "en": en}


def choices(*values: str) -> list[dict[str, Any]]:
    return [{"value": v, "label": v} for v in values]


def design(actor: Actor, key: str, fields: list[dict[str, Any]]) -> Form:
    """Save and publish the form ``key`` of the app (the builder's checks run)."""
    return build_form(actor, fields, key=key, app=APP)


def as_saved(value: Any) -> Any:
    """An automation document as saved (with its ``schema_version``); fields as they are."""
    if isinstance(value, dict) and "trigger" in value:
        return {"schema_version": 1, **value}
    return value


def automate(actor: Actor, key: str, document: dict[str, Any]) -> Metadata:
    """Save and publish a version of the automation ``key`` (the builder's checks run)."""
    return save_automation(actor, APP, key, as_saved(document), publish=True)


def create(actor: Actor, form: str, **data: Any) -> Record:
    """Create a record as ``actor`` and run the automations its events trigger."""
    record = create_record(actor, APP, form, data).record
    drain_outbox()
    return record


def update(actor: Actor, record: Record, **data: Any) -> Record:
    result = update_record(actor, record.pk, data).record
    drain_outbox()
    return result


def fresh(record: Record) -> Record:
    return Record.objects.get(pk=record.pk)


def local(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=SHANGHAI)


def next_month(now: dt.datetime) -> dt.datetime:
    """A moment past the next tick of a monthly schedule (ticks are at most 31 days apart)."""
    return now + dt.timedelta(days=31)


# --- R19 incentive: KA customer, first order ≥ 50,000 with technical service → 500 -------

CUSTOMER = [
    {"key": "name", "type": "text", "label": label("客户名称", "Name"), "required": True},
    {
        "key": "level",
        "type": "single_select",
        "label": label("客户等级", "Level"),
        "choices": choices("KA", "A", "B", "C"),
    },
]
ORDER = [
    {
        "key": "customer",
        "type": "relation",
        "label": label("客户", "Customer"),
        "target": "customer",
        "required": True,
    },
    {"key": "amount", "type": "money", "label": label("订单金额", "Amount")},
    {
        "key": "services",
        "type": "multi_select",
        "label": label("包含服务", "Services"),
        "choices": choices("tech_service", "installation", "training"),
    },
]
ORDER_COUNT = {
    "key": "order_count",
    "type": "rollup",
    "label": label("订单数", "Orders"),
    "source": {"form": "order", "field": "customer"},
    "function": "count",
}
INCENTIVE = [
    {"key": "order", "type": "relation", "label": label("订单", "Order"), "target": "order"},
    {
        "key": "customer",
        "type": "relation",
        "label": label("客户", "Customer"),
        "target": "customer",
    },
    {"key": "reward", "type": "money", "label": label("奖励", "Reward")},
]
KA_FIRST_ORDER = {
    "form": "order",
    "label": label("KA 客户首单奖励", "KA first-order incentive"),
    "trigger": {"type": "record_created"},
    "condition": (
        "related.customer.level == 'KA' && related.customer.order_count == 1"
        " && amount >= 50000.0 && 'tech_service' in services"
    ),
    "actions": [
        {
            "type": "create_record",
            "form": "incentive",
            "values": {"order": "record.id", "customer": "customer", "reward": "500.0"},
        }
    ],
}


# --- R19 rebate: whitelist, category scope, 12-month purchases ≥ 500,000 → 3% ------------

REBATE_FIELDS = [
    {"key": "whitelisted", "type": "boolean", "label": label("老客户白名单", "Whitelisted")},
    {"key": "rebate_rate", "type": "percent", "label": label("返点比例", "Rebate rate")},
]
REBATE_ORDER = [
    *ORDER[:2],
    {
        "key": "category",
        "type": "single_select",
        "label": label("品类", "Category"),
        "choices": choices("equipment", "consumables", "service"),
    },
    {"key": "ordered_on", "type": "date", "label": label("下单日期", "Ordered on")},
]
PURCHASES_12M = {
    "key": "purchases_12m",
    "type": "rollup",
    "label": label("近 12 个月采购额", "Purchases, last 12 months"),
    "source": {"form": "order", "field": "customer"},
    "function": "sum",
    "value_field": "amount",
    "filter": {"field": "category", "op": "in", "value": ["equipment", "consumables"]},
    "window": {"field": "ordered_on", "days": 365},
}
MONTHLY_REBATE = {
    "form": "customer",
    "label": label("老客户返点", "Rebate for whitelisted customers"),
    "trigger": {"type": "schedule", "cron": "0 8 5 * *"},
    "filter": {"field": "whitelisted", "op": "eq", "value": True},
    "condition": "purchases_12m >= 500000.0",
    "actions": [{"type": "set_fields", "values": {"rebate_rate": "0.03"}}],
}


# --- R20 weighted health score: below 75 → a to-do for the regional director -----------


def score(key: str, zh: str, en: str) -> dict[str, Any]:
    return {"key": key, "type": "number", "label": label(zh, en), "min": 0, "max": 100}


PROJECT = [
    {"key": "name", "type": "text", "label": label("项目名称", "Name"), "required": True},
    score("stage_completion", "阶段完成度", "Stage completion"),
    score("doc_completeness", "资料完整度", "Document completeness"),
    score("supply_assurance", "供货保障", "Supply assurance"),
    {
        "key": "health",
        "type": "formula",
        "label": label("项目健康度", "Project health"),
        "expression": "0.4 * stage_completion + 0.3 * doc_completeness + 0.3 * supply_assurance",
        "result_type": "number",
        "decimals": 1,
    },
]
HEALTH_ALERT = {
    "form": "project",
    "label": label("项目健康度预警", "Project health alert"),
    "trigger": {"type": "record_updated", "fields": ["health"]},
    "condition": "health < 75.0",
    "actions": [
        {
            "type": "create_todo",
            "assignee": [{"type": "role", "role": "regional_director"}],
            "title": label(
                "项目健康度 {{ health }}：{{ name }}", "Project health {{ health }}: {{ name }}"
            ),
            "suggested_actions": [{"key": "review", "label": label("安排复盘", "Review it")}],
            "due": {"days": 2, "business": True},
        }
    ],
}


# --- R21 churn: A-level customer visited fewer than 2 times this month → the supervisor --

VISIT = [
    {
        "key": "customer",
        "type": "relation",
        "label": label("客户", "Customer"),
        "target": "customer",
        "required": True,
    },
    {"key": "visited_on", "type": "date", "label": label("拜访日期", "Visited on")},
    {"key": "notes", "type": "long_text", "label": label("拜访记录", "Notes")},
]
VISITS_THIS_MONTH = {
    "key": "visits_this_month",
    "type": "rollup",
    "label": label("本月拜访次数", "Visits this month"),
    "source": {"form": "visit", "field": "customer"},
    "function": "count",
    "window": {"field": "visited_on", "period": "month"},
}
CHURN_WARNING = {
    "form": "customer",
    "label": label("A 级客户流失预警", "Churn warning for A-level customers"),
    "trigger": {"type": "schedule", "cron": "0 9 25 * *"},
    "filter": {"field": "level", "op": "eq", "value": "A"},
    "condition": "visits_this_month < 2",
    "actions": [
        {
            "type": "notify",
            "to": [{"type": "manager", "level": 1}],
            "message": label(
                "流失预警：A 级客户 {{ name }} 本月仅拜访 {{ visits_this_month }} 次",
                "Churn warning: A-level customer {{ name }} has "
                "{{ visits_this_month }} visit(s) this month",
            ),
        }
    ],
}


# --- R21 the daily list: leads not updated for 48 hours, one message per owner ----------

LEAD = [
    {"key": "name", "type": "text", "label": label("线索", "Lead"), "required": True},
    {
        "key": "progress",
        "type": "single_select",
        "label": label("进展", "Progress"),
        "choices": choices("open", "won", "lost"),
    },
]
STALE_LEADS = {
    "form": "lead",
    "label": label("48 小时未更新线索清单", "Leads not updated for 48 hours"),
    "trigger": {"type": "schedule", "cron": "0 8 * * *"},
    "filter": {
        "and": [
            {"field": "updated_at", "op": "lt", "value": {"ago": {"hours": 48}}},
            {"field": "progress", "op": "eq", "value": "open"},
        ]
    },
    "actions": [
        {
            "type": "notify",
            "to": [{"type": "owner"}],
            "digest": True,
            "message": label(
                "晨会前请跟进久未更新的线索（{{ count }} 条）："
                "{% for r in records %}{{ r.name }}{% if not loop.last %}、{% endif %}{% endfor %}",
                "Leads to update before the morning meeting ({{ count }}): "
                "{% for r in records %}{{ r.name }}{% if not loop.last %}, {% endif %}{% endfor %}",
            ),
        }
    ],
}


# --- R21 + R24: silent 30 days → reminder; 45 days → back to the public pool ------------

LAST_CONTACT = {
    "key": "last_contact_at",
    "type": "datetime",
    "label": label("最近联系", "Last contact"),
}
SILENT_30 = {
    "form": "customer",
    "label": label("30 天未联系提醒", "Silent for 30 days"),
    "trigger": {"type": "date", "field": "last_contact_at", "offset": {"days": 30}},
    "actions": [
        {
            "type": "notify",
            "to": [{"type": "owner"}],
            "message": label(
                "客户 {{ name }} 久未联系，请尽快跟进；45 天未联系将退回公海",
                "{{ name }} has gone quiet: follow up before it returns to the pool at 45 days",
            ),
        }
    ],
}
SILENT_45 = {
    "form": "customer",
    "label": label("45 天未联系退回公海", "Silent for 45 days: back to the pool"),
    "trigger": {"type": "date", "field": "last_contact_at", "offset": {"days": 45}},
    "actions": [
        {
            "type": "notify",
            "to": [{"type": "owner"}],
            "message": label("客户 {{ name }} 已退回公海", "{{ name }} is back in the pool"),
        },
        {"type": "release_to_pool"},
    ],
}
CONTACT = local(2026, 5, 4, 10, 0)


# --- R22 near-duplicate follow-up notes --------------------------------------------------

FOLLOW_UP = [
    {
        "key": "customer",
        "type": "relation",
        "label": label("客户", "Customer"),
        "target": "customer",
        "required": True,
    },
    {"key": "notes", "type": "long_text", "label": label("跟进记录", "Notes"), "required": True},
]
DUPLICATE_NOTES = {
    "form": "follow_up",
    "label": label("雷同跟进记录", "Near-duplicate follow-up notes"),
    "trigger": {"type": "record_created"},
    "actions": [
        {"type": "flag_similar_text", "field": "notes", "scope": "customer", "threshold": 0.6}
    ],
}


@dataclass(frozen=True)
class Notes:
    """A first note, its near duplicate, a rewording and an unrelated note; ``scores``
    are their trigram similarities to ``first`` (pg_trgm's, two decimals)."""

    first: str
    near: str
    reworded: str
    other: str
    scores: tuple[float, float, float]


NOTES = {
    # Chinese follow-ups, as salespeople write them
    "zh": Notes(
        first="拜访张总，介绍了新款设备，客户对价格比较敏感，约下周再谈。",
        near="拜访张总，介绍了新款设备，客户对价格比较敏感，约下周二再谈。",
        reworded="拜访张总，演示了新款设备，客户对价格比较敏感，约下周再谈。",
        other="电话沟通交付时间，客户希望月底前到货，已协调仓库。",
        scores=(0.84, 0.76, 0.04),
    ),
    # the same story in English: pg_trgm scores it in any database locale
    "en": Notes(
        first="Met Mr Zhang and presented the new equipment; he is sensitive about price, "
        "we talk again next week.",
        near="Met Mr Zhang and presented the new equipment; he is sensitive about price, "
        "we talk again next Tuesday.",
        reworded="Met Mr Zhang and demonstrated the new machines; he is sensitive about "
        "price, we talk again next week.",
        other="Phone call on delivery: the customer wants the goods before month end; the "
        "warehouse is informed.",
        scores=(0.89, 0.68, 0.09),
    ),
}


def follow_ups(actor: Actor, customer: Record, *notes: str) -> list[Record]:
    return [create(actor, "follow_up", customer=customer.pk, notes=text) for text in notes]


def flagged(records: list[Record]) -> list[bool]:
    return ["near_duplicate" in fresh(r).flags for r in records]
