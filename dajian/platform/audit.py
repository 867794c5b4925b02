"""The append-only audit log: one hash chain per workspace (DESIGN §4 "History").

Each event's ``hash`` is ``sha256(prev_hash + canonical JSON of the event)``, so editing,
deleting or reordering any stored event breaks the chain from that event on, and
:func:`verify_chain` reports the first broken ``seq``. The chain head row
(:class:`AuditChainHead`) is locked for each append, which serialises writers per
workspace; the head also lets the verifier notice events removed from the end.

A chain only proves that nobody edited the rows *without recomputing the hashes*; it is
not a signature. Anchor the head hash elsewhere if that stronger guarantee is needed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from dajian.platform.actors import Actor
from dajian.platform.models import AuditChainHead, AuditEvent, Workspace
from dajian.platform.sql import insert_row

GENESIS_HASH = "0" * 64


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            raise TypeError("naive datetime in audit data; use django.utils.timezone")
        return format_utc(value)
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, set | frozenset):
        return sorted(value, key=str)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable in audit data")


def _normalise_numbers(value: Any) -> Any:
    # PostgreSQL jsonb stores numbers as numeric: 1e+20 comes back as an int. Writing
    # integral floats as ints makes the canonical form survive that round trip.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _normalise_numbers(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_normalise_numbers(v) for v in value]
    return value


def format_utc(value: dt.datetime) -> str:
    """``2025-01-31T08:00:00.000000Z``: fixed width, so the strings sort as times."""
    utc = value.astimezone(dt.UTC)
    return utc.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def canonical_json(value: Any) -> str:
    """Sorted keys, no spaces, UTF-8 kept, datetimes as UTC ISO strings, integral floats
    as ints; NaN and infinities are refused (``ValueError``)."""
    plain = json.loads(json.dumps(value, default=_json_default, allow_nan=False))
    return json.dumps(
        _normalise_numbers(plain),
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
    )


def canonical_hash(value: Any) -> str:
    """SHA-256 of :func:`canonical_json`: the same value hashes the same on either
    database (metadata versions, approval snapshots)."""
    return hashlib.sha256(canonical_json(value).encode("utf-8")).hexdigest()


def _event_payload(event: AuditEvent) -> dict[str, Any]:
    return {
        "workspace": event.workspace_id,
        "seq": event.seq,
        "actor": event.actor_id,
        "actor_label": event.actor_label,
        "at": format_utc(event.at),
        "action": event.action,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "diff": event.diff,
    }


def compute_hash(prev_hash: str, event: AuditEvent) -> str:
    """The chain hash of ``event`` given the hash of the event before it."""
    text = prev_hash + canonical_json(_event_payload(event))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def diff_values(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, list[Any]]:
    """``{key: [old, new]}`` for every key whose value differs; a key missing on one side
    counts as ``None`` there."""
    changed: dict[str, list[Any]] = {}
    for key in sorted(set(before) | set(after), key=str):
        old, new = before.get(key), after.get(key)
        if old != new:
            changed[key] = [old, new]
    return changed


def _lock_head_sql() -> str:
    table = connection.ops.quote_name(AuditChainHead._meta.db_table)
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    return f"SELECT seq, last_hash FROM {table} WHERE workspace_id = %s{lock}"


def _locked_head(workspace: Workspace) -> tuple[int, str]:
    """``(seq, last_hash)`` of the chain head, locked until the transaction ends."""
    with connection.cursor() as cursor:
        cursor.execute(_lock_head_sql(), [workspace.pk])
        row = cursor.fetchone()
        if row is None:
            # get_or_create survives a concurrent first append (IntegrityError → get);
            # the row lock below then makes the two writers take turns.
            AuditChainHead.objects.get_or_create(workspace=workspace)
            cursor.execute(_lock_head_sql(), [workspace.pk])
            row = cursor.fetchone()
    return int(row[0]), str(row[1])


def _move_head(workspace: Workspace, seq: int, last_hash: str) -> None:
    table = connection.ops.quote_name(AuditChainHead._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET seq = %s, last_hash = %s WHERE workspace_id = %s",
            [seq, last_hash, workspace.pk],
        )


def record_event(
    actor: Actor,
    action: str,
    object_type: str,
    object_id: Any,
    diff: Mapping[str, Any] | None = None,
) -> AuditEvent:
    """Append one event to ``actor.workspace``'s chain and return it.

    Must run inside the caller's transaction (``RuntimeError`` otherwise), so the event
    commits or rolls back with the change it describes. ``diff`` must be JSON-like;
    datetimes, dates, decimals and UUIDs are stored in their canonical string form.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("record_event() must be called inside transaction.atomic()")
    workspace = actor.workspace
    stored_diff = json.loads(canonical_json(dict(diff or {})))
    head_seq, head_hash = _locked_head(workspace)
    event = AuditEvent(
        workspace=workspace,
        seq=head_seq + 1,
        actor=actor.user,
        actor_label=actor.label[:200],
        at=timezone.now(),
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        diff=stored_diff,
        prev_hash=head_hash,
    )
    event.hash = compute_hash(head_hash, event)
    event.pk = insert_row(
        AuditEvent,
        {
            name: getattr(event, name)
            for name in (
                "workspace_id",
                "seq",
                "actor_id",
                "actor_label",
                "at",
                "action",
                "object_type",
                "object_id",
                "diff",
                "prev_hash",
                "hash",
            )
        },
    )
    event._state.adding = False
    _move_head(workspace, event.seq, event.hash)
    return event


