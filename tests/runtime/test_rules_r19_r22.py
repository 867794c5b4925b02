"""R19–R22 (and R24's release to the pool) expressed by metadata alone.

Every form, formula, rollup and automation here is created through the builder's
services with all their checks (``build_form`` saves and publishes drafts,
``save_automation`` publishes automation documents); records are written through the
record service; events are processed from the outbox (``drain_outbox``), schedules by
``run_scheduled`` and date triggers by ``scan_date_triggers``. No scenario has Python
of its own: the documents are those of docs/automation-recipes.md. Each scenario shows
the rule firing, not firing on either side of its threshold, and a new version of the
automation taking effect with the next event.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import zoneinfo
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from dajian.builder.models import Form, Metadata
from dajian.builder.services.metadata import save_automation
from dajian.platform.actors import Actor
from dajian.platform.errors import DajianError
from dajian.runtime.automations import schedules
from dajian.runtime.automations.actions.flag_similar_text import similarity
from dajian.runtime.models import Notification, Record, TodoTask
from dajian.runtime.services.records import create_record, update_record
from tests.automation_helpers import drain_outbox
from tests.factories import build_form, make_actor, make_user

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


@pytest.fixture
def supervisor(workspace):
    return make_user("supervisor", workspace)


@pytest.fixture
def rep(workspace, supervisor):
    """A salesperson; ``supervisor`` manages their team."""
    return make_user("rep", workspace, manager=supervisor)


@pytest.fixture
def rep_actor(rep, workspace):
    return make_actor(rep, workspace)


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


@pytest.fixture
def incentive_app(admin_actor):
    design(admin_actor, "customer", CUSTOMER)
    design(admin_actor, "order", ORDER)
    design(admin_actor, "customer", [*CUSTOMER, ORDER_COUNT])  # the rollup needs orders
    design(admin_actor, "incentive", INCENTIVE)
    return automate(admin_actor, "ka_first_order", KA_FIRST_ORDER)


def orders(actor: Actor, level: str, *lines: tuple[float, list[str]]) -> list[Record]:
    customer = create(actor, "customer", name=f"{level} customer", level=level)
    return [
        create(actor, "order", customer=customer.pk, amount=amount, services=services)
        for amount, services in lines
    ]


def rewards() -> list[tuple[int, float, int | None]]:
    """(order id, reward, owner) of every incentive, oldest first."""
    rows = Record.objects.filter(form__key="incentive").order_by("pk")
    return [(r.data["order"], r.data["reward"], r.owner_id) for r in rows]


def test_a_ka_first_order_of_50000_with_technical_service_earns_500(incentive_app, rep, rep_actor):
    (order,) = orders(rep_actor, "KA", (50000, ["tech_service", "training"]))

    # the incentive belongs to the salesperson who owns the order
    assert rewards() == [(order.pk, 500, rep.pk)]


@pytest.mark.parametrize(
    ("level", "lines"),
    [
        pytest.param("KA", [(49999, ["tech_service"])], id="49999"),
        pytest.param("A", [(80000, ["tech_service"])], id="not-KA"),
        pytest.param("KA", [(80000, ["installation"])], id="no-technical-service"),
        pytest.param("KA", [(80000, [])], id="no-services"),
        pytest.param("KA", [(10000, ["tech_service"]), (60000, ["tech_service"])], id="2nd"),
    ],
)
def test_no_incentive_when_one_condition_fails(incentive_app, rep_actor, level, lines):
    orders(rep_actor, level, *lines)
    (control,) = orders(rep_actor, "KA", (50000, ["tech_service"]))

    assert [r[0] for r in rewards()] == [control.pk]


def test_a_new_incentive_rule_applies_to_the_next_order(incentive_app, admin_actor, rep_actor):
    (before,) = orders(rep_actor, "KA", (55000, ["tech_service"]))
    assert rewards()[-1][:2] == (before.pk, 500)

    rule = KA_FIRST_ORDER["condition"].replace("50000.0", "60000.0")
    [action] = KA_FIRST_ORDER["actions"]
    values = {**action["values"], "reward": "800.0"}
    automate(
        admin_actor,
        "ka_first_order",
        {**KA_FIRST_ORDER, "condition": rule, "actions": [{**action, "values": values}]},
    )
    (below,) = orders(rep_actor, "KA", (55000, ["tech_service"]))
    (at,) = orders(rep_actor, "KA", (60000, ["tech_service"]))

    assert [r[:2] for r in rewards()] == [(before.pk, 500), (at.pk, 800)]
    assert below.pk not in {r[0] for r in rewards()}


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


@pytest.fixture
def rebate_app(admin_actor):
    design(admin_actor, "customer", [*CUSTOMER, *REBATE_FIELDS])
    design(admin_actor, "order", REBATE_ORDER)
    design(admin_actor, "customer", [*CUSTOMER, *REBATE_FIELDS, PURCHASES_12M])
    return automate(admin_actor, "monthly_rebate", MONTHLY_REBATE)


def purchases(actor: Actor, name: str, whitelisted: bool, *lines: tuple[float, str, int]) -> None:
    """A customer and its orders: (amount, category, days ago)."""
    customer = create(actor, "customer", name=name, whitelisted=whitelisted)
    today = timezone.localdate()
    for amount, category, days_ago in lines:
        ordered_on = (today - dt.timedelta(days=days_ago)).isoformat()
        create(
            actor,
            "order",
            customer=customer.pk,
            amount=amount,
            category=category,
            ordered_on=ordered_on,
        )


def rebate_rates() -> dict[str, Any]:
    rows = Record.objects.filter(form__key="customer").order_by("pk")
    return {r.data["name"]: r.data.get("rebate_rate") for r in rows}


@pytest.fixture
def rebate_customers(rebate_app, rep_actor):
    purchases(rep_actor, "exact", True, (300000, "equipment", 10), (200000, "consumables", 330))
    purchases(rep_actor, "short", True, (499999, "equipment", 30))
    purchases(rep_actor, "not_listed", False, (900000, "equipment", 30))
    purchases(rep_actor, "out_of_scope", True, (400000, "equipment", 5), (200000, "service", 5))
    purchases(rep_actor, "old_orders", True, (400000, "consumables", 5), (200000, "equipment", 400))
    return rebate_app


def test_the_monthly_rebate_is_3_percent_from_500000_in_scope_in_12_months(rebate_customers):
    # publishing installed the schedule: 08:00 on the 5th, in the workspace's time zone
    crontab = PeriodicTask.objects.get(name=f"automation:{rebate_customers.pk}").crontab
    assert (crontab.minute, crontab.hour, crontab.day_of_month) == ("0", "8", "5")
    assert str(crontab.timezone) == "Asia/Shanghai"

    run = schedules.run_scheduled(rebate_customers.pk, now=timezone.now())

    assert rebate_rates() == {
        "exact": 0.03,
        "short": None,  # 499,999
        "not_listed": None,  # not on the whitelist
        "out_of_scope": None,  # service orders do not count: 400,000
        "old_orders": None,  # an order 400 days ago does not count: 400,000
    }
    # the filter kept the whitelisted customers only, in SQL
    assert (run.records_scanned, run.records_matched) == (4, 1)


def test_a_new_rebate_rule_applies_at_the_next_monthly_run(rebate_customers, admin_actor):
    now = timezone.now()
    schedules.run_scheduled(rebate_customers.pk, now=now)

    automate(
        admin_actor,
        "monthly_rebate",
        {
            **MONTHLY_REBATE,
            "condition": "purchases_12m >= 450000.0",
            "actions": [{"type": "set_fields", "values": {"rebate_rate": "0.02"}}],
        },
    )
    schedules.run_scheduled(rebate_customers.pk, now=next_month(now))

    assert rebate_rates() == {
        "exact": 0.02,
        "short": 0.02,
        "not_listed": None,
        "out_of_scope": None,
        "old_orders": None,
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


@pytest.fixture
def director(workspace):
    return make_user("director", workspace, roles=["regional_director"])


@pytest.fixture
def health_app(admin_actor, director):
    design(admin_actor, "project", PROJECT)
    return automate(admin_actor, "health_alert", HEALTH_ALERT)


def project(actor: Actor, name: str = "P1") -> Record:
    scores = {"stage_completion": 80, "doc_completeness": 80, "supply_assurance": 80}
    return create(actor, "project", name=name, **scores)


def scored(actor: Actor, record: Record, stage: float, docs: float, supply: float) -> Any:
    data = {"stage_completion": stage, "doc_completeness": docs, "supply_assurance": supply}
    return update(actor, record, **data).data["health"]


def todos(user: Any) -> list[tuple[int | None, str]]:
    rows = TodoTask.objects.filter(assignee=user).order_by("pk")
    return [(t.record_id, t.title["en"]) for t in rows]


def test_a_health_of_74_9_puts_a_todo_on_the_regional_directors_list(
    health_app, director, rep_actor
):
    record = project(rep_actor)

    health = scored(rep_actor, record, 70, 80, 76.33)

    assert health == 74.9  # 28 + 24 + 22.899, one decimal
    assert todos(director) == [(record.pk, "Project health 74.9: P1")]
    task = TodoTask.objects.get(assignee=director)
    assert task.source == "automation:sales.health_alert"
    assert task.suggested_actions == [{"key": "review", "label": label("安排复盘", "Review it")}]
    assert task.due_at is not None


@pytest.mark.parametrize(
    "scores",
    [
        pytest.param((72, 78, 76), id="75.0"),
        # the plain mean is 73.3; weighted 40/30/30 it is 75.0
        pytest.param((90, 65, 65), id="weighted-75.0"),
    ],
)
def test_a_health_of_75_makes_no_todo(health_app, director, rep_actor, scores):
    record, control = project(rep_actor, "P1"), project(rep_actor, "P2")

    assert scored(rep_actor, record, *scores) == 75.0
    scored(rep_actor, control, 70, 80, 76.33)

    assert todos(director) == [(control.pk, "Project health 74.9: P2")]


def test_the_health_alert_is_refused_until_the_role_exists(admin_actor):
    design(admin_actor, "project", PROJECT)

    with pytest.raises(DajianError) as caught:
        automate(admin_actor, "health_alert", HEALTH_ALERT)

    assert [(e.path, e.code) for e in caught.value.errors] == [
        ("actions.0.assignee.0.role", "UNKNOWN_ROLE")
    ]
    assert not Metadata.objects.filter(key="health_alert").exists()


def test_a_new_health_threshold_applies_to_the_next_update(
    health_app, admin_actor, director, rep_actor
):
    first, second = project(rep_actor, "P1"), project(rep_actor, "P2")
    assert scored(rep_actor, first, 80, 76, 76) == 77.6
    assert todos(director) == []

    automate(admin_actor, "health_alert", {**HEALTH_ALERT, "condition": "health < 80.0"})
    scored(rep_actor, second, 80, 76, 76)

    assert todos(director) == [(second.pk, "Project health 77.6: P2")]


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


@pytest.fixture
def churn_app(admin_actor):
    design(admin_actor, "customer", CUSTOMER)
    design(admin_actor, "visit", VISIT)
    design(admin_actor, "customer", [*CUSTOMER, VISITS_THIS_MONTH])
    return automate(admin_actor, "churn_warning", CHURN_WARNING)


@pytest.fixture
def visited(churn_app, rep_actor):
    """Customers of ``rep``, visited this month or on the day before it began."""
    today = timezone.localdate()
    first, before = today.replace(day=1), today.replace(day=1) - dt.timedelta(days=1)
    plan = {
        "one_visit": ("A", [today, before]),
        "two_visits": ("A", [first, today]),
        "no_visit": ("A", []),
        "b_level": ("B", []),
    }
    for name, (level, days) in plan.items():
        customer = create(rep_actor, "customer", name=name, level=level)
        for day in days:
            create(rep_actor, "visit", customer=customer.pk, visited_on=day.isoformat())


def warnings(user: Any) -> list[tuple[str, str]]:
    rows = Notification.objects.filter(recipient=user).select_related("record")
    return sorted((n.record.data["name"], n.message["en"]) for n in rows if n.record)


def test_a_level_customers_with_fewer_than_2_visits_this_month_warn_the_supervisor(
    churn_app, visited, supervisor
):
    schedules.run_scheduled(churn_app.pk, now=timezone.now())

    # one_visit's second visit was last month; b_level is not A-level
    assert warnings(supervisor) == [
        ("no_visit", "Churn warning: A-level customer no_visit has 0 visit(s) this month"),
        ("one_visit", "Churn warning: A-level customer one_visit has 1 visit(s) this month"),
    ]


def test_a_new_churn_threshold_applies_at_the_next_run(churn_app, visited, admin_actor, supervisor):
    now = timezone.now()
    schedules.run_scheduled(churn_app.pk, now=now)

    automate(admin_actor, "churn_warning", {**CHURN_WARNING, "condition": "visits_this_month < 3"})
    schedules.run_scheduled(churn_app.pk, now=next_month(now))

    # the next monthly run warns about two_visits too
    names = [name for name, _ in warnings(supervisor)]
    assert names == ["no_visit", "no_visit", "one_visit", "one_visit", "two_visits"]


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


@pytest.fixture
def stale_leads(admin_actor):
    design(admin_actor, "lead", LEAD)
    return automate(admin_actor, "stale_leads", STALE_LEADS)


def lead(actor: Actor, name: str, hours: float, progress: str = "open") -> Record:
    """A lead last written ``hours`` ago. The record service stamps ``updated_at`` with
    the server's clock, so the test moves the stamp back: time passing, not data."""
    record = create(actor, "lead", name=name, progress=progress)
    moment = timezone.now() - dt.timedelta(hours=hours)
    Record.objects.filter(pk=record.pk).update(updated_at=moment)
    return record


