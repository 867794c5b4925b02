"""The address guard: loopback, private and other non-public addresses are refused at
save and at send unless the workspace's allow-list names them."""

from __future__ import annotations

import ipaddress

import pytest

from dajian.runtime.deliveries import enqueue_delivery, ssrf
from dajian.runtime.deliveries.ssrf import (
    check_url,
    parse_entry,
    resolve_safe,
    url_problems,
)
from dajian.runtime.deliveries.tasks import send
from dajian.runtime.models import Delivery, DeliveryChannel, DeliveryStatus
from tests.runtime.delivery_helpers import allow

pytest_plugins = ["tests.runtime.delivery_plugin"]

REFUSED = [
    ("http://127.0.0.1/hook", "loopback"),
    ("http://127.8.9.1:8080/", "loopback"),
    ("http://10.1.2.3/", "private"),
    ("http://172.16.0.9/", "private"),
    ("http://192.168.1.20/", "private"),
    ("http://169.254.169.254/latest/meta-data/", "link-local"),
    ("http://[::1]/", "loopback"),
    ("http://[::ffff:127.0.0.1]/", "loopback"),
    ("http://[::ffff:10.0.0.1]/", "private"),
    ("http://[::127.0.0.1]/", "loopback"),
    ("http://[2002:a00:1::]/", "private"),
    ("http://[64:ff9b::a9fe:a9fe]/", "link-local"),
    ("http://100.64.0.1/", "CGNAT"),
    ("http://100.127.255.254/", "CGNAT"),
    ("http://0.0.0.0/", "unspecified"),
    ("http://[::]/", "unspecified"),
    ("http://224.0.0.251/", "multicast"),
    ("http://240.0.0.1/", "reserved"),
    ("http://[fd00::1]/", "private"),
    ("http://[fe80::1]/", "link-local"),
    # other spellings of 127.0.0.1 that resolvers accept
    ("http://2130706433/", "loopback"),
    ("http://127.1/", "loopback"),
]
PUBLIC = [
    "https://8.8.8.8/",
    "http://1.1.1.1:8080/x",
    "https://[2606:4700:4700::1111]/",
    "http://[::ffff:8.8.8.8]/",
    "http://100.128.0.1/",
]


@pytest.mark.parametrize(("url", "kind"), REFUSED)
def test_non_public_addresses_are_refused(url, kind):
    problems = url_problems(url, [])
    assert [p.code for p in problems] == ["PRIVATE_ADDRESS"]
    assert kind in problems[0].message


@pytest.mark.parametrize("url", PUBLIC)
def test_public_addresses_pass(url):
    assert url_problems(url, []) == [] and check_url(url, []) == []


@pytest.mark.parametrize(
    ("url", "detail"),
    [
        ("ftp://example.com/", "scheme must be http or https"),
        ("file:///etc/passwd", "scheme must be http or https"),
        ("gopher://127.0.0.1:25/", "scheme must be http or https"),
        ("example.com/hook", "scheme must be http or https"),
        ("http:///nohost", "no host"),
        ("", "empty"),
        ("http://exa mple.com/", "not a host name"),
        ("http://under_score.example/", "not a host name"),
    ],
)
def test_only_http_and_https_urls_with_a_host_are_accepted(url, detail):
    problems = url_problems(url, [])
    assert [p.code for p in problems] == ["INVALID_URL"]
    assert detail.lower() in problems[0].message.lower()


def fake_dns(monkeypatch, answers: dict[str, list[str]]):
    calls: list[str] = []

    def resolve(host, port, timeout):
        calls.append(host)
        if host not in answers:
            raise OSError(f"{host} does not resolve")
        return [ipaddress.ip_address(a) for a in answers[host]]

    monkeypatch.setattr(ssrf, "resolve_host", resolve)
    return calls


def test_a_name_is_checked_by_what_it_resolves_to(monkeypatch):
    fake_dns(monkeypatch, {"intranet.example.com": ["10.0.0.7"], "ok.example.com": ["8.8.4.4"]})
    assert [p.code for p in url_problems("https://intranet.example.com/", [])] == [
        "PRIVATE_ADDRESS"
    ]
    assert url_problems("https://ok.example.com/", []) == []
    assert resolve_safe("https://ok.example.com/", []) == "8.8.4.4"


def test_every_resolved_address_must_pass(monkeypatch):
    fake_dns(monkeypatch, {"mixed.example.com": ["8.8.8.8", "192.168.0.5"]})
    problems = url_problems("https://mixed.example.com/", [])
    assert [p.message for p in problems] == ["192.168.0.5 is a private address"]
    with pytest.raises(ssrf.UnsafeURL):
        resolve_safe("https://mixed.example.com/", [])


def test_a_name_that_does_not_resolve_passes_the_check_but_not_the_send(monkeypatch):
    fake_dns(monkeypatch, {})
    assert url_problems("https://not-yet.example.com/", []) == []
    with pytest.raises(OSError):
        resolve_safe("https://not-yet.example.com/", [])


