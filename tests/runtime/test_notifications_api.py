"""In-app notifications through GraphQL: myNotifications, unreadNotificationCount and
markNotificationsRead."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from graphql_relay import to_global_id

from dajian.runtime.approvals.services import submit_for_approval
from dajian.runtime.models import Notification
from dajian.runtime.notifications import notify
from tests.factories import make_user, make_workspace
from tests.runtime.approval_fixtures import chain, new_contract, step

pytest_plugins = ["tests.runtime.approval_plugin"]

NOTIFICATIONS = """
query($unreadOnly: Boolean, $first: Int, $after: String) {
  myNotifications(unreadOnly: $unreadOnly, first: $first, after: $after) {
    edges { cursor node { id kind message messages record { id app form } createdAt readAt } }
    pageInfo { hasNextPage endCursor }
  }
  unreadNotificationCount
}
"""
MARK_READ = """
mutation($input: MarkNotificationsReadInput!) {
  markNotificationsRead(input: $input) {
    count unreadCount
    errors { field path code }
  }
}
"""


@pytest.fixture
def cc_request(org, admin_actor, contract_form):
    """A request whose manager step copies the finance role."""
    steps = [step("manager", [{"type": "manager"}], cc=[{"type": "role", "role": "finance"}])]
    chain(admin_actor, contract_form, steps=steps)
    rep = org.actor(org.rep)
    return submit_for_approval(rep, new_contract(rep).pk, "contract_approval")


def nid(notification):
    return to_global_id("Notification", notification.pk)


def test_a_cc_recipient_sees_the_notification_and_others_do_not(gql, org, cc_request):
    assert gql(NOTIFICATIONS, {})["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"

    out = gql(NOTIFICATIONS, {}, as_user=org.finance)["data"]

    cc = Notification.objects.get(recipient=org.finance, kind="approval.cc")
    assert out["unreadNotificationCount"] == 1
    node = out["myNotifications"]["edges"][0]["node"]
    assert node["id"] == nid(cc) and node["kind"] == "approval.cc"
    assert node["message"] == "抄送：合同审批 · Manager"
    assert node["messages"] == {"en": "For your information: Contract approval · Manager"} | {
        "zh-CN": "抄送：合同审批 · Manager"
    }
    assert node["record"] == {
        "id": to_global_id("Record", cc_request.record_id),
        "app": "sales",
        "form": "contract",
    }
    assert node["createdAt"] and node["readAt"] is None
    product = gql(NOTIFICATIONS, {}, as_user=org.product)["data"]
    assert product == {
        "myNotifications": {
            "edges": [],
            "pageInfo": {"hasNextPage": False, "endCursor": None},
        },
        "unreadNotificationCount": 0,
    }
    kinds = gql(NOTIFICATIONS, {}, as_user=org.manager)["data"]["myNotifications"]["edges"]
    assert [e["node"]["kind"] for e in kinds] == ["approval.task"]


def test_newest_first_keyset_pages_in_a_fixed_number_of_queries(gql, org, contract_form):
    now = timezone.now()
    record = new_contract(org.actor(org.rep))
    for i in range(5):
        # two share a timestamp, so the id breaks the tie
        at = now - dt.timedelta(minutes=min(i, 3))
        notify(org.workspace.pk, [org.rep.pk], "stage.warning", {"en": f"n{i}"}, record.pk, now=at)
    elsewhere = make_workspace("elsewhere")
    make_user("rep_elsewhere", elsewhere)
    notify(elsewhere.pk, [org.rep.pk], "stage.warning", {"en": "other workspace"})

    seen, after = [], None
    while True:
        page = gql(NOTIFICATIONS, {"first": 2, "after": after}, as_user=org.rep)["data"]
        seen += [e["node"]["messages"]["en"] for e in page["myNotifications"]["edges"]]
        if not page["myNotifications"]["pageInfo"]["hasNextPage"]:
            break
        after = page["myNotifications"]["pageInfo"]["endCursor"]
    assert seen == ["n0", "n1", "n2", "n4", "n3"]
    counts = {}
    for first in (1, 5):
        with CaptureQueriesContext(connection) as queries:
            page = gql(NOTIFICATIONS, {"first": first}, as_user=org.rep)["data"]
        assert len(page["myNotifications"]["edges"]) == first
        counts[first] = len(queries)
    assert counts[1] == counts[5], counts  # notifications, their records, unread count
    bad = gql(NOTIFICATIONS, {"after": "nope"}, as_user=org.rep)
    assert bad["errors"][0]["extensions"]["code"] == "INVALID_CURSOR"


def test_mark_read_by_ids_only_touches_the_callers_own(gql, org, cc_request):
    notify(org.workspace.pk, [org.finance.pk], "stage.warning", {"en": "late"})
    mine = list(Notification.objects.filter(recipient=org.finance).order_by("id"))
    theirs = Notification.objects.get(recipient=org.manager)

    out = gql(MARK_READ, {"input": {"ids": [nid(mine[0]), nid(theirs)]}}, as_user=org.finance)[
        "data"
    ]["markNotificationsRead"]

    assert out == {"count": 1, "unreadCount": 1, "errors": []}
    assert Notification.objects.get(pk=theirs.pk).read_at is None
    unread = gql(NOTIFICATIONS, {"unreadOnly": True}, as_user=org.finance)["data"]
    assert [e["node"]["id"] for e in unread["myNotifications"]["edges"]] == [nid(mine[1])]
    again = gql(MARK_READ, {"input": {"ids": [nid(mine[0])]}}, as_user=org.finance)
    assert again["data"]["markNotificationsRead"]["count"] == 0


def test_mark_all_read_and_bad_input(gql, org, cc_request):
    notify(org.workspace.pk, [org.finance.pk], "stage.warning", {"en": "late"})
    cases = [
        ({}, "INVALID_INPUT", "ids"),
        ({"all": True, "ids": []}, "INVALID_INPUT", "ids"),
        ({"ids": ["junk"]}, "NOT_FOUND", "ids.0"),
    ]
    for given, code, path in cases:
        out = gql(MARK_READ, {"input": given}, as_user=org.finance)["data"]
        assert out["markNotificationsRead"]["errors"] == [
            {"field": path, "path": path, "code": code}
        ], given

    out = gql(MARK_READ, {"input": {"all": True}}, as_user=org.finance)["data"]

    assert out["markNotificationsRead"] == {"count": 2, "unreadCount": 0, "errors": []}
    assert not Notification.objects.filter(recipient=org.finance, read_at__isnull=True).exists()
    assert Notification.objects.filter(recipient=org.manager, read_at__isnull=True).count() == 1
