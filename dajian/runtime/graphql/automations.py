"""GraphQL of what automations did (admins): ``automationRuns`` (the run log, newest
first), ``automationRun(id)`` with its action executions, ``actionTypes`` (the action
registry, for the builder) and ``runAutomation`` (run a scheduled or date automation
now, in the worker)."""

from __future__ import annotations

from typing import Any

import graphene
from django.utils import timezone
from graphene.types.generic import GenericScalar
from graphql_relay import to_global_id

from dajian.builder.models import MetadataKind
from dajian.builder.services import metadata as metadata_service
from dajian.platform.actors import Actor
from dajian.platform.calendars import time_zone_of
from dajian.platform.errors import DajianError
from dajian.platform.graphql.base import DajianMutation, Error, current_actor, graphql_error
from dajian.runtime.automations import actions
from dajian.runtime.automations import selectors as log
from dajian.runtime.automations.schedules import next_ticks
from dajian.runtime.graphql.approvals import parse_id
from dajian.runtime.graphql.paging import PageInfo, page_info
from dajian.runtime.models import ActionExecution, AutomationRun


class ActionExecutionNode(graphene.ObjectType):
    """One action of a run on one record."""

    class Meta:
        name = "ActionExecution"

    action_index = graphene.Int(required=True)
    action_type = graphene.String(required=True)
    record = graphene.ID(description="Global id of the record (null for none).")
    status = graphene.String(required=True, description="done, failed (will retry), gave_up.")
    attempts = graphene.Int(required=True)
    result = GenericScalar(required=True)
    error = graphene.String(required=True)
    finished_at = graphene.DateTime()
    next_attempt_at = graphene.DateTime()

    def resolve_record(row: ActionExecution, info: Any) -> str | None:
        return to_global_id("Record", row.record_key) if row.record_key else None


class AutomationRunNode(graphene.ObjectType):
    """One firing of an automation: what triggered it, how many records, the outcome."""

    class Meta:
        name = "AutomationRun"

    id = graphene.ID(required=True)
    app = graphene.String(required=True)
    automation = graphene.String(required=True, description="The automation's key.")
    version = graphene.Int(description="The automation version that ran.")
    trigger = graphene.String(required=True)
    trigger_key = graphene.String(required=True)
    depth = graphene.Int(required=True, description="Automations before this one in a chain.")
    status = graphene.String(required=True, description="running, succeeded, failed, loop_stopped")
    records_scanned = graphene.Int(required=True)
    records_matched = graphene.Int(required=True)
    actions_done = graphene.Int(required=True)
    actions_failed = graphene.Int(required=True)
    message = graphene.String(required=True)
    started_at = graphene.DateTime(required=True)
    finished_at = graphene.DateTime()
    executions = graphene.List(
        graphene.NonNull(ActionExecutionNode),
        required=True,
        status=graphene.String(),
        first=graphene.Int(description="At most 100 (default 20)."),
        description="Read one run at a time (automationRun), not in the run list.",
    )

    def resolve_id(run: AutomationRun, info: Any) -> str:
        return to_global_id("AutomationRun", run.pk)

    def resolve_app(run: AutomationRun, info: Any) -> str:
        return run.automation.app.key

    def resolve_automation(run: AutomationRun, info: Any) -> str:
        return run.automation.key

    def resolve_version(run: AutomationRun, info: Any) -> int | None:
        return run.version.number if run.version is not None else None

    def resolve_executions(run: AutomationRun, info: Any, **kwargs: Any) -> list[ActionExecution]:
        if not getattr(run, "_single", False):
            raise graphql_error(
                DajianError.single(
                    "INVALID_INPUT", "Read executions with automationRun(id).", "executions"
                )
            )
        try:
            return log.executions(run, kwargs.get("status"), kwargs.get("first"))
        except DajianError as exc:
            raise graphql_error(exc) from None


class AutomationRunEdge(graphene.ObjectType):
    cursor = graphene.String(required=True)
    node = graphene.Field(AutomationRunNode, required=True)


