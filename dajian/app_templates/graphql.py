"""GraphQL of the app templates: ``templates`` and ``installTemplate`` (contract v1), and
the app lifecycle: ``uninstallApp`` and ``exportApp``. The work is in
:mod:`dajian.app_templates.installer`; installing, uninstalling and exporting are for
workspace admins, listing the templates for every member (the app market page)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import graphene
from graphene.types.generic import GenericScalar

from dajian.app_templates import installer
from dajian.app_templates.bundle import Bundle
from dajian.builder.graphql.schema import AppType
from dajian.builder.models import App
from dajian.platform.actors import Actor
from dajian.platform.errors import CommonErrorCode, DajianError
from dajian.platform.graphql.base import DajianMutation, Error, current_actor, graphql_error
from dajian.platform.i18n import localize

MAX_SAMPLE_RECORDS = 100_000
ADMIN = "workspace admin"


class TemplateContents(graphene.ObjectType):
    """The keys of what a template holds, by kind."""

    forms = graphene.List(graphene.NonNull(graphene.String), required=True)
    workflows = graphene.List(graphene.NonNull(graphene.String), required=True)
    approval_chains = graphene.List(graphene.NonNull(graphene.String), required=True)
    automations = graphene.List(graphene.NonNull(graphene.String), required=True)
    dashboards = graphene.List(graphene.NonNull(graphene.String), required=True)
    roles = graphene.List(graphene.NonNull(graphene.String), required=True)


@dataclass
class _Listed:
    bundle: Bundle
    installed_version: str | None


class AppTemplate(graphene.ObjectType):
    """An app template of the market page: what it is and holds, and which version of
    it the workspace runs (null when not installed, or uninstalled)."""

    key = graphene.String(required=True)
    name = graphene.String(required=True)
    description = graphene.String()
    category = graphene.String()
    version = graphene.String(required=True)
    hash = graphene.String(required=True, description="SHA-256 of the bundle's content.")
    contents = graphene.Field(TemplateContents, required=True)
    installed_version = graphene.String()

    def resolve_key(item: _Listed, info: Any) -> str:
        return item.bundle.key

    def resolve_name(item: _Listed, info: Any) -> str:
        return localize(item.bundle.manifest["name"]) or item.bundle.key

    def resolve_description(item: _Listed, info: Any) -> str | None:
        return localize(item.bundle.manifest.get("description")) or None

    def resolve_category(item: _Listed, info: Any) -> str | None:
        return item.bundle.manifest.get("category")

    def resolve_version(item: _Listed, info: Any) -> str:
        return item.bundle.version

    def resolve_hash(item: _Listed, info: Any) -> str:
        return item.bundle.hash

    def resolve_contents(item: _Listed, info: Any) -> TemplateContents:
        return TemplateContents(**item.bundle.contents())

    def resolve_installed_version(item: _Listed, info: Any) -> str | None:
        return item.installed_version


class InstallReportType(graphene.ObjectType):
    """What an install did; documents by bundle path (``forms/customer.json``)."""

    class Meta:
        name = "InstallReport"

    action = graphene.String(required=True, description="installed | upgraded | unchanged")
    added = graphene.List(graphene.NonNull(graphene.String), required=True)
    changed = graphene.List(graphene.NonNull(graphene.String), required=True)
    removed = graphene.List(graphene.NonNull(graphene.String), required=True)
    unchanged = graphene.List(graphene.NonNull(graphene.String), required=True)
    kept = graphene.List(
        graphene.NonNull(graphene.String),
        required=True,
        description="Forms, workflows and chains the bundle dropped, left in place.",
    )
    roles = graphene.List(
        graphene.NonNull(graphene.String), required=True, description="Roles created."
    )
    records = graphene.Int(required=True, description="Sample records written.")


class TemplatesQuery(graphene.ObjectType):
    templates = graphene.List(
        graphene.NonNull(AppTemplate),
        required=True,
        description="The app templates this server ships, for the app market page.",
    )
    export_app = GenericScalar(
        key=graphene.String(required=True),
        description=(
            "The app's published state as a bundle {manifest, documents, hash} that "
            "installs in another workspace. Permission: workspace admin."
        ),
    )

    def resolve_templates(root: Any, info: Any) -> list[_Listed]:
        actor = current_actor(info)
        bundles = installer.available_templates()
        installed = dict(
            App.objects.filter(
                workspace=actor.workspace,
                key__in=[b.key for b in bundles],
                archived_at__isnull=True,
            )
            .exclude(template_version="")
            .values_list("template_key", "template_version")
        )
        return [_Listed(bundle, installed.get(bundle.key)) for bundle in bundles]

    def resolve_export_app(root: Any, info: Any, key: str) -> Any:
        try:
            return installer.export_app(current_actor(info), key).as_json()
        except DajianError as exc:
            raise graphql_error(exc) from None


class InstallTemplateInput(graphene.InputObjectType):
    key = graphene.String(required=True)
    sample_data = graphene.Boolean(description="Add generated sample records (fresh installs).")
    records = graphene.Int(description="How many sample records (default: the template's).")


class InstallTemplate(DajianMutation):
    app = graphene.Field(AppType)
    report = graphene.Field(InstallReportType)

    class Arguments:
        input = InstallTemplateInput(required=True)

    class Meta:
        description = (
            "Install an app template, or upgrade the installed app to it: all or nothing, "
            "idempotent (the same template again changes nothing), records kept."
        )
        permission = ADMIN
        error_type = Error

    @classmethod
    def perform(cls, root: Any, info: Any, actor: Actor, input: Any) -> InstallTemplate:
        records = input.get("records")
        if records is not None and not 0 <= records <= MAX_SAMPLE_RECORDS:
            raise DajianError.single(
                CommonErrorCode.LIMIT_EXCEEDED,
                f"Between 0 and {MAX_SAMPLE_RECORDS} sample records.",
                "records",
            )
        report = installer.install_template(
            actor, input.key, sample_data=bool(input.get("sample_data")), records=records
        )
        return cls(app=report.app, report=report, errors=[])


class UninstallAppInput(graphene.InputObjectType):
    key = graphene.String(required=True)
    purge = graphene.Boolean(description="Delete the app's records and metadata too.")


class UninstallApp(DajianMutation):
    app = graphene.Field(AppType, description="The archived app (null when purged).")
    purged = graphene.Boolean(required=True)

    class Arguments:
        input = UninstallAppInput(required=True)

    class Meta:
        description = (
            "Uninstall an app: archived (hidden, automations stopped, records kept; "
            "installing it again restores it) or, with purge, deleted with its records."
        )
        permission = ADMIN
        error_type = Error

    @classmethod
    def perform(cls, root: Any, info: Any, actor: Actor, input: Any) -> UninstallApp:
        purge = bool(input.get("purge"))
        app = installer.uninstall_app(actor, input.key, purge=purge)
        return cls(app=app, purged=purge, errors=[])

    @classmethod
    def empty_lists(cls) -> dict[str, Any]:
        return {"purged": False}


class TemplatesMutation(graphene.ObjectType):
    install_template = InstallTemplate.Field()
    uninstall_app = UninstallApp.Field()
