"""Scheduled report pushes (R29): a ``push_dashboard`` action in a scheduled automation
("every Monday 10:00, the team report to the supervisors") sends each recipient the
dashboard's figures as they would see them, once per run, in-app and to an IM robot."""

from __future__ import annotations

import datetime as dt

import pytest

from dajian.builder.services.metadata import save_automation
from dajian.platform.errors import DajianError
from dajian.runtime.automations import schedules
from dajian.runtime.models import ActionExecution, Delivery, DeliveryChannel, Notification
from tests.runtime.dashboard_helpers import SHANGHAI, add, publish, visits_kpi, widget
from tests.runtime.delivery_helpers import allow

pytest_plugins = ["tests.runtime.dashboard_plugin"]

MONDAY_10 = dt.datetime(2026, 3, 23, 10, 0, 5, tzinfo=SHANGHAI)
WIDGETS = [
    visits_kpi(green=4, yellow=2),
    widget(
        "by_rep",
        "radar",
        title={"zh-CN": "人员对比", "en": "Reps"},
        group_by=["owner"],
        compare="team_average",
    ),
    widget("by_region", "bar", title="Regions", group_by=["region"]),
]


def team_report(**overrides):
    action = {
        "type": "push_dashboard",
        "dashboard": "team",
        "widgets": ["visits", "by_rep"],
        "to": [{"type": "role", "role": "manager"}],
    }
    action.update(overrides)
    return {
        "schema_version": 1,
        "form": "visit",
        "label": {"zh-CN": "周一团队报告", "en": "Monday team report"},
        "trigger": {"type": "schedule", "cron": "0 10 * * 1"},
        "filter": {"field": "created_at", "op": "gte", "value": {"ago": {"days": 7}}},
        "actions": [action],
    }


@pytest.fixture
def visits(board_org, board_visit, admin_actor):
    week = MONDAY_10 - dt.timedelta(days=2)
    for owner in ("rep1", "rep1", "rep2", "rep3", "rep3", "rep3", "rep3"):
        add(board_org, board_visit, owner, created_at=week, region="north")
    publish(admin_actor, *WIDGETS, key="team")


def messages():
    return {
        n.recipient.username: n
        for n in Notification.objects.filter(kind="automation.dashboard").select_related(
            "recipient"
        )
    }


def test_monday_team_report_to_supervisors(board_org, visits, admin_actor):
    meta = save_automation(admin_actor, "sales", "monday_report", team_report(), publish=True)
    run = schedules.run_scheduled(meta.pk, now=MONDAY_10)
    assert run.status == "succeeded"
    sent = messages()
    assert set(sent) == {"manager", "other_mgr"}
    manager = sent["manager"].message["zh-CN"]
    # the manager's team: rep1 and rep2 (3 visits); the other supervisor's: rep3 (4)
    assert manager.splitlines() == [
        "Board · 2026-03-23",
        "🟡 拜访数: 3",
        "人员对比:",
        "  rep1: 数量 2",
        "  rep2: 数量 1",
        "  团队平均: 数量 1.50",
    ]
    other = sent["other_mgr"].message["zh-CN"].splitlines()
    assert other[1:4] == ["🟢 拜访数: 4", "人员对比:", "  rep3: 数量 4"]
    assert sent["manager"].payload == {
        "automation": "automation:sales.monday_report",
        "action": 0,
        "app": "sales",
        "dashboard": "team",
        "widgets": ["visits", "by_rep"],
    }
    # the tick delivered again sends nothing more
    schedules.run_scheduled(meta.pk, now=MONDAY_10 + dt.timedelta(minutes=2))
    assert Notification.objects.filter(kind="automation.dashboard").count() == 2


def test_recipients_named_by_the_matched_records(board_org, visits, admin_actor):
    """``manager`` of each matched record's owner: only rep3's visits match, so only
    rep3's supervisor gets the report — with all the figures they may see."""
    document = team_report(to=[{"type": "manager"}], widgets=["visits"], locale="en")
    document["filter"] = {"field": "owner", "op": "eq", "value": board_org.user("rep3").pk}
    meta = save_automation(admin_actor, "sales", "west_report", document, publish=True)
    schedules.run_scheduled(meta.pk, now=MONDAY_10)
    sent = messages()
    assert set(sent) == {"other_mgr"}
    assert sent["other_mgr"].message == {"en": "Board · 2026-03-23\n🟢 Visits: 4"}
    done = ActionExecution.objects.filter(record_key=0, status="done").get()
    assert done.result["reports"] == 1


def test_a_heading_template_and_an_im_robot(board_org, visits, admin_actor, workspace):
    allow(workspace)
    document = team_report(
        widgets=["visits"],
        title={"zh-CN": "{{ dashboard }} 周报 {{ date }}"},
        robot={"provider": "wecom", "url": "http://127.0.0.1:9/cgi-bin/webhook/send?key=k"},
    )
    meta = save_automation(admin_actor, "sales", "robot_report", document, publish=True)
    schedules.run_scheduled(meta.pk, now=MONDAY_10)
    assert messages()["manager"].message["zh-CN"].startswith("Board 周报 2026-03-23\n")
    posted = Delivery.objects.filter(channel=DeliveryChannel.IM_ROBOT).order_by("id")
    texts = [d.payload["body"]["text"]["content"] for d in posted]
    assert texts == [
        "manager\nBoard 周报 2026-03-23\n🟡 拜访数: 3",
        "other_mgr\nBoard 周报 2026-03-23\n🟢 拜访数: 4",
    ]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"dashboard": "nope"}, ("actions.0.dashboard", "UNKNOWN_DASHBOARD")),
        ({"widgets": ["visits", "ghost"]}, ("actions.0.widgets.1", "UNKNOWN_WIDGET")),
        ({"to": [{"type": "role", "role": "astronaut"}]}, ("actions.0.to.0.role", "UNKNOWN_ROLE")),
        ({"locale": "fr"}, ("actions.0.locale", "INVALID_CHOICE")),
        ({"widgets": []}, ("actions.0.widgets", "TOO_FEW_ITEMS")),
        (
            {"robot": {"provider": "wecom", "url": "http://10.0.0.1/x", "secret": "s"}},
            ("actions.0.robot", "INVALID_VALUE"),
        ),
        (
            {"robot": {"provider": "dingtalk", "url": "http://10.0.0.1/x"}},
            ("actions.0.robot.url", "PRIVATE_ADDRESS"),
        ),
    ],
)
def test_save_time_checks(board_org, visits, admin_actor, change, expected):
    with pytest.raises(DajianError) as caught:
        save_automation(admin_actor, "sales", "report", team_report(**change))
    assert expected in [(e.path, e.code) for e in caught.value.errors]
