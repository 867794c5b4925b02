"""Action ``im_robot``: post a text message to a WeCom, DingTalk or Feishu group robot.

Spec: ``provider`` (``wecom`` | ``dingtalk`` | ``feishu``), the robot's webhook ``url``,
``message`` (a template), ``secret`` for signed DingTalk / Feishu robots,
``mention_all`` (@ everyone) and ``locale`` (which text of a ``{locale: text}``
message to send, default ``zh-CN``). One delivery per record; bodies and signatures
are in :mod:`dajian.runtime.deliveries.robots`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dajian.platform.errors import ErrorDetail
from dajian.runtime.automations.actions import action
from dajian.runtime.automations.actions.base import ActionType, CheckContext
from dajian.runtime.automations.actions.webhook import URL_SCHEMA
from dajian.runtime.automations.context import Outcome, RunContext, Target
from dajian.runtime.automations.templates import check_template, pick, render
from dajian.runtime.deliveries import enqueue_delivery, robots
from dajian.runtime.deliveries.ssrf import url_errors
from dajian.runtime.models import DeliveryChannel

TEMPLATE_SCHEMA = {
    "anyOf": [
        {"type": "string", "minLength": 1},
        {"type": "object", "minProperties": 1, "additionalProperties": {"type": "string"}},
    ]
}
LOCALE_SCHEMA = {"enum": ["zh-CN", "en"]}
# WeCom refuses text over 2048 bytes; the others allow more than a template renders.
WECOM_MAX_BYTES = 2048


def _fit(provider: str, text: str) -> str:
    if provider != "wecom":
        return text
    return text.encode()[:WECOM_MAX_BYTES].decode("utf-8", "ignore")


@action
class ImRobotAction(ActionType):
    type = "im_robot"
    label = {"zh-CN": "发送群机器人消息", "en": "Post to an IM group robot"}
    schema = {
        "type": "object",
        "properties": {
            "type": {"const": "im_robot"},
            "provider": {"enum": list(robots.PROVIDERS)},
            "url": URL_SCHEMA,
            "message": TEMPLATE_SCHEMA,
            "secret": {"type": "string", "minLength": 1, "maxLength": 200},
            "mention_all": {"type": "boolean"},
            "locale": LOCALE_SCHEMA,
        },
        "required": ["type", "provider", "url", "message"],
        "additionalProperties": False,
        # WeCom robots are not signed: a secret there is a mistake, not a setting.
        "if": {"properties": {"provider": {"const": "wecom"}}},
        "then": {"not": {"required": ["secret"]}},
    }

    def check(self, spec: Mapping[str, Any], path: str, ctx: CheckContext) -> list[ErrorDetail]:
        return url_errors(spec["url"], f"{path}.url", ctx.webhook_allowlist) + check_template(
            spec["message"], f"{path}.message", ctx.names
        )

    def run_one(self, ctx: RunContext, target: Target) -> Outcome:
        spec = ctx.spec
        provider = spec["provider"]
        text = pick(render(spec["message"], target.template_vars), spec.get("locale", "zh-CN"))
        payload = {
            "provider": provider,
            "body": robots.text_body(provider, _fit(provider, text), bool(spec.get("mention_all"))),
            "secret": spec.get("secret", ""),
        }
        delivery = enqueue_delivery(
            ctx.automation.workspace_id, DeliveryChannel.IM_ROBOT, spec["url"], payload
        )
        return Outcome.done(delivery=delivery.message_id)
