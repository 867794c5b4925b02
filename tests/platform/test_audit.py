"""The audit log: hash chain per workspace, tamper detection, canonical JSON."""

from __future__ import annotations

import datetime as dt
import hashlib
from decimal import Decimal

import pytest
from django.db import connection, transaction

from dajian.platform.actors import Actor
from dajian.platform.audit import (
    GENESIS_HASH,
    canonical_json,
    compute_hash,
    diff_values,
    record_event,
    record_events,
    verify_chain,
)
from dajian.platform.models import AuditChainHead, AuditEvent
from tests.factories import make_actor, make_user


@pytest.fixture
def actor(workspace):
    return make_actor(make_user("auditor", workspace), workspace)


def record_many(actor: Actor, count: int) -> list[AuditEvent]:
    return [
        record_event(actor, "record.update", "record", n, {"qty": [n, n + 1]})
        for n in range(1, count + 1)
    ]


def test_events_form_a_chain(actor, workspace):
    first, second = record_many(actor, 2)

    assert (first.seq, second.seq) == (1, 2)
    assert first.prev_hash == GENESIS_HASH
    assert second.prev_hash == first.hash
    stored = AuditEvent.objects.get(pk=second.pk)
    assert stored.hash == compute_hash(first.hash, stored)
    assert (stored.actor_label, stored.object_id) == ("auditor", "2")
    head = AuditChainHead.objects.get(workspace=workspace)
    assert (head.seq, head.last_hash) == (2, second.hash)


def test_a_bulk_append_continues_the_chain_in_one_insert(actor, workspace):
    from django.test.utils import CaptureQueriesContext

    (first,) = record_many(actor, 1)
    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        added = record_events(
            actor, (("record.moved", "Record", n, {"owner": [1, 2]}) for n in range(50))
        )
    assert added == 50
    inserts = [q for q in queries.captured_queries if q["sql"].startswith("INSERT")]
    assert len(inserts) == 1
    events = list(AuditEvent.objects.filter(workspace=workspace).order_by("seq"))
    assert [e.seq for e in events] == list(range(1, 52))
    assert events[1].prev_hash == first.hash
    assert all(e.hash == compute_hash(e.prev_hash, e) for e in events)
    assert verify_chain(workspace).ok
    head = AuditChainHead.objects.get(workspace=workspace)
    assert (head.seq, head.last_hash) == (51, events[-1].hash)
    # nothing to append leaves the head alone
    with transaction.atomic():
        assert record_events(actor, []) == 0
    assert AuditChainHead.objects.get(workspace=workspace).seq == 51


def test_the_hash_covers_the_canonical_event(actor, workspace):
    event = record_event(actor, "record.create", "record", "r1", {"名": [None, "张三"]})

    payload = (
        f'{{"action":"record.create","actor":{actor.user_id},"actor_label":"auditor",'
        f'"at":"{event.at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")}Z",'
        f'"diff":{{"名":[null,"张三"]}},"object_id":"r1","object_type":"record",'
        f'"seq":1,"workspace":{workspace.pk}}}'
    )
    assert event.hash == hashlib.sha256((GENESIS_HASH + payload).encode()).hexdigest()


def test_each_workspace_has_its_own_chain(actor, other_workspace):
    record_many(actor, 2)
    system = Actor.system(other_workspace)

    event = record_event(system, "workspace.setup", "workspace", other_workspace.pk, {})

    assert event.seq == 1
    assert event.actor_label == "system"
    assert verify_chain(other_workspace).ok


def test_an_untouched_chain_verifies(actor, workspace):
    record_many(actor, 5)

    result = verify_chain(workspace)

    assert (result.ok, result.checked, result.first_bad_seq) == (True, 5, None)


def test_an_empty_chain_verifies(workspace):
    result = verify_chain(workspace)

    assert (result.ok, result.checked) == (True, 0)


