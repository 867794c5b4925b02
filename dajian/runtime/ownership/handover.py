"""Handover (R25): every record a person owns in an app moves to a successor at once.

:func:`transfer_ownership` runs in one transaction with a bounded number of queries per
form of the app, never one per record: per form it locks the person's records (one
``SELECT … FOR UPDATE``) and moves them (one ``UPDATE``); then for the whole set it
moves the person's open to-do and verification tasks on those records (approval tasks
stay with the approver who was asked, and are listed), reads each record's last three
audit events (one query with a window function), inserts the ``record.owner_changed``
outbox events (one bulk insert) and stores the :class:`~dajian.runtime.models.Handover`
with its list. The audit log gets a ``record.transferred`` event per record (each
record's history shows the move), appended in bulk with one head lock and one INSERT,
then one ``ownership.transferred`` event naming every record and task moved.

``Handover.items`` (ids are database ids; the GraphQL layer turns them into global ids)::

    {"records": [{"id", "form", "title", "stage", "status",
                  "activities": [{"at", "action", "actor"}, ...]}],
     "tasks": [{"id", "kind", "title", "due", "record", "moved"}]}
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.db.models import F, Q, QuerySet, Window
from django.db.models.functions import RowNumber
from django.utils import timezone

from dajian.builder.models import App, Form
from dajian.platform.actors import Actor
from dajian.platform.audit import record_event, record_events
from dajian.platform.errors import CommonErrorCode, DajianError, not_found, permission_denied
from dajian.platform.models import AuditEvent
from dajian.runtime.automations.context import current_depth
from dajian.runtime.models import Handover, OutboxEvent, Record, TaskKind, TaskStatus
from dajian.runtime.ownership.errors import OwnershipErrorCode, ownership_error
from dajian.runtime.ownership.pool import OWNER_CHANGED, active_member, manages
from dajian.runtime.paging import Page, newest_first
from dajian.runtime.policies import definition_of

logger = logging.getLogger(__name__)
LAST_ACTIVITIES = 3
# Task kinds that follow their record to the new owner; approval tasks stay.
MOVING_TASKS = (TaskKind.TODO, TaskKind.VERIFICATION)


def transfer_ownership(actor: Actor, from_user_id: int, to_user_id: int, app_key: str) -> Handover:
    """Move every record ``from_user`` owns in the app's forms to ``to_user``, with
    their open to-dos and verification tasks, and return the stored handover.

    Allowed to admins and to a manager of ``from_user``. ``to_user`` must be an active
    member; ``from_user`` may have left (an inactive member). Refusals: NOT_FOUND (the
    app, or a user who is not a member: field ``app`` / ``fromUser`` / ``toUser``),
    PERMISSION_DENIED, INACTIVE_MEMBER (``toUser``), SAME_USER."""
    app = App.objects.filter(workspace=actor.workspace, key=app_key).first()
    if app is None:
        raise DajianError.single(CommonErrorCode.NOT_FOUND, "App not found.", field="app")
    active_member(actor.workspace, from_user_id, "fromUser", active=False)
    if not (actor.is_admin or manages(actor, from_user_id)):
        raise permission_denied()
    active_member(actor.workspace, to_user_id, "toUser")
    if from_user_id == to_user_id:
        raise ownership_error(OwnershipErrorCode.SAME_USER, field="toUser")
    with transaction.atomic():
        now = timezone.now()
        records = _move_records(actor, app, from_user_id, to_user_id, now)
        tasks = _move_tasks(actor, [r["id"] for r in records], from_user_id, to_user_id)
        _attach_activities(actor, records)
        _emit_owner_changed(actor, records, from_user_id, to_user_id, now)
        handover = Handover.objects.create(
            workspace=actor.workspace,
            app=app,
            from_user_id=from_user_id,
            to_user_id=to_user_id,
            created_by=actor.user,
            created_at=now,
            record_count=len(records),
            task_count=len(tasks),
            items={"records": [_public(r) for r in records], "tasks": tasks},
        )
        record_events(
            actor,
            (
                ("record.transferred", "Record", r["id"], {"owner": [from_user_id, to_user_id]})
                for r in records
            ),
        )
        record_event(
            actor,
            "ownership.transferred",
            "Handover",
            handover.pk,
            {
                "app": app.key,
                "owner": [from_user_id, to_user_id],
                "records": [r["id"] for r in records],
                "tasks": [t["id"] for t in tasks if t["moved"]],
            },
        )
    return handover


def _title(row: dict[str, Any], keys: Iterable[str]) -> str:
    parts = (row.get(f"data__{key}") for key in keys)
    return " ".join(str(p) for p in parts if p not in (None, ""))


def _move_records(
    actor: Actor, app: App, from_user_id: int, to_user_id: int, now: Any
) -> list[dict[str, Any]]:
    """Lock and move the person's records, form by form (two queries per form)."""
    moved: list[dict[str, Any]] = []
    forms = Form.objects.filter(app=app).select_related("published").defer("draft").order_by("key")
    for form in forms:
        definition = definition_of(form)
        title_keys = definition.title_fields if definition else []
        rows = list(
            Record.objects.select_for_update()
            .filter(workspace_id=actor.workspace.pk, form=form, owner_id=from_user_id)
            .order_by("pk")
            .values("pk", "stage", "status", "version", *(f"data__{k}" for k in title_keys))
        )
        if not rows:
            continue
        Record.objects.filter(pk__in=[r["pk"] for r in rows]).update(
            owner_id=to_user_id, version=F("version") + 1, updated_at=now, updated_by=actor.user
        )
        moved.extend(
            {
                "id": r["pk"],
                "form": form.key,
                "form_id": form.pk,
                "version": r["version"] + 1,
                "title": _title(r, title_keys),
                "stage": r["stage"],
                "status": r["status"],
            }
            for r in rows
        )
    return moved


