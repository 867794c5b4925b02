"""The webhook, im_robot and email actions: what they enqueue per record, what the
receiver gets (bodies, provider signatures, e-mails) and their save-time checks."""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import time
from urllib.parse import parse_qs

import pytest
from django.core import mail
from graphql_relay import to_global_id
from standardwebhooks.webhooks import Webhook

from dajian.builder.jsonschema import compile_schema, iter_errors
from dajian.runtime.automations import actions
from dajian.runtime.deliveries import ssrf
from dajian.runtime.deliveries.signing import webhook_settings
from dajian.runtime.deliveries.tasks import send
from dajian.runtime.models import Delivery, DeliveryChannel, DeliveryStatus
from dajian.runtime.services.records import create_record
from tests.automation_helpers import check_context, run_action
from tests.runtime.delivery_helpers import Reply, allow

pytest_plugins = ["tests.runtime.delivery_plugin"]

FIELDS = [
    {"key": "name", "type": "text", "label": "Name"},
    {"key": "amount", "type": "number", "label": "Amount"},
    {"key": "salesperson", "type": "user", "label": "Salesperson"},
]


@pytest.fixture
def form(form_factory):
    return form_factory(FIELDS)


@pytest.fixture
def local(workspace, hook_server, fast_timeouts):
    allow(workspace)
    return hook_server


def new_customer(actor, **data):
    return create_record(actor, "sales", "customer", {"name": "Acme", **data}).record


def codes(errors):
    return [(e.path, e.code) for e in errors]


def check(form, spec, **kwargs):
    return actions.get(spec["type"]).check(spec, "actions.0", check_context(form, **kwargs))


def shape_errors(spec):
    validator = compile_schema(dict(actions.get(spec["type"]).schema))
    return list(iter_errors(validator, spec))


@pytest.fixture
def no_dns(monkeypatch):
    """Host names resolve as a test says (unknown names do not resolve at all)."""
    answers: dict[str, list[str]] = {}

    def resolve(host, port, timeout):
        if host not in answers:
            raise OSError(f"{host} does not resolve")
        return [ipaddress.ip_address(a) for a in answers[host]]

    monkeypatch.setattr(ssrf, "resolve_host", resolve)
    return answers


# --- webhook ------------------------------------------------------------------------------


def test_webhook_enqueues_one_signed_delivery_per_record(admin_actor, admin, form, local):
    first = new_customer(admin_actor, amount=120, salesperson=admin.pk)
    second = new_customer(admin_actor, name="Beta")
    spec = {"type": "webhook", "url": local.url("/crm"), "event": "customer.big"}

    outcomes = run_action(admin_actor, form, spec, [first, second], key="big_customer")

    deliveries = list(Delivery.objects.order_by("id"))
    assert [o.result for o in outcomes] == [{"delivery": d.message_id} for d in deliveries]
    assert all(o.ok for o in outcomes)
    assert [d.channel for d in deliveries] == [DeliveryChannel.WEBHOOK] * 2
    body = deliveries[0].payload
    assert body["type"] == "customer.big" and body["timestamp"].endswith("+00:00")
    assert body["data"] == {
        "record": {
            "id": to_global_id("Record", first.pk),
            "form": "customer",
            "app": "sales",
            "stage": None,
            "status": "active",
            "owner": {"id": to_global_id("User", admin.pk), "username": "boss"},
            "data": {"name": "Acme", "amount": 120, "salesperson": to_global_id("User", admin.pk)},
        },
        "automation": "big_customer",
    }
    assert deliveries[1].payload["data"]["record"]["data"] == {"name": "Beta"}

    assert send(deliveries[0].pk) is True
    received = local.requests[0]
    assert received.path == "/crm"
    secret = webhook_settings(admin_actor.workspace).secret
    assert Webhook(secret).verify(received.body, received.headers) == body


