"""Installing bundles: roles, publishing through the builder services, all or nothing,
idempotence, forms that refer to each other, upgrades and conflicts."""

from __future__ import annotations

import pytest
from django_celery_beat.models import PeriodicTask

from dajian.app_templates.installer import install_bundle, install_template
from dajian.builder.models import App, Form, FormVersion, Metadata, MetadataKind, MetadataVersion
from dajian.builder.services.forms import create_app
from dajian.platform.errors import DajianError
from dajian.platform.models import AuditEvent, Role
from dajian.runtime.automations.schedules import task_name
from dajian.runtime.models import Record
from dajian.runtime.services.records import create_record
from tests.app_templates.conftest import OVERVIEW, variant
from tests.factories import make_actor, make_user

pytestmark = pytest.mark.django_db


def counts() -> dict[str, int]:
    return {
        "apps": App.objects.count(),
        "forms": Form.objects.count(),
        "form_versions": FormVersion.objects.count(),
        "documents": Metadata.objects.count(),
        "document_versions": MetadataVersion.objects.count(),
        "roles": Role.objects.count(),
        "records": Record.objects.count(),
        "audit": AuditEvent.objects.count(),
    }


def test_install_creates_the_roles_and_publishes_every_document(admin_actor):
    report = install_template(admin_actor, "mini_crm")

    assert report.action == "installed"
    assert report.roles == ["rep", "manager"]
    assert Role.objects.get(workspace=admin_actor.workspace, key="rep").daily_claim_limit == 20
    assert Role.objects.get(workspace=admin_actor.workspace, key="manager").name == "销售经理"
    forms = {f.key: f for f in Form.objects.filter(app=report.app)}
    assert set(forms) == {"product", "visit", "customer", "opportunity"}
    assert all(f.published_id for f in forms.values())
    assert forms["opportunity"].workflow_id is not None
    published = {
        (m.kind, m.key) for m in Metadata.objects.filter(app=report.app, published__isnull=False)
    }
    assert published == {
        (MetadataKind.WORKFLOW, "opportunity"),
        (MetadataKind.APPROVAL_CHAIN, "deal_approval"),
        (MetadataKind.AUTOMATION, "silent_customer"),
    }
    silent = Metadata.objects.get(key="silent_customer")
    assert PeriodicTask.objects.filter(name=task_name(silent.pk)).exists()
    assert report.added[0] == "forms/product.json" and len(report.added) == 7


def test_the_app_remembers_its_template(admin_actor):
    report = install_template(admin_actor, "mini_crm")

    app = App.objects.get(pk=report.app.pk)
    bundle = variant()
    assert (app.template_key, app.template_version, app.template_hash) == (
        "mini_crm",
        "1.0.0",
        bundle.hash,
    )
    assert app.version == "1.0.0" and app.installed_at is not None
    assert app.name == {"zh-CN": "迷你客户管理", "en": "Mini CRM"}
    event = AuditEvent.objects.get(action="app.template_installed")
    assert event.diff["hash"] == [None, bundle.hash]
    assert "forms/customer.json" in event.diff["documents"]


def test_only_workspace_admins_install(workspace, team):
    rep = make_actor(team["reps"][0], workspace)
    designer = make_actor(make_user("designer", workspace, roles=["designer"]), workspace)
    before = counts()

    for actor in (rep, designer):
        with pytest.raises(DajianError) as caught:
            install_template(actor, "mini_crm")
        assert caught.value.errors[0].code == "PERMISSION_DENIED"
    assert counts() == before


def test_existing_roles_are_left_as_they_are(admin_actor):
    Role.objects.create(workspace=admin_actor.workspace, key="rep", name="Rep", daily_claim_limit=5)

    report = install_template(admin_actor, "mini_crm")

    assert report.roles == ["manager"]
    assert Role.objects.get(workspace=admin_actor.workspace, key="rep").daily_claim_limit == 5


def test_installing_the_same_bundle_again_changes_nothing(admin_actor, team):
    install_template(admin_actor, "mini_crm", sample_data=True, records=20)
    before = counts()

    report = install_template(admin_actor, "mini_crm", sample_data=True, records=20)

    assert report.action == "unchanged"
    assert counts() == before
    assert len(report.unchanged) == 7 and not (report.added or report.changed)


def test_a_failing_document_leaves_nothing_behind(admin_actor):
    def break_workflow(manifest, documents):
        stage = documents["workflows/opportunity.json"]["stages"][0]
        stage["requirements"]["fields"].append("budget")

    before = counts()

    with pytest.raises(DajianError) as caught:
        install_bundle(admin_actor, variant(change=break_workflow))

    error = caught.value.errors[0]
    assert error.field == "workflows/opportunity.json"
    assert error.path == "workflows/opportunity.json: stages.0.requirements.fields.2"
    assert counts() == before  # no app, no forms, no roles, no audit