def test_the_allow_list_names_hosts_addresses_and_networks(monkeypatch):
    fake_dns(monkeypatch, {"crm.internal": ["10.20.0.5"]})
    assert url_problems("http://crm.internal/", ["CRM.Internal."]) == []
    assert url_problems("http://crm.internal/", ["10.20.0.5"]) == []
    assert url_problems("http://crm.internal/", ["10.20.0.0/16"]) == []
    assert url_problems("http://crm.internal/", ["10.30.0.0/16", "other.internal"]) != []
    # an allowed address is allowed in any spelling
    assert url_problems("http://[::ffff:127.0.0.1]:8000/", ["127.0.0.1"]) == []
    assert url_problems("http://127.0.0.1:8000/", ["127.0.0.0/8"]) == []
    assert url_problems("http://[::1]/", ["::1"]) == []
    assert resolve_safe("http://crm.internal/", ["crm.internal"]) == "10.20.0.5"


def test_the_host_allow_list_does_not_allow_other_names_at_the_same_address(monkeypatch):
    fake_dns(monkeypatch, {"a.internal": ["10.0.0.1"], "b.internal": ["10.0.0.1"]})
    assert url_problems("http://a.internal/", ["a.internal"]) == []
    assert url_problems("http://b.internal/", ["a.internal"]) != []


def test_allow_list_entries_are_parsed():
    assert parse_entry("Hooks.Example.COM.") == "hooks.example.com"
    assert parse_entry("localhost") == "localhost"
    assert parse_entry("10.0.0.0/8") == ipaddress.ip_network("10.0.0.0/8")
    assert parse_entry("10.1.2.3/8") == ipaddress.ip_network("10.0.0.0/8")
    assert parse_entry("[::1]") == ipaddress.ip_network("::1/128")
    for bad in ("", "  ", "bad host", "-x.example", "10.1", "10.0.0.0/33", "a..b", 7, None):
        assert parse_entry(bad) is None, bad


@pytest.fixture
def local(workspace, hook_server, fast_timeouts):
    return hook_server


def test_a_loopback_target_is_refused_at_send_without_a_request(workspace, local):
    delivery = enqueue_delivery(workspace.pk, DeliveryChannel.WEBHOOK, local.url(), {"a": 1})

    assert send(delivery.pk) is False

    delivery.refresh_from_db()
    assert local.requests == []
    assert delivery.status == DeliveryStatus.PENDING and delivery.attempts == 1
    assert delivery.last_error == "refused: 127.0.0.1 is a loopback address"
    assert delivery.last_status_code is None
    # once an admin allows it, the retry goes through
    allow(workspace, "127.0.0.1")
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=delivery.created_at)
    assert send(delivery.pk) is True and len(local.requests) == 1


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.1/",
        "http://192.168.1.1/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]:9/",
        "http://[::ffff:127.0.0.1]:9/",
        "http://100.64.0.1/",
    ],
)
def test_private_targets_are_refused_at_send(workspace, fast_timeouts, url):
    delivery = enqueue_delivery(workspace.pk, DeliveryChannel.IM_ROBOT, url, {"provider": "wecom"})

    assert send(delivery.pk) is False

    delivery.refresh_from_db()
    # refused before any connection: no status, no timeout or connection error
    assert delivery.last_error.startswith("refused: ")
    assert delivery.last_status_code is None


def test_a_name_resolving_to_a_private_address_is_refused_at_send(workspace, local, monkeypatch):
    calls = fake_dns(monkeypatch, {"rebind.example.com": ["127.0.0.1"]})
    url = f"http://rebind.example.com:{local.port}/hook"
    delivery = enqueue_delivery(workspace.pk, DeliveryChannel.WEBHOOK, url, {"a": 1})

    assert send(delivery.pk) is False

    assert calls == ["rebind.example.com"] and local.requests == []
    assert "loopback" in Delivery.objects.get(pk=delivery.pk).last_error


def test_an_unresolvable_name_is_a_failed_attempt(workspace, fast_timeouts, monkeypatch):
    fake_dns(monkeypatch, {})
    delivery = enqueue_delivery(
        workspace.pk, DeliveryChannel.WEBHOOK, "https://gone.example.com/", {"a": 1}
    )

    assert send(delivery.pk) is False

    delivery.refresh_from_db()
    assert delivery.attempts == 1
    assert delivery.last_error.startswith("could not resolve the host")


def test_another_workspaces_allow_list_does_not_count(workspace, other_workspace, local):
    allow(other_workspace, "127.0.0.1")
    delivery = enqueue_delivery(workspace.pk, DeliveryChannel.WEBHOOK, local.url(), {"a": 1})

    assert send(delivery.pk) is False
    assert local.requests == []