def digests() -> dict[str, tuple[list[int], str]]:
    """username → (record ids, English text) of each daily list."""
    rows = Notification.objects.filter(kind="automation.digest").select_related("recipient")
    return {n.recipient.username: (n.payload["records"], n.message["en"]) for n in rows}


@pytest.fixture
def leads(stale_leads, rep, workspace):
    other = make_user("rep2", workspace)
    mine, theirs = make_actor(rep, workspace), make_actor(other, workspace)
    return {
        "47h": lead(mine, "L47", 47),
        "49h": lead(mine, "L49", 49),
        "72h": lead(mine, "L72", 72),
        "won": lead(mine, "Won", 72, progress="won"),
        "theirs": lead(theirs, "T50", 50),
        "recent": lead(theirs, "T1", 1),
    }


def test_each_owner_gets_one_list_of_their_leads_not_updated_for_48_hours(stale_leads, leads):
    schedules.run_scheduled(stale_leads.pk, now=timezone.now())

    assert digests() == {
        "rep": (
            [leads["49h"].pk, leads["72h"].pk],
            "Leads to update before the morning meeting (2): L49, L72",
        ),
        "rep2": (
            [leads["theirs"].pk],
            "Leads to update before the morning meeting (1): T50",
        ),
    }
    zh = Notification.objects.get(recipient__username="rep").message["zh-CN"]
    assert zh == "晨会前请跟进久未更新的线索（2 条）：L49、L72"


