"""Apps, forms and immutable form versions."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from dajian.platform.models import Workspace


class App(models.Model):
    """A bundle of forms (and later workflows, chains, dashboards) under one key."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="apps")
    key = models.SlugField(max_length=63)
    name = models.JSONField(default=dict)
    description = models.JSONField(default=dict, blank=True)
    version = models.CharField(max_length=32, default="0.1.0")
    created_at = models.DateTimeField(auto_now_add=True)
    # Set when the app was installed from (or upgraded to) an app template bundle.
    template_key = models.CharField(max_length=63, blank=True, default="")
    template_version = models.CharField(max_length=32, blank=True, default="")
    template_hash = models.CharField(max_length=64, blank=True, default="")
    installed_at = models.DateTimeField(null=True, blank=True)
    # Uninstalled without purge: hidden, automations stopped, records kept.
    archived_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["workspace", "key"], name="app_unique_key")]

    def __str__(self) -> str:
        return self.key


class Form(models.Model):
    """A form of an app: an editable draft and, once published, a current version."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="forms")
    app = models.ForeignKey(App, on_delete=models.CASCADE, related_name="forms")
    key = models.SlugField(max_length=63)
    draft = models.JSONField(default=dict)
    draft_saved_at = models.DateTimeField(null=True, blank=True)
    draft_saved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    published = models.ForeignKey(
        "FormVersion", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # The published workflow version, kept on the form row so a record write reads it
    # with the form (no extra query); set when a workflow is published.
    workflow = models.ForeignKey(
        "MetadataVersion", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["app", "key"], name="form_unique_key")]
        indexes = [models.Index(fields=["workspace", "key"], name="form_ws_key")]

    def __str__(self) -> str:
        return f"{self.app_id}/{self.key}"


class FormVersion(models.Model):
    """A published, immutable definition of a form, identified by its content hash."""

    form = models.ForeignKey(Form, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    definition = models.JSONField()
    content_hash = models.CharField(max_length=64)
    schema_version = models.PositiveIntegerField(default=1)
    published_at = models.DateTimeField()
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["form", "number"], name="formversion_unique_number")
        ]

    def __str__(self) -> str:
        return f"{self.form_id} v{self.number}"


class AutonumberCounter(models.Model):
    """The last number handed out for one autonumber field in one period (e.g. a year)."""

    form = models.ForeignKey(Form, on_delete=models.CASCADE, related_name="+")
    field_key = models.CharField(max_length=63)
    period = models.CharField(max_length=32, default="")
    value = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["form", "field_key", "period"], name="autonumber_unique_period"
            )
        ]

    def __str__(self) -> str:
        return f"{self.form_id}.{self.field_key}[{self.period}]={self.value}"


class MetadataKind(models.TextChoices):
    WORKFLOW = "workflow", "Workflow"
    APPROVAL_CHAIN = "approval_chain", "Approval chain"
    AUTOMATION = "automation", "Automation"
    DASHBOARD = "dashboard", "Dashboard"


class Metadata(models.Model):
    """A metadata document other than a form (a workflow, an approval chain, later
    automations and dashboards): an editable draft and, once published, a current
    immutable :class:`MetadataVersion`. A workflow's ``key`` is its form's key."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    app = models.ForeignKey(App, on_delete=models.CASCADE, related_name="metadata")
    kind = models.CharField(max_length=32, choices=MetadataKind.choices)
    key = models.SlugField(max_length=63)
    form = models.ForeignKey(
        Form, null=True, blank=True, on_delete=models.CASCADE, related_name="metadata"
    )
    draft = models.JSONField(default=dict)
    draft_saved_at = models.DateTimeField(null=True, blank=True)
    draft_saved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    published = models.ForeignKey(
        "MetadataVersion", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["app", "kind", "key"], name="metadata_unique_key")
        ]
        indexes = [models.Index(fields=["workspace", "kind", "form"], name="metadata_ws_kind_form")]

    def __str__(self) -> str:
        return f"{self.kind}:{self.key}"


class MetadataVersion(models.Model):
    """A published, immutable metadata document, identified by its content hash."""

    metadata = models.ForeignKey(Metadata, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    definition = models.JSONField()
    content_hash = models.CharField(max_length=64)
    schema_version = models.PositiveIntegerField(default=1)
    published_at = models.DateTimeField()
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["metadata", "number"], name="metadataversion_unique_number"
            )
        ]

    def __str__(self) -> str:
        return f"{self.metadata_id} v{self.number}"
