"""Builder queries (``apps``, ``app``, ``form``) and mutations (``createApp``,
``saveFormDraft``, ``publishForm``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import graphene
from django.db.models import Prefetch
from graphene.types.generic import GenericScalar

from dajian.builder.definitions import FormDefinition, definition_for_version
from dajian.builder.graphql.automations import AutomationMutation, AutomationQuery
from dajian.builder.graphql.dashboards import DashboardDocumentMutation, DashboardDocumentQuery
from dajian.builder.graphql.form_workflow import FormWorkflow, form_workflow
from dajian.builder.graphql.metadata import MetadataMutation, MetadataQuery
from dajian.builder.graphql.types import (
    FieldRule,
    FormField,
    FormPermissions,
    FormRule,
    field_object,
)
from dajian.builder.models import App, Form, Metadata, MetadataKind
from dajian.builder.services import forms as form_service
from dajian.platform.actors import Actor
from dajian.platform.errors import DajianError
from dajian.platform.graphql.base import DajianMutation, Error, current_actor, graphql_error
from dajian.platform.i18n import localize
from dajian.platform.permissions import Action, RowScope, resolve_policy

__all__ = ["BuilderMutation", "BuilderQuery", "FieldRule"]


class FormType(graphene.ObjectType):
    """A form: its published version rendered for the caller (labels in the caller's
    language, hidden fields left out, read-only fields marked), plus its draft for
    designers."""

    class Meta:
        name = "Form"

    key = graphene.String(required=True)
    app = graphene.String(required=True)
    name = graphene.String(required=True)
    description = graphene.String()
    version = graphene.Int(description="Published version number (null before publishing).")
    content_hash = graphene.String()
    published_at = graphene.DateTime()
    fields = graphene.List(graphene.NonNull(FormField), required=True)
    rules = graphene.List(graphene.NonNull(FormRule), required=True)
    layout = GenericScalar()
    title_fields = graphene.List(graphene.NonNull(graphene.String), required=True)
    json_schema = GenericScalar(description="JSON Schema 2020-12 of the record's data.")
    definition = GenericScalar(description="The published definition (designers only).")
    draft = GenericScalar(description="The current draft (designers only).")
    permissions = graphene.Field(FormPermissions, required=True)
    workflow = graphene.Field(FormWorkflow, description="The published stages and transitions.")

    @staticmethod
    def _definition(form: Form) -> FormDefinition | None:
        return definition_for_version(form.published) if form.published_id else None

    @staticmethod
    def _raw(form: Form) -> Mapping[str, Any]:
        definition = FormType._definition(form)
        return definition.raw if definition is not None else form.draft

    def resolve_app(form: Form, info: Any) -> str:
        return form.app.key

    def resolve_name(form: Form, info: Any) -> str:
        return localize(FormType._raw(form).get("name")) or form.key

    def resolve_description(form: Form, info: Any) -> str | None:
        return localize(FormType._raw(form).get("description")) or None

    def resolve_version(form: Form, info: Any) -> int | None:
        return form.published.number if form.published is not None else None

    def resolve_content_hash(form: Form, info: Any) -> str | None:
        return form.published.content_hash if form.published is not None else None

    def resolve_published_at(form: Form, info: Any) -> Any:
        return form.published.published_at if form.published is not None else None

    def resolve_fields(form: Form, info: Any) -> list[FormField]:
        definition = FormType._definition(form)
        if definition is None:
            return []
        policy = _policy(info, definition)
        return [
            field_object(dict(spec), definition, spec["key"] in policy.readonly_fields)
            for spec in definition.fields
            if spec["key"] not in policy.hidden_fields
        ]

    def resolve_rules(form: Form, info: Any) -> list[FormRule]:
        definition = FormType._definition(form)
        if definition is None:
            return []
        return [
            FormRule(
                key=r["key"],
                expression=r["expression"],
                message=localize(r["message"]),
                severity=r.get("severity", "error"),
                flag=r.get("flag", r["key"]) if r.get("severity") == "flag" else None,
                fields=r.get("fields", []),
            )
            for r in definition.raw.get("rules", [])
        ]

    def resolve_layout(form: Form, info: Any) -> Any:
        return FormType._raw(form).get("layout")

    def resolve_title_fields(form: Form, info: Any) -> list[str]:
        definition = FormType._definition(form)
        return definition.title_fields if definition else []

    def resolve_json_schema(form: Form, info: Any) -> Any:
        definition = FormType._definition(form)
        return definition.json_schema() if definition else None

    def resolve_definition(form: Form, info: Any) -> Any:
        if not form_service.can_design(current_actor(info)) or form.published is None:
            return None
        return form.published.definition

    def resolve_draft(form: Form, info: Any) -> Any:
        return form.draft if form_service.can_design(current_actor(info)) else None

    def resolve_permissions(form: Form, info: Any) -> FormPermissions:
        definition = FormType._definition(form)
        actor = current_actor(info)
        policy = resolve_policy(actor, definition.permissions if definition else None)
        published = definition is not None
        return FormPermissions(
            can_create=published and policy.can_create,
            can_read=published and policy.allows(Action.READ),
            can_update=published and policy.allows(Action.UPDATE),
            can_delete=published and policy.allows(Action.DELETE),
            read_scopes=sorted(s.value for s in policy.scopes[Action.READ] if s != RowScope.NONE),
        )

    def resolve_workflow(form: Form, info: Any) -> FormWorkflow | None:
        return form_workflow(form)


def _policy(info: Any, definition: FormDefinition):  # type: ignore[no-untyped-def]
    return resolve_policy(current_actor(info), definition.permissions)


class AppType(graphene.ObjectType):
    class Meta:
        name = "App"

    key = graphene.String(required=True)
    name = graphene.String(required=True)
    description = graphene.String()
    version = graphene.String(required=True)
    forms = graphene.List(graphene.NonNull(FormType), required=True)

    def resolve_name(app: App, info: Any) -> str:
        return localize(app.name) or app.key

    def resolve_description(app: App, info: Any) -> str | None:
        return localize(app.description) or None

    def resolve_forms(app: App, info: Any) -> list[Form]:
        # Prefetched by the app queries: no query per app.
        return list(app.forms.all())


def _apps(info: Any) -> Any:
    actor = current_actor(info)
    workflows = Metadata.objects.filter(
        kind=MetadataKind.WORKFLOW, published__isnull=False
    ).select_related("published")
    return (
        form_service.apps_for(actor)
        .prefetch_related(
            "forms__published",
            "forms__app",
            Prefetch("forms__metadata", queryset=workflows, to_attr="published_workflows"),
        )
        .order_by("key")
    )


class BuilderQuery(MetadataQuery, AutomationQuery, DashboardDocumentQuery, graphene.ObjectType):
    apps = graphene.List(graphene.NonNull(AppType), required=True)
    app = graphene.Field(AppType, key=graphene.String(required=True))
    form = graphene.Field(
        FormType,
        app=graphene.String(required=True),
        key=graphene.String(required=True),
        description="Everything a client needs to render and validate the form.",
    )

    def resolve_apps(root: Any, info: Any) -> list[App]:
        return list(_apps(info))

    def resolve_app(root: Any, info: Any, key: str) -> App | None:
        return _apps(info).filter(key=key).first()

    def resolve_form(root: Any, info: Any, app: str, key: str) -> Form:
        try:
            return form_service.get_form(current_actor(info), app, key)
        except DajianError as exc:
            raise graphql_error(exc) from None


class CreateAppInput(graphene.InputObjectType):
    key = graphene.String(required=True)
    name = GenericScalar(required=True, description="A text or {locale: text}.")
    description = GenericScalar()


class CreateApp(DajianMutation):
    app = graphene.Field(AppType)

    class Arguments:
        input = CreateAppInput(required=True)

    class Meta:
        description = "Create an app (idempotent on its key)."
        permission = "designer"
        error_type = Error

    @classmethod
    def perform(cls, root: Any, info: Any, actor: Actor, input: Any) -> CreateApp:
        app = form_service.create_app(actor, input.key, input.name, input.get("description"))
        return cls(app=app, errors=[])


class SaveFormDraftInput(graphene.InputObjectType):
    app = graphene.String(required=True)
    key = graphene.String(description="The form key; defaults to definition.key.")
    definition = GenericScalar(required=True)


class SaveFormDraft(DajianMutation):
    form = graphene.Field(FormType)
    definition = GenericScalar()

    class Arguments:
        input = SaveFormDraftInput(required=True)

    class Meta:
        description = "Validate a form definition and store it as the form's draft."
        permission = "designer"
        error_type = Error

    @classmethod
    def perform(cls, root: Any, info: Any, actor: Actor, input: Any) -> SaveFormDraft:
        definition = input.definition
        key = input.get("key") or (definition.get("key") if isinstance(definition, dict) else None)
        form = form_service.save_form_draft(actor, input.app, key or "", definition)
        return cls(form=form, definition=form.draft, errors=[])


class PublishFormInput(graphene.InputObjectType):
    app = graphene.String(required=True)
    key = graphene.String(required=True)


class PublishForm(DajianMutation):
    form = graphene.Field(FormType)
    version = graphene.Int()
    definition = GenericScalar()

    class Arguments:
        input = PublishFormInput(required=True)

    class Meta:
        description = "Freeze the draft as a new immutable version."
        permission = "designer"
        error_type = Error

    @classmethod
    def perform(cls, root: Any, info: Any, actor: Actor, input: Any) -> PublishForm:
        version = form_service.publish_form(actor, input.app, input.key)
        form = form_service.get_form(actor, input.app, input.key)
        return cls(form=form, version=version.number, definition=version.definition, errors=[])


class BuilderMutation(
    MetadataMutation, AutomationMutation, DashboardDocumentMutation, graphene.ObjectType
):
    create_app = CreateApp.Field()
    save_form_draft = SaveFormDraft.Field()
    publish_form = PublishForm.Field()
