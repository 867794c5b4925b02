"""Builder GraphQL for automations (saveAutomation, publish/unpublish, queries), the
save-time checks (every problem typed, with its path) and the beat schedule that
publishing installs."""

from __future__ import annotations

import json

import pytest
from django_celery_beat.models import PeriodicTask

from dajian.builder.models import Metadata
from tests.factories import make_user

FIELDS = [
    {"key": "name", "type": "text", "label": "Name"},
    {"key": "amount", "type": "number", "label": "Amount"},
    {"key": "last_contact_at", "type": "datetime", "label": "Last contact"},
    {"key": "note", "type": "long_text", "label": "Note"},
]
SAVE = """
mutation S($input: SaveAutomationInput!) {
  saveAutomation(input: $input) {
    automation { key app form label enabled trigger draft published { number } }
    errors { field path code message }
  }
}"""
PUBLISH = """
mutation P($input: AutomationKeyInput!) {
  publishAutomation(input: $input) { version automation { enabled } errors { path code } }
}"""
UNPUBLISH = """
mutation U($input: AutomationKeyInput!) {
  unpublishAutomation(input: $input) { automation { enabled published { number } } errors { code } }
}"""
LIST = """
query L { automations(app: "sales") { key label enabled versions { number } }
          automation(app: "sales", key: "daily") { key trigger } }"""


def daily(**overrides):
    document = {
        "schema_version": 1,
        "form": "customer",
        "label": {"zh-CN": "每日提醒", "en": "Daily reminder"},
        "trigger": {"type": "schedule", "cron": "0 8 * * *"},
        "filter": {"field": "amount", "op": "gte", "value": 100},
        "condition": "amount > 0.0",
        "actions": [
            {
                "type": "notify",
                "to": [{"type": "owner"}],
                "message": {"zh-CN": "请跟进 {{ name }}", "en": "Follow up {{ name }}"},
            }
        ],
    }
    document.update(overrides)
    return document


@pytest.fixture
def form(form_factory):
    return form_factory(FIELDS)


def save(gql, user, definition, key="daily", publish=False):
    variables = {"input": {"app": "sales", "key": key, "definition": definition}}
    if publish:
        variables["input"]["publish"] = True
    return gql(SAVE, variables, as_user=user)["data"]["saveAutomation"]


def codes(result):
    return {(e["path"], e["code"]) for e in result["errors"]}


def test_save_publish_and_list(gql, admin, form):
    result = save(gql, admin, daily())
    assert result["errors"] == []
    assert result["automation"]["label"] in {"每日提醒", "Daily reminder"}
    assert result["automation"]["enabled"] is False  # a draft does not run
    published = gql(PUBLISH, {"input": {"app": "sales", "key": "daily"}}, as_user=admin)
    assert published["data"]["publishAutomation"] == {
        "version": 1,
        "automation": {"enabled": True},
        "errors": [],
    }
    listed = gql(LIST, as_user=admin)["data"]
    assert listed["automations"][0]["key"] == "daily"
    assert listed["automations"][0]["versions"] == [{"number": 1}]
    assert listed["automation"]["trigger"] == {"type": "schedule", "cron": "0 8 * * *"}


def test_publishing_a_schedule_installs_it_in_beat_and_unpublishing_removes_it(
    gql, admin, form, workspace
):
    save(gql, admin, daily(trigger={"type": "schedule", "cron": "0 10 * * 1"}), publish=True)
    meta = Metadata.objects.get(key="daily")
    task = PeriodicTask.objects.get(name=f"automation:{meta.pk}")
    assert task.task == "dajian.automations.run_scheduled"
    assert json.loads(task.kwargs) == {"automation_id": meta.pk}
    cron = task.crontab
    assert (cron.minute, cron.hour, cron.day_of_month, cron.month_of_year, cron.day_of_week) == (
        "0",
        "10",
        "*",
        "*",
        "1",
    )
    assert str(cron.timezone) == workspace.time_zone == "Asia/Shanghai"
    # a new version with another cron moves the entry; there is still one
    save(gql, admin, daily(trigger={"type": "schedule", "cron": "0 8 5 * *"}), publish=True)
    task = PeriodicTask.objects.get(name=f"automation:{meta.pk}")
    assert (task.crontab.hour, task.crontab.day_of_month) == ("8", "5")
    unpublished = gql(UNPUBLISH, {"input": {"app": "sales", "key": "daily"}}, as_user=admin)
    assert unpublished["data"]["unpublishAutomation"]["automation"] == {
        "enabled": False,
        "published": None,
    }
    assert not PeriodicTask.objects.filter(name=f"automation:{meta.pk}").exists()
    # publishing again brings it back
    gql(PUBLISH, {"input": {"app": "sales", "key": "daily"}}, as_user=admin)
    assert PeriodicTask.objects.filter(name=f"automation:{meta.pk}").exists()


