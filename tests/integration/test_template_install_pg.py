"""App templates on PostgreSQL: install with sample data (COPY, promoted facts kept by
their triggers), upgrade, and concurrent installs of one template with real threads."""

from __future__ import annotations

from collections import Counter

import pytest

from dajian.app_templates.installer import install_bundle, install_template, uninstall_app
from dajian.builder.models import App, Form, FormVersion, MetadataVersion
from dajian.platform.audit import verify_chain
from dajian.platform.models import AuditEvent, Membership, Role
from dajian.platform.org import create_org_unit
from dajian.runtime.dashboards.facts import promoted_columns
from dajian.runtime.models import Record, RecordFact, StageEntry
from dajian.runtime.services.records import create_record
from tests.app_templates.conftest import BUNDLES, variant
from tests.app_templates.test_installer import version_two
from tests.factories import make_actor, make_user, make_workspace
from tests.integration.threads import outcome, run_at_once

pytestmark = pytest.mark.django_db(transaction=True)
ROUNDS = 4
BY_LEVEL = {
    "schema_version": 1,
    "name": "Customers by level",
    "widgets": [
        {
            "key": "by_level",
            "type": "bar",
            "title": "By level",
            "form": "customer",
            "measures": [{"key": "n", "function": "count"}],
            "group_by": [{"field": "level"}],
        }
    ],
}


@pytest.fixture(autouse=True)
def template_dirs(settings, tmp_path):
    settings.DAJIAN = {**settings.DAJIAN, "TEMPLATE_DIRS": [str(BUNDLES)]}
    settings.MEDIA_ROOT = tmp_path / "media"  # sample photos


def sales_team(slug: str):
    """A workspace with an admin, a manager and two reps; returns the admin's actor."""
    workspace = make_workspace(slug)
    admin = make_user(f"{slug}-admin", workspace, roles=["admin"], is_admin=True)
    manager = make_user(f"{slug}-manager", workspace, roles=["manager"])
    unit = create_org_unit(workspace, "销售一组", manager=manager)
    Membership.objects.filter(workspace=workspace, user=manager).update(org_unit=unit)
    for i in (1, 2):
        make_user(f"{slug}-rep{i}", workspace, roles=["rep"], org_unit=unit)
    return make_actor(admin, workspace)


def with_dashboard(manifest, documents):
    manifest["dashboards"] = ["by_level"]
    documents["dashboards/by_level.json"] = BY_LEVEL


def test_install_with_sample_data_and_upgrade_on_postgresql():
    admin = sales_team("pg")

    report = install_bundle(admin, variant(change=with_dashboard), sample_data=True, records=300)

    assert report.action == "installed" and report.records == 302
    counts = Counter(Record.objects.values_list("form__key", flat=True))
    assert counts == {"customer": 100, "visit": 150, "opportunity": 50, "product": 2}
    deals = Record.objects.filter(form__key="opportunity")
    assert StageEntry.objects.filter(record__in=deals, exited_at__isnull=True).count() == 50
    # the COPY path kept the promoted facts through the form's trigger
    customer = Form.objects.get(key="customer")
    facts = RecordFact.objects.filter(form_id=customer.pk)
    assert facts.count() == 100
    levels = dict(Record.objects.filter(form=customer).values_list("pk", "data__level"))
    slot = promoted_columns(customer)["level"]
    assert {f.record_id: getattr(f, slot) for f in facts} == levels
    # ids came from the sequence: the record service goes on after them
    rep = make_actor(Membership.objects.filter(roles__key="rep").first().user, admin.workspace)
    created = create_record(rep, "mini_crm", "customer", {"name": "新客户有限公司"}).record
    assert created.pk > max(levels)
    assert verify_chain(admin.workspace).ok

    def upgraded(manifest, documents):
        with_dashboard(manifest, documents)
        version_two(manifest, documents)
        manifest["dashboards"] = ["by_level", "overview"]
        documents["dashboards/by_level.json"] = BY_LEVEL

    records = Record.objects.count()
    upgrade = install_bundle(admin, variant(change=upgraded))

    assert upgrade.action == "upgraded" and upgrade.changed == ["forms/customer.json"]
    assert Record.objects.count() == records
    assert RecordFact.objects.filter(form_id=customer.pk).count() == 101
    assert verify_chain(admin.workspace).ok


