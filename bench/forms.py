"""The benchmark's forms and the records it writes.

- ``deal``: a realistic 30-field sales form with mixed field types, one indexed select
  (``stage``, 10 values), form and field rules in CEL and no unique field. Figure 1
  creates deals; figure 2 lists them (1,000,000 are bulk-loaded).
- ``inspection``: a 100-field form (ten sections of the same ten field types), rendered by
  figure 3.

Values are generated deterministically from a seed, so two runs load the same data.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from typing import Any

APP_KEY = "bench_sales"
APP_NAME = {"zh-CN": "基准销售", "en": "Benchmark sales"}
DEAL_FORM = "deal"
RENDER_FORM = "inspection"
SELECT_FIELD = "pipeline_stage"
STAGES = [
    ("lead", "线索", "Lead"),
    ("contacted", "已联系", "Contacted"),
    ("qualified", "已确认需求", "Qualified"),
    ("demo", "演示", "Demo"),
    ("proposal", "方案", "Proposal"),
    ("quote", "报价", "Quote"),
    ("negotiation", "谈判", "Negotiation"),
    ("contract", "合同", "Contract"),
    ("won", "赢单", "Won"),
    ("lost", "输单", "Lost"),
]
STAGE_VALUES = [s[0] for s in STAGES]
# A sales pipeline is skewed: most deals are early, few are lost (in percent). The rare
# values are where a filter without its index has to scan furthest.
STAGE_SHARES = [30, 20, 15, 10, 8, 6, 5, 3, 2.5, 0.5]
REGIONS = ["east", "south", "north", "west", "central"]
INDUSTRIES = ["retail", "manufacturing", "logistics", "education", "healthcare", "finance"]
SOURCES = ["web", "referral", "exhibition", "cold_call", "partner"]
CHANNELS = ["phone", "wechat", "email", "visit"]
TERMS = ["prepaid", "net30", "net60", "installments"]
CITIES = ["上海", "北京", "广州", "深圳", "杭州", "成都", "武汉", "南京", "苏州", "西安"]
COMPANY_WORDS = ["华辰", "明远", "东升", "博雅", "恒通", "瑞丰", "天宇", "新澜", "金桥", "嘉禾"]
SURNAMES = ["王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴"]
GIVEN = ["伟", "芳", "娜", "敏", "静", "磊", "洋", "艳", "勇", "军", "杰", "涛"]


def _label(zh: str, en: str) -> dict[str, str]:
    return {"zh-CN": zh, "en": en}


def _choices(values: list[str]) -> list[dict[str, Any]]:
    return [{"value": v, "label": _label(v, v.replace("_", " ").title())} for v in values]


def _rule(expression: str, zh: str, en: str) -> dict[str, Any]:
    return {"expression": expression, "message": _label(zh, en)}


def deal_definition() -> dict[str, Any]:
    """The 30-field form of figures 1 and 2."""
    stage_choices = [{"value": v, "label": _label(zh, en)} for v, zh, en in STAGES]
    fields: list[dict[str, Any]] = [
        {
            "key": "customer_name",
            "type": "text",
            "label": _label("客户名称", "Customer"),
            "required": True,
            "max_length": 100,
            "rules": [
                _rule("chars(customer_name) >= 2", "客户名称太短", "Customer name is too short")
            ],
        },
        {
            "key": "contact_name",
            "type": "text",
            "label": _label("联系人", "Contact"),
            "max_length": 50,
        },
        {"key": "contact_email", "type": "email", "label": _label("邮箱", "Email")},
        {"key": "contact_phone", "type": "phone", "label": _label("电话", "Phone")},
        {"key": "website", "type": "url", "label": _label("网站", "Website")},
        {
            "key": SELECT_FIELD,
            "type": "single_select",
            "label": _label("阶段", "Stage"),
            "required": True,
            "choices": stage_choices,
            "indexed": True,
        },
        {
            "key": "amount",
            "type": "money",
            "label": _label("金额", "Amount"),
            "precision": 2,
            "required": True,
            "rules": [_rule("amount <= 100000000.0", "金额过大", "Amount is too large")],
        },
        {"key": "discount", "type": "percent", "label": _label("折扣", "Discount")},
        {"key": "quantity", "type": "number", "label": _label("数量", "Quantity"), "precision": 0},
        {
            "key": "unit_price",
            "type": "money",
            "label": _label("单价", "Unit price"),
            "precision": 2,
        },
        {"key": "probability", "type": "percent", "label": _label("赢单概率", "Probability")},
        {"key": "expected_close", "type": "date", "label": _label("预计成交", "Expected close")},
        {
            "key": "first_contact_at",
            "type": "datetime",
            "label": _label("首次联系", "First contact"),
        },
        {"key": "key_account", "type": "boolean", "label": _label("重点客户", "Key account")},
        {
            "key": "channels",
            "type": "multi_select",
            "label": _label("沟通渠道", "Channels"),
            "choices": _choices(CHANNELS),
        },
        {
            "key": "region",
            "type": "single_select",
            "label": _label("区域", "Region"),
            "choices": _choices(REGIONS),
        },
        {
            "key": "industry",
            "type": "single_select",
            "label": _label("行业", "Industry"),
            "choices": _choices(INDUSTRIES),
        },
        {"key": "rating", "type": "rating", "label": _label("评级", "Rating")},
        {"key": "notes", "type": "long_text", "label": _label("备注", "Notes"), "max_length": 2000},
        {"key": "address", "type": "text", "label": _label("地址", "Address"), "max_length": 200},
        {"key": "city", "type": "text", "label": _label("城市", "City"), "max_length": 50},
        {
            "key": "postal_code",
            "type": "text",
            "label": _label("邮编", "Postal code"),
            "max_length": 10,
        },
        {"key": "tax_id", "type": "text", "label": _label("税号", "Tax id"), "max_length": 30},
        {
            "key": "source",
            "type": "single_select",
            "label": _label("来源", "Source"),
            "choices": _choices(SOURCES),
        },
        {
            "key": "competitor",
            "type": "text",
            "label": _label("竞争对手", "Competitor"),
            "max_length": 100,
        },
        {
            "key": "next_step",
            "type": "text",
            "label": _label("下一步", "Next step"),
            "max_length": 200,
        },
        {"key": "next_step_due", "type": "date", "label": _label("下一步期限", "Next step due")},
        {
            "key": "budget_confirmed",
            "type": "boolean",
            "label": _label("预算已确认", "Budget confirmed"),
        },
        {
            "key": "payment_terms",
            "type": "single_select",
            "label": _label("付款方式", "Payment terms"),
            "choices": _choices(TERMS),
        },
        {
            "key": "remarks",
            "type": "long_text",
            "label": _label("说明", "Remarks"),
            "max_length": 2000,
        },
    ]
    rules = [
        {
            "key": "amount_not_negative",
            "expression": "amount >= 0.0",
            "message": _label("金额不能为负", "Amount cannot be negative"),
            "fields": ["amount"],
        },
        {
            "key": "unit_price_not_negative",
            "expression": "unit_price >= 0.0",
            "message": _label("单价不能为负", "Unit price cannot be negative"),
            "fields": ["unit_price"],
        },
        {
            "key": "lost_needs_remarks",
            "expression": "pipeline_stage != 'lost' || chars(remarks) > 0",
            "message": _label("输单需填写说明", "A lost deal needs remarks"),
            "fields": ["remarks"],
        },
        {
            "key": "email_has_at",
            "expression": "contact_email.contains('@')",
            "message": _label("邮箱格式不正确", "Invalid email"),
            "fields": ["contact_email"],
        },
    ]
    return {
        "key": DEAL_FORM,
        "name": _label("商机", "Deal"),
        "fields": fields,
        "rules": rules,
        "title_fields": ["customer_name"],
    }


_RENDER_TYPES: list[tuple[str, dict[str, Any]]] = [
    ("text", {"max_length": 100}),
    ("number", {"precision": 2}),
    ("single_select", {"choices": _choices(["ok", "minor", "major", "na"])}),
    ("boolean", {}),
    ("date", {}),
    ("long_text", {"max_length": 1000}),
    ("money", {"precision": 2}),
    ("multi_select", {"choices": _choices(["photo", "sample", "retest", "escalate"])}),
    ("percent", {}),
    ("rating", {}),
]


def render_definition() -> dict[str, Any]:
    """The 100-field form of figure 3: ten sections of ten typed fields, with rules."""
    fields: list[dict[str, Any]] = []
    for section in range(10):
        for i, (field_type, options) in enumerate(_RENDER_TYPES):
            key = f"s{section}_{field_type}_{i}"
            field: dict[str, Any] = {
                "key": key,
                "type": field_type,
                "label": _label(
                    f"第{section + 1}部分 检查项{i + 1}", f"Section {section + 1} item {i + 1}"
                ),
                "help": _label("请按现场情况填写", "Fill in as found on site"),
                "required": i in (0, 2),
                **options,
            }
            if field_type == "text":
                field["rules"] = [_rule(f"chars({key}) <= 100", "太长", "Too long")]
            fields.append(field)
    rules = [
        {
            "key": f"section{section}_money_positive",
            "expression": f"s{section}_money_6 >= 0.0",
            "message": _label("金额不能为负", "Amount cannot be negative"),
        }
        for section in range(5)
    ]
    return {
        "key": RENDER_FORM,
        "name": _label("门店巡检", "Store inspection"),
        "fields": fields,
        "rules": rules,
        "title_fields": ["s0_text_0"],
    }


def _company(rng: random.Random) -> str:
    return f"{rng.choice(CITIES)}{rng.choice(COMPANY_WORDS)}{rng.choice(COMPANY_WORDS)}贸易有限公司"


def _person(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choices(GIVEN, k=rng.choice((1, 2))))


def _utc(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def deal_data(rng: random.Random, stage: str | None = None) -> dict[str, Any]:
    """A valid deal (~1 KB as JSON); ``stage`` is random unless given."""
    stage = stage or rng.choice(STAGE_VALUES)
    quantity = rng.randint(1, 500)
    unit_price = round(rng.uniform(10, 5000), 2)
    first_contact = datetime(2025, 1, 1, tzinfo=UTC) + timedelta(minutes=rng.randint(0, 500_000))
    close = date(2025, 6, 1) + timedelta(days=rng.randint(0, 400))
    city = rng.choice(CITIES)
    return {
        "customer_name": _company(rng),
        "contact_name": _person(rng),
        "contact_email": f"buyer{rng.randint(1, 99999)}@example.com",
        "contact_phone": f"+86 13{rng.randint(0, 9)}{rng.randint(10_000_000, 99_999_999)}",
        "website": f"https://www.example{rng.randint(1, 9999)}.cn/",
        SELECT_FIELD: stage,
        "amount": round(quantity * unit_price, 2),
        "discount": rng.choice([0, 5, 10, 15]),
        "quantity": quantity,
        "unit_price": unit_price,
        "probability": rng.choice([10, 25, 50, 75, 90]),
        "expected_close": close.isoformat(),
        "first_contact_at": _utc(first_contact),
        "key_account": rng.random() < 0.2,
        "channels": rng.sample(CHANNELS, rng.randint(1, 3)),
        "region": rng.choice(REGIONS),
        "industry": rng.choice(INDUSTRIES),
        "rating": rng.randint(1, 5),
        "notes": "客户关注交付周期和售后服务，已安排技术团队进行现场演示，"
        f"预计下月{rng.randint(1, 28)}日前给出采购意向。需要跟进报价细节与付款条件。",
        "address": f"{city}市{rng.choice(COMPANY_WORDS)}路{rng.randint(1, 999)}号"
        f"{rng.randint(1, 30)}楼",
        "city": city,
        "postal_code": f"{rng.randint(100000, 999999)}",
        "tax_id": f"91310{rng.randint(10**12, 10**13 - 1)}X",
        "source": rng.choice(SOURCES),
        "competitor": _company(rng),
        "next_step": rng.choice(["发送报价单", "安排现场演示", "确认合同条款", "回访客户"]),
        "next_step_due": (close - timedelta(days=rng.randint(5, 60))).isoformat(),
        "budget_confirmed": rng.random() < 0.5,
        "payment_terms": rng.choice(TERMS),
        "remarks": "本商机由区域销售负责跟进；如客户要求分期付款需财务审批。"
        if stage == "lost" or rng.random() < 0.5
        else "无",
    }
