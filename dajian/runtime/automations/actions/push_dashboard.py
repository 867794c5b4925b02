"""Action ``push_dashboard``: a scheduled report of a dashboard's figures (R29), e.g.
"every Monday 10:00, the team report to the supervisors".

Spec: ``dashboard`` (a dashboard key of the automation's app), ``widgets`` (a subset of
its widget keys; default all), ``to`` (recipient specs, as ``notify`` takes them),
``title`` (a heading template; default the dashboard's name and the date), ``locale``
(the report's language, default ``zh-CN``) and ``robot`` (also post each report to an
IM group robot: ``provider``, ``url``, ``secret``, ``mention_all``, as ``im_robot``).

Like a ``notify`` digest it acts once per run (:meth:`finish`): every person the specs
name — for any record the run matched (``{"type": "manager"}`` of their owners), and the
specs that need no record (roles, users) even when none matched — gets one in-app
notification with the figures **as they see them**: the dashboard is computed with
their own row scope, so a supervisor reads their team's numbers, never another team's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.contrib.auth import get_user_model
from django.utils import timezone, translation

from dajian.builder.models import Form, Metadata, MetadataKind
from dajian.platform.actors import actor_for
from dajian.platform.calendars import time_zone_of
from dajian.platform.errors import ErrorDetail
from dajian.platform.i18n import format_message
from dajian.platform.recipients import RecipientContext, resolve_recipients
from dajian.runtime.automations.actions import action
from dajian.runtime.automations.actions.base import ActionType, CheckContext
from dajian.runtime.automations.actions.im_robot import LOCALE_SCHEMA, WECOM_MAX_BYTES
from dajian.runtime.automations.actions.notify import (
    RECIPIENTS_SCHEMA,
    TEMPLATE_SCHEMA,
    check_recipient_list,
    recipients_by_target,
)
from dajian.runtime.automations.actions.webhook import URL_SCHEMA
from dajian.runtime.automations.context import Outcome, RunContext, Target
from dajian.runtime.automations.templates import check_template, pick, render
from dajian.runtime.dashboards.compute import compute_dashboard
from dajian.runtime.dashboards.labels import display_name
from dajian.runtime.dashboards.report import render_text
from dajian.runtime.deliveries import enqueue_delivery, robots
from dajian.runtime.deliveries.ssrf import url_errors
from dajian.runtime.models import (
    ActionExecution,
    DeliveryChannel,
    ExecutionStatus,
    Notification,
)

KIND = "automation.dashboard"
KEY_SCHEMA = {"type": "string", "pattern": "^[a-z][a-z0-9_]{0,62}$"}
LANGUAGES = {"zh-CN": "zh-hans", "en": "en"}
# What a heading template may use: the dashboard's name and the local date of the run.
TITLE_NAMES = frozenset({"dashboard", "date", "now"})
MESSAGES = {
    "UNKNOWN_DASHBOARD": {
        "en": "The app has no dashboard {key!r}.",
        "zh-CN": "应用中没有看板 {key}。",
    },
    "UNKNOWN_WIDGET": {
        "en": "The dashboard {dashboard!r} has no widget {key!r}.",
        "zh-CN": "看板 {dashboard} 中没有组件 {key}。",
    },
}


@action
class PushDashboardAction(ActionType):
    type = "push_dashboard"
    label = {"zh-CN": "推送看板报告", "en": "Push a dashboard report"}
    schema = {
        "type": "object",
        "required": ["type", "dashboard", "to"],
        "additionalProperties": False,
        "properties": {
            "type": {"const": "push_dashboard"},
            "dashboard": KEY_SCHEMA,
            "widgets": {
                "type": "array",
                "minItems": 1,
                "maxItems": 24,
                "uniqueItems": True,
                "items": KEY_SCHEMA,
            },
            "to": RECIPIENTS_SCHEMA,
            "title": TEMPLATE_SCHEMA,
            "locale": LOCALE_SCHEMA,
            "robot": {
                "type": "object",
                "required": ["provider", "url"],
                "additionalProperties": False,
                "properties": {
                    "provider": {"enum": list(robots.PROVIDERS)},
                    "url": URL_SCHEMA,
                    "secret": {"type": "string", "minLength": 1, "maxLength": 200},
                    "mention_all": {"type": "boolean"},
                },
                "if": {"properties": {"provider": {"const": "wecom"}}},
                "then": {"not": {"required": ["secret"]}},
            },
        },
    }

    def check(self, spec: Mapping[str, Any], path: str, ctx: CheckContext) -> list[ErrorDetail]:
        """Recipients, the heading and the robot's URL; the dashboard and its widgets are
        checked against the app by :func:`check_dashboard_refs`."""
        errors = check_recipient_list(spec["to"], f"{path}.to", ctx)
        if "title" in spec:
            errors.extend(check_template(spec["title"], f"{path}.title", TITLE_NAMES))
        if "robot" in spec:
            errors.extend(
                url_errors(spec["robot"]["url"], f"{path}.robot.url", ctx.webhook_allowlist)
            )
        return errors

    def run(self, ctx: RunContext, targets: Sequence[Target]) -> list[Outcome]:
        # who each record names; the reports themselves are written when the run finishes
        recipients = recipients_by_target(ctx, targets, ctx.spec["to"])
        return [Outcome.done(digest=True, notified=ids) for ids in recipients]

    def finishes(self, spec: Mapping[str, Any]) -> bool:
        return True

    def finish(self, ctx: RunContext) -> Outcome:
        """One report per person: the dashboard computed with their row scope."""
        spec = ctx.spec
        meta = (
            Metadata.objects.select_related("app", "published")
            .filter(
                app_id=ctx.automation.app_id,
                kind=MetadataKind.DASHBOARD,
                key=spec["dashboard"],
                published__isnull=False,
            )
            .first()
        )
        if meta is None:
            return Outcome.failed(f"dashboard {spec['dashboard']!r} is not published", retry=False)
        people = self._people(ctx)
        workspace = ctx.actor.workspace
        locale = spec.get("locale", "zh-CN")
        widgets = set(spec.get("widgets") or ()) or None
        notifications, deliveries = [], []
        users = get_user_model().objects.filter(pk__in=people).order_by("pk")
        for user in users:
            viewer = actor_for(user, workspace)
            if viewer is None:
                continue
            with translation.override(LANGUAGES[locale]):
                figures = compute_dashboard(viewer, meta, now=ctx.now, widget_keys=widgets)
                text = render_text(figures, self._heading(ctx, figures, locale))
            notifications.append(
                Notification(
                    workspace_id=workspace.pk,
                    recipient_id=user.pk,
                    kind=KIND,
                    record_id=None,
                    message={locale: text},
                    payload={
                        "automation": ctx.automation.source,
                        "action": ctx.index,
                        "app": meta.app.key,
                        "dashboard": meta.key,
                        "widgets": [w["key"] for w in figures["widgets"]],
                    },
                    created_at=ctx.now,
                )
            )
            if "robot" in spec:
                deliveries.append(self._post(ctx, f"{display_name(user)}\n{text}"))
        Notification.objects.bulk_create(notifications)
        return Outcome.done(
            reports=len(notifications),
            recipients=[n.recipient_id for n in notifications],
            deliveries=deliveries,
        )

    def _people(self, ctx: RunContext) -> set[int]:
        """Everyone named for a matched record of the run, and everyone the specs name
        without a record (roles, users)."""
        people: set[int] = set()
        rows = ActionExecution.objects.filter(
            run=ctx.run, action_index=ctx.index, status=ExecutionStatus.DONE, record_key__gt=0
        ).values_list("result", flat=True)
        for result in rows.iterator(chunk_size=5000):
            people.update(result.get("notified", ()))
        nobody = RecipientContext(workspace=ctx.actor.workspace, owner_id=None, data={})
        people.update(resolve_recipients(ctx.spec["to"], nobody))
        return people

    def _heading(self, ctx: RunContext, figures: Mapping[str, Any], locale: str) -> str:
        day = timezone.localtime(ctx.now, time_zone_of(ctx.actor.workspace)).date()
        if "title" in ctx.spec:
            variables = {"dashboard": figures["name"], "date": day.isoformat(), "now": ctx.now}
            return pick(render(ctx.spec["title"], variables), locale)
        return f"{figures['name']} · {day.isoformat()}"

    def _post(self, ctx: RunContext, text: str) -> str:
        robot = ctx.spec["robot"]
        provider = robot["provider"]
        payload = {
            "provider": provider,
            "body": robots.text_body(
                provider, _fit(provider, text), bool(robot.get("mention_all"))
            ),
            "secret": robot.get("secret", ""),
        }
        delivery = enqueue_delivery(
            ctx.automation.workspace_id, DeliveryChannel.IM_ROBOT, robot["url"], payload
        )
        return delivery.message_id


def _fit(provider: str, text: str) -> str:
    """WeCom refuses text over 2048 bytes: a long report is cut there."""
    if provider != "wecom":
        return text
    return text.encode()[:WECOM_MAX_BYTES].decode("utf-8", "ignore")


def check_dashboard_refs(form: Form, document: Mapping[str, Any]) -> list[ErrorDetail]:
    """The dashboards (and widgets) the document's ``push_dashboard`` actions name exist
    in the form's app (drafts count: a dashboard may be published after the
    automation). One query, none without such actions."""
    pushes = [
        (i, spec)
        for i, spec in enumerate(document.get("actions") or [])
        if isinstance(spec, Mapping)
        and spec.get("type") == PushDashboardAction.type
        and isinstance(spec.get("dashboard"), str)
    ]
    if not pushes:
        return []
    documents = {
        meta.key: meta.published.definition if meta.published is not None else meta.draft
        for meta in Metadata.objects.select_related("published").filter(
            app_id=form.app_id, kind=MetadataKind.DASHBOARD
        )
    }
    errors = []
    for i, spec in pushes:
        key = spec["dashboard"]
        if key not in documents:
            message = format_message(MESSAGES, "UNKNOWN_DASHBOARD", key=key)
            errors.append(ErrorDetail.at(f"actions.{i}.dashboard", "UNKNOWN_DASHBOARD", message))
            continue
        known = {w.get("key") for w in documents[key].get("widgets", [])}
        for j, widget in enumerate(spec.get("widgets") or []):
            if widget not in known:
                message = format_message(MESSAGES, "UNKNOWN_WIDGET", dashboard=key, key=widget)
                errors.append(ErrorDetail.at(f"actions.{i}.widgets.{j}", "UNKNOWN_WIDGET", message))
    return errors