class AutomationRunConnection(graphene.ObjectType):
    edges = graphene.List(graphene.NonNull(AutomationRunEdge), required=True)
    page_info = graphene.Field(PageInfo, required=True)

    def resolve_edges(page: Any, info: Any) -> list[AutomationRunEdge]:
        return [
            AutomationRunEdge(cursor=c, node=i)
            for c, i in zip(page.cursors, page.items, strict=True)
        ]

    def resolve_page_info(page: Any, info: Any) -> PageInfo:
        return page_info(page)


class ActionTypeNode(graphene.ObjectType):
    """An action an automation can take (from the action registry)."""

    class Meta:
        name = "ActionType"

    type = graphene.String(required=True)
    label = GenericScalar(required=True, description="{locale: text}.")
    schema = GenericScalar(required=True, description="JSON Schema of the action's options.")


class AutomationLogQuery(graphene.ObjectType):
    automation_runs = graphene.Field(
        AutomationRunConnection,
        required=True,
        app=graphene.String(),
        automation=graphene.String(description="An automation key (with app)."),
        status=graphene.String(),
        first=graphene.Int(),
        after=graphene.String(),
        description="The automation run log, newest first (admins).",
    )
    automation_run = graphene.Field(AutomationRunNode, id=graphene.ID(required=True))
    action_types = graphene.List(graphene.NonNull(ActionTypeNode), required=True)
    next_runs = graphene.List(
        graphene.NonNull(graphene.DateTime),
        required=True,
        cron=graphene.String(required=True),
        count=graphene.Int(),
        description="The next ticks of a cron expression in the workspace's time zone.",
    )

    def resolve_automation_runs(root: Any, info: Any, **kwargs: Any) -> Any:
        try:
            return log.runs(current_actor(info), **kwargs)
        except DajianError as exc:
            raise graphql_error(exc) from None

    def resolve_automation_run(root: Any, info: Any, id: str) -> AutomationRun:
        try:
            found = log.run(current_actor(info), parse_id(id, "AutomationRun", "id"))
        except DajianError as exc:
            raise graphql_error(exc) from None
        found._single = True  # type: ignore[attr-defined]
        return found

    def resolve_action_types(root: Any, info: Any) -> list[ActionTypeNode]:
        current_actor(info)
        return [
            ActionTypeNode(type=name, label=dict(kind.label), schema=dict(kind.schema))
            for name in actions.names()
            if (kind := actions.get(name)) is not None and not name.startswith("test_")
        ]

    def resolve_next_runs(root: Any, info: Any, cron: str, count: int | None = None) -> Any:
        from dajian.runtime.automations.checks import valid_cron

        actor = current_actor(info)
        if not valid_cron(cron):
            raise graphql_error(
                DajianError.single("INVALID_CRON", "Not a five-field cron expression.", "cron")
            )
        number = min(max(count or 3, 1), 20)
        return next_ticks(cron, time_zone_of(actor.workspace), timezone.now(), number)


class RunAutomationInput(graphene.InputObjectType):
    app = graphene.String(required=True)
    key = graphene.String(required=True)


class RunAutomation(DajianMutation):
    queued = graphene.Boolean()

    class Arguments:
        input = RunAutomationInput(required=True)

    class Meta:
        description = (
            "Run a published scheduled or date automation now, in the worker; its run "
            "appears in automationRuns."
        )
        permission = "admin"
        error_type = Error

    @classmethod
    def perform(cls, root: Any, info: Any, actor: Actor, input: Any) -> RunAutomation:
        from dajian.runtime.tasks import run_automation_now

        if not actor.is_admin:
            from dajian.platform.errors import permission_denied

            raise permission_denied()
        meta = metadata_service.get_automation(actor, input.app, input.key)
        if meta.published is None or meta.kind != MetadataKind.AUTOMATION:
            raise DajianError.single("NOT_PUBLISHED", "Publish the automation first.", "key")
        if meta.published.definition["trigger"]["type"] not in ("schedule", "date"):
            raise DajianError.single(
                "INVALID_INPUT", "Only scheduled and date automations run on demand.", "key"
            )
        run_automation_now.delay(meta.pk)
        return cls(queued=True, errors=[])


class AutomationLogMutation(graphene.ObjectType):
    run_automation = RunAutomation.Field()
