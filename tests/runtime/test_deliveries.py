"""Sending deliveries: after commit, Standard Webhooks signatures, retries with backoff,
giving up, redirects, timeouts, idempotence and e-mail, against real local servers."""

from __future__ import annotations

import datetime as dt
import json
import logging
from decimal import Decimal

import httpx
import pytest
from django.conf import settings
from django.core import mail
from django.utils import timezone
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from dajian.celery import app as celery_app
from dajian.runtime.deliveries import enqueue_delivery, sender, ssrf, tasks
from dajian.runtime.deliveries.signing import rotate_secret, webhook_settings
from dajian.runtime.deliveries.tasks import backoff, send, send_due
from dajian.runtime.models import Delivery, DeliveryChannel, DeliveryStatus
from tests.runtime.delivery_helpers import HookServer, Reply, allow

pytest_plugins = ["tests.runtime.delivery_plugin"]


PAYLOAD = {"type": "deal.won", "timestamp": "2026-01-01T00:00:00+00:00", "data": {"n": 1}}


@pytest.fixture
def eager():
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = False


@pytest.fixture
def local(workspace, hook_server, fast_timeouts):
    allow(workspace)
    return hook_server


def webhook(workspace, url, **kwargs) -> Delivery:
    return enqueue_delivery(workspace.pk, DeliveryChannel.WEBHOOK, url, PAYLOAD, **kwargs)


def make_due(delivery: Delivery) -> None:
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())


def verify(workspace, request) -> dict:
    secret = webhook_settings(workspace).secret
    return Webhook(secret).verify(request.body, request.headers)


