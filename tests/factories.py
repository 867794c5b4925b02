"""Builders for domain objects: ``make_workspace``, ``make_user`` (with roles, org unit
and manager) and ``make_actor``."""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth import get_user_model

from dajian.platform.actors import Actor, actor_for
from dajian.platform.models import Membership, OrgUnit, Role, Workspace
from dajian.platform.org import create_org_unit


def make_workspace(slug: str = "acme") -> Workspace:
    workspace, _ = Workspace.objects.get_or_create(slug=slug, defaults={"name": slug.title()})
    return workspace


def make_user(
    username: str,
    workspace: Workspace,
    roles: Iterable[str] = (),
    is_admin: bool = False,
    org_unit: OrgUnit | None = None,
    manager=None,
    password: str = "pw-for-tests",
):
    """A user who is a member of ``workspace``. ``manager=`` puts the user in a new org
    unit managed by that user (under the manager's own unit if they have one)."""
    user = get_user_model().objects.create_user(username=username, password=password)
    if manager is not None and org_unit is None:
        parent_membership = Membership.objects.filter(workspace=workspace, user=manager).first()
        parent = parent_membership.org_unit if parent_membership else None
        org_unit = OrgUnit.objects.filter(workspace=workspace, manager=manager).first()
        if org_unit is None:
            org_unit = create_org_unit(
                workspace, name=f"team of {manager.username}", parent=parent, manager=manager
            )
    membership = Membership.objects.create(
        workspace=workspace, user=user, is_admin=is_admin, org_unit=org_unit
    )
    for key in roles:
        role, _ = Role.objects.get_or_create(workspace=workspace, key=key, defaults={"name": key})
        membership.roles.add(role)
    return user


def make_actor(user, workspace: Workspace) -> Actor:
    actor = actor_for(user, workspace)
    assert actor is not None, "user is not a member of the workspace"
    return actor


def build_form(
    actor: Actor,
    fields: list[dict],
    key: str = "customer",
    app: str = "sales",
    publish: bool = True,
    **extra,
):
    """Create the app if needed, save ``fields`` (+ ``extra`` definition keys) as the
    draft of ``app/key`` and publish it. Returns the ``Form``."""
    from dajian.builder.services.forms import create_app, publish_form, save_form_draft

    create_app(actor, app, {"en": app.title(), "zh-CN": app})
    definition = {"key": key, "name": {"en": key.title(), "zh-CN": key}, "fields": fields, **extra}
    form = save_form_draft(actor, app, key, definition)
    if publish:
        publish_form(actor, app, key)
        form.refresh_from_db()
    return form


def publish_metadata(actor: Actor, form, kind: str, key: str, definition: dict):
    """Publish a workflow or approval chain document for ``form`` directly (no checks):
    for engine tests that must not depend on the builder's save path."""
    from django.utils import timezone

    from dajian.builder.models import Metadata, MetadataVersion
    from dajian.platform.audit import canonical_hash

    meta, _ = Metadata.objects.get_or_create(
        app=form.app,
        kind=kind,
        key=key,
        defaults={"workspace": actor.workspace, "form": form, "draft": definition},
    )
    number = meta.versions.count() + 1
    version = MetadataVersion.objects.create(
        metadata=meta,
        number=number,
        definition=definition,
        content_hash=canonical_hash(definition),
        published_at=timezone.now(),
        published_by=actor.user,
    )
    meta.draft = definition
    meta.published = version
    meta.save(update_fields=["draft", "published"])
    if kind == "workflow":
        type(form).objects.filter(pk=form.pk).update(workflow=version)
        form.workflow = version
    return meta


def build_workflow(actor: Actor, form, definition: dict):
    """Publish ``definition`` as the workflow of ``form`` (``form`` key filled in)."""
    return publish_metadata(actor, form, "workflow", form.key, {"form": form.key, **definition})


def build_chain(actor: Actor, form, key: str, definition: dict):
    """Publish ``definition`` as approval chain ``key`` on ``form``."""
    return publish_metadata(actor, form, "approval_chain", key, {"form": form.key, **definition})
