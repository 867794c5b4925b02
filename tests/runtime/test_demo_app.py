"""``dajian demo`` installs the demo CRM app once, with records owned by the reps."""

from __future__ import annotations

from io import StringIO

from django.core.management import call_command

from dajian.builder.models import App, Metadata, MetadataVersion
from dajian.runtime.models import Record, TodoTask
from tests.automation_helpers import drain_outbox


def test_demo_installs_the_crm_app_once(db, settings):
    settings.DAJIAN = {**settings.DAJIAN, "DEMO_PASSWORD": "pw-demo-123"}
    call_command("demo", stdout=StringIO())
    app = App.objects.get(workspace__slug="demo", key="crm")
    forms = {f.key: f for f in app.forms.all()}
    assert set(forms) == {"customer", "visit", "opportunity"}
    assert all(f.published for f in forms.values())
    published = {m.key: m.kind for m in Metadata.objects.filter(app=app, published__isnull=False)}
    assert published == {
        "opportunity": "workflow",
        "contract_approval": "approval_chain",
        "stale_daily": "automation",
        "big_deal_todo": "automation",
        "silent_customer": "automation",
    }
    customers = Record.objects.filter(form=forms["customer"])
    assert customers.count() == 12
    assert set(customers.values_list("owner__username", flat=True)) == {"rep1", "rep2"}
    visits = Record.objects.filter(form=forms["visit"])
    assert visits.exists() and all("pending_verification" in v.flags for v in visits)
    stages = sorted(
        Record.objects.filter(form=forms["opportunity"]).values_list("stage", flat=True)
    )
    assert stages == ["proposal"] * 4 + ["requirement"] * 2
    total = Record.objects.count()
    versions = MetadataVersion.objects.count()
    # the big deals' outbox events, processed by the worker, give their managers to-dos
    drain_outbox()
    todos = TodoTask.objects.filter(source="automation:crm.big_deal_todo")
    assert sorted(t.title["en"] for t in todos) == [
        "Big deal: 金桥商贸 区域代理",
        "Big deal: 鑫源贸易 仓配一体化",
    ]
    assert {t.assignee.username for t in todos} == {"manager"}
    assert "Amount 650000:" in {t.message["en"][:14] for t in todos}
    call_command("demo", stdout=StringIO())  # idempotent
    assert Record.objects.count() == total
    assert MetadataVersion.objects.count() == versions
