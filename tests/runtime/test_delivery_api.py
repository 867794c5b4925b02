"""GraphQL of deliveries: webhookSettings, deliveries, saveWebhookSettings and
rotateWebhookSecret — admins only, one workspace at a time."""

from __future__ import annotations

from graphql_relay import to_global_id

from dajian.platform.models import AuditEvent
from dajian.runtime.deliveries import enqueue_delivery
from dajian.runtime.deliveries.signing import webhook_settings
from dajian.runtime.models import Delivery, DeliveryChannel, DeliveryStatus, WebhookSettings
from tests.factories import make_user

SETTINGS = """
query { webhookSettings { allowlist secretHint } }
"""
DELIVERIES = """
query($status: DeliveryStatus, $first: Int, $after: String) {
  deliveries(status: $status, first: $first, after: $after) {
    edges { cursor node {
      id messageId channel target payload status attempts maxAttempts nextAttemptAt
      lastStatusCode lastError automation createdAt deliveredAt
    } }
    pageInfo { hasNextPage endCursor }
  }
}
"""
SAVE = """
mutation($input: SaveWebhookSettingsInput!) {
  saveWebhookSettings(input: $input) {
    webhookSettings { allowlist secretHint }
    errors { field path code message }
  }
}
"""
ROTATE = """
mutation { rotateWebhookSecret { secret webhookSettings { secretHint } errors { code } } }
"""


def code_of(out):
    return out["errors"][0]["extensions"]["code"]


def test_webhook_settings_are_for_admins_only(gql, admin, user_factory):
    rep = user_factory(username="rep")
    assert code_of(gql(SETTINGS)) == "UNAUTHENTICATED"
    denied = gql(SETTINGS, as_user=rep)
    assert code_of(denied) == "PERMISSION_DENIED" and denied["data"] is None

    out = gql(SETTINGS, as_user=admin)["data"]["webhookSettings"]

    secret = WebhookSettings.objects.get(workspace__slug="acme").secret
    assert out == {"allowlist": [], "secretHint": secret[:10] + "…"}
    assert out["secretHint"].startswith("whsec_")


def test_save_webhook_settings_validates_and_normalises(gql, admin, user_factory, workspace):
    rep = user_factory(username="rep")
    entries = ["127.0.0.1", "10.0.0.0/8"]
    denied = gql(SAVE, {"input": {"allowlist": entries}}, as_user=rep)["data"]
    assert denied["saveWebhookSettings"]["errors"][0]["code"] == "PERMISSION_DENIED"
    assert not WebhookSettings.objects.filter(workspace=workspace).exists()

    bad = gql(
        SAVE,
        {"input": {"allowlist": ["ok.example", "not a host", "10.0.0.0/40", "::1"]}},
        as_user=admin,
    )["data"]["saveWebhookSettings"]
    assert [(e["path"], e["code"]) for e in bad["errors"]] == [
        ("allowlist.1", "INVALID_ALLOWLIST_ENTRY"),
        ("allowlist.2", "INVALID_ALLOWLIST_ENTRY"),
    ]
    assert bad["errors"][0]["field"] == "allowlist"
    assert bad["webhookSettings"] is None

    good = gql(
        SAVE,
        {
            "input": {
                "allowlist": ["CRM.Internal.", "127.0.0.1", "10.1.2.3/8", "[::1]", "127.0.0.1"]
            }
        },
        as_user=admin,
    )["data"]["saveWebhookSettings"]

    stored = ["crm.internal", "127.0.0.1", "10.0.0.0/8", "::1"]
    assert good["errors"] == [] and good["webhookSettings"]["allowlist"] == stored
    assert webhook_settings(workspace).allowlist == stored
    event = AuditEvent.objects.get(workspace=workspace, action="webhook_settings.update")
    assert event.diff == {"allowlist": [[], stored]}


def test_the_allow_list_is_limited(gql, admin):
    entries = [f"h{i}.example" for i in range(101)]
    out = gql(SAVE, {"input": {"allowlist": entries}}, as_user=admin)["data"]
    assert out["saveWebhookSettings"]["errors"][0]["code"] == "LIMIT_EXCEEDED"


