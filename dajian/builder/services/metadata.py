"""Workflow and approval-chain documents: drafts and publishing.

Mirrors :mod:`.forms`: designers save a draft, which is stored only when it passes the
meta-schema and the semantic checks (every problem listed, nothing saved otherwise);
``publish_metadata`` freezes it into an immutable :class:`MetadataVersion` numbered one
past the last and identified by the SHA-256 of its canonical JSON. The checks run again
at publish, against the form's then-published version.

A workflow is stored under its form's key (``Metadata.key == form.key``,
``Metadata.form == form``). A chain names its form in the document's ``form``; once a
chain is published it stays on that form. A transition's ``approval`` may name a chain
that is only saved when the workflow is saved, but it must be published when the
workflow is published (docs/workflows.md). A dashboard has its own key and no form
(``Metadata.form`` is None): each of its widgets names the form it reads.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Max, Prefetch
from django.utils import timezone

from dajian.builder.definitions import definition_for_version
from dajian.builder.errors import MetadataErrorCode as Code
from dajian.builder.metadata.checks_chain import (
    chain_recipients,
    check_chain_semantics,
    check_chain_shape,
)
from dajian.builder.metadata.checks_dashboard import check_dashboard, dashboard_forms
from dajian.builder.metadata.checks_workflow import (
    ChainRef,
    FormContext,
    Spec,
    check_workflow_semantics,
    check_workflow_shape,
    error,
    mentioned_usernames,
    shape_errors,
    workflow_recipients,
)
from dajian.builder.models import App, Form, Metadata, MetadataKind, MetadataVersion
from dajian.builder.services import publish_hooks
from dajian.builder.services.forms import content_hash, get_app, require_designer
from dajian.platform.actors import Actor
from dajian.platform.audit import record_event
from dajian.platform.errors import CommonErrorCode, DajianError, ErrorDetail, not_found
from dajian.platform.models import Membership, Role

SCHEMA_VERSION = 1
KEY = re.compile(r"[a-z][a-z0-9_]{0,62}")
_WHAT = {
    MetadataKind.WORKFLOW: "Workflow",
    MetadataKind.APPROVAL_CHAIN: "Approval chain",
    MetadataKind.AUTOMATION: "Automation",
    MetadataKind.DASHBOARD: "Dashboard",
}
AUTOMATION_LIMITS: dict[tuple[str, ...], str] = {
    ("properties", "actions", "maxItems"): "MAX_AUTOMATION_ACTIONS"
}


# --- reading -----------------------------------------------------------------------------


def _documents(actor: Actor, kind: str, app_key: str) -> Any:
    return Metadata.objects.select_related("app", "form", "published").filter(
        workspace=actor.workspace, app__key=app_key, kind=kind
    )


def get_workflow(actor: Actor, app_key: str, form_key: str) -> Metadata:
    """The workflow document of ``app_key/form_key`` (any member may read it)."""
    found = _documents(actor, MetadataKind.WORKFLOW, app_key).filter(key=form_key).first()
    if found is None:
        raise not_found("Workflow")
    return found  # type: ignore[no-any-return]


def get_chain(actor: Actor, app_key: str, key: str) -> Metadata:
    """The approval chain ``key`` of an app (any member may read it)."""
    found = _documents(actor, MetadataKind.APPROVAL_CHAIN, app_key).filter(key=key).first()
    if found is None:
        raise not_found("Approval chain")
    return found  # type: ignore[no-any-return]


def get_automation(actor: Actor, app_key: str, key: str) -> Metadata:
    """The automation ``key`` of an app (any member may read it)."""
    found = _documents(actor, MetadataKind.AUTOMATION, app_key).filter(key=key).first()
    if found is None:
        raise not_found("Automation")
    return found  # type: ignore[no-any-return]


def get_dashboard(actor: Actor, app_key: str, key: str) -> Metadata:
    """The dashboard ``key`` of an app (any member may read it)."""
    found = _documents(actor, MetadataKind.DASHBOARD, app_key).filter(key=key).first()
    if found is None:
        raise not_found("Dashboard")
    return found  # type: ignore[no-any-return]


def list_chains(actor: Actor, app_key: str, with_versions: bool = False) -> list[Metadata]:
    """The app's approval chains by key; ``with_versions`` prefetches their versions
    (newest first) so listing them costs one more query, not one per chain."""
    return list_documents(actor, MetadataKind.APPROVAL_CHAIN, app_key, with_versions)


def list_documents(
    actor: Actor, kind: str, app_key: str, with_versions: bool = False
) -> list[Metadata]:
    """The app's documents of ``kind`` by key (see :func:`list_chains`)."""
    rows = _documents(actor, kind, app_key).order_by("key")
    if with_versions:
        rows = rows.prefetch_related(_versions_prefetch())
    return list(rows)


