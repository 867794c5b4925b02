"""Claims and handovers under real concurrency on PostgreSQL (real threads, committed
data): one claim wins per record, one person's claims cannot overrun the daily limit
together, and two handovers of one leaver never move a record twice."""

from __future__ import annotations

import pytest

from dajian.platform.actors import Actor
from dajian.platform.audit import verify_chain
from dajian.platform.models import Role
from dajian.runtime.models import Handover, OutboxEvent, PoolClaim, Record
from dajian.runtime.ownership.handover import transfer_ownership
from dajian.runtime.ownership.pool import claim_record
from dajian.runtime.services.records import create_record
from tests.factories import make_actor, make_user
from tests.integration.threads import outcome, run_at_once

pytestmark = pytest.mark.django_db(transaction=True)
THREADS = 6
ROUNDS = 8
LIMIT = 3

FIELDS = [{"key": "name", "type": "text", "label": "Name"}]
PERMISSIONS = [{"role": "rep", "create": True, "read": "own", "update": "own", "delete": "none"}]


@pytest.fixture
def pool(workspace, form_factory):
    form_factory(FIELDS, permissions=PERMISSIONS)
    form_factory(FIELDS, key="contact", permissions=PERMISSIONS)
    system = Actor.system(workspace)
    return lambda name, form="customer": create_record(system, "sales", form, {"name": name}).record


def test_one_claim_wins_per_record(workspace, pool):
    reps = [
        make_actor(make_user(f"rep{i}", workspace, roles=["rep"]), workspace)
        for i in range(THREADS)
    ]
    violations = 0
    for round_no in range(ROUNDS):
        record = pool(f"r{round_no}")
        results = run_at_once(lambda i, pk=record.pk: claim_record(reps[i], pk), THREADS)
        counts = outcome(results)
        violations += counts["ok"] != 1 or counts["NOT_IN_POOL"] != THREADS - 1
        winner = next(r for r in results if not isinstance(r, Exception))
        stored = Record.objects.get(pk=record.pk)
        violations += stored.owner_id != winner.record.owner_id or stored.version != 2
        violations += PoolClaim.objects.filter(record=record).count() != 1
        violations += OutboxEvent.objects.filter(payload__record=record.pk).count() != 2
    assert violations == 0
    assert verify_chain(workspace).ok


def test_one_person_at_the_limit_less_one_gets_one_more_claim(workspace, pool):
    Role.objects.create(workspace=workspace, key="rep", name="Rep", daily_claim_limit=LIMIT)
    violations = 0
    for round_no in range(ROUNDS):
        rep = make_actor(make_user(f"busy{round_no}", workspace, roles=["rep"]), workspace)
        for k in range(LIMIT - 1):
            claim_record(rep, pool(f"early{round_no}-{k}").pk)
        records = [pool(f"late{round_no}-{i}") for i in range(THREADS)]
        results = run_at_once(lambda i, rs=records, a=rep: claim_record(a, rs[i].pk), THREADS)
        counts = outcome(results)
        violations += counts["ok"] != 1 or counts["CLAIM_LIMIT_REACHED"] != THREADS - 1
        violations += PoolClaim.objects.filter(user=rep.user).count() != LIMIT
        violations += Record.objects.filter(owner=rep.user).count() != LIMIT
    assert violations == 0


def test_two_handovers_of_one_leaver_move_each_record_once(workspace, admin, pool):
    admin_actor = make_actor(admin, workspace)
    violations = 0
    for round_no in range(ROUNDS):
        leaver = make_user(f"leaver{round_no}", workspace, roles=["rep"])
        heirs = [make_user(f"heir{round_no}-{i}", workspace, roles=["rep"]) for i in range(2)]
        records = [
            pool(f"h{round_no}-{k}", form) for k in range(3) for form in ("customer", "contact")
        ]
        Record.objects.filter(pk__in=[r.pk for r in records]).update(owner=leaver)
        results = run_at_once(
            lambda i, hs=heirs, lv=leaver: transfer_ownership(
                admin_actor, lv.pk, hs[i].pk, "sales"
            ),
            2,
        )
        violations += outcome(results)["ok"] != 2
        handovers = Handover.objects.filter(from_user=leaver)
        listed = [item["id"] for h in handovers for item in h.items["records"]]
        violations += sorted(listed) != sorted(r.pk for r in records)  # each listed once
        for h in handovers:
            ids = [item["id"] for item in h.items["records"]]
            violations += Record.objects.filter(pk__in=ids).exclude(owner=h.to_user).exists()
        violations += Record.objects.filter(pk__in=[r.pk for r in records], version=2).count() != 6
    assert violations == 0
    assert verify_chain(workspace).ok