def test_values_round_trip_to_the_same_hash(actor, workspace):
    at = dt.datetime(2025, 1, 31, 16, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))

    event = record_event(
        actor,
        "record.update",
        "record",
        7,
        {"due": [None, at], "price": [Decimal("1.50"), 2.0], "big": [1e20, None], 3: "x"},
    )

    assert event.diff == {
        "due": [None, "2025-01-31T08:00:00.000000Z"],
        "price": ["1.50", 2],
        "big": [100000000000000000000, None],
        "3": "x",
    }
    assert verify_chain(workspace).ok


def test_edited_event_is_detected(actor, workspace):
    record_many(actor, 4)

    AuditEvent.objects.filter(workspace=workspace, seq=3).update(diff={"qty": [0, 999]})

    result = verify_chain(workspace)
    assert (result.ok, result.first_bad_seq, result.checked) == (False, 3, 2)
    assert "does not match its hash" in result.reason


def test_edit_through_raw_sql_is_detected(actor, workspace):
    record_many(actor, 3)

    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {AuditEvent._meta.db_table} SET action = %s"
            " WHERE workspace_id = %s AND seq = 2",
            ["record.delete", workspace.pk],
        )

    assert verify_chain(workspace).first_bad_seq == 2


def test_deleted_event_is_detected(actor, workspace):
    record_many(actor, 4)

    AuditEvent.objects.filter(workspace=workspace, seq=2).delete()

    result = verify_chain(workspace)
    assert (result.ok, result.first_bad_seq) == (False, 2)
    assert "missing" in result.reason


def test_deleted_last_event_is_detected_by_the_head(actor, workspace):
    record_many(actor, 3)

    AuditEvent.objects.filter(workspace=workspace, seq=3).delete()

    result = verify_chain(workspace)
    assert (result.ok, result.first_bad_seq, result.checked) == (False, 3, 2)


def test_rehashed_forgery_breaks_the_next_link(actor, workspace):
    record_many(actor, 3)
    forged = AuditEvent.objects.get(workspace=workspace, seq=2)
    forged.diff = {"qty": [0, 999]}

    # the forger recomputes the edited event's own hash, but not every later one
    AuditEvent.objects.filter(pk=forged.pk).update(
        diff=forged.diff, hash=compute_hash(forged.prev_hash, forged)
    )

    result = verify_chain(workspace)
    assert (result.ok, result.first_bad_seq) == (False, 3)
    assert "link" in result.reason


def test_reordered_events_are_detected(actor, workspace):
    record_many(actor, 3)
    events = AuditEvent.objects.filter(workspace=workspace)

    events.filter(seq=2).update(seq=99)
    events.filter(seq=3).update(seq=2)
    events.filter(seq=99).update(seq=3)

    assert verify_chain(workspace).first_bad_seq == 2


@pytest.mark.django_db(transaction=True)
def test_record_event_refuses_to_run_outside_a_transaction():
    from tests.factories import make_workspace

    workspace = make_workspace("loose")
    actor = Actor.system(workspace)

    with pytest.raises(RuntimeError):
        record_event(actor, "x", "y", 1, {})
    with pytest.raises(RuntimeError):
        record_events(actor, [("x", "y", 1, {})])
    with transaction.atomic():
        record_event(actor, "x", "y", 1, {})
    assert verify_chain(workspace).ok


def test_diff_values_lists_changed_keys_only():
    before = {"name": "A", "qty": 1, "gone": "x"}
    after = {"name": "A", "qty": 2, "new": True}

    assert diff_values(before, after) == {"gone": ["x", None], "new": [None, True], "qty": [1, 2]}
    assert diff_values(after, after) == {}


def test_canonical_json_is_compact_sorted_and_keeps_unicode():
    assert canonical_json({"b": 1, "a": ["销售", 1.0]}) == '{"a":["销售",1],"b":1}'


@pytest.mark.parametrize("bad", [float("nan"), dt.datetime(2025, 1, 1), object()])
def test_canonical_json_refuses_ambiguous_values(bad):
    with pytest.raises((TypeError, ValueError)):
        canonical_json({"x": bad})