def list_versions(metadata: Metadata) -> list[MetadataVersion]:
    """Published versions of a document, newest first (prefetched when available)."""
    cached = getattr(metadata, "_prefetched_objects_cache", {}).get("versions")
    if cached is not None:
        return list(cached)
    return list(
        MetadataVersion.objects.filter(metadata=metadata)
        .select_related("published_by")
        .order_by("-number")
    )


def _versions_prefetch() -> Prefetch:
    return Prefetch(
        "versions",
        queryset=MetadataVersion.objects.select_related("published_by").order_by("-number"),
    )


# --- context for the checks --------------------------------------------------------------


def _published_form(app: App, key: str, path: str) -> Form:
    form = Form.objects.select_related("published").filter(app=app, key=key).first()
    if form is None:
        raise DajianError(error(Code.UNKNOWN_FORM, path, key=key))
    if form.published is None:
        raise DajianError(error(Code.FORM_NOT_PUBLISHED, path, key=key))
    return form


def _context(
    actor: Actor,
    form: Form,
    specs: Iterable[tuple[str, Spec]],
    with_chains: bool = False,
    require_published_chains: bool = False,
) -> FormContext:
    """The published fields of ``form``, the workspace's roles, the members among the
    usernames the specs name and (for workflows) the app's chains: four queries."""
    assert form.published is not None
    names = mentioned_usernames(specs)
    members = (
        Membership.objects.filter(
            workspace=actor.workspace, is_active=True, user__username__in=names
        ).values_list("user__username", flat=True)
        if names
        else []
    )
    chains: dict[str, ChainRef] = {}
    if with_chains:
        rows = Metadata.objects.filter(
            app_id=form.app_id, kind=MetadataKind.APPROVAL_CHAIN
        ).values_list("key", "form__key", "published_id")
        chains = {
            key: ChainRef(form_key, published is not None) for key, form_key, published in rows
        }
    return FormContext(
        form_key=form.key,
        fields=definition_for_version(form.published).field_types,
        role_keys=frozenset(
            Role.objects.filter(workspace=actor.workspace).values_list("key", flat=True)
        ),
        member_usernames=frozenset(members),
        chains=chains,
        require_published_chains=require_published_chains,
    )


def _check_workflow(
    actor: Actor, form: Form, raw: Any, require_published_chains: bool
) -> list[ErrorDetail]:
    errors = check_workflow_shape(raw)
    if errors:
        return errors
    if raw.get("form", form.key) != form.key:
        return [error(Code.KEY_MISMATCH, "form", found=raw["form"], expected=form.key)]
    ctx = _context(actor, form, list(workflow_recipients(raw)), True, require_published_chains)
    return check_workflow_semantics(raw, ctx)


def _check_chain(actor: Actor, app: App, raw: Any, current: Metadata | None) -> list[ErrorDetail]:
    errors = check_chain_shape(raw)
    if errors:
        return errors
    form = _published_form(app, raw["form"], "form")
    if current is not None and current.published_id and current.form_id != form.pk:
        previous = current.form.key if current.form else None
        return [error(Code.FORM_CHANGED, "form", key=previous)]
    return check_chain_semantics(raw, _context(actor, form, list(chain_recipients(raw))))


def _check_automation(
    actor: Actor, app: App, raw: Any, current: Metadata | None
) -> list[ErrorDetail]:
    errors = shape_errors("automation", raw, AUTOMATION_LIMITS)
    if errors:
        return errors
    form = _published_form(app, raw["form"], "form")
    if current is not None and current.published_id and current.form_id != form.pk:
        previous = current.form.key if current.form else None
        return [error(Code.FORM_CHANGED, "form", key=previous)]
    return list(publish_hooks.check_metadata(MetadataKind.AUTOMATION, actor, form, raw))


def _check_dashboard(app: App, raw: Any) -> list[ErrorDetail]:
    errors = shape_errors("dashboard", raw, {})
    if errors:
        return errors
    return check_dashboard(raw, dashboard_forms(app, raw))


# --- writing -----------------------------------------------------------------------------


def _lock(app: App, kind: str, key: str) -> Metadata | None:
    return (  # type: ignore[no-any-return]
        Metadata.objects.select_for_update(of=("self",))
        .select_related("app", "form", "published")
        .filter(app=app, kind=kind, key=key)
        .first()
    )


