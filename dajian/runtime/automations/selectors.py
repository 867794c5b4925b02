"""Reading the automation run log (admins only): runs newest first, a run's executions."""

from __future__ import annotations

from django.db.models import QuerySet

from dajian.platform.actors import Actor
from dajian.platform.errors import DajianError, not_found, permission_denied
from dajian.runtime.models import ActionExecution, AutomationRun, ExecutionStatus, RunStatus
from dajian.runtime.paging import Page, newest_first, page_size

RUN_STATUSES = frozenset(RunStatus.values)
EXECUTION_STATUSES = frozenset(ExecutionStatus.values)


def _require_admin(actor: Actor) -> None:
    if not actor.is_admin:
        raise permission_denied()


def runs(
    actor: Actor,
    app: str | None = None,
    automation: str | None = None,
    status: str | None = None,
    first: int | None = None,
    after: str | None = None,
) -> Page[AutomationRun]:
    """A page of the workspace's runs, newest first (one query)."""
    _require_admin(actor)
    qs: QuerySet[AutomationRun] = AutomationRun.objects.select_related(
        "automation__app", "version"
    ).filter(workspace_id=actor.workspace.pk)
    if app:
        qs = qs.filter(automation__app__key=app)
    if automation:
        qs = qs.filter(automation__key=automation)
    if status:
        if status not in RUN_STATUSES:
            raise DajianError.single("INVALID_INPUT", f"Unknown status {status!r}.", "status")
        qs = qs.filter(status=status)
    return newest_first(qs, "started_at", first, after)


def run(actor: Actor, run_id: int) -> AutomationRun:
    _require_admin(actor)
    found = (
        AutomationRun.objects.select_related("automation__app", "version")
        .filter(pk=run_id, workspace_id=actor.workspace.pk)
        .first()
    )
    if found is None:
        raise not_found("Automation run")
    return found


def executions(
    run: AutomationRun, status: str | None = None, first: int | None = None
) -> list[ActionExecution]:
    """The run's executions in order (record, action), at most ``first`` (one query)."""
    qs = ActionExecution.objects.filter(run=run)
    if status:
        if status not in EXECUTION_STATUSES:
            raise DajianError.single("INVALID_INPUT", f"Unknown status {status!r}.", "status")
        qs = qs.filter(status=status)
    return list(qs.order_by("id")[: page_size(first)])
