"""Records: real system columns, user fields in one JSON ``data`` column."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from dajian.builder.models import Form, FormVersion
from dajian.platform.actors import Actor
from dajian.platform.models import Workspace
from dajian.platform.permissions import Action, RowScope, scope_condition


def row_scope_condition(actor: Actor, form: Form, action: Action = Action.READ) -> models.Q:
    """The row condition of :meth:`RecordQuerySet.permitted` on the ``owner`` column:
    the actor's row scope for ``action`` (R23), and for reading also the public pool for
    those who see it (:attr:`~dajian.platform.permissions.FormPolicy.sees_pool`, R24).
    Shared with the promoted facts of dashboards, which carry the same ``owner``."""
    from dajian.runtime.policies import policy_for

    policy = policy_for(actor, form)
    scopes = policy.scopes[action]
    condition = scope_condition(actor, scopes)
    if action == Action.READ and policy.sees_pool and RowScope.ALL not in scopes:
        condition |= models.Q(owner__isnull=True)  # the public pool, to claim from
    return condition


class RecordQuerySet(models.QuerySet["Record"]):
    def permitted(self, actor: Actor, form: Form, action: Action = Action.READ) -> RecordQuerySet:
        """The one permission-scoped starting point of every record read and write:
        records of ``form`` in the actor's workspace that the actor's row scope for
        ``action`` reaches (:func:`row_scope_condition`)."""
        return self.filter(workspace_id=actor.workspace.pk, form_id=form.pk).filter(
            row_scope_condition(actor, form, action)
        )


class RecordStatus(models.TextChoices):
    """``in_approval`` while a request is pending; ``frozen`` after a veto that freezes."""

    ACTIVE = "active", "Active"
    IN_APPROVAL = "in_approval", "In approval"
    FROZEN = "frozen", "Frozen"


class Record(models.Model):
    """One row of any form. ``version`` increases on every write (optimistic locking)."""

    workspace = models.ForeignKey(Workspace, on_delete=models.PROTECT, related_name="+")
    form = models.ForeignKey(Form, on_delete=models.PROTECT, related_name="records")
    form_version = models.ForeignKey(FormVersion, on_delete=models.PROTECT, related_name="+")
    stage = models.CharField(max_length=63, null=True, blank=True)
    stage_entered_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=32, default=RecordStatus.ACTIVE)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    version = models.PositiveIntegerField(default=1)
    data = models.JSONField(default=dict)
    flags = models.JSONField(default=list)
    idempotency_key = models.CharField(max_length=128, null=True, blank=True)

    objects = RecordQuerySet.as_manager()

    class Meta:
        indexes = [
            models.Index(
                fields=["workspace", "form", "-created_at", "-id"], name="record_ws_form_created"
            ),
            models.Index(fields=["workspace", "owner"], name="record_ws_owner"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "created_by", "idempotency_key"],
                condition=models.Q(idempotency_key__isnull=False),
                name="record_unique_idempotency_key",
            )
        ]

    def __str__(self) -> str:
        return f"Record {self.pk}"


class RecordDedupeKey(models.Model):
    """A normalised duplicate key of a record for one duplicate rule (R5).

    Keys of blocking rules are unique per form and rule, so concurrent creates of the same
    customer cannot both succeed; keys of warning rules only flag.
    """

    record = models.ForeignKey(Record, on_delete=models.CASCADE, related_name="dedupe_keys")
    form = models.ForeignKey(Form, on_delete=models.CASCADE, related_name="+")
    rule = models.CharField(max_length=63)
    key_hash = models.CharField(max_length=64)
    blocking = models.BooleanField(default=True)

    class Meta:
        indexes = [models.Index(fields=["form", "rule", "key_hash"], name="dedupe_lookup")]
        constraints = [
            models.UniqueConstraint(
                fields=["form", "rule", "key_hash"],
                condition=models.Q(blocking=True),
                name="dedupe_unique_blocking",
            )
        ]

    def __str__(self) -> str:
        return f"{self.rule}:{self.key_hash[:12]}"


class OutboxEvent(models.Model):
    """An event written in the same transaction as the change; only its id is enqueued
    after commit, and the task that handles it is idempotent."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    topic = models.CharField(max_length=64)
    payload = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now)
    processed_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)

    class Meta:
        indexes = [models.Index(fields=["processed_at", "id"], name="outbox_pending")]

    def __str__(self) -> str:
        return f"{self.topic} #{self.pk}"