def _lock_or_create(actor: Actor, app: App, kind: str, key: str, form: Form | None) -> Metadata:
    found = _lock(app, kind, key)
    if found is not None:
        return found
    try:
        with transaction.atomic():  # a savepoint: a concurrent first save wins the insert
            return Metadata.objects.create(
                workspace=actor.workspace, app=app, kind=kind, key=key, form=form
            )
    except IntegrityError:
        found = _lock(app, kind, key)
        if found is None:
            raise
        return found


def _store_draft(actor: Actor, meta: Metadata, form: Form | None, draft: Mapping[str, Any]) -> dict:
    """Write the draft; returns the audit diff of the save (``form`` is None for
    dashboards, which have none)."""
    before = content_hash(meta.draft) if meta.draft else None
    meta.draft = dict(draft)
    meta.form = form
    meta.draft_saved_at = timezone.now()
    meta.draft_saved_by = actor.user
    meta.save(update_fields=["draft", "form", "draft_saved_at", "draft_saved_by"])
    diff = {"key": meta.key, "draft_hash": [before, content_hash(meta.draft)]}
    if form is not None:
        diff["form"] = form.key
    return diff


def _publish(actor: Actor, meta: Metadata) -> tuple[MetadataVersion, dict | None]:
    """Freeze the locked document's draft (checked again) as the next version and run
    the publish hooks; returns the version and the audit diff (None when the draft was
    already the published version)."""
    if not meta.draft:
        raise DajianError(error(Code.NOTHING_TO_PUBLISH, ""))
    if meta.kind == MetadataKind.WORKFLOW:
        assert meta.form is not None
        form = _published_form(meta.app, meta.form.key, "form")
        errors = _check_workflow(actor, form, meta.draft, require_published_chains=True)
    elif meta.kind == MetadataKind.AUTOMATION:
        errors = _check_automation(actor, meta.app, meta.draft, meta)
    elif meta.kind == MetadataKind.DASHBOARD:
        errors = _check_dashboard(meta.app, meta.draft)
    else:
        errors = _check_chain(actor, meta.app, meta.draft, meta)
    if errors:
        raise DajianError(errors)
    digest = content_hash(meta.draft)
    previous = meta.published
    if previous is not None and previous.content_hash == digest:
        return previous, None
    number = (
        MetadataVersion.objects.filter(metadata=meta).aggregate(n=Max("number"))["n"] or 0
    ) + 1
    version = MetadataVersion.objects.create(
        metadata=meta,
        number=number,
        definition=meta.draft,
        content_hash=digest,
        schema_version=SCHEMA_VERSION,
        published_at=timezone.now(),
        published_by=actor.user,
    )
    meta.published = version
    meta.save(update_fields=["published"])
    if meta.kind == MetadataKind.WORKFLOW and meta.form_id is not None:
        Form.objects.filter(pk=meta.form_id).update(workflow=version)
    publish_hooks.run_metadata_hooks(actor, meta, version)
    return version, {
        "key": meta.key,
        "version": [previous.number if previous else None, number],
        "hash": digest,
    }


def _audit(actor: Actor, meta: Metadata, events: list[tuple[str, dict | None]]) -> None:
    # Last in the transaction: record_event locks the workspace's audit chain head.
    for action, diff in events:
        if diff is not None:
            record_event(actor, f"{meta.kind}.{action}", "Metadata", meta.pk, diff)


@transaction.atomic
def save_workflow(
    actor: Actor, app_key: str, form_key: str, definition: Any, publish: bool = False
) -> Metadata:
    """Validate ``definition`` and store it as the draft of the workflow of
    ``app_key/form_key`` (created on first save; the document's ``form`` is filled in).
    With ``publish`` the draft is also published, in the same transaction. Raises
    :class:`DajianError` with every problem; designers only."""
    require_designer(actor)
    app = get_app(actor, app_key)
    form = _published_form(app, form_key, "form")
    meta = _lock(app, MetadataKind.WORKFLOW, form_key)
    errors = _check_workflow(actor, form, definition, require_published_chains=False)
    if errors:
        raise DajianError(errors)
    meta = meta or _lock_or_create(actor, app, MetadataKind.WORKFLOW, form_key, form)
    events: list[tuple[str, dict | None]] = [
        ("saved", _store_draft(actor, meta, form, {**definition, "form": form_key}))
    ]
    if publish:
        events.append(("published", _publish(actor, meta)[1]))
    _audit(actor, meta, events)
    return meta