def test_forms_that_refer_to_each_other_install_in_two_passes(admin_actor):
    report = install_template(admin_actor, "mutual")

    assert report.action == "installed"
    bundle = variant("mutual")
    for key in ("account", "contact"):
        form = Form.objects.select_related("published").get(app=report.app, key=key)
        assert form.published.definition == {
            "schema_version": 1,
            **bundle.document("forms", key),
        }


def test_the_manifest_order_does_not_matter(admin_actor):
    def visits_last(manifest, documents):
        manifest["forms"] = ["customer", "opportunity", "product", "visit"]

    report = install_bundle(admin_actor, variant(change=visits_last))

    customer = Form.objects.select_related("published").get(app=report.app, key="customer")
    fields = {f["key"]: f for f in customer.published.definition["fields"]}
    assert fields["visits_30d"]["type"] == "rollup"


def version_two(manifest, documents):
    manifest["version"] = "1.1.0"
    documents["forms/customer.json"]["fields"].append(
        {"key": "industry", "type": "text", "label": {"zh-CN": "行业", "en": "Industry"}}
    )
    del documents["automations/silent_customer.json"]
    manifest["automations"] = ["big_deal"]
    documents["automations/big_deal.json"] = {
        "schema_version": 1,
        "form": "opportunity",
        "label": {"zh-CN": "大单提醒", "en": "Big deal"},
        "trigger": {"type": "record_created"},
        "condition": "amount >= 500000.0",
        "actions": [{"type": "notify", "to": [{"type": "owner"}], "message": "大单：{{ title }}"}],
    }
    del documents["workflows/opportunity.json"]
    manifest["workflows"] = []
    manifest["dashboards"] = ["overview"]
    documents["dashboards/overview.json"] = OVERVIEW


def test_an_upgrade_publishes_what_changed_and_keeps_every_record(admin_actor, team):
    install_template(admin_actor, "mini_crm", sample_data=True, records=30)
    rep = make_actor(team["reps"][0], admin_actor.workspace)
    create_record(rep, "mini_crm", "customer", {"name": "手工客户", "city": "上海"})
    records = Record.objects.count()
    versions = {f.key: f.versions.count() for f in Form.objects.all()}

    report = install_bundle(admin_actor, variant(change=version_two))

    assert report.action == "upgraded"
    assert report.changed == ["forms/customer.json"]
    assert sorted(report.added) == ["automations/big_deal.json", "dashboards/overview.json"]
    assert report.removed == ["automations/silent_customer.json"]
    assert report.kept == ["workflows/opportunity.json"]
    assert "forms/visit.json" in report.unchanged
    assert Record.objects.count() == records
    after = {f.key: f.versions.count() for f in Form.objects.all()}
    assert after == {**versions, "customer": versions["customer"] + 1}
    silent = Metadata.objects.get(key="silent_customer")
    assert silent.published_id is None
    assert not PeriodicTask.objects.filter(name=task_name(silent.pk)).exists()
    workflow = Metadata.objects.get(kind=MetadataKind.WORKFLOW, key="opportunity")
    assert workflow.published_id is not None  # kept: records are in its stages
    app = App.objects.get(key="mini_crm")
    assert app.template_version == "1.1.0"
    assert AuditEvent.objects.filter(action="app.template_installed").count() == 2


def test_an_upgrade_unpublishes_dropped_dashboards(admin_actor):
    install_bundle(admin_actor, variant(change=version_two))

    def without_dashboard(manifest, documents):
        version_two(manifest, documents)
        manifest["version"] = "1.2.0"
        manifest["dashboards"] = []
        del documents["dashboards/overview.json"]

    report = install_bundle(admin_actor, variant(change=without_dashboard))

    assert report.removed == ["dashboards/overview.json"]
    assert Metadata.objects.get(kind=MetadataKind.DASHBOARD, key="overview").published_id is None


def test_a_hand_built_app_with_the_same_key_is_not_overwritten(admin_actor):
    create_app(admin_actor, "mini_crm", "我的应用")
    before = counts()

    with pytest.raises(DajianError) as caught:
        install_template(admin_actor, "mini_crm")

    assert caught.value.errors[0].code == "TEMPLATE_CONFLICT"
    assert counts() == before


def test_unknown_template_is_not_found(admin_actor):
    for key in ("nope", "../etc", "Mini"):
        with pytest.raises(DajianError) as caught:
            install_template(admin_actor, key)
        assert caught.value.errors[0].code == "NOT_FOUND"