def record_events(
    actor: Actor, events: Iterable[tuple[str, str, Any, Mapping[str, Any] | None]]
) -> int:
    """Append many events — ``(action, object_type, object_id, diff)`` each — to the
    chain in order, with one head lock and one INSERT: what bulk operations (a handover,
    an import) use instead of one :func:`record_event` per row. Same rules otherwise."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("record_events() must be called inside transaction.atomic()")
    workspace = actor.workspace
    head_seq, head_hash = _locked_head(workspace)
    at = timezone.now()
    rows = []
    for action, object_type, object_id, diff in events:
        head_seq += 1
        event = AuditEvent(
            workspace=workspace,
            seq=head_seq,
            actor=actor.user,
            actor_label=actor.label[:200],
            at=at,
            action=action,
            object_type=object_type,
            object_id=str(object_id),
            diff=json.loads(canonical_json(dict(diff or {}))),
            prev_hash=head_hash,
        )
        event.hash = head_hash = compute_hash(head_hash, event)
        rows.append(event)
    if rows:
        AuditEvent.objects.bulk_create(rows, batch_size=1000)
        _move_head(workspace, head_seq, head_hash)
    return len(rows)


@dataclass(frozen=True)
class VerifyResult:
    """``ok`` when every event's hash and link check out; else the first bad ``seq``."""

    ok: bool
    checked: int
    first_bad_seq: int | None = None
    reason: str = ""


def verify_chain(workspace: Workspace) -> VerifyResult:
    """Recompute ``workspace``'s chain in ``seq`` order, streaming the events.

    Detects an edited event (its hash no longer matches its content), a deleted event (a
    gap in ``seq``, or a head past the last event), and a forged or reordered link
    (``prev_hash`` differs from the previous event's hash).
    """
    expected_seq = 1
    prev_hash = GENESIS_HASH
    events = (
        AuditEvent.objects.filter(workspace=workspace).order_by("seq").iterator(chunk_size=2000)
    )
    for event in events:
        checked = expected_seq - 1
        if event.seq != expected_seq:
            return VerifyResult(False, checked, expected_seq, f"event {expected_seq} is missing")
        if event.prev_hash != prev_hash:
            return VerifyResult(
                False, checked, event.seq, "link to the previous event does not match"
            )
        if compute_hash(prev_hash, event) != event.hash:
            return VerifyResult(False, checked, event.seq, "event content does not match its hash")
        prev_hash = event.hash
        expected_seq += 1
    checked = expected_seq - 1
    head = AuditChainHead.objects.filter(workspace=workspace).first()
    head_seq, head_hash = (head.seq, head.last_hash) if head else (0, GENESIS_HASH)
    if head_seq != checked or head_hash != prev_hash:
        return VerifyResult(
            False,
            checked,
            min(head_seq, checked) + 1,
            f"chain head is at event {head_seq} but the last stored event is {checked}",
        )
    return VerifyResult(True, checked)