@transaction.atomic
def save_approval_chain(
    actor: Actor, app_key: str, key: str, definition: Any, publish: bool = False
) -> Metadata:
    """Validate ``definition`` and store it as the draft of approval chain ``key`` of
    the app (created on first save); the chain's form is the document's ``form``. With
    ``publish`` the draft is also published. Raises :class:`DajianError` with every
    problem; designers only."""
    return _save_keyed(actor, MetadataKind.APPROVAL_CHAIN, app_key, key, definition, publish)


@transaction.atomic
def save_automation(
    actor: Actor, app_key: str, key: str, definition: Any, publish: bool = False
) -> Metadata:
    """Validate ``definition`` and store it as the draft of automation ``key`` of the app
    (created on first save); its form is the document's ``form``. With ``publish`` the
    draft is also published (and its schedule, if any, installed). Raises
    :class:`DajianError` with every problem; designers only."""
    return _save_keyed(actor, MetadataKind.AUTOMATION, app_key, key, definition, publish)


@transaction.atomic
def save_dashboard(
    actor: Actor, app_key: str, key: str, definition: Any, publish: bool = False
) -> Metadata:
    """Validate ``definition`` and store it as the draft of dashboard ``key`` of the app
    (created on first save; a dashboard has no form of its own, each widget names one).
    With ``publish`` the draft is also published (the fields its widgets read are
    promoted for fast aggregates, see docs/dashboards.md). Raises :class:`DajianError`
    with every problem; designers only."""
    return _save_keyed(actor, MetadataKind.DASHBOARD, app_key, key, definition, publish)


def _save_keyed(
    actor: Actor, kind: MetadataKind, app_key: str, key: str, definition: Any, publish: bool
) -> Metadata:
    """Save (and maybe publish) a chain, an automation or a dashboard: documents with
    their own key whose form is the document's ``form`` (none for dashboards)."""
    require_designer(actor)
    app = get_app(actor, app_key)
    if not isinstance(key, str) or not KEY.fullmatch(key):
        what = _WHAT[kind]
        raise DajianError.single(
            "INVALID_FORMAT", f"{what} keys are lower case letters, digits and _ (max 63).", "key"
        )
    meta = _lock(app, kind, key)
    if kind == MetadataKind.AUTOMATION:
        errors = _check_automation(actor, app, definition, meta)
    elif kind == MetadataKind.DASHBOARD:
        errors = _check_dashboard(app, definition)
    else:
        errors = _check_chain(actor, app, definition, meta)
    if errors:
        raise DajianError(errors)
    form = (
        None if kind == MetadataKind.DASHBOARD else _published_form(app, definition["form"], "form")
    )
    meta = meta or _lock_or_create(actor, app, kind, key, form)
    events: list[tuple[str, dict | None]] = [("saved", _store_draft(actor, meta, form, definition))]
    if publish:
        events.append(("published", _publish(actor, meta)[1]))
    _audit(actor, meta, events)
    return meta


@transaction.atomic
def unpublish_metadata(actor: Actor, kind: str, app_key: str, key: str) -> Metadata:
    """Take an automation out of service: it keeps its draft and versions but no longer
    runs (its schedule is removed). Publishing it again brings it back. Designers only;
    workflows and chains cannot be unpublished (records depend on them)."""
    require_designer(actor)
    if kind != MetadataKind.AUTOMATION:
        raise DajianError.single(
            CommonErrorCode.INVALID_INPUT, "Only automations can be unpublished.", "kind"
        )
    app = get_app(actor, app_key)
    meta = _lock(app, kind, key)
    if meta is None:
        raise not_found(_WHAT[MetadataKind(kind)])
    previous = meta.published
    if previous is not None:
        meta.published = None
        meta.save(update_fields=["published"])
        publish_hooks.run_unpublish_hooks(actor, meta)
        _audit(actor, meta, [("unpublished", {"key": key, "version": [previous.number, None]})])
    return meta


@transaction.atomic
def publish_metadata(actor: Actor, kind: str, app_key: str, key: str) -> MetadataVersion:
    """Freeze the draft of a workflow (``key`` = its form's key), approval chain,
    automation or dashboard as its next immutable version. Publishing an unchanged draft
    returns the current version. Designers only."""
    require_designer(actor)
    if kind not in MetadataKind.values:
        raise DajianError.single(CommonErrorCode.INVALID_INPUT, f"Unknown kind {kind!r}.", "kind")
    app = get_app(actor, app_key)
    meta = _lock(app, kind, key)
    if meta is None:
        raise not_found(_WHAT[MetadataKind(kind)])
    version, diff = _publish(actor, meta)
    _audit(actor, meta, [("published", diff)])
    return version