def test_webhook_fields_limit_the_data_and_event_defaults_to_the_automation(
    admin_actor, form, local
):
    record = new_customer(admin_actor, amount=5)
    spec = {"type": "webhook", "url": local.url(), "fields": ["amount"]}

    run_action(admin_actor, form, spec, [record], key="sync")

    payload = Delivery.objects.get().payload
    assert payload["type"] == "automation.sync"
    assert payload["data"]["record"]["data"] == {"amount": 5}


PRIVATE_URLS = [
    ("http://127.0.0.1:8000/hook", "127.0.0.1"),
    ("http://10.2.3.4/hook", "10.0.0.0/8"),
    ("http://192.168.1.9/", "192.168.1.9"),
    ("http://169.254.169.254/latest/meta-data/", "169.254.0.0/16"),
    ("http://[::1]:8000/", "::1"),
    ("http://[::ffff:127.0.0.1]/", "127.0.0.1"),
    ("http://100.64.0.7/", "100.64.0.0/10"),
    ("http://crm.internal/hook", "crm.internal"),
]


@pytest.mark.parametrize(("url", "entry"), PRIVATE_URLS)
@pytest.mark.parametrize("kind", ["webhook", "im_robot"])
def test_private_urls_are_refused_at_save_unless_allow_listed(form, no_dns, kind, url, entry):
    no_dns["crm.internal"] = ["192.168.10.4"]
    spec = {"type": "webhook", "url": url} if kind == "webhook" else robot("wecom", url)

    errors = check(form, spec)

    assert codes(errors) == [("actions.0.url", "PRIVATE_ADDRESS")]
    assert "allow-list" in errors[0].message or "白名单" in errors[0].message
    assert check(form, spec, webhook_allowlist=(entry,)) == []


def test_webhook_check_refuses_other_schemes_and_unknown_fields(form, no_dns):
    spec = {"type": "webhook", "url": "ftp://files.example.com/", "fields": ["name", "nope"]}
    errors = check(form, spec)
    assert codes(errors) == [
        ("actions.0.url", "INVALID_URL"),
        ("actions.0.fields.1", "UNKNOWN_FIELD"),
    ]
    assert errors[0].field == "actions"


def test_webhook_check_accepts_a_name_that_does_not_resolve_yet(form, no_dns):
    assert check(form, {"type": "webhook", "url": "https://hooks.partner.example/"}) == []


def test_webhook_schema_refuses_unknown_properties():
    assert shape_errors({"type": "webhook", "url": "https://x.example/", "method": "GET"})
    assert shape_errors({"type": "webhook"})
    assert shape_errors({"type": "webhook", "url": "https://x.example/", "event": "a b"})
    assert not shape_errors({"type": "webhook", "url": "https://x.example/", "event": "a.b"})


# --- IM robots ------------------------------------------------------------------------------


def robot(provider, url, **extra):
    return {
        "type": "im_robot",
        "provider": provider,
        "url": url,
        "message": "新客户 {{ name }}：{{ amount }}",
        **extra,
    }


def post_one(admin_actor, form, spec, **data):
    record = new_customer(admin_actor, amount=100, **data)
    (outcome,) = run_action(admin_actor, form, spec, [record])
    delivery = Delivery.objects.get()
    assert outcome.ok and outcome.result == {"delivery": delivery.message_id}
    assert delivery.channel == DeliveryChannel.IM_ROBOT
    return delivery


def test_wecom_gets_its_text_message(admin_actor, form, local):
    url = local.url("/cgi-bin/webhook/send?key=abc")
    delivery = post_one(admin_actor, form, robot("wecom", url, mention_all=True))

    assert send(delivery.pk) is True

    received = local.requests[0]
    assert received.path == "/cgi-bin/webhook/send" and received.query == "key=abc"
    assert json.loads(received.body) == {
        "msgtype": "text",
        "text": {"content": "新客户 Acme：100", "mentioned_list": ["@all"]},
    }


