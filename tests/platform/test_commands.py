"""The platform's CLI: ``create-token``, ``demo`` and ``verify-audit``."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import transaction
from django.utils import timezone

from dajian.platform import demo_hooks
from dajian.platform.actors import Actor
from dajian.platform.audit import record_event
from dajian.platform.models import ApiToken, AuditEvent, Membership, OrgUnit, Role, Workspace
from dajian.platform.tokens import hash_token
from tests.factories import make_user


def run(*args, **options) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, **options)
    return out.getvalue()


# --- create-token ----------------------------------------------------------------------------


def test_create_token_prints_only_the_token(workspace):
    user = make_user("erp", workspace)

    output = run("create-token", "--user", "erp", "--workspace", "acme", "--name", "ERP")

    assert re.fullmatch(r"dj_[0-9a-f]{8}_\S+\n", output)
    token = ApiToken.objects.get(token_hash=hash_token(output.strip()))
    assert (token.user, token.workspace, token.name) == (user, workspace, "ERP")
    assert token.expires_at is None


def test_create_token_with_expiry(workspace):
    make_user("erp", workspace)

    output = run("create-token", "--user", "erp", "--workspace", "acme", "--expires-days", "30")

    expires_at = ApiToken.objects.get(token_hash=hash_token(output.strip())).expires_at
    assert abs(expires_at - (timezone.now() + timedelta(days=30))) < timedelta(minutes=1)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--user", "ghost", "--workspace", "acme"], "No active user"),
        (["--user", "erp", "--workspace", "nowhere"], "No workspace"),
        (["--user", "outsider", "--workspace", "acme"], "not a member"),
        (["--user", "erp", "--workspace", "acme", "--expires-days", "0"], "positive"),
    ],
)
def test_create_token_refuses_bad_input(workspace, other_workspace, args, message):
    make_user("erp", workspace)
    make_user("outsider", other_workspace)

    with pytest.raises(CommandError, match=message):
        run("create-token", *args)


# --- demo ------------------------------------------------------------------------------------


@pytest.fixture
def demo_password(settings):
    settings.DAJIAN = {**settings.DAJIAN, "DEMO_PASSWORD": "demo-pass-1"}
    return "demo-pass-1"


@pytest.fixture
def no_hooks(monkeypatch):
    hooks: list = []
    monkeypatch.setattr(demo_hooks, "_hooks", hooks)
    return hooks


def memberships(workspace: Workspace) -> dict[str, Membership]:
    return {
        m.user.username: m
        for m in Membership.objects.filter(workspace=workspace).select_related("user", "org_unit")
    }


def test_demo_creates_the_workspace_people_and_org_chart(db, demo_password, no_hooks):
    output = run("demo")

    workspace = Workspace.objects.get(slug="demo")
    assert workspace.name == "Demo 演示"
    members = memberships(workspace)
    assert set(members) == {"admin", "manager", "rep1", "rep2"}
    assert [name for name, m in members.items() if m.is_admin] == ["admin"]
    roles = {name: {r.key for r in m.roles.all()} for name, m in members.items()}
    assert roles == {"admin": {"admin"}, "manager": {"manager"}, "rep1": {"rep"}, "rep2": {"rep"}}
    sales = OrgUnit.objects.get(workspace=workspace, name="Sales 销售部", parent=None)
    assert sales.manager.username == "manager"
    assert members["rep1"].org_unit == sales == members["rep2"].org_unit
    for name in members:
        assert get_user_model().objects.get(username=name).check_password(demo_password)
        assert re.search(rf"^{name}\s+{demo_password}\s+", output, re.MULTILINE)
    assert "http://127.0.0.1:8000" in output


def test_demo_twice_creates_nothing_new_and_resets_passwords(db, demo_password, no_hooks):
    run("demo")
    counts = [m.objects.count() for m in (Workspace, Membership, OrgUnit, Role)]
    rep1 = get_user_model().objects.get(username="rep1")
    rep1.set_password("changed")
    rep1.save()
    users = get_user_model().objects.count()

    run("demo")

    assert [m.objects.count() for m in (Workspace, Membership, OrgUnit, Role)] == counts
    assert get_user_model().objects.count() == users
    rep1.refresh_from_db()
    assert rep1.check_password(demo_password)


def test_demo_generates_and_prints_passwords_when_none_is_configured(db, settings, no_hooks):
    settings.DAJIAN = {**settings.DAJIAN, "DEMO_PASSWORD": ""}

    output = run("demo")

    for name in ("admin", "manager", "rep1", "rep2"):
        password = re.search(rf"^{name}\s+(\S+)\s+", output, re.MULTILINE).group(1)
        assert len(password) >= 12
        assert get_user_model().objects.get(username=name).check_password(password)


def test_demo_runs_the_registered_hooks_with_the_workspace(db, demo_password, no_hooks):
    seen: list[Workspace] = []
    demo_hooks.register(seen.append)
    demo_hooks.register(seen.append)  # registering twice is a no-op

    run("demo")

    assert [w.slug for w in seen] == ["demo"]


# --- verify-audit ----------------------------------------------------------------------------


def audit(workspace: Workspace, count: int) -> None:
    with transaction.atomic():
        for n in range(count):
            record_event(Actor.system(workspace), "record.update", "record", n, {"n": [n, n + 1]})


def test_verify_audit_reports_each_workspace(workspace, other_workspace):
    audit(workspace, 3)

    output = run("verify-audit")

    assert "acme: ok, 3 events" in output
    assert "other: ok, 0 events" in output


def test_verify_audit_fails_on_a_broken_chain(workspace, other_workspace):
    audit(workspace, 3)
    audit(other_workspace, 1)
    AuditEvent.objects.filter(workspace=workspace, seq=2).update(action="forged")
    out = io.StringIO()

    with pytest.raises(CommandError, match="1 audit chain"):
        call_command("verify-audit", stdout=out)

    assert "acme: BROKEN at event 2" in out.getvalue()
    assert "other: ok, 1 events" in out.getvalue()


def test_verify_audit_for_one_workspace(workspace, other_workspace):
    audit(workspace, 1)
    AuditEvent.objects.filter(workspace=workspace).update(action="forged")

    assert run("verify-audit", "--workspace", "other") == "other: ok, 0 events\n"
    with pytest.raises(CommandError, match="No workspace"):
        run("verify-audit", "--workspace", "nowhere")