def test_a_new_staleness_limit_applies_at_the_next_mornings_run(stale_leads, leads, admin_actor):
    now = timezone.now()
    schedules.run_scheduled(stale_leads.pk, now=now)
    Notification.objects.all().delete()  # yesterday's lists were read

    day = {"field": "updated_at", "op": "lt", "value": {"ago": {"hours": 24}}}
    automate(
        admin_actor,
        "stale_leads",
        {**STALE_LEADS, "filter": {"and": [day, STALE_LEADS["filter"]["and"][1]]}},
    )
    schedules.run_scheduled(stale_leads.pk, now=now + dt.timedelta(days=1))

    # a day later every open lead of rep is over 48 hours old; T1, written 25 hours
    # before this run, is listed only because of the new 24-hour limit
    assert digests()["rep"][0] == [leads["47h"].pk, leads["49h"].pk, leads["72h"].pk]
    assert digests()["rep2"][0] == [leads["theirs"].pk, leads["recent"].pk]


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


@pytest.fixture
def silence_app(admin_actor):
    design(admin_actor, "customer", [*CUSTOMER, LAST_CONTACT])
    automate(admin_actor, "silent_30", SILENT_30)
    return automate(admin_actor, "silent_45", SILENT_45)


def contacted(actor: Actor, name: str, at: dt.datetime = CONTACT) -> Record:
    return create(actor, "customer", name=name, last_contact_at=at.isoformat())