def test_dingtalk_unsigned_and_signed(admin_actor, form, local):
    url = local.url("/robot/send?access_token=tok")
    plain = post_one(admin_actor, form, robot("dingtalk", url))
    send(plain.pk)
    received = local.requests[0]
    assert parse_qs(received.query) == {"access_token": ["tok"]}
    assert json.loads(received.body) == {
        "msgtype": "text",
        "text": {"content": "新客户 Acme：100"},
        "at": {"isAtAll": False},
    }

    Delivery.objects.all().delete()
    secret = "SEC0123456789abcdef"
    signed = post_one(admin_actor, form, robot("dingtalk", url, secret=secret, mention_all=True))
    before = int(time.time() * 1000)
    send(signed.pk)

    query = parse_qs(local.requests[1].query)
    timestamp = query["timestamp"][0]
    assert before <= int(timestamp) <= int(time.time() * 1000)
    # DingTalk's documented recipe: HMAC-SHA256("timestamp\nsecret") keyed by the secret
    expected = base64.b64encode(
        hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256).digest()
    ).decode()
    assert query["sign"] == [expected] and query["access_token"] == ["tok"]
    assert json.loads(local.requests[1].body)["at"] == {"isAtAll": True}
    assert "secret" not in local.requests[1].body.decode()


def test_feishu_unsigned_and_signed(admin_actor, form, local):
    url = local.url("/open-apis/bot/v2/hook/xyz")
    plain = post_one(admin_actor, form, robot("feishu", url))
    send(plain.pk)
    assert json.loads(local.requests[0].body) == {
        "msg_type": "text",
        "content": {"text": "新客户 Acme：100"},
    }

    Delivery.objects.all().delete()
    secret = "feishu-secret"
    signed = post_one(admin_actor, form, robot("feishu", url, secret=secret, mention_all=True))
    before = int(time.time())
    send(signed.pk)

    body = json.loads(local.requests[1].body)
    assert before <= int(body["timestamp"]) <= int(time.time())
    # Feishu's documented recipe: HMAC-SHA256 keyed by "timestamp\nsecret" over nothing
    key = f"{body['timestamp']}\n{secret}".encode()
    assert body["sign"] == base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()
    assert body["msg_type"] == "text"
    assert body["content"] == {"text": '新客户 Acme：100 <at user_id="all">所有人</at>'}


def test_a_robot_refusal_in_a_200_answer_is_a_failed_attempt(admin_actor, form, local):
    local.default = Reply(200, b'{"errcode": 310000, "errmsg": "sign not match"}')
    delivery = post_one(admin_actor, form, robot("dingtalk", local.url(), secret="s"))

    assert send(delivery.pk) is False

    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.PENDING and delivery.last_status_code == 200
    assert delivery.last_error == "dingtalk refused the message: 310000 sign not match"
    # and an accepted answer is a delivery
    local.default = Reply(200, b'{"code": 0, "msg": "success"}')
    feishu = post_one_more(admin_actor, form, robot("feishu", local.url()))
    assert send(feishu.pk) is True


def post_one_more(admin_actor, form, spec):
    record = new_customer(admin_actor)
    run_action(admin_actor, form, spec, [record], key="more")
    return Delivery.objects.order_by("-id").first()


def test_a_localised_message_sends_the_chosen_locale(admin_actor, form, local):
    message = {"zh-CN": "客户 {{ name }}", "en": "Customer {{ name }} ({{ url }})"}
    spec = robot("wecom", local.url(), message=message, locale="en")
    record = new_customer(admin_actor)

    run_action(admin_actor, form, spec, [record])

    text = Delivery.objects.get().payload["body"]["text"]["content"]
    assert text == f"Customer Acme (/records/{record.pk})"


def test_robot_checks(form, no_dns):
    spec = robot("feishu", "http://10.0.0.8/hook", message="Hi {{ nobody }} {% if %}")
    assert codes(check(form, spec)) == [
        ("actions.0.url", "PRIVATE_ADDRESS"),
        ("actions.0.message", "INVALID_TEMPLATE"),
    ]
    spec = robot("feishu", "https://open.feishu.example/hook", message={"en": "Hi {{ nobody }}"})
    assert codes(check(form, spec)) == [("actions.0.message.en", "UNKNOWN_REFERENCE")]
    assert check(form, robot("dingtalk", "https://oapi.dingtalk.example/robot/send")) == []


