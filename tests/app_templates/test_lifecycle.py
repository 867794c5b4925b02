"""Uninstalling: archive (hidden, automations stopped, records kept, restored by a
reinstall) or purge (records and metadata deleted)."""

from __future__ import annotations

import pytest
from django.db import connection
from django_celery_beat.models import PeriodicTask

from dajian.app_templates.installer import install_template, uninstall_app
from dajian.builder.models import App, Form, FormVersion, Metadata, MetadataVersion
from dajian.builder.services.forms import get_app
from dajian.platform.errors import DajianError
from dajian.platform.models import AuditEvent, Role
from dajian.runtime.automations.schedules import task_name
from dajian.runtime.models import Record, RecordDedupeKey, StageEntry
from dajian.runtime.services.indexes import index_name
from tests.factories import make_actor

pytestmark = pytest.mark.django_db

APPS = 'query { apps { key } app(key: "mini_crm") { key } }'


@pytest.fixture
def installed(admin_actor, team):
    install_template(admin_actor, "mini_crm", sample_data=True, records=30)
    return App.objects.get(key="mini_crm")


def schedule_exists() -> bool:
    silent = Metadata.objects.get(key="silent_customer")
    return PeriodicTask.objects.filter(name=task_name(silent.pk)).exists()


def test_uninstall_archives_the_app_and_keeps_its_records(admin_actor, installed, gql, admin):
    records = Record.objects.count()
    assert schedule_exists()

    app = uninstall_app(admin_actor, "mini_crm")

    assert app is not None and app.archived_at is not None
    assert Record.objects.count() == records
    assert Metadata.objects.get(key="silent_customer").published_id is None
    assert not schedule_exists()
    assert AuditEvent.objects.filter(action="app.archived").count() == 1
    # hidden from apps and from the builder
    data = gql(APPS, as_user=admin)["data"]
    assert data == {"apps": [], "app": None}
    with pytest.raises(DajianError):
        get_app(admin_actor, "mini_crm")


def test_archiving_twice_changes_nothing(admin_actor, installed):
    uninstall_app(admin_actor, "mini_crm")
    events = AuditEvent.objects.count()

    uninstall_app(admin_actor, "mini_crm")

    assert AuditEvent.objects.count() == events


def test_reinstalling_brings_the_app_back_with_its_records(admin_actor, installed, gql, admin):
    records = set(Record.objects.values_list("pk", flat=True))
    uninstall_app(admin_actor, "mini_crm")

    report = install_template(admin_actor, "mini_crm", sample_data=False)

    assert report.action == "installed"
    assert report.changed == ["automations/silent_customer.json"]  # published again
    assert set(Record.objects.values_list("pk", flat=True)) == records
    assert App.objects.get(key="mini_crm").archived_at is None
    assert schedule_exists()
    assert gql(APPS, as_user=admin)["data"]["apps"] == [{"key": "mini_crm"}]


def test_purge_deletes_records_and_metadata(admin_actor, installed):
    customer = Form.objects.get(app=installed, key="customer")
    unique_index = index_name(customer.pk, "credit_code", "u")
    assert Record.objects.exists() and StageEntry.objects.exists()
    roles = Role.objects.count()

    assert uninstall_app(admin_actor, "mini_crm", purge=True) is None

    assert not App.objects.filter(key="mini_crm").exists()
    for model in (
        Record,
        Form,
        FormVersion,
        Metadata,
        MetadataVersion,
        StageEntry,
        RecordDedupeKey,
    ):
        assert not model.objects.exists(), model
    with connection.cursor() as cursor:
        indexes = connection.introspection.get_constraints(cursor, Record._meta.db_table)
    assert unique_index not in indexes
    assert Role.objects.count() == roles  # roles are the workspace's, shared by apps
    event = AuditEvent.objects.get(action="app.purged")
    assert event.diff["key"] == ["mini_crm", None]
    # and the template installs afresh
    assert install_template(admin_actor, "mini_crm").action == "installed"


def test_an_archived_app_can_be_purged(admin_actor, installed):
    uninstall_app(admin_actor, "mini_crm")

    uninstall_app(admin_actor, "mini_crm", purge=True)

    assert not App.objects.exists() and not Record.objects.exists()


def test_only_admins_uninstall_and_unknown_apps_are_not_found(admin_actor, installed, team):
    rep = make_actor(team["reps"][0], admin_actor.workspace)
    with pytest.raises(DajianError) as caught:
        uninstall_app(rep, "mini_crm", purge=True)
    assert caught.value.errors[0].code == "PERMISSION_DENIED"
    assert Record.objects.exists()

    with pytest.raises(DajianError) as caught:
        uninstall_app(admin_actor, "ghost")
    assert caught.value.errors[0].code == "NOT_FOUND"