def silent_for(days: int, minutes: int = 0) -> dt.datetime:
    return CONTACT + dt.timedelta(days=days, minutes=minutes)


def messages(user: Any) -> list[str]:
    rows = Notification.objects.filter(recipient=user).order_by("pk")
    return [n.message["en"] for n in rows]


def test_silent_customers_are_reminded_at_30_days_and_released_at_45(silence_app, rep, rep_actor):
    customer = contacted(rep_actor, "ACME")
    reminder = "ACME has gone quiet: follow up before it returns to the pool at 45 days"

    schedules.scan_date_triggers(silent_for(29))
    assert messages(rep) == []

    schedules.scan_date_triggers(silent_for(30))
    assert messages(rep) == [reminder]

    schedules.scan_date_triggers(silent_for(44))
    assert messages(rep) == [reminder]  # once per silence, not at every scan
    assert fresh(customer).owner_id == rep.pk

    schedules.scan_date_triggers(silent_for(45))
    assert messages(rep) == [reminder, "ACME is back in the pool"]
    assert fresh(customer).owner_id is None


def test_a_new_contact_restarts_the_silence(silence_app, rep, rep_actor):
    customer = contacted(rep_actor, "ACME")
    schedules.scan_date_triggers(silent_for(30))

    update(rep_actor, customer, last_contact_at=silent_for(31).isoformat())
    schedules.scan_date_triggers(silent_for(45))

    assert fresh(customer).owner_id == rep.pk
    assert len(messages(rep)) == 1
    schedules.scan_date_triggers(silent_for(31 + 30))
    assert len(messages(rep)) == 2  # silent 30 days since the new contact


