"""R19 as metadata: the KA first-order incentive (a rollup and a ``create_record``
automation) and the monthly rebate for whitelisted customers (a windowed, filtered rollup
and a scheduled ``set_fields``). Each scenario shows the rule firing, not firing on either
side of its threshold, and a new version of the automation taking effect with the next
event; the documents are in :mod:`tests.runtime.rules_scenarios`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from dajian.platform.actors import Actor
from dajian.runtime.automations import schedules
from dajian.runtime.models import Record
from tests.runtime.rules_scenarios import (
    CUSTOMER,
    INCENTIVE,
    KA_FIRST_ORDER,
    MONTHLY_REBATE,
    ORDER,
    ORDER_COUNT,
    PURCHASES_12M,
    REBATE_FIELDS,
    REBATE_ORDER,
    automate,
    create,
    design,
    next_month,
)

pytest_plugins = ["tests.runtime.rules_plugin"]


# --- R19 incentive: KA customer, first order ≥ 50,000 with technical service → 500 -------


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