def test_rotating_the_secret_returns_it_once(gql, admin, user_factory, workspace):
    rep = user_factory(username="rep")
    before = webhook_settings(workspace).secret
    denied = gql(ROTATE, as_user=rep)["data"]["rotateWebhookSecret"]
    assert denied["errors"] == [{"code": "PERMISSION_DENIED"}] and denied["secret"] is None
    assert webhook_settings(workspace).secret == before

    out = gql(ROTATE, as_user=admin)["data"]["rotateWebhookSecret"]

    secret = webhook_settings(workspace).secret
    assert out["errors"] == [] and out["secret"] == secret != before
    assert out["webhookSettings"]["secretHint"] == secret[:10] + "…"
    assert gql(SETTINGS, as_user=admin)["data"]["webhookSettings"]["secretHint"] == (
        secret[:10] + "…"
    )
    event = AuditEvent.objects.get(workspace=workspace, action="webhook_settings.rotate_secret")
    assert secret not in str(event.diff) and before not in str(event.diff)


def test_deliveries_are_for_admins_and_show_only_this_workspace(
    gql, admin, user_factory, workspace, other_workspace
):
    rep = user_factory(username="rep")
    theirs = enqueue_delivery(other_workspace.pk, DeliveryChannel.WEBHOOK, "https://o.example/", {})
    hook = enqueue_delivery(workspace.pk, DeliveryChannel.WEBHOOK, "https://a.example/", {"n": 1})
    robot = enqueue_delivery(
        workspace.pk,
        DeliveryChannel.IM_ROBOT,
        "https://oapi.dingtalk.example/robot/send?access_token=t",
        {"provider": "dingtalk", "body": {"msgtype": "text"}, "secret": "SEC-hidden"},
    )
    Delivery.objects.filter(pk=hook.pk).update(
        status=DeliveryStatus.DELIVERED, attempts=1, last_status_code=200
    )
    assert code_of(gql(DELIVERIES, as_user=rep)) == "PERMISSION_DENIED"
    assert code_of(gql(DELIVERIES)) == "UNAUTHENTICATED"

    page = gql(DELIVERIES, as_user=admin)["data"]["deliveries"]

    nodes = [e["node"] for e in page["edges"]]
    assert [n["id"] for n in nodes] == [
        to_global_id("Delivery", robot.pk),
        to_global_id("Delivery", hook.pk),
    ]
    assert to_global_id("Delivery", theirs.pk) not in str(page)
    robot_node, hook_node = nodes
    assert robot_node["payload"] == {"provider": "dingtalk", "body": {"msgtype": "text"}}
    assert "SEC-hidden" not in str(page)
    assert robot_node["channel"] == "IM_ROBOT" and robot_node["status"] == "PENDING"
    assert robot_node["messageId"] == robot.message_id and robot_node["nextAttemptAt"]
    assert robot_node["maxAttempts"] == robot.max_attempts and robot_node["automation"] is None
    assert hook_node["status"] == "DELIVERED" and hook_node["nextAttemptAt"] is None
    assert (hook_node["attempts"], hook_node["lastStatusCode"]) == (1, 200)

    delivered = gql(DELIVERIES, {"status": "DELIVERED"}, as_user=admin)["data"]["deliveries"]
    assert [e["node"]["id"] for e in delivered["edges"]] == [hook_node["id"]]

    first = gql(DELIVERIES, {"first": 1}, as_user=admin)["data"]["deliveries"]
    assert first["pageInfo"]["hasNextPage"] is True
    rest = gql(DELIVERIES, {"first": 1, "after": first["pageInfo"]["endCursor"]}, as_user=admin)[
        "data"
    ]["deliveries"]
    assert [e["node"]["id"] for e in rest["edges"]] == [hook_node["id"]]
    assert rest["pageInfo"]["hasNextPage"] is False


def test_an_admin_of_another_workspace_sees_only_their_own(gql, workspace, other_workspace):
    enqueue_delivery(workspace.pk, DeliveryChannel.WEBHOOK, "https://a.example/", {})
    other_admin = make_user("other_admin", other_workspace, is_admin=True)

    out = gql(DELIVERIES, as_user=other_admin, workspace="other")["data"]["deliveries"]
    settings = gql(SAVE, {"input": {"allowlist": ["10.0.0.1"]}}, as_user=other_admin,
                   workspace="other")["data"]["saveWebhookSettings"]  # fmt: skip

    assert out["edges"] == []
    assert settings["errors"] == []
    assert webhook_settings(workspace).allowlist == []
    assert webhook_settings(other_workspace).allowlist == ["10.0.0.1"]
