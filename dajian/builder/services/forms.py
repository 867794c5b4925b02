"""Form drafts and publishing.

Designers edit a draft; ``publish_form`` freezes it into an immutable
:class:`FormVersion` identified by the SHA-256 of its canonical JSON. Only valid
definitions are saved; an invalid one is refused with every problem listed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import transaction
from django.db.models import Max, QuerySet
from django.utils import timezone

from dajian.builder.checks import check_form_definition
from dajian.builder.errors import FormErrorCode
from dajian.builder.fields import registry
from dajian.builder.fields.base import definition_path
from dajian.builder.models import App, Form, FormVersion
from dajian.builder.services import publish_hooks
from dajian.platform.actors import Actor
from dajian.platform.audit import canonical_hash, record_event
from dajian.platform.errors import DajianError, ErrorDetail, not_found, permission_denied
from dajian.platform.permissions import DESIGNER_ROLES

SCHEMA_VERSION = 1


def can_design(actor: Actor) -> bool:
    """Workspace admins and members with the ``designer`` role edit metadata."""
    return actor.is_admin or bool(actor.roles & DESIGNER_ROLES)


def require_designer(actor: Actor) -> None:
    if not can_design(actor):
        raise permission_denied("Only app designers can change forms.")


def apps_for(actor: Actor) -> QuerySet[App]:
    """Apps of the actor's workspace (every member may read app metadata); apps that
    were uninstalled without purging (archived) are hidden until installed again."""
    return App.objects.filter(workspace=actor.workspace, archived_at__isnull=True)


def get_app(actor: Actor, key: str) -> App:
    app = apps_for(actor).filter(key=key).first()
    if app is None:
        raise not_found("App")
    return app


def get_form(actor: Actor, app_key: str, form_key: str) -> Form:
    form = (
        Form.objects.select_related("app", "published")
        .defer("draft", "published__definition")
        .filter(workspace=actor.workspace, app__key=app_key, key=form_key)
        .first()
    )
    if form is None:
        raise not_found("Form")
    return form


def content_hash(definition: Any) -> str:
    """SHA-256 of the canonical JSON of a metadata document (forms, workflows, chains);
    the audit log's canonical form, so it survives the jsonb round trip of numbers."""
    return canonical_hash(definition)


@transaction.atomic
def create_app(actor: Actor, key: str, name: Any, description: Any = None) -> App:
    """Create an app (idempotent on ``key``: an existing app keeps its data)."""
    require_designer(actor)
    errors = check_app_key(key)
    if errors:
        raise DajianError(errors)
    app, created = App.objects.get_or_create(
        workspace=actor.workspace,
        key=key,
        defaults={"name": name or key, "description": description or {}},
    )
    if created:
        record_event(actor, "app.created", "App", str(app.pk), {"key": [None, key]})
    return app


def check_app_key(key: Any) -> list[ErrorDetail]:
    import re

    if not isinstance(key, str) or not re.fullmatch(r"[a-z][a-z0-9_]{0,62}", key):
        return [
            ErrorDetail(
                code="INVALID_FORMAT",
                message="An app key is lower case letters, digits and _ (max 63).",
                field="key",
                path="key",
            )
        ]
    return []


@transaction.atomic
def save_form_draft(actor: Actor, app_key: str, form_key: str, definition: Any) -> Form:
    """Validate and store ``definition`` as the draft of ``app_key/form_key`` (the form
    is created on first save). Raises :class:`DajianError` with every problem."""
    require_designer(actor)
    app = get_app(actor, app_key)
    errors = check_form_definition(definition)
    if not errors and definition["key"] != form_key:
        errors.append(
            ErrorDetail(
                code=FormErrorCode.KEY_MISMATCH,
                message=f"The definition's key {definition['key']!r} is not {form_key!r}.",
                field="key",
                path="key",
            )
        )
    if errors:
        raise DajianError(errors)
    form = Form.objects.select_for_update().filter(app=app, key=form_key).first()
    before = form.draft if form else None
    if form is None:
        form = Form(workspace=actor.workspace, app=app, key=form_key)
    form.draft = {"schema_version": SCHEMA_VERSION, **definition}
    form.draft_saved_at = timezone.now()
    form.draft_saved_by = actor.user
    form.save()
    record_event(
        actor,
        "form.draft_saved",
        "Form",
        str(form.pk),
        {"draft_hash": [content_hash(before) if before else None, content_hash(form.draft)]},
    )
    return form


def check_rollup_sources(form: Form, definition: Mapping[str, Any]) -> list[ErrorDetail]:
    """Rollups over another form of the app need that form published with a single
    relation back to this one (checked at publish: forms may be drafted in any order)."""
    from dajian.builder.fields.rollup import RollupField

    rollups = [
        (spec, registry.build(spec))
        for spec in definition["fields"]
        if spec["type"] == "rollup" and spec["source"]["form"] != definition["key"]
    ]
    if not rollups:
        return []
    sources = {
        f.key: f.published.definition
        for f in Form.objects.filter(
            app_id=form.app_id, key__in={spec["source"]["form"] for spec, _ in rollups}
        ).select_related("published")
        if f.published is not None
    }
    errors: list[ErrorDetail] = []
    for spec, field_type in rollups:
        assert isinstance(field_type, RollupField)
        source = sources.get(spec["source"]["form"])
        if source is None:
            errors.append(
                ErrorDetail(
                    code="ROLLUP_INVALID_SOURCE",
                    message=f"Publish the form {spec['source']['form']!r} of this app first.",
                    field="fields",
                    path=f"{definition_path(definition, spec['key'])}.source.form",
                )
            )
            continue
        errors.extend(field_type.check_source(definition, source))
    return errors


@transaction.atomic
def publish_form(actor: Actor, app_key: str, form_key: str) -> FormVersion:
    """Freeze the draft as the next version. Publishing an unchanged draft returns the
    current version instead of creating an identical one."""
    require_designer(actor)
    form = get_form(actor, app_key, form_key)
    form = Form.objects.select_for_update(of=("self",)).select_related("published").get(pk=form.pk)
    if not form.draft:
        raise DajianError.single(FormErrorCode.NOTHING_TO_PUBLISH, "The form has no draft.")
    errors = check_form_definition(form.draft) or check_rollup_sources(form, form.draft)
    if errors:
        raise DajianError(errors)
    digest = content_hash(form.draft)
    if form.published is not None and form.published.content_hash == digest:
        return form.published
    number = (FormVersion.objects.filter(form=form).aggregate(n=Max("number"))["n"] or 0) + 1
    version = FormVersion.objects.create(
        form=form,
        number=number,
        definition=form.draft,
        content_hash=digest,
        schema_version=SCHEMA_VERSION,
        published_at=timezone.now(),
        published_by=actor.user,
    )
    previous = form.published.number if form.published else None
    form.published = version
    form.save(update_fields=["published"])
    publish_hooks.run(version)
    record_event(
        actor,
        "form.published",
        "Form",
        str(form.pk),
        {"version": [previous, number], "hash": digest},
    )
    return version