def _move_tasks(
    actor: Actor, record_ids: list[int], from_user_id: int, to_user_id: int
) -> list[dict[str, Any]]:
    """The person's open tasks on the records; to-dos and verifications move."""
    from dajian.runtime.approvals.tasks import task_rows

    if not record_ids:
        return []
    rows = list(
        task_rows()
        .select_for_update()
        .filter(
            workspace_id=actor.workspace.pk,
            assignee_id=from_user_id,
            status=TaskStatus.OPEN,
            record_id__in=record_ids,
        )
        .order_by("pk")
        .values("pk", "kind", "title", "due_at", "record_id")
    )
    moving = [r["pk"] for r in rows if r["kind"] in MOVING_TASKS]
    if moving:
        task_rows().filter(pk__in=moving).update(assignee_id=to_user_id, version=F("version") + 1)
    return [
        {
            "id": r["pk"],
            "kind": r["kind"],
            "title": r["title"],
            "due": r["due_at"].isoformat() if r["due_at"] else None,
            "record": r["record_id"],
            "moved": r["kind"] in MOVING_TASKS,
        }
        for r in rows
    ]


def _attach_activities(actor: Actor, records: list[dict[str, Any]]) -> None:
    """Each record's last audit events, newest first, in one query."""
    by_id = {str(r["id"]): r for r in records}
    for record in records:
        record["activities"] = []
    if not by_id:
        return
    events = (
        AuditEvent.objects.filter(
            workspace_id=actor.workspace.pk, object_type="Record", object_id__in=list(by_id)
        )
        .annotate(rank=Window(RowNumber(), partition_by=[F("object_id")], order_by=F("seq").desc()))
        .filter(rank__lte=LAST_ACTIVITIES)
        .order_by("object_id", "-seq")
        .values("object_id", "at", "action", "actor_label")
    )
    for event in events:
        by_id[event["object_id"]]["activities"].append(
            {
                "at": event["at"].isoformat(),
                "action": event["action"],
                "actor": event["actor_label"],
            }
        )


def _emit_owner_changed(
    actor: Actor, records: list[dict[str, Any]], from_user_id: int, to_user_id: int, now: Any
) -> None:
    """``record.owner_changed`` for every moved record, inserted in one statement and
    handed to the worker after commit (as :func:`~dajian.runtime.services.records.emit_event`)."""
    if not records:
        return
    depth = current_depth()
    events = OutboxEvent.objects.bulk_create(
        OutboxEvent(
            workspace_id=actor.workspace.pk,
            topic=OWNER_CHANGED,
            payload={
                "record": r["id"],
                "form": r["form_id"],
                "version": r["version"],
                "from": from_user_id,
                "to": to_user_id,
                **({"depth": depth} if depth else {}),
            },
            created_at=now,
        )
        for r in records
    )
    ids = [e.pk for e in events]
    transaction.on_commit(lambda: _enqueue(ids))


def _enqueue(event_ids: list[int]) -> None:
    from dajian.runtime.tasks import process_outbox_event

    for event_id in event_ids:
        try:
            process_outbox_event.delay(event_id)
        except Exception:  # noqa: BLE001 - the sweeper retries events left pending
            logger.warning("could not enqueue outbox events from %s; the sweeper will", event_id)
            return


def _public(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k not in ("form_id", "version")}


# --- reading -----------------------------------------------------------------------------


def visible_handovers(actor: Actor) -> QuerySet[Handover]:
    """Handovers of the workspace: all for admins, else those the actor took part in."""
    qs = Handover.objects.filter(workspace_id=actor.workspace.pk)
    if actor.is_admin:
        return qs
    if actor.user_id is None:
        return qs.none()
    me = actor.user_id
    return qs.filter(Q(from_user_id=me) | Q(to_user_id=me) | Q(created_by_id=me))


def get_handover(actor: Actor, handover_id: int) -> Handover:
    handover = (
        visible_handovers(actor)
        .select_related("app", "from_user", "to_user", "created_by")
        .filter(pk=handover_id)
        .first()
    )
    if handover is None:
        raise not_found("Handover")
    return handover


def list_handovers(actor: Actor, first: int | None, after: str | None) -> Page[Handover]:
    """Newest first, one query per page."""
    qs = visible_handovers(actor).select_related("app", "from_user", "to_user", "created_by")
    return newest_first(qs, "created_at", first, after)
