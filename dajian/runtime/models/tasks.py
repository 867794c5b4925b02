"""The task inbox: one polymorphic table for every kind of task a user works on.

List tasks with ``Task.objects.non_polymorphic()`` plus ``select_related`` of the
subclass links where needed; never call ``get_real_instance()`` in a loop (DESIGN §7).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from polymorphic.models import PolymorphicModel

from dajian.platform.models import Workspace
from dajian.runtime.models.approvals import ApprovalRequest
from dajian.runtime.models.records import Record


class TaskStatus(models.TextChoices):
    OPEN = "open", "Open"
    DONE = "done", "Done"
    CANCELLED = "cancelled", "Cancelled"


class TaskKind(models.TextChoices):
    APPROVAL = "approval", "Approval"
    TODO = "todo", "To-do"
    VERIFICATION = "verification", "Verification"


class Task(PolymorphicModel):
    """Something one user has to do. ``kind`` repeats the subclass so counts by kind
    and the inbox list need no join; ``version`` guards concurrent decisions."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    kind = models.CharField(max_length=16, choices=TaskKind.choices)
    status = models.CharField(max_length=16, choices=TaskStatus.choices, default=TaskStatus.OPEN)
    title = models.JSONField(default=dict, blank=True)
    record = models.ForeignKey(
        Record, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    created_at = models.DateTimeField()
    due_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    decision = models.CharField(max_length=16, blank=True, default="")
    comment = models.TextField(blank=True, default="")
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    version = models.PositiveIntegerField(default=1)

    class Meta:
        indexes = [
            models.Index(
                fields=["workspace", "assignee", "status", "-created_at", "-id"],
                name="task_inbox",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} task {self.pk}"


class ApprovalTask(Task):
    """An approver's turn on one step of a request. In a sequential step only the
    approver whose turn it is has a task; the next approver's task is created when the
    previous one approves (``position`` is the approver's place in the step's plan)."""

    request = models.ForeignKey(ApprovalRequest, on_delete=models.CASCADE, related_name="tasks")
    step_index = models.PositiveIntegerField()
    step_key = models.CharField(max_length=63)
    round = models.PositiveIntegerField(default=1)
    position = models.PositiveIntegerField(default=0)
    delegated_from = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    escalated = models.BooleanField(default=False)


class TodoTask(Task):
    """A to-do created by an automation or an escalation, with suggested actions."""

    message = models.JSONField(default=dict, blank=True)
    suggested_actions = models.JSONField(default=list, blank=True)
    source = models.CharField(max_length=128, blank=True, default="")


class VerificationTask(Task):
    """Someone must check a record (e.g. a visit flagged as pending verification)."""

    reason = models.CharField(max_length=63, blank=True, default="")