def test_disabled_or_event_automations_have_no_beat_entry(gql, admin, form):
    save(gql, admin, daily(enabled=False), publish=True)
    save(gql, admin, daily(trigger={"type": "record_created"}), key="on_create", publish=True)
    assert not PeriodicTask.objects.filter(name__startswith="automation:").exists()


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            {"actions": [{"type": "teleport"}]},
            ("actions.0.type", "UNKNOWN_ACTION_TYPE"),
        ),
        (
            {"trigger": {"type": "schedule", "cron": "every morning"}},
            ("trigger.cron", "INVALID_CRON"),
        ),
        ({"trigger": {"type": "schedule", "cron": "0 25 * * *"}}, ("trigger.cron", "INVALID_CRON")),
        (
            {"trigger": {"type": "schedule", "cron": "0 8 * * * *"}},
            ("trigger.cron", "INVALID_CRON"),
        ),
        (
            {
                "actions": [
                    {"type": "notify", "to": [{"type": "owner"}], "message": "Hi {{ nickname }}"}
                ]
            },
            ("actions.0.message", "UNKNOWN_REFERENCE"),
        ),
        (
            {"actions": [{"type": "notify", "to": [{"type": "owner"}], "message": "Hi {% if %}"}]},
            ("actions.0.message", "INVALID_TEMPLATE"),
        ),
        ({"condition": "amount >"}, ("condition", "EXPRESSION_SYNTAX")),
        ({"condition": "budget > 1.0"}, ("condition", "UNKNOWN_REFERENCE")),
        (
            {"filter": {"field": "nope", "op": "eq", "value": 1}},
            ("filter.field", "UNKNOWN_FIELD"),
        ),
        (
            {"trigger": {"type": "date", "field": "name", "offset": {"days": 30}}},
            ("trigger.field", "NOT_DATE_FIELD"),
        ),
        (
            {"trigger": {"type": "record_updated", "fields": ["nope"]}},
            ("trigger.fields.0", "UNKNOWN_FIELD"),
        ),
        ({"trigger": {"type": "stage_entered"}}, ("trigger.type", "NO_WORKFLOW")),
        ({"form": "nothing"}, ("form", "UNKNOWN_FORM")),
        (
            {"actions": [{"type": "webhook", "url": "ftp://hooks.example.com/in"}]},
            ("actions.0.url", "INVALID_URL"),
        ),
        (
            {"actions": [{"type": "webhook", "url": "http://10.1.2.3/hook"}]},
            ("actions.0.url", "PRIVATE_ADDRESS"),
        ),
        (
            {"actions": [{"type": "webhook", "url": "http://127.0.0.1:9000/hook"}]},
            ("actions.0.url", "PRIVATE_ADDRESS"),
        ),
    ],
)
def test_bad_documents_are_refused_with_a_typed_error(gql, admin, form, change, expected):
    result = save(gql, admin, daily(**change))
    assert result["automation"] is None
    assert expected in codes(result), result["errors"]
    assert not Metadata.objects.filter(kind="automation").exists()


def test_shape_errors_come_first(gql, admin, form):
    result = save(gql, admin, {"form": "customer", "trigger": {"type": "sometimes"}})
    found = codes(result)
    assert ("actions", "REQUIRED") in found or any(c == "REQUIRED" for _, c in found)
    assert not Metadata.objects.filter(kind="automation").exists()


def test_the_action_count_is_limited(gql, admin, form, settings):
    settings.DAJIAN = {**settings.DAJIAN, "MAX_AUTOMATION_ACTIONS": 2}
    action = daily()["actions"][0]
    assert save(gql, admin, daily(actions=[action] * 2))["errors"] == []
    result = save(gql, admin, daily(actions=[action] * 3))
    assert result["errors"] and result["errors"][0]["path"] == "actions"


def test_an_unknown_action_option_is_refused_at_its_path(gql, admin, form):
    action = {**daily()["actions"][0], "colour": "red"}
    result = save(gql, admin, daily(actions=[action]))
    assert result["errors"] and result["errors"][0]["path"].startswith("actions.0")


def test_only_designers_save(gql, workspace, form):
    rep = make_user(workspace=workspace, username="rep")
    data = gql(SAVE, {"input": {"app": "sales", "key": "x", "definition": daily()}}, as_user=rep)
    assert data["data"]["saveAutomation"]["errors"][0]["code"] == "PERMISSION_DENIED"


def test_an_allow_listed_private_webhook_is_accepted(gql, admin, form, workspace):
    from dajian.runtime.deliveries.signing import webhook_settings

    hook = {"actions": [{"type": "webhook", "url": "http://127.0.0.1:9000/hook"}]}
    assert save(gql, admin, daily(**hook))["errors"][0]["code"] == "PRIVATE_ADDRESS"
    settings_row = webhook_settings(workspace)
    settings_row.allowlist = ["127.0.0.1"]
    settings_row.save()
    assert save(gql, admin, daily(**hook))["errors"] == []
