"""``dajian demo`` installs both shipped templates with sample data, once."""

from __future__ import annotations

from io import StringIO

from django.core.management import call_command

from dajian.app_templates.bundle import load_bundle
from dajian.builder.models import App
from dajian.platform.models import Membership
from dajian.runtime.models import Record


def test_the_demo_installs_both_templates_with_sample_data_once(db, settings):
    settings.DAJIAN = {**settings.DAJIAN, "DEMO_PASSWORD": "pw-demo-123"}
    call_command("demo", stdout=StringIO())
    apps = {a.key: a for a in App.objects.filter(workspace__slug="demo")}
    assert {"store_sales", "b2b_sales"} <= set(apps)
    assert apps["b2b_sales"].template_version == load_bundle("b2b_sales").version
    counts = {
        key: Record.objects.filter(form__app=apps[key]).count()
        for key in ("store_sales", "b2b_sales")
    }
    assert all(n >= 300 for n in counts.values()), counts
    manager = Membership.objects.get(workspace__slug="demo", user__username="manager")
    assert {"manager", "supervisor", "director"} <= set(manager.roles.values_list("key", flat=True))

    call_command("demo", stdout=StringIO())  # idempotent: no second batch of samples
    assert {
        key: Record.objects.filter(form__app=apps[key]).count()
        for key in ("store_sales", "b2b_sales")
    } == counts
