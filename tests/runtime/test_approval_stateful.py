"""Random sequences of submit / decide / delegate / withdraw / resubmit / unfreeze keep
the approval engine's invariants (a hypothesis state machine, a fresh workspace per
example):

- every request ends in exactly one state, and only pending requests have open tasks;
- a record has at most one pending request, and is ``in_approval`` exactly then;
- no task is decided twice: each decided task has exactly one decision event;
- every decision has an ApprovalEvent and an audit event; the audit chain verifies.
"""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from dajian.platform.audit import verify_chain
from dajian.platform.errors import DajianError
from dajian.platform.models import AuditEvent
from dajian.runtime.approvals.services import (
    decide_task,
    submit_for_approval,
    unfreeze_record,
    withdraw_approval,
)
from dajian.runtime.models import ApprovalEvent, ApprovalRequest, ApprovalTask, Record
from dajian.runtime.services.records import create_record
from tests.factories import build_chain, build_form, make_actor, make_user, make_workspace

_examples = itertools.count()
DECISION_KINDS = ("decided", "auto_approved", "auto_rejected")
FINAL = {"approved", "rejected", "returned", "withdrawn"}
CHAIN = {
    "schema_version": 1,
    "label": "Contract",
    "steps": [
        {
            "key": "manager",
            "label": "Manager",
            "approvers": [{"type": "manager"}],
            "decisions": ["approve", "reject", "return", "delegate"],
        },
        {
            "key": "countersign",
            "label": "Finance and product",
            "mode": "all",
            "approvers": [{"type": "role", "role": "finance"}, {"type": "role", "role": "product"}],
            "decisions": ["approve", "reject", "return", "delegate"],
            "on_reject": "freeze",
        },
        {
            "key": "director",
            "label": "Director",
            "condition": "amount > 500.0",
            "approvers": [{"type": "role", "role": "sales_director"}],
            "decisions": ["approve", "reject", "return"],
            "on_reject": "return",
            "return_to": "manager",
        },
    ],
}
# Every refusal a random call may meet; anything else is a bug.
EXPECTED_CODES = {
    "ALREADY_DECIDED",
    "NOT_ASSIGNEE",
    "DECISION_NOT_ALLOWED",
    "REASON_REQUIRED",
    "DELEGATE_INVALID",
    "NOT_PENDING",
    "PERMISSION_DENIED",
    "APPROVAL_PENDING",
    "RECORD_FROZEN",
    "NOT_FROZEN",
    "INVALID_RETURN_STEP",
}


class ApprovalMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        n = next(_examples)
        self.workspace = make_workspace(f"ex{n}")
        ws = self.workspace
        admin = make_user(f"admin{n}", ws, is_admin=True)
        director = make_user(f"director{n}", ws, roles=["sales_director"])
        manager = make_user(f"manager{n}", ws, manager=director)
        reps = [make_user(f"rep{n}_{i}", ws, manager=manager) for i in range(2)]
        self.users = [
            director,
            manager,
            *reps,
            make_user(f"finance{n}", ws, roles=["finance"]),
            make_user(f"product{n}", ws, roles=["product"]),
        ]
        self.admin = make_actor(admin, ws)
        form = build_form(
            self.admin,
            [
                {"key": "title", "type": "text", "label": "Title"},
                {"key": "amount", "type": "number", "label": "Amount"},
            ],
            key="contract",
        )
        build_chain(self.admin, form, "approval", CHAIN)
        self.records = [
            create_record(
                make_actor(rep, ws),
                "sales",
                "contract",
                {"title": f"deal {i}", "amount": 100 + 900 * i},
            ).record
            for i, rep in enumerate(reps)
        ]
        self.owners = dict(zip([r.pk for r in self.records], reps, strict=True))

    def actor(self, user):
        return make_actor(user, self.workspace)

    def attempt(self, call):
        try:
            return call()
        except DajianError as exc:
            assert exc.errors[0].code in EXPECTED_CODES, exc.errors
            return None

    def tasks(self):
        return list(
            ApprovalTask.objects.non_polymorphic().filter(workspace=self.workspace).order_by("id")
        )

    @initialize()
    def submit_both(self):
        for record in self.records:
            submit_for_approval(self.actor(self.owners[record.pk]), record.pk, "approval")

    @rule(which=st.integers(0, 1))
    def submit(self, which):
        record = self.records[which]
        self.attempt(
            lambda: submit_for_approval(self.actor(self.owners[record.pk]), record.pk, "approval")
        )

    def open_tasks(self):
        return [t for t in self.tasks() if t.status == "open"]

    @precondition(lambda self: self.has_open_tasks())
    @rule(pick=st.integers(0, 50), decision=st.sampled_from(["approve"] * 4 + ["reject", "return"]))
    def decide(self, pick, decision):
        task = self.pick(self.open_tasks(), pick)
        self.attempt(
            lambda: decide_task(self.actor(task.assignee), task.pk, decision, comment="because")
        )

    @rule(
        pick=st.integers(0, 50),
        decision=st.sampled_from(["approve", "reject"]),
        as_assignee=st.booleans(),
    )
    def decide_any_task(self, pick, decision, as_assignee):
        """Closed tasks, other people's tasks: refusals that must change nothing."""
        tasks = self.tasks()
        if not tasks:
            return
        task = self.pick(tasks, pick)
        user = task.assignee if as_assignee else self.users[pick % len(self.users)]
        self.attempt(lambda: decide_task(self.actor(user), task.pk, decision, comment="x"))

    def has_open_tasks(self):
        return ApprovalTask.objects.filter(workspace=self.workspace, status="open").exists()

    @staticmethod
    def pick(items, index):
        return items[index % len(items)]

    @precondition(lambda self: self.has_open_tasks())
    @rule(pick=st.integers(0, 50), to=st.integers(0, 5))
    def delegate(self, pick, to):
        task = self.pick(self.open_tasks(), pick)
        self.attempt(
            lambda: decide_task(
                self.actor(task.assignee), task.pk, "delegate", delegate_to=self.users[to].pk
            )
        )

    @rule(which=st.integers(0, 1), as_admin=st.booleans())
    def withdraw(self, which, as_admin):
        record = self.records[which]
        request = ApprovalRequest.objects.filter(record=record).order_by("-id").first()
        if request is None:
            return
        actor = self.admin if as_admin else self.actor(self.owners[record.pk])
        self.attempt(lambda: withdraw_approval(actor, request.pk))

    @rule(which=st.integers(0, 1))
    def unfreeze(self, which):
        self.attempt(lambda: unfreeze_record(self.admin, self.records[which].pk, "checked"))

    @invariant()
    def requests_have_one_state(self):
        for request in ApprovalRequest.objects.filter(workspace=self.workspace):
            open_count = ApprovalTask.objects.filter(request=request, status="open").count()
            if request.status == "pending":
                assert open_count >= 1 and request.decided_at is None
            else:
                assert request.status in FINAL
                assert open_count == 0 and request.decided_at is not None

    @invariant()
    def records_match_their_requests(self):
        for record in Record.objects.filter(workspace=self.workspace):
            pending = ApprovalRequest.objects.filter(record=record, status="pending").count()
            assert pending <= 1
            assert (record.status == "in_approval") == (pending == 1)

    @invariant()
    def no_task_decided_twice_and_every_decision_audited(self):
        decisions = ApprovalEvent.objects.filter(workspace=self.workspace, kind__in=DECISION_KINDS)
        per_task: dict[int, int] = {}
        for event in decisions:
            per_task[event.payload["task"]] = per_task.get(event.payload["task"], 0) + 1
        decided = set(
            ApprovalTask.objects.filter(workspace=self.workspace, status="done").values_list(
                "pk", flat=True
            )
        )
        assert per_task == dict.fromkeys(decided, 1)
        audited = AuditEvent.objects.filter(workspace=self.workspace, action="approval.decided")
        assert audited.count() == len(per_task)

    def teardown(self):
        assert verify_chain(self.workspace).ok


def run_machine(max_examples: int) -> None:
    """Drive :class:`ApprovalMachine` for ``max_examples`` sequences of up to 25 steps."""
    run_state_machine_as_test(
        ApprovalMachine,
        settings=settings(
            max_examples=max_examples,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )


@pytest.mark.django_db
def test_random_sequences_keep_the_invariants():
    run_machine(max_examples=30)
