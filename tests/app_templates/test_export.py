"""Exporting apps as bundles; a hand-built app round-trips through another workspace."""

from __future__ import annotations

import pytest

from dajian.app_templates.installer import export_app, install_bundle, install_template
from dajian.builder.services.forms import create_app, publish_form, save_form_draft
from dajian.builder.services.metadata import (
    save_approval_chain,
    save_automation,
    save_workflow,
)
from dajian.platform.errors import DajianError
from dajian.platform.models import Role
from tests.factories import make_actor, make_user

pytestmark = pytest.mark.django_db

CUSTOMER = {
    "key": "customer",
    "name": {"zh-CN": "客户", "en": "Customer"},
    "fields": [
        {"key": "name", "type": "text", "label": "Name", "required": True},
        {"key": "amount", "type": "money", "label": "Budget"},
        {
            "key": "visits",
            "type": "rollup",
            "label": "Visits",
            "source": {"form": "visit", "field": "customer"},
            "function": "count",
        },
    ],
    "permissions": [
        {"role": "rep", "create": True, "read": "own", "update": "own"},
        {"role": "boss", "create": True, "read": "all", "update": "all"},
    ],
}
VISIT = {
    "key": "visit",
    "name": "Visit",
    "fields": [
        {"key": "customer", "type": "relation", "target": "customer", "label": "Customer"},
        {"key": "notes", "type": "long_text", "label": "Notes"},
    ],
}
WORKFLOW = {
    "schema_version": 1,
    "initial": "new",
    "stages": [
        {"key": "new", "label": "New"},
        {"key": "won", "label": "Won", "terminal": True, "outcome": "won"},
    ],
    "transitions": [{"from": "new", "to": "won", "approval": "sign_off"}],
}
CHAIN = {
    "schema_version": 1,
    "form": "customer",
    "label": "Sign-off",
    "steps": [
        {
            "key": "boss",
            "label": "Boss",
            "approvers": [{"type": "role", "role": "boss"}],
            "decisions": ["approve", "reject"],
        }
    ],
}
AUTOMATION = {
    "schema_version": 1,
    "form": "customer",
    "label": "Big budget",
    "trigger": {"type": "record_created"},
    "condition": "amount >= 100000.0",
    "actions": [
        {"type": "notify", "to": [{"type": "role", "role": "boss"}], "message": "{{ name }}"}
    ],
}


def build_by_hand(actor) -> None:
    """What a designer clicks together in the builder."""
    Role.objects.create(workspace=actor.workspace, key="boss", name="老板", daily_claim_limit=3)
    Role.objects.get_or_create(workspace=actor.workspace, key="rep", defaults={"name": "rep"})
    create_app(actor, "hand_made", {"zh-CN": "手工应用", "en": "Hand made"})
    for definition in (VISIT, CUSTOMER):
        save_form_draft(actor, "hand_made", definition["key"], definition)
        publish_form(actor, "hand_made", definition["key"])
    save_approval_chain(actor, "hand_made", "sign_off", CHAIN, publish=True)
    save_workflow(actor, "hand_made", "customer", WORKFLOW, publish=True)
    save_automation(actor, "hand_made", "big_budget", AUTOMATION, publish=True)
    save_form_draft(actor, "hand_made", "draft_only", {**VISIT, "key": "draft_only"})


@pytest.fixture
def other_admin(other_workspace):
    return make_actor(make_user("other_admin", other_workspace, is_admin=True), other_workspace)


def test_a_hand_built_app_round_trips_through_another_workspace(admin_actor, other_admin):
    build_by_hand(admin_actor)

    exported = export_app(admin_actor, "hand_made")
    report = install_bundle(other_admin, exported)
    again = export_app(other_admin, "hand_made")

    assert report.action == "installed"
    assert again.documents == exported.documents
    assert again.manifest == exported.manifest
    assert again.hash == exported.hash
    manifest = exported.manifest
    assert manifest["forms"] == ["visit", "customer"]  # rollup source first
    assert manifest["workflows"] == ["customer"]
    assert manifest["approval_chains"] == ["sign_off"]
    assert manifest["automations"] == ["big_budget"]
    assert manifest["roles"] == [
        {"key": "boss", "name": "老板", "daily_claim_limit": 3},
        {"key": "rep", "name": "rep"},
    ]
    assert "forms/draft_only.json" not in exported.documents  # never published
    boss = Role.objects.get(workspace=other_admin.workspace, key="boss")
    assert boss.daily_claim_limit == 3


def test_an_installed_template_exports_as_the_same_documents(admin_actor):
    report = install_template(admin_actor, "mini_crm")

    exported = export_app(admin_actor, "mini_crm")

    from dajian.app_templates.bundle import load_bundle

    bundle = load_bundle("mini_crm")
    for path, document in bundle.documents.items():
        if path.startswith("forms/"):
            assert exported.documents[path] == {"schema_version": 1, **document}
        elif path.startswith("workflows/"):
            assert exported.documents[path] == {**document, "form": "opportunity"}
        elif not path.startswith("sample/"):
            assert exported.documents[path] == document
    assert report.app.key == exported.key


def test_export_is_for_admins_and_known_apps(admin_actor, team):
    build_by_hand(admin_actor)
    rep = make_actor(team["reps"][0], admin_actor.workspace)

    with pytest.raises(DajianError) as caught:
        export_app(rep, "hand_made")
    assert caught.value.errors[0].code == "PERMISSION_DENIED"
    with pytest.raises(DajianError) as caught:
        export_app(admin_actor, "nothing")
    assert caught.value.errors[0].code == "NOT_FOUND"