def test_a_delivery_is_written_now_and_sent_only_after_commit(
    workspace, local, eager, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        delivery = webhook(workspace, local.url())
    # given the transaction has not committed: the row exists, nothing was sent
    assert delivery.message_id.startswith("msg_") and len(delivery.message_id) == 36
    assert delivery.status == DeliveryStatus.PENDING and delivery.attempts == 0
    assert delivery.max_attempts == settings.DAJIAN["WEBHOOK_MAX_ATTEMPTS"]
    assert local.requests == [] and len(callbacks) == 1
    # when it commits
    callbacks[0]()
    # then the send task delivered it
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DELIVERED and delivery.attempts == 1
    assert delivery.last_status_code == 200 and delivery.delivered_at is not None
    assert len(local.requests) == 1


def test_a_broker_failure_is_logged_and_send_due_sends_later(
    workspace, local, monkeypatch, caplog, django_capture_on_commit_callbacks
):
    def broker_down(*args, **kwargs):
        raise ConnectionError("broker down")

    monkeypatch.setattr(send, "delay", broker_down)
    with (
        caplog.at_level(logging.WARNING, logger="dajian.runtime.deliveries"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        delivery = webhook(workspace, local.url())
    assert "send_due will send it" in caplog.text
    assert Delivery.objects.get(pk=delivery.pk).status == DeliveryStatus.PENDING
    assert local.requests == []

    assert send_due() == 1

    assert Delivery.objects.get(pk=delivery.pk).status == DeliveryStatus.DELIVERED
    assert len(local.requests) == 1


def test_the_body_is_the_payload_and_the_signature_verifies(workspace, local):
    delivery = webhook(workspace, local.url("/in?x=1"))

    assert send(delivery.pk) is True

    request = local.requests[0]
    assert (request.method, request.path, request.query) == ("POST", "/in", "x=1")
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["webhook-id"] == delivery.message_id
    assert abs(int(request.headers["webhook-timestamp"]) - timezone.now().timestamp()) < 5
    assert request.headers["webhook-signature"].startswith("v1,")
    assert verify(workspace, request) == PAYLOAD
    tampered = request.body.replace(b"deal.won", b"deal.lost")
    with pytest.raises(WebhookVerificationError):
        Webhook(webhook_settings(workspace).secret).verify(tampered, request.headers)


def test_the_secret_is_made_on_first_use_and_rotation_signs_later_attempts(workspace, local):
    first = webhook_settings(workspace).secret
    assert first.startswith("whsec_") and len(first) == 6 + 44
    assert webhook_settings(workspace).secret == first  # made once
    send(webhook(workspace, local.url()).pk)

    new = rotate_secret(workspace)
    send(webhook(workspace, local.url()).pk)

    assert new != first and webhook_settings(workspace).secret == new
    old_request, new_request = local.requests
    Webhook(first).verify(old_request.body, old_request.headers)
    Webhook(new).verify(new_request.body, new_request.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(first).verify(new_request.body, new_request.headers)


def test_500_then_200_is_delivered_on_the_second_attempt_with_the_same_id(workspace, local):
    local.replies.extend([Reply(500, b"database is down"), Reply(200)])
    delivery = webhook(workspace, local.url())

    before = timezone.now()
    assert send(delivery.pk) is False
    after = timezone.now()

    delivery.refresh_from_db()
    base = dt.timedelta(seconds=settings.DAJIAN["WEBHOOK_BACKOFF_SECONDS"])
    assert delivery.status == DeliveryStatus.PENDING and delivery.attempts == 1
    assert delivery.last_status_code == 500
    assert delivery.last_error == "HTTP 500: database is down"
    assert before + base <= delivery.next_attempt_at <= after + base
    # not due yet: neither the task nor the sweep tries again
    assert send(delivery.pk) is None and send_due() == 0
    assert len(local.requests) == 1

    make_due(delivery)
    assert send_due() == 1

    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DELIVERED and delivery.attempts == 2
    assert delivery.last_status_code == 200 and delivery.last_error == ""
    first, second = local.requests
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == delivery.message_id
    assert first.body == second.body
    assert verify(workspace, second) == PAYLOAD


def test_backoff_doubles_up_to_the_cap(settings):
    settings.DAJIAN = {
        **settings.DAJIAN,
        "WEBHOOK_BACKOFF_SECONDS": 30.0,
        "WEBHOOK_BACKOFF_CAP_SECONDS": 100.0,
    }
    assert [backoff(n).total_seconds() for n in (1, 2, 3, 4, 5)] == [30, 60, 100, 100, 100]


def test_the_second_failure_waits_twice_as_long(workspace, local):
    local.default = Reply(503)
    delivery = webhook(workspace, local.url())
    send(delivery.pk)
    make_due(delivery)

    before = timezone.now()
    send(delivery.pk)
    after = timezone.now()

    delivery.refresh_from_db()
    wait = dt.timedelta(seconds=2 * settings.DAJIAN["WEBHOOK_BACKOFF_SECONDS"])
    assert delivery.attempts == 2
    assert before + wait <= delivery.next_attempt_at <= after + wait


def test_it_gives_up_after_max_attempts(workspace, local):
    local.default = Reply(500)
    delivery = webhook(workspace, local.url(), max_attempts=3)

    for _ in range(5):
        make_due(delivery)
        send(delivery.pk)

    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.GAVE_UP
    assert delivery.attempts == 3 and delivery.last_status_code == 500
    assert len(local.requests) == 3
    make_due(delivery)
    assert send_due() == 0 and len(local.requests) == 3


def test_max_attempts_defaults_to_the_setting(workspace, settings):
    settings.DAJIAN = {**settings.DAJIAN, "WEBHOOK_MAX_ATTEMPTS": 2}
    assert webhook(workspace, "https://example.com/").max_attempts == 2


def test_a_redirect_is_a_failure_and_is_not_followed(workspace, local):
    elsewhere = HookServer().start()
    try:
        local.default = Reply(302, b"", {"Location": elsewhere.url("/stolen")})
        delivery = webhook(workspace, local.url())

        assert send(delivery.pk) is False

        delivery.refresh_from_db()
        assert delivery.status == DeliveryStatus.PENDING and delivery.last_status_code == 302
        assert "redirects are not followed" in delivery.last_error
        assert len(local.requests) == 1 and elsewhere.requests == []
    finally:
        elsewhere.stop()


def test_a_server_slower_than_the_timeout_is_a_failure(workspace, local, settings):
    settings.DAJIAN = {**settings.DAJIAN, "WEBHOOK_TIMEOUT_SECONDS": 0.2}
    local.replies.append(Reply(200, delay=1.0))
    delivery = webhook(workspace, local.url())

    assert send(delivery.pk) is False

    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.PENDING and delivery.attempts == 1
    assert delivery.last_status_code is None
    assert delivery.last_error.startswith("no answer within 0.2 s")


def test_a_connection_refused_is_a_failure(workspace, local):
    closed = HookServer().start()
    url = closed.url()
    closed.stop()
    delivery = webhook(workspace, url)

    assert send(delivery.pk) is False

    delivery.refresh_from_db()
    assert delivery.attempts == 1 and "ConnectError" in delivery.last_error


def test_a_delivered_delivery_is_never_sent_again(workspace, local):
    delivery = webhook(workspace, local.url())
    assert send(delivery.pk) is True

    make_due(delivery)  # even if it looked due
    assert send(delivery.pk) is None
    assert send_due() == 0
    assert len(local.requests) == 1
    assert Delivery.objects.get(pk=delivery.pk).attempts == 1


def test_a_claimed_delivery_is_not_attempted_twice(workspace, local):
    delivery = webhook(workspace, local.url())
    claimed = tasks._claim(delivery.pk)

    # while its attempt is in flight, the row is neither due nor claimable
    assert claimed is not None and claimed.attempts == 1
    assert claimed.next_attempt_at > timezone.now()
    assert tasks._claim(delivery.pk) is None and send_due() == 0
    # a result from a claim that is no longer current is not recorded
    Delivery.objects.filter(pk=delivery.pk).update(attempts=2)
    tasks._record(claimed, sender.Attempt(True, 200))
    assert Delivery.objects.get(pk=delivery.pk).status == DeliveryStatus.PENDING


def test_requests_go_to_the_checked_address_with_the_original_host(workspace, local, monkeypatch):
    lookups = []

    def fake_dns(host, port, timeout):
        lookups.append(host)
        return [ssrf.ipaddress.ip_address("127.0.0.1")]

    monkeypatch.setattr(ssrf, "resolve_host", fake_dns)
    allow(workspace, "hooks.example.test")
    delivery = webhook(workspace, f"http://hooks.example.test:{local.port}/in")

    assert send(delivery.pk) is True

    # the name was looked up once and the request went to that answer
    assert lookups == ["hooks.example.test"]
    assert local.requests[0].headers["Host"] == f"hooks.example.test:{local.port}"


def test_https_requests_name_the_original_host_for_tls():
    with httpx.Client() as client:
        request = sender.build_request(
            client, "https://hooks.example.com/in?a=1", "93.184.216.34", b"{}", {}
        )
    assert str(request.url) == "https://93.184.216.34/in?a=1"
    assert request.headers["Host"] == "hooks.example.com"
    assert request.extensions["sni_hostname"] == "hooks.example.com"
    with httpx.Client() as client:
        plain = sender.build_request(client, "http://hooks.example.com:8080/", "::1", b"", {})
    assert str(plain.url) == "http://[::1]:8080/" and "sni_hostname" not in plain.extensions
    assert plain.headers["Host"] == "hooks.example.com:8080"


def test_payload_values_are_stored_as_json(workspace):
    delivery = enqueue_delivery(
        workspace.pk,
        DeliveryChannel.WEBHOOK,
        "https://example.com/",
        {"at": dt.datetime(2026, 1, 2, 3, 4, tzinfo=dt.UTC), "amount": Decimal("1.50")},
    )
    assert Delivery.objects.get(pk=delivery.pk).payload == {
        "at": "2026-01-02T03:04:00Z",
        "amount": "1.50",
    }


def test_an_email_goes_through_the_mail_backend(workspace):
    delivery = enqueue_delivery(
        workspace.pk,
        DeliveryChannel.EMAIL,
        "a@example.com, b@example.com",
        {"to": ["a@example.com", "b@example.com"], "subject": "Won", "body": "Deal 7 won."},
    )

    assert send(delivery.pk) is True

    (message,) = mail.outbox
    assert message.to == ["a@example.com", "b@example.com"]
    assert (message.subject, message.body) == ("Won", "Deal 7 won.")
    assert message.from_email == settings.DEFAULT_FROM_EMAIL
    assert message.extra_headers["X-Dajian-Message-Id"] == delivery.message_id
    assert Delivery.objects.get(pk=delivery.pk).status == DeliveryStatus.DELIVERED


def test_an_email_the_backend_refuses_is_retried(workspace, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 9, 1
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    delivery = enqueue_delivery(
        workspace.pk, DeliveryChannel.EMAIL, "a@example.com", {"to": ["a@example.com"]}
    )

    assert send(delivery.pk) is False

    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.PENDING and delivery.attempts == 1
    assert "ConnectionRefusedError" in delivery.last_error


def test_send_due_is_scheduled_and_the_tasks_are_registered():
    entry = settings.CELERY_BEAT_SCHEDULE["send-due-deliveries"]
    assert entry["task"] == send_due.name == "dajian.deliveries.send_due"
    assert send.name == "dajian.deliveries.send"
    import dajian.runtime.tasks as runtime_tasks

    assert runtime_tasks.send is send and runtime_tasks.send_due is send_due


def test_payload_is_sent_as_compact_utf8_json(workspace, local):
    delivery = enqueue_delivery(
        workspace.pk, DeliveryChannel.WEBHOOK, local.url(), {"name": "华东客户"}
    )
    send(delivery.pk)
    assert (
        local.requests[0].body
        == json.dumps({"name": "华东客户"}, ensure_ascii=False, separators=(",", ":")).encode()
    )
