"""Every request runs in its workspace's time zone, whichever way the workspace is
chosen (the member's default, the ``X-Workspace`` header, a bearer token's): "today",
zone-less hours and weekdays in ``records`` filters are the workspace's, not the
server's — as in automations and dashboards."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from dajian.platform.models import Membership
from dajian.platform.tokens import issue_token
from dajian.runtime.models import Record
from dajian.runtime.services.records import create_record
from tests.factories import build_form, make_actor, make_user, make_workspace

# 23:30 UTC on 16 March: already the 17th in Shanghai (07:30), still the 16th in New York
# (19:30, daylight saving time).
NOW = dt.datetime(2026, 3, 16, 23, 30, tzinfo=dt.UTC)
FIELDS = [
    {"key": "name", "type": "text", "label": "Name"},
    {"key": "due_on", "type": "date", "label": "Due"},
]
RECORDS = """
query L($filter: GenericScalar) {
  records(app: "sales", form: "visit", filter: $filter) { edges { node { data } } }
}"""
TODAY = {"field": "due_on", "op": "eq", "value": {"ago": {"days": 0}}}


def hour(value: int) -> dict:
    return {"field": "created_at", "op": "hour", "value": value}


@pytest.fixture
def member(workspace, settings, monkeypatch):
    """A member of ``acme`` (Asia/Shanghai, their first workspace) and of ``nyc``
    (America/New_York), each with the same visits, on a server in UTC at NOW."""
    settings.TIME_ZONE = "UTC"
    nyc = make_workspace("nyc")
    nyc.time_zone = "America/New_York"
    nyc.save(update_fields=["time_zone"])
    user = make_user("ming", workspace, is_admin=True)
    Membership.objects.create(workspace=nyc, user=user, is_admin=True)
    monkeypatch.setattr(timezone, "now", lambda: NOW)
    for place in (workspace, nyc):
        actor = make_actor(user, place)
        build_form(actor, FIELDS, key="visit")
        for day in ("2026-03-16", "2026-03-17"):
            create_record(actor, "sales", "visit", {"name": f"{place.slug} {day}", "due_on": day})
        Record.objects.filter(workspace=place).update(created_at=NOW)
    return user


def names(body: dict) -> list[str]:
    assert "errors" not in body, body["errors"]
    return sorted(edge["node"]["data"]["name"] for edge in body["data"]["records"]["edges"])


def test_today_is_the_workspaces_day(gql, member):
    assert timezone.localdate(NOW) == dt.date(2026, 3, 16)  # the server's day

    # the member's default workspace: Shanghai
    assert names(gql(RECORDS, {"filter": TODAY}, as_user=member)) == ["acme 2026-03-17"]
    # another workspace by the X-Workspace header: New York
    body = gql(RECORDS, {"filter": TODAY}, as_user=member, workspace="nyc")
    assert names(body) == ["nyc 2026-03-16"]
    # bearer tokens: their workspace's zone
    nyc = Membership.objects.get(user=member, workspace__slug="nyc").workspace
    acme = Membership.objects.get(user=member, workspace__slug="acme").workspace
    assert names(gql(RECORDS, {"filter": TODAY}, token=issue_token(member, nyc)[1])) == [
        "nyc 2026-03-16"
    ]
    assert names(gql(RECORDS, {"filter": TODAY}, token=issue_token(member, acme)[1])) == [
        "acme 2026-03-17"
    ]


def test_zone_less_hours_are_the_workspaces(gql, member):
    assert names(gql(RECORDS, {"filter": hour(7)}, as_user=member)) == [
        "acme 2026-03-16",
        "acme 2026-03-17",
    ]
    assert names(gql(RECORDS, {"filter": hour(23)}, as_user=member)) == []
    body = gql(RECORDS, {"filter": hour(19)}, as_user=member, workspace="nyc")
    assert names(body) == ["nyc 2026-03-16", "nyc 2026-03-17"]


def test_the_servers_zone_is_back_after_the_request(gql, member):
    gql(RECORDS, {"filter": TODAY}, as_user=member, workspace="nyc")

    assert timezone.get_current_timezone_name() == "UTC"
