"""Approval decisions under real concurrency on PostgreSQL (real threads, committed data):
exactly one decision per task, approve-versus-withdraw ends in one consistent state, and
the SLA sweep run by two workers at once applies each timer's action once."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import Counter
from typing import Any

import pytest
from django.db import connections, transaction
from django.utils import timezone

from dajian.platform.audit import verify_chain
from dajian.platform.errors import DajianError
from dajian.platform.models import AuditEvent
from dajian.runtime.approvals.services import decide_task, submit_for_approval, withdraw_approval
from dajian.runtime.models import (
    ApprovalEvent,
    ApprovalRequest,
    ApprovalTask,
    Notification,
    Record,
    Timer,
)
from dajian.runtime.services.records import create_record
from dajian.runtime.timers import fire_due_timers
from tests.factories import build_chain, make_actor, make_user
from tests.integration.threads import outcome, run_at_once

pytestmark = pytest.mark.django_db(transaction=True)

FIELDS = [{"key": "title", "type": "text", "label": "Title"}]


@pytest.fixture
def people(workspace, admin):
    manager = make_user("manager", workspace)
    rep = make_user("rep", workspace, manager=manager)
    return {"manager": manager, "rep": rep, "admin": admin}


def make_chain(admin_actor, form_factory, **step_options):
    form = form_factory(FIELDS, key="contract")
    build_chain(
        admin_actor,
        form,
        "approval",
        {
            "schema_version": 1,
            "label": "Approval",
            "steps": [
                {
                    "key": "manager",
                    "label": "Manager",
                    "approvers": [{"type": "manager"}],
                    **step_options,
                }
            ],
        },
    )


def submitted(workspace, rep, title: str) -> ApprovalRequest:
    actor = make_actor(rep, workspace)
    record = create_record(actor, "sales", "contract", {"title": title}).record
    return submit_for_approval(actor, record.pk, "approval")


def only_task(request: ApprovalRequest) -> ApprovalTask:
    return ApprovalTask.objects.non_polymorphic().get(request=request)


def test_ten_threads_deciding_one_task_record_one_decision(
    workspace, people, admin_actor, form_factory
):
    make_chain(admin_actor, form_factory)
    rounds, threads, violations = 100, 10, []
    for n in range(rounds):
        request = submitted(workspace, people["rep"], f"deal {n}")
        task = only_task(request)

        def decide(i: int, task_id: int = task.pk) -> Any:
            actor = make_actor(people["manager"], workspace)
            if i % 2:
                return decide_task(actor, task_id, "reject", comment="no")
            return decide_task(actor, task_id, "approve")

        counts = outcome(run_at_once(decide, threads))
        events = ApprovalEvent.objects.filter(request=request, kind="decided").count()
        request.refresh_from_db()
        if (
            counts != Counter({"ok": 1, "ALREADY_DECIDED": threads - 1})
            or events != 1
            or request.status not in ("approved", "rejected")
            or request.version != 2
        ):
            violations.append((n, counts, events, request.status))
    assert violations == []
    assert AuditEvent.objects.filter(action="approval.decided").count() == rounds
    assert verify_chain(workspace).ok


def test_approve_racing_withdraw_ends_in_one_consistent_state(
    workspace, people, admin_actor, form_factory
):
    make_chain(admin_actor, form_factory)
    rounds, violations, ends = 50, [], Counter()
    for n in range(rounds):
        request = submitted(workspace, people["rep"], f"deal {n}")
        task = only_task(request)

        def race(i: int, task_id: int = task.pk, request_id: int = request.pk) -> Any:
            if i == 0:
                return decide_task(make_actor(people["manager"], workspace), task_id, "approve")
            return withdraw_approval(make_actor(people["rep"], workspace), request_id)

        approve, withdraw = run_at_once(race, 2)
        request.refresh_from_db()
        task.refresh_from_db()
        kinds = set(ApprovalEvent.objects.filter(request=request).values_list("kind", flat=True))
        record_status = request.record.status
        approved_end = (
            not isinstance(approve, Exception)
            and isinstance(withdraw, DajianError)
            and withdraw.errors[0].code == "NOT_PENDING"
            and request.status == "approved"
            and task.status == "done"
            and "withdrawn" not in kinds
            and "decided" in kinds
        )
        withdrawn_end = (
            isinstance(approve, DajianError)
            and approve.errors[0].code == "ALREADY_DECIDED"
            and not isinstance(withdraw, Exception)
            and request.status == "withdrawn"
            and task.status == "cancelled"
            and "decided" not in kinds
            and "withdrawn" in kinds
        )
        ends[request.status] += 1
        if approved_end == withdrawn_end or record_status != "active":
            violations.append((n, approve, withdraw, request.status, task.status, kinds))
    assert violations == []
    assert sum(ends.values()) == rounds
    assert verify_chain(workspace).ok


@pytest.mark.parametrize("then", ["remind", "approve"])
def test_two_sweepers_apply_each_sla_action_once(
    workspace, people, admin_actor, form_factory, then
):
    make_chain(admin_actor, form_factory, sla={"within": {"hours": 4}, "then": then})
    rounds, per_round = 3, 30
    later = timezone.now() + dt.timedelta(days=1)
    for n in range(rounds):
        requests = [submitted(workspace, people["rep"], f"deal {n}-{i}") for i in range(per_round)]
        assert Timer.objects.filter(fired_at__isnull=True, cancelled_at__isnull=True).count() == (
            per_round
        )

        results = run_at_once(lambda i: fire_due_timers(later, batch=4), 2)

        assert not any(isinstance(r, Exception) for r in results), results
        assert sum(results) == per_round
        timers = Timer.objects.filter(payload__request__in=[r.pk for r in requests])
        assert timers.filter(fired_at__isnull=True).count() == 0
        assert not timers.filter(result__startswith="error").exists()
        if then == "remind":
            assert ApprovalEvent.objects.filter(request__in=requests, kind="reminded").count() == (
                per_round
            )
            assert (
                Notification.objects.filter(
                    kind="approval.reminder", payload__request__in=[r.pk for r in requests]
                ).count()
                == per_round
            )
        else:
            assert (
                ApprovalEvent.objects.filter(request__in=requests, kind="auto_approved").count()
                == per_round
            )
            assert set(
                ApprovalRequest.objects.filter(pk__in=[r.pk for r in requests]).values_list(
                    "status", flat=True
                )
            ) == {"approved"}
    action = "approval.reminded" if then == "remind" else "approval.decided"
    assert AuditEvent.objects.filter(action=action).count() == rounds * per_round
    assert verify_chain(workspace).ok


def test_a_busy_record_leaves_the_sla_action_for_the_next_run(
    workspace, people, admin_actor, form_factory
):
    make_chain(admin_actor, form_factory, sla={"within": {"hours": 4}, "then": "remind"})
    request = submitted(workspace, people["rep"], "deal")
    later = timezone.now() + dt.timedelta(days=1)
    locked, release = threading.Event(), threading.Event()

    def hold_the_record() -> None:
        try:
            with transaction.atomic():
                Record.objects.select_for_update().get(pk=request.record_id)
                locked.set()
                release.wait(30)
        finally:
            connections.close_all()

    holder = threading.Thread(target=hold_the_record)
    holder.start()
    try:
        assert locked.wait(30)
        started = time.monotonic()
        assert fire_due_timers(later) == 0  # lock timeout: left pending, not failed
        assert time.monotonic() - started < 5  # it did not wait for the lock
    finally:
        release.set()
        holder.join()

    first = Timer.objects.get(key__endswith=":sla")
    assert (first.fired_at, first.result) == (None, "")
    assert not ApprovalEvent.objects.filter(request=request, kind="reminded").exists()

    assert fire_due_timers(later + dt.timedelta(minutes=2)) == 1
    assert ApprovalEvent.objects.filter(request=request, kind="reminded").count() == 1
    assert fire_due_timers(later + dt.timedelta(minutes=5)) == 0


def test_decisions_racing_the_sla_sweep_never_deadlock(
    workspace, people, admin_actor, form_factory
):
    make_chain(admin_actor, form_factory, sla={"within": {"hours": 4}, "then": "remind"})
    later = timezone.now() + dt.timedelta(days=1)
    deciders, per_round = 3, 24
    for n in range(4):
        requests = [submitted(workspace, people["rep"], f"deal {n}-{i}") for i in range(per_round)]
        tasks = [only_task(r).pk for r in requests]

        def work(i: int, tasks: list[int] = tasks) -> Any:
            if i == 0:
                return fire_due_timers(later, batch=50)
            manager = make_actor(people["manager"], workspace)
            return [decide_task(manager, t, "approve") for t in tasks[i - 1 :: deciders]]

        results = run_at_once(work, deciders + 1)

        assert not any(isinstance(r, Exception) for r in results), results
        timers = Timer.objects.filter(payload__request__in=[r.pk for r in requests])
        assert not timers.filter(result__startswith="error").exists()
        for request in requests:
            reminded = ApprovalEvent.objects.filter(request=request, kind="reminded").count()
            assert reminded <= 1
        assert set(
            ApprovalRequest.objects.filter(pk__in=[r.pk for r in requests]).values_list(
                "status", flat=True
            )
        ) == {"approved"}
    assert verify_chain(workspace).ok