def test_purge_on_postgresql_removes_records_facts_and_indexes():
    admin = sales_team("purge")
    install_bundle(admin, variant(change=with_dashboard), sample_data=True, records=60)

    uninstall_app(admin, "mini_crm", purge=True)

    assert not Record.objects.exists() and not RecordFact.objects.exists()
    assert not App.objects.exists()
    assert install_template(admin, "mini_crm", sample_data=True, records=10).records == 12


def test_concurrent_installs_of_one_template_install_it_once():
    violations = []
    for round_no in range(ROUNDS):
        admin = sales_team(f"race{round_no}")
        workspace = admin.workspace

        results = run_at_once(
            lambda i, ws=workspace, user=admin.user: install_template(
                make_actor(user, ws), "mini_crm", sample_data=True, records=40
            ),
            threads=2,
        )

        actions = Counter(
            r.action if hasattr(r, "action") else next(iter(outcome([r]))) for r in results
        )
        app = App.objects.get(workspace=workspace, key="mini_crm")
        state = {
            "forms": Form.objects.filter(app=app, published__isnull=False).count(),
            "form_versions": FormVersion.objects.filter(form__app=app).count(),
            "documents": MetadataVersion.objects.filter(metadata__app=app).count(),
            "records": Record.objects.filter(workspace=workspace).count(),
            "roles": Role.objects.filter(workspace=workspace).count(),
            "installs": AuditEvent.objects.filter(
                workspace=workspace, action="app.template_installed"
            ).count(),
        }
        expected = {
            "forms": 4,
            "form_versions": 4,
            "documents": 3,
            "records": 42,
            "roles": 3,  # admin (fixture), manager, rep
            "installs": 1,
        }
        ok = (
            actions["installed"] == 1
            and actions["installed"] + actions["unchanged"] + actions["CONCURRENT_INSTALL"] == 2
        )
        if not ok or state != expected or not verify_chain(workspace).ok:
            violations.append((round_no, dict(actions), state))
    assert violations == []


def test_bulk_refusals_on_postgresql(admin_actor, form_factory):
    from dajian.runtime.services.bulk import BulkRow, bulk_create_records

    form_factory(
        [
            {"key": "name", "type": "text", "label": "Name", "required": True},
            {"key": "code", "type": "text", "label": "Code", "unique": True},
            {"key": "no", "type": "autonumber", "label": "No.", "pattern": "N{seq:3}"},
        ],
        key="account",
        duplicates=[{"key": "name", "fields": ["name"], "action": "block"}],
    )
    create_record(admin_actor, "sales", "account", {"name": "taken", "code": "C1"})
    rows = [
        BulkRow(data={"name": "a", "code": "C1"}),  # unique value stored
        BulkRow(data={"name": "b", "code": "C2"}),
        BulkRow(data={"name": "c", "code": "C2"}),  # unique value of row 1
        BulkRow(data={"name": "taken"}),  # blocking duplicate stored
        BulkRow(data={"name": "d"}),
    ]

    result = bulk_create_records(admin_actor, "sales", "account", rows, collect_errors=True)

    assert [r.data["name"] for r in result.records] == ["b", "d"]
    assert [r.data["no"] for r in result.records] == ["N002", "N003"]
    assert {i: errors[0].code for i, errors in result.errors.items()} == {
        0: "DUPLICATE_VALUE",
        2: "DUPLICATE_VALUE",
        3: "DUPLICATE_RECORD",
    }
    stored = Record.objects.filter(form__key="account").order_by("pk")
    assert [r.data["name"] for r in stored] == ["taken", "b", "d"]