def test_robot_schema():
    url = "https://oapi.dingtalk.example/robot/send"
    assert not shape_errors(robot("dingtalk", url, secret="s", mention_all=True, locale="en"))
    assert shape_errors(robot("wecom", url, secret="s"))  # WeCom robots are not signed
    assert shape_errors(robot("slack", url))
    assert shape_errors({"type": "im_robot", "provider": "wecom", "url": url})


# --- e-mail ---------------------------------------------------------------------------------


@pytest.fixture
def people(user_factory):
    rep = user_factory(username="rep", roles=["rep"])
    rep.email = "rep@example.com"
    rep.save()
    finance = user_factory(username="fin", roles=["finance"])
    finance.email = "Fin@Example.com"
    finance.save()
    user_factory(username="nomail", roles=["finance"])
    return rep, finance


def test_email_goes_to_the_named_members_and_addresses(admin_actor, form, people):
    rep, _ = people
    record = new_customer(admin_actor, amount=9, salesperson=rep.pk)
    spec = {
        "type": "email",
        "to": [{"type": "field", "field": "salesperson"}, {"type": "role", "role": "finance"}],
        "addresses": ["ceo@partner.example", "fin@example.com"],
        "subject": "Customer\n{{ name }}",
        "body": {"zh-CN": "金额 {{ amount }}", "en": "Amount {{ amount }}"},
    }

    (outcome,) = run_action(admin_actor, form, spec, [record])

    delivery = Delivery.objects.get()
    assert outcome.ok and outcome.result == {"delivery": delivery.message_id, "recipients": 3}
    assert delivery.channel == DeliveryChannel.EMAIL
    to = ["rep@example.com", "Fin@Example.com", "ceo@partner.example"]
    assert delivery.payload == {"to": to, "subject": "Customer Acme", "body": "金额 9"}
    assert delivery.target == ", ".join(to)

    assert send(delivery.pk) is True
    (message,) = mail.outbox
    assert message.to == to and message.subject == "Customer Acme" and message.body == "金额 9"


def test_email_without_any_address_fails_without_retrying(admin_actor, form, user_factory):
    user_factory(username="quiet", roles=["finance"])
    record = new_customer(admin_actor)
    spec = {
        "type": "email",
        "to": [{"type": "role", "role": "finance"}],
        "subject": "x",
        "body": "y",
    }

    (outcome,) = run_action(admin_actor, form, spec, [record])

    assert not outcome.ok and outcome.retry is False
    assert outcome.error == "no recipient has an e-mail address"
    assert not Delivery.objects.exists()


def test_email_checks(form, people):
    spec = {
        "type": "email",
        "to": [
            {"type": "role", "role": "nobody"},
            {"type": "user", "users": ["rep", "ghost"]},
            {"type": "field", "field": "name"},
        ],
        "addresses": ["ok@example.com", "not-an-address"],
        "subject": "{{ missing }}",
        "body": "{{ name }",
    }
    errors = codes(check(form, spec, member_usernames=frozenset({"rep"})))
    assert errors == [
        ("actions.0.to.0.role", "UNKNOWN_ROLE"),
        ("actions.0.to.1.users.1", "UNKNOWN_USER"),
        ("actions.0.to.2.field", "NOT_A_USER_FIELD"),
        ("actions.0.addresses.1", "INVALID_EMAIL"),
        ("actions.0.subject", "UNKNOWN_REFERENCE"),
        ("actions.0.body", "INVALID_TEMPLATE"),
    ]
    nobody = {"type": "email", "subject": "s", "body": "b"}
    assert codes(check(form, nobody)) == [("actions.0.to", "NO_RECIPIENTS")]
    fine = {"type": "email", "to": [{"type": "owner"}], "subject": "s", "body": "{{ name }}"}
    assert check(form, fine) == []
