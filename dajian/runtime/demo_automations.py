"""The demo app's automations (issue 4): a daily stale-opportunity list, a to-do for the
manager on every big deal, and a reminder about customers silent for 30 days. Saved and
published through the builder service like a designer would, once."""

from __future__ import annotations

from typing import Any

from dajian.builder.models import Metadata, MetadataKind
from dajian.builder.services.metadata import save_automation
from dajian.platform.actors import Actor
from dajian.platform.models import Workspace

APP = "crm"

AUTOMATIONS: dict[str, dict[str, Any]] = {
    "stale_daily": {
        "schema_version": 1,
        "form": "opportunity",
        "label": {
            "zh-CN": "48 小时未更新的商机（每日 08:00）",
            "en": "Opportunities not updated for 48 hours (daily 08:00)",
        },
        "trigger": {"type": "schedule", "cron": "0 8 * * *"},
        "filter": {"field": "updated_at", "op": "lt", "value": {"ago": {"hours": 48}}},
        "actions": [
            {
                "type": "notify",
                "to": [{"type": "owner"}],
                "digest": True,
                "message": {
                    "zh-CN": "{{ count }} 个商机超过 48 小时未更新，请在晨会前跟进。",
                    "en": "{{ count }} opportunities have not been updated for 48 hours.",
                },
            }
        ],
    },
    "big_deal_todo": {
        "schema_version": 1,
        "form": "opportunity",
        "label": {"zh-CN": "大单提醒上级", "en": "Big deal: a to-do for the manager"},
        "trigger": {"type": "record_created"},
        "condition": "amount >= 500000.0",
        "actions": [
            {
                "type": "create_todo",
                "assignee": [{"type": "manager"}],
                "title": {"zh-CN": "大单跟进：{{ title }}", "en": "Big deal: {{ title }}"},
                "message": {
                    "zh-CN": "金额 {{ amount }}，请在两个工作小时内与负责人确认打法。",
                    "en": "Amount {{ amount }}: agree the plan with the owner in 2 working hours.",
                },
                "suggested_actions": [
                    {"key": "open_record", "label": {"zh-CN": "查看商机", "en": "Open"}},
                    {"key": "call_owner", "label": {"zh-CN": "联系负责人", "en": "Call the owner"}},
                ],
                "due": {"hours": 2, "business": True},
            }
        ],
    },
    "silent_customer": {
        "schema_version": 1,
        "form": "customer",
        "label": {"zh-CN": "客户 30 天无更新提醒", "en": "Customer silent for 30 days"},
        "trigger": {"type": "date", "field": "updated_at", "offset": {"days": 30}},
        "actions": [
            {
                "type": "notify",
                "to": [{"type": "owner"}],
                "message": {
                    "zh-CN": "客户 {{ name }} 已 30 天没有更新，请安排拜访。",
                    "en": "{{ name }} has not been updated for 30 days: plan a visit.",
                },
            }
        ],
    },
}


def install_demo_automations(workspace: Workspace, admin: Actor) -> None:
    """Publish the demo automations that are not there yet."""
    existing = set(
        Metadata.objects.filter(
            workspace=workspace, app__key=APP, kind=MetadataKind.AUTOMATION
        ).values_list("key", flat=True)
    )
    for key, document in AUTOMATIONS.items():
        if key not in existing:
            save_automation(admin, APP, key, document, publish=True)