def test_a_new_silence_limit_applies_at_the_next_scan(silence_app, admin_actor, rep, rep_actor):
    contacted(rep_actor, "ACME")
    schedules.scan_date_triggers(silent_for(25))
    assert messages(rep) == []

    automate(
        admin_actor,
        "silent_30",
        {**SILENT_30, "trigger": {**SILENT_30["trigger"], "offset": {"days": 20}}},
    )
    schedules.scan_date_triggers(silent_for(25, minutes=5))

    assert messages(rep) == [
        "ACME has gone quiet: follow up before it returns to the pool at 45 days"
    ]


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


@pytest.fixture(params=sorted(NOTES))
def notes(request) -> Notes:
    return NOTES[request.param]


@pytest.fixture
def notes_app(admin_actor):
    design(admin_actor, "customer", CUSTOMER)
    design(admin_actor, "follow_up", FOLLOW_UP)
    return automate(admin_actor, "duplicate_notes", DUPLICATE_NOTES)


def follow_ups(actor: Actor, customer: Record, *notes: str) -> list[Record]:
    return [create(actor, "follow_up", customer=customer.pk, notes=text) for text in notes]


def flagged(records: list[Record]) -> list[bool]:
    return ["near_duplicate" in fresh(r).flags for r in records]


def test_only_the_near_duplicate_note_of_the_same_customer_is_flagged(notes_app, rep_actor, notes):
    acme = create(rep_actor, "customer", name="ACME")
    bolt = create(rep_actor, "customer", name="Bolt")

    mine = follow_ups(rep_actor, acme, notes.first, notes.other, notes.near)
    # the same words about another customer are not a repetition
    theirs = follow_ups(rep_actor, bolt, notes.first)

    assert flagged(mine) == [False, False, True]
    assert flagged(theirs) == [False]


def test_a_new_similarity_threshold_applies_to_the_next_note(
    notes_app, admin_actor, rep_actor, notes
):
    acme = create(rep_actor, "customer", name="ACME")
    bolt = create(rep_actor, "customer", name="Bolt")
    before = follow_ups(rep_actor, acme, notes.first, notes.reworded)
    assert flagged(before) == [False, True]  # the rewording scores ≥ 0.6

    [action] = DUPLICATE_NOTES["actions"]
    automate(
        admin_actor,
        "duplicate_notes",
        {**DUPLICATE_NOTES, "actions": [{**action, "threshold": 0.8}]},
    )
    after = follow_ups(rep_actor, bolt, notes.first, notes.reworded, notes.near)

    assert flagged(after) == [False, False, True]  # rewording < 0.8 ≤ near duplicate


def test_the_scenario_notes_score_as_documented(notes):
    found = [similarity(notes.first, text) for text in (notes.near, notes.reworded, notes.other)]

    assert [round(score, 2) for score in found] == list(notes.scores)


# --- the recipes page --------------------------------------------------------------------

RECIPES_PAGE = Path(__file__).resolve().parents[2] / "docs" / "automation-recipes.md"
SHOWN = {
    "CUSTOMER": CUSTOMER,
    "ORDER": ORDER,
    "ORDER_COUNT": ORDER_COUNT,
    "INCENTIVE": INCENTIVE,
    "KA_FIRST_ORDER": KA_FIRST_ORDER,
    "REBATE_FIELDS": REBATE_FIELDS,
    "REBATE_ORDER": REBATE_ORDER,
    "PURCHASES_12M": PURCHASES_12M,
    "MONTHLY_REBATE": MONTHLY_REBATE,
    "PROJECT": PROJECT,
    "HEALTH_ALERT": HEALTH_ALERT,
    "VISIT": VISIT,
    "VISITS_THIS_MONTH": VISITS_THIS_MONTH,
    "CHURN_WARNING": CHURN_WARNING,
    "LEAD": LEAD,
    "STALE_LEADS": STALE_LEADS,
    "LAST_CONTACT": LAST_CONTACT,
    "SILENT_30": SILENT_30,
    "SILENT_45": SILENT_45,
    "FOLLOW_UP": FOLLOW_UP,
    "DUPLICATE_NOTES": DUPLICATE_NOTES,
}


def test_the_recipes_page_shows_the_documents_tested_here():
    text = RECIPES_PAGE.read_text(encoding="utf-8")
    blocks = re.findall(r"<!-- recipe: (\w+) -->\n```json\n(.*?)\n```", text, re.S)

    shown = {name: json.loads(body) for name, body in blocks}

    assert shown == {name: as_saved(value) for name, value in SHOWN.items()}
