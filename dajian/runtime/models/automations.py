"""Automation runs, their action executions, outbound deliveries and ownership logs.

An :class:`AutomationRun` is one firing of one published automation: for an event
trigger, one per (automation, outbox event); for a schedule, one per (automation, cron
tick); for a date trigger, one per (automation, scan). ``trigger_key`` names that firing
and is unique per automation, so a redelivered task finds its run.

An :class:`ActionExecution` is one action of a run applied to one record, unique on
(automation, record, trigger key, action index): the idempotency key of R17/R18. It is
written in the same transaction as the action's effect, so an execution that is ``done``
has happened exactly once and a redelivered task skips it.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from dajian.builder.models import App, Metadata, MetadataVersion
from dajian.platform.models import Workspace
from dajian.runtime.models.records import OutboxEvent, Record


class RunStatus(models.TextChoices):
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Some actions failed"
    LOOP_STOPPED = "loop_stopped", "Stopped: automation chain too deep"


class AutomationRun(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    automation = models.ForeignKey(Metadata, on_delete=models.CASCADE, related_name="runs")
    version = models.ForeignKey(
        MetadataVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    trigger = models.CharField(max_length=32)
    trigger_key = models.CharField(max_length=128)
    event = models.ForeignKey(
        OutboxEvent, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    depth = models.PositiveSmallIntegerField(default=0)
    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.RUNNING)
    records_scanned = models.PositiveIntegerField(default=0)
    records_matched = models.PositiveIntegerField(default=0)
    actions_done = models.PositiveIntegerField(default=0)
    actions_failed = models.PositiveIntegerField(default=0)
    message = models.TextField(blank=True, default="")
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["automation", "trigger_key"], name="automationrun_unique_trigger"
            )
        ]
        indexes = [
            models.Index(
                fields=["workspace", "automation", "-started_at", "-id"], name="automationrun_log"
            )
        ]

    def __str__(self) -> str:
        return f"run {self.pk} of {self.automation_id} ({self.trigger_key})"


class ExecutionStatus(models.TextChoices):
    DONE = "done", "Done"
    FAILED = "failed", "Failed (will retry)"
    GAVE_UP = "gave_up", "Failed (no more retries)"


class ActionExecution(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    run = models.ForeignKey(AutomationRun, on_delete=models.CASCADE, related_name="executions")
    automation = models.ForeignKey(Metadata, on_delete=models.CASCADE, related_name="+")
    # 0 when the action acted on no record (a digest); not a foreign key, so the
    # idempotency key outlives a deleted record.
    record_key = models.BigIntegerField(default=0)
    trigger_key = models.CharField(max_length=128)
    action_index = models.PositiveSmallIntegerField()
    action_type = models.CharField(max_length=32)
    status = models.CharField(max_length=16, choices=ExecutionStatus.choices)
    attempts = models.PositiveSmallIntegerField(default=1)
    result = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["automation", "record_key", "trigger_key", "action_index"],
                name="actionexecution_idempotency",
            )
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=models.Q(status="failed"),
                name="actionexecution_retry",
            ),
            models.Index(fields=["run", "id"], name="actionexecution_run"),
        ]

    def __str__(self) -> str:
        return f"{self.action_type}#{self.action_index} on {self.record_key}: {self.status}"


class DeliveryChannel(models.TextChoices):
    WEBHOOK = "webhook", "Signed webhook"
    IM_ROBOT = "im_robot", "IM group robot"
    EMAIL = "email", "E-mail"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    DELIVERED = "delivered", "Delivered"
    GAVE_UP = "gave_up", "Gave up"


class Delivery(models.Model):
    """A message to the outside world (webhook, IM robot, e-mail). Written in the
    transaction of the action that asks for it and sent after commit by a task that
    retries with backoff up to ``max_attempts``. ``message_id`` is the Standard
    Webhooks ``webhook-id``: the same on every attempt, so receivers can deduplicate."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    execution = models.ForeignKey(
        ActionExecution, null=True, blank=True, on_delete=models.SET_NULL, related_name="deliveries"
    )
    channel = models.CharField(max_length=16, choices=DeliveryChannel.choices)
    target = models.TextField()
    payload = models.JSONField(default=dict)
    message_id = models.CharField(max_length=64, unique=True)
    status = models.CharField(
        max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    max_attempts = models.PositiveSmallIntegerField(default=6)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=models.Q(status="pending"),
                name="delivery_pending",
            ),
            models.Index(fields=["workspace", "-created_at", "-id"], name="delivery_log"),
        ]

    def __str__(self) -> str:
        return f"{self.channel} delivery {self.message_id}: {self.status}"


class WebhookSettings(models.Model):
    """Per workspace: the signing secret of outgoing webhooks (``whsec_`` + base64) and
    the hosts / networks an admin allows even though they are loopback or private."""

    workspace = models.OneToOneField(
        Workspace, on_delete=models.CASCADE, related_name="webhook_settings"
    )
    secret = models.CharField(max_length=128)
    allowlist = models.JSONField(default=list, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"webhook settings of {self.workspace_id}"


class PoolClaim(models.Model):
    """A record taken from the public pool; today's rows count against the daily limit."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    record = models.ForeignKey(Record, on_delete=models.CASCADE, related_name="+")
    claimed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            models.Index(fields=["workspace", "user", "-claimed_at"], name="poolclaim_user_day")
        ]

    def __str__(self) -> str:
        return f"{self.user_id} claimed {self.record_id}"


class Handover(models.Model):
    """A completed ownership transfer (R25) and its handover list: the records moved,
    the open tasks and each record's last activities, as they were at the transfer."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    app = models.ForeignKey(App, on_delete=models.CASCADE, related_name="+")
    from_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    to_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    record_count = models.PositiveIntegerField(default=0)
    task_count = models.PositiveIntegerField(default=0)
    items = models.JSONField(default=dict)

    class Meta:
        indexes = [models.Index(fields=["workspace", "-created_at"], name="handover_log")]

    def __str__(self) -> str:
        return f"handover {self.from_user_id} → {self.to_user_id}"
