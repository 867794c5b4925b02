"""Installing app template bundles into a workspace: install, upgrade, restore.

:func:`install_bundle` is one transaction: it creates the roles the manifest lists that
the workspace lacks, then saves and publishes every document through the builder
services a designer would use (forms → approval chains → workflows → automations →
dashboards), so a bundle passes exactly the checks of builder edits; any error undoes
everything and names the document and the path in it. Installing the same bundle (same
content hash) again changes nothing. A bundle with another hash upgrades the app: only
documents whose published version differs are saved and published, new ones are added,
automations and dashboards the bundle no longer has are unpublished, and forms,
workflows and chains it no longer has are kept (records depend on them). Records are
never touched. See docs/templates.md.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from dajian.app_templates.bundle import (
    KINDS,
    Bundle,
    available_templates,
    document_path,
    load_bundle,
)
from dajian.app_templates.errors import TemplateErrorCode as Code
from dajian.app_templates.errors import in_document, template_error
from dajian.app_templates.ordering import rollup_sources, without_rollups
from dajian.builder.models import App, Form, Metadata, MetadataKind
from dajian.builder.services import metadata as metadata_service
from dajian.builder.services.forms import content_hash, publish_form, save_form_draft
from dajian.platform.actors import Actor
from dajian.platform.audit import record_event
from dajian.platform.errors import DajianError, not_found, permission_denied
from dajian.platform.i18n import localize
from dajian.platform.models import AuditEvent, Role

__all__ = [
    "InstallReport",
    "available_templates",
    "export_app",
    "install_bundle",
    "install_template",
    "load_bundle",
    "uninstall_app",
]

KEY = re.compile(r"[a-z][a-z0-9_]{0,62}")
INSTALL_EVENT = "app.template_installed"
# Manifest list → metadata kind (forms are not Metadata rows).
METADATA_KINDS = {
    "approval_chains": MetadataKind.APPROVAL_CHAIN,
    "workflows": MetadataKind.WORKFLOW,
    "automations": MetadataKind.AUTOMATION,
    "dashboards": MetadataKind.DASHBOARD,
}
# Kinds the installer unpublishes when a bundle drops them; the others are kept.
UNPUBLISHED_WHEN_REMOVED = ("automations", "dashboards")


@dataclass
class InstallReport:
    """What an install did. Documents are named by their bundle path
    (``forms/customer.json``); ``roles`` are the roles it created; ``records`` the
    sample records it wrote."""

    action: str  # installed | upgraded | unchanged
    app: App
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    roles: list[str] = field(default_factory=list)
    records: int = 0

    def as_dict(self) -> dict[str, Any]:
        report = asdict(self)
        report["app"] = self.app.key
        return report


def require_admin(actor: Actor) -> None:
    if not actor.is_admin:
        raise permission_denied("Only workspace admins install, upgrade or remove apps.")


def install_template(
    actor: Actor,
    key: str,
    *,
    sample_data: bool = False,
    records: int | None = None,
    seed: int = 2024,
) -> InstallReport:
    """Install (or upgrade to) the shipped template ``key``; see :func:`install_bundle`."""
    require_admin(actor)
    if not isinstance(key, str) or not KEY.fullmatch(key):
        raise not_found("App template")
    return install_bundle(
        actor, load_bundle(key), sample_data=sample_data, records=records, seed=seed
    )


def install_bundle(
    actor: Actor,
    bundle: Bundle,
    *,
    sample_data: bool = False,
    records: int | None = None,
    seed: int = 2024,
) -> InstallReport:
    """Install ``bundle`` as the app of its key, all or nothing (admins only).

    ``sample_data`` adds generated records to a fresh install (``records`` in total,
    default the manifest's ``sample_data.records``). Raises :class:`DajianError`:
    ``PERMISSION_DENIED``, ``TEMPLATE_CONFLICT`` (an app of that key that was not
    installed from this template) or the builder's errors of a document, at
    ``<document>: <path>``."""
    require_admin(actor)
    with transaction.atomic():
        app, created = _locked_app(actor, bundle)
        if not created and app.template_key != bundle.key:
            raise DajianError(
                template_error(Code.TEMPLATE_CONFLICT, "manifest.json", "key", key=app.key)
            )
        if not created and app.archived_at is None and app.template_hash == bundle.hash:
            return InstallReport(action="unchanged", app=app, unchanged=_document_list(bundle))
        action = "installed" if created or app.archived_at is not None else "upgraded"
        previous = {
            "key": app.template_key,
            "version": app.template_version,
            "hash": app.template_hash,
        }
        report = InstallReport(action=action, app=app)
        if app.archived_at is not None:  # restored: visible to the builder services again
            app.archived_at = None
            app.save(update_fields=["archived_at"])
        report.roles = _create_roles(actor, bundle)
        _install_forms(actor, app, bundle, report)
        for kind in KINDS[1:]:
            _install_documents(actor, app, bundle, kind, report)
        _retire_removed(actor, app, bundle, report)
        if sample_data and action == "installed":
            report.records = _sample_data(actor, app, bundle, records, seed)
        _stamp(app, bundle)
        record_event(
            actor,
            INSTALL_EVENT,
            "App",
            app.pk,
            {
                "action": action,
                "template": [previous["key"] or None, bundle.key],
                "version": [previous["version"] or None, bundle.version],
                "hash": [previous["hash"] or None, bundle.hash],
                "documents": _document_list(bundle),
                "added": report.added,
                "changed": report.changed,
                "removed": report.removed,
                "roles": report.roles,
                "records": report.records,
            },
        )
        return report


def _locked_app(actor: Actor, bundle: Bundle) -> tuple[App, bool]:
    """The app of the bundle's key, locked; created (unstamped) when missing. A
    concurrent install of the same key waits on the new row's key until the first
    commits, then finds its app (and usually reports ``unchanged``)."""
    found = _lock(actor, bundle.key)
    if found is not None:
        return found, False
    try:
        with transaction.atomic():
            app = App.objects.create(
                workspace=actor.workspace,
                key=bundle.key,
                name=bundle.manifest["name"],
                description=bundle.manifest.get("description") or {},
            )
    except IntegrityError:
        found = _lock(actor, bundle.key)
        if found is None:
            raise DajianError(
                template_error(Code.CONCURRENT_INSTALL, "manifest.json", "key", key=bundle.key)
            ) from None
        return found, False
    record_event(actor, "app.created", "App", app.pk, {"key": [None, app.key]})
    return app, True


def _lock(actor: Actor, key: str) -> App | None:
    return App.objects.select_for_update().filter(workspace=actor.workspace, key=key).first()


def _document_list(bundle: Bundle) -> list[str]:
    return [document_path(kind, key) for kind in KINDS for key in bundle.keys(kind)]


def _create_roles(actor: Actor, bundle: Bundle) -> list[str]:
    """Create the manifest's roles the workspace does not have (existing roles, shared
    by the workspace's apps, are left as they are)."""
    existing = set(Role.objects.filter(workspace=actor.workspace).values_list("key", flat=True))
    created = []
    for role in bundle.roles():
        if role["key"] in existing:
            continue
        Role.objects.create(
            workspace=actor.workspace,
            key=role["key"],
            name=localize(role["name"], "zh-CN")[:200],
            daily_claim_limit=role.get("daily_claim_limit"),
        )
        created.append(role["key"])
    return created


def _classify(
    report: InstallReport, path: str, exists: bool, current_hash: str | None, target: Any
) -> bool:
    """File ``path`` under added / changed / unchanged; True when it must be published."""
    if not exists:
        report.added.append(path)
        return True
    if current_hash == content_hash(target):
        report.unchanged.append(path)
        return False
    report.changed.append(path)
    return True


def _install_forms(actor: Actor, app: App, bundle: Bundle, report: InstallReport) -> None:
    """Save and publish the forms that are new or changed, in the manifest's order; a
    form whose rollups read a form not published yet goes out first without those
    rollups and again in full once every form is published."""
    forms = {f.key: f for f in Form.objects.filter(app=app).select_related("published")}
    todo: list[str] = []
    for key in bundle.keys("forms"):
        form = forms.get(key)
        target = {"schema_version": 1, **bundle.document("forms", key)}
        published = form.published if form is not None else None
        current = published.content_hash if published is not None else None
        if _classify(report, document_path("forms", key), form is not None, current, target):
            todo.append(key)
    ready = {key for key, form in forms.items() if form.published_id and key not in todo}
    second_pass = []
    for key in todo:
        definition = bundle.document("forms", key)
        waiting = {s for s in rollup_sources(definition) if s not in ready}
        if waiting:
            second_pass.append(key)
            definition = without_rollups(definition, waiting)
        _publish_form(actor, app, key, definition)
        ready.add(key)
    for key in second_pass:
        _publish_form(actor, app, key, bundle.document("forms", key))


def _publish_form(actor: Actor, app: App, key: str, definition: Any) -> None:
    def work() -> None:
        save_form_draft(actor, app.key, key, definition)
        publish_form(actor, app.key, key)

    _as_document(document_path("forms", key), work)


def _as_document(path: str, work: Callable[[], Any]) -> Any:
    """Run a builder service; its errors become errors of the bundle document."""
    try:
        return work()
    except DajianError as exc:
        raise DajianError(in_document(path, exc.errors)) from None


def _install_documents(
    actor: Actor, app: App, bundle: Bundle, kind: str, report: InstallReport
) -> None:
    metadata_kind = METADATA_KINDS[kind]
    existing = {
        m.key: m
        for m in Metadata.objects.filter(app=app, kind=metadata_kind).select_related("published")
    }
    for key in bundle.keys(kind):
        document = bundle.document(kind, key)
        stored = {**document, "form": key} if kind == "workflows" else document
        meta = existing.get(key)
        current = meta.published.content_hash if meta is not None and meta.published else None
        path = document_path(kind, key)
        if _classify(report, path, meta is not None, current, stored):
            save = _saver(kind)
            _as_document(path, lambda: save(actor, app.key, key, document, publish=True))  # noqa: B023


def _saver(kind: str) -> Callable[..., Metadata]:
    return {  # type: ignore[return-value]
        "approval_chains": metadata_service.save_approval_chain,
        "workflows": metadata_service.save_workflow,
        "automations": metadata_service.save_automation,
        "dashboards": metadata_service.save_dashboard,
    }[kind]


def _previous_documents(app: App) -> list[str]:
    """The documents the app's last install put there (from its audit event)."""
    event = (
        AuditEvent.objects.filter(
            workspace_id=app.workspace_id,
            action=INSTALL_EVENT,
            object_type="App",
            object_id=str(app.pk),
        )
        .order_by("-seq")
        .first()
    )
    if event is None:
        return []
    documents = (event.diff or {}).get("documents")
    return list(documents) if isinstance(documents, list) else []


def _retire_removed(actor: Actor, app: App, bundle: Bundle, report: InstallReport) -> None:
    """Documents of the previous install that the bundle dropped: automations and
    dashboards are unpublished, the rest is kept."""
    current = set(_document_list(bundle))
    for path in _previous_documents(app):
        if path in current:
            continue
        kind, _, name = path.partition("/")
        key = name.removesuffix(".json")
        if kind not in UNPUBLISHED_WHEN_REMOVED:
            report.kept.append(path)
            continue
        unpublish_document(actor, app, METADATA_KINDS[kind], key)
        report.removed.append(path)


def unpublish_document(actor: Actor, app: App, kind: str, key: str) -> None:
    """Take an automation or dashboard out of service (its draft and versions stay)."""
    if kind == MetadataKind.AUTOMATION:
        metadata_service.unpublish_metadata(actor, kind, app.key, key)
        return
    meta = (
        Metadata.objects.select_for_update(of=("self",))
        .filter(app=app, kind=kind, key=key, published__isnull=False)
        .select_related("published")
        .first()
    )
    if meta is None or meta.published is None:
        return
    previous = meta.published.number
    meta.published = None
    meta.save(update_fields=["published"])
    record_event(
        actor, f"{kind}.unpublished", "Metadata", meta.pk, {"key": key, "version": [previous, None]}
    )


def _sample_data(actor: Actor, app: App, bundle: Bundle, records: int | None, seed: int) -> int:
    from dajian.app_templates.sample_data import generate

    settings = bundle.manifest.get("sample_data", {})
    total = settings.get("records", 100) if records is None else records
    fixed = {key: bundle.sample_rows(key) for key in bundle.keys("forms")}
    return generate(
        actor,
        app.key,
        total,
        seed=seed,
        weights=settings.get("weights"),
        fixed={k: v for k, v in fixed.items() if v},
    )


def _stamp(app: App, bundle: Bundle) -> None:
    app.name = bundle.manifest["name"]
    app.description = bundle.manifest.get("description") or {}
    app.version = bundle.version
    app.template_key = bundle.key
    app.template_version = bundle.version
    app.template_hash = bundle.hash
    app.installed_at = timezone.now()
    app.archived_at = None
    app.save()


def export_app(actor: Actor, app_key: str) -> Bundle:
    """The app as a bundle (see :mod:`dajian.app_templates.export`)."""
    from dajian.app_templates.export import export_app as export

    return export(actor, app_key)


def uninstall_app(actor: Actor, app_key: str, *, purge: bool = False) -> App | None:
    """Archive or purge an app (see :mod:`dajian.app_templates.lifecycle`)."""
    from dajian.app_templates.lifecycle import uninstall_app as uninstall

    return uninstall(actor, app_key, purge=purge)
