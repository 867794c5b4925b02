"""Exporting an app as a bundle: any app, including one built by hand in the builder.

The bundle holds the published versions only (drafts are work in progress): forms in an
order that installs (rollup sources and relation targets first), workflows, approval
chains, published automations and dashboards, and the roles the documents name, with
their daily claim limits. Records are not exported. Installing the bundle in another
workspace and exporting it there gives the same documents and the same hash.
"""

from __future__ import annotations

import re
from typing import Any

from dajian.app_templates.bundle import KINDS, Bundle, check_bundle, document_path, mentioned_roles
from dajian.app_templates.installer import METADATA_KINDS, require_admin
from dajian.app_templates.ordering import dependency_order
from dajian.builder.models import App, Form, Metadata
from dajian.platform.actors import Actor
from dajian.platform.errors import DajianError, not_found
from dajian.platform.models import Role

SEMVER = re.compile(r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)([-+][0-9A-Za-z.+-]*)?")
DEFAULT_VERSION = "0.1.0"


def export_app(actor: Actor, app_key: str) -> Bundle:
    """The published state of ``app_key`` as a :class:`Bundle` (admins only)."""
    require_admin(actor)
    app = App.objects.filter(workspace=actor.workspace, key=app_key).first()
    if app is None:
        raise not_found("App")
    forms = {
        form.key: form.published.definition
        for form in Form.objects.filter(app=app, published__isnull=False).select_related(
            "published"
        )
        if form.published is not None
    }
    documents: dict[str, Any] = {}
    listed: dict[str, list[str]] = {"forms": dependency_order(forms)}
    for key in listed["forms"]:
        documents[document_path("forms", key)] = forms[key]
    published = (
        Metadata.objects.filter(app=app, published__isnull=False)
        .select_related("published", "form")
        .order_by("key")
    )
    by_kind: dict[str, dict[str, Any]] = {kind: {} for kind in KINDS[1:]}
    kinds: dict[str, str] = {str(value): name for name, value in METADATA_KINDS.items()}
    for meta in published:
        kind = kinds.get(meta.kind)
        if kind is None or meta.published is None:
            continue
        if kind == "workflows" and meta.key not in forms:
            continue
        by_kind[kind][meta.key] = meta.published.definition
    for kind, found in by_kind.items():
        keys = [k for k in listed["forms"] if k in found] if kind == "workflows" else sorted(found)
        if keys:
            listed[kind] = keys
        for key in keys:
            documents[document_path(kind, key)] = found[key]
    roles = _roles(actor, documents)
    manifest = {
        "key": app.key,
        "version": app.version if SEMVER.fullmatch(app.version or "") else DEFAULT_VERSION,
        "name": app.name or app.key,
        **({"description": app.description} if app.description else {}),
        **({"roles": roles} if roles else {}),
        **listed,
    }
    errors = check_bundle(manifest, documents)
    if errors:
        raise DajianError(errors)
    return Bundle(manifest=manifest, documents=documents)


def _roles(actor: Actor, documents: dict[str, Any]) -> list[dict[str, Any]]:
    """The roles the documents name, by key, as the workspace defines them (a role a
    permission rule names that the workspace lacks is listed by its key)."""
    keys = {
        role
        for path, document in documents.items()
        for _, role in mentioned_roles(path.split("/")[0], document)
    }
    found = {r.key: r for r in Role.objects.filter(workspace=actor.workspace, key__in=keys)}
    roles = []
    for key in sorted(keys):
        role = found.get(key)
        entry: dict[str, Any] = {"key": key, "name": (role.name if role else "") or key}
        if role is not None and role.daily_claim_limit is not None:
            entry["daily_claim_limit"] = role.daily_claim_limit
        roles.append(entry)
    return roles
