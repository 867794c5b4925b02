"""The CLI: install-template, export-app, import-app and uninstall-app."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from dajian.app_templates.bundle import load_bundle
from dajian.builder.models import App
from dajian.platform.models import AuditEvent
from dajian.runtime.models import Record

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_install_template_prints_the_report(workspace, team):
    output = run(
        "install-template", "mini_crm", "--workspace", "acme", "--sample-data", "--records", "9"
    )

    assert output.splitlines()[0] == "installed: mini_crm"
    assert "  added: forms/product.json, forms/visit.json" in output
    assert "  records: 11" in output  # 9 generated + 2 fixed rows
    assert Record.objects.count() == 11
    # the system installs: its audit events name no user
    assert AuditEvent.objects.get(action="app.template_installed").actor_id is None

    assert run("install-template", "mini_crm", "--workspace", "acme").startswith(
        "unchanged: mini_crm"
    )


def test_install_template_errors(workspace, other_workspace):
    with pytest.raises(CommandError, match="NOT_FOUND"):
        run("install-template", "nothing", "--workspace", "acme")
    with pytest.raises(CommandError, match="No workspace"):
        run("install-template", "mini_crm", "--workspace", "nowhere")
    with pytest.raises(CommandError, match="--workspace"):
        run("install-template", "mini_crm")  # two workspaces, none named demo
    with pytest.raises(CommandError, match="--records"):
        run("install-template", "mini_crm", "--workspace", "acme", "--records", "-1")


def test_the_only_workspace_is_the_default(workspace):
    run("install-template", "mutual")
    assert App.objects.get(key="mutual").workspace == workspace


def test_export_and_import_between_workspaces(workspace, other_workspace, tmp_path):
    run("install-template", "mini_crm", "--workspace", "acme")
    out = tmp_path / "bundle"

    printed = run("export-app", "mini_crm", "--workspace", "acme", "--out", str(out))

    exported = load_bundle(out)
    assert f"hash: {exported.hash}" in printed
    assert json.loads((out / "manifest.json").read_text())["key"] == "mini_crm"

    assert run("import-app", str(out), "--workspace", "other").startswith("installed: mini_crm")
    assert App.objects.filter(workspace=other_workspace, key="mini_crm").exists()
    again = tmp_path / "again"
    run("export-app", "mini_crm", "--workspace", "other", "--out", str(again))
    assert load_bundle(again).hash == exported.hash


def test_import_app_reports_bundle_errors(workspace, tmp_path):
    (tmp_path / "manifest.json").write_text(
        '{"key": "x", "version": "1", "name": "X", "forms": []}'
    )

    with pytest.raises(CommandError, match=r"INVALID_MANIFEST at manifest\.json: version"):
        run("import-app", str(tmp_path), "--workspace", "acme")


def test_uninstall_app_archives_or_purges(workspace, team):
    run("install-template", "mini_crm", "--workspace", "acme", "--records", "5")

    assert run("uninstall-app", "mini_crm", "--workspace", "acme") == "archived: mini_crm\n"
    assert App.objects.get(key="mini_crm").archived_at is not None
    assert Record.objects.exists()

    assert (
        run("uninstall-app", "mini_crm", "--workspace", "acme", "--purge") == "purged: mini_crm\n"
    )
    assert not App.objects.exists() and not Record.objects.exists()
    with pytest.raises(CommandError, match="NOT_FOUND"):
        run("uninstall-app", "mini_crm", "--workspace", "acme")
