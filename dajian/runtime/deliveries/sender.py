"""One attempt at one delivery: a signed webhook POST, an IM robot message or an e-mail.

HTTP goes only to the address the guard checked (:func:`~.ssrf.resolve_safe`): the URL
is rewritten to that IP with the original ``Host`` header and, for https, the original
name as TLS server name (certificates are verified against it). Redirects are not
followed (a 3xx is a failure: following one would skip the guard), proxies from the
environment are not used, and every network step is bounded by
``DAJIAN["WEBHOOK_TIMEOUT_SECONDS"]``. Only a 2xx answer counts as delivered.
"""

from __future__ import annotations

import json
import smtplib
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import httpx
from django.conf import settings
from django.core.mail import EmailMessage
from django.utils import timezone

from dajian.runtime.deliveries import robots, ssrf
from dajian.runtime.deliveries.signing import signature_headers, webhook_settings
from dajian.runtime.models import Delivery, DeliveryChannel, WebhookSettings

USER_AGENT = "Dajian-Webhooks/1.0"
# What is read of an answer: enough for an IM provider's verdict or an error's gist.
ANSWER_LIMIT = 4096


@dataclass(frozen=True)
class Attempt:
    """The result of one attempt; ``error`` says why it failed."""

    ok: bool
    status_code: int | None = None
    error: str = ""
    answer: bytes = b""


def attempt(delivery: Delivery) -> Attempt:
    """Send ``delivery`` once. Failures of the outside world are returned, not raised."""
    if delivery.channel == DeliveryChannel.EMAIL:
        return send_email(delivery)
    if delivery.channel == DeliveryChannel.WEBHOOK:
        return send_webhook(delivery)
    if delivery.channel == DeliveryChannel.IM_ROBOT:
        return send_im_message(delivery)
    return Attempt(False, error=f"unknown channel {delivery.channel!r}")


def send_webhook(delivery: Delivery) -> Attempt:
    config = webhook_settings(delivery.workspace_id)
    body = json.dumps(delivery.payload, ensure_ascii=False, separators=(",", ":"))
    headers = {
        "Content-Type": "application/json",
        **signature_headers(config.secret, delivery.message_id, body, timezone.now()),
    }
    return post(delivery.target, body.encode(), headers, config.allowlist)


def send_im_message(delivery: Delivery) -> Attempt:
    payload = delivery.payload
    provider = payload.get("provider", "")
    url, body = robots.signed_request(
        provider, delivery.target, payload.get("body", {}), payload.get("secret", ""), time.time()
    )
    content = json.dumps(body, ensure_ascii=False).encode()
    headers = {"Content-Type": "application/json; charset=utf-8"}
    result = post(url, content, headers, _allowlist(delivery.workspace_id))
    reason = robots.refusal(provider, result.answer) if result.ok else None
    return Attempt(False, result.status_code, reason) if reason else result


def _allowlist(workspace_id: int) -> list[str]:
    row = WebhookSettings.objects.filter(workspace_id=workspace_id).values_list("allowlist")
    return list(row[0][0]) if row else []


def post(url: str, content: bytes, headers: Mapping[str, str], allowlist: Iterable[str]) -> Attempt:
    """POST ``content`` to ``url`` once, through the address guard."""
    timeout = float(settings.DAJIAN["WEBHOOK_TIMEOUT_SECONDS"])
    try:
        ip = ssrf.resolve_safe(url, allowlist, timeout)
    except ssrf.UnsafeURL as exc:
        return Attempt(False, error=f"refused: {exc}")
    except (OSError, UnicodeError) as exc:
        return Attempt(False, error=f"could not resolve the host: {exc}")
    with httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False) as client:
        request = build_request(client, url, ip, content, headers)
        try:
            response = client.send(request, stream=True)
        except httpx.TimeoutException as exc:
            return Attempt(False, error=f"no answer within {timeout:g} s ({type(exc).__name__})")
        except httpx.HTTPError as exc:
            return Attempt(False, error=f"{type(exc).__name__}: {exc}")
        try:
            answer = _read(response)
        except httpx.HTTPError:
            answer = b""
        finally:
            response.close()
    return _verdict(response.status_code, answer)


def build_request(
    client: httpx.Client, url: str, ip: str, content: bytes, headers: Mapping[str, str]
) -> httpx.Request:
    """The request for ``url`` addressed to ``ip``: the original host in ``Host`` and,
    for https, as the TLS server name (SNI and certificate check)."""
    target = ssrf.parse_url(url)
    extensions = {"sni_hostname": target.host} if target.url.scheme == "https" else {}
    return client.build_request(
        "POST",
        target.url.copy_with(host=ip),
        content=content,
        headers={**headers, "Host": target.url.netloc.decode("ascii"), "User-Agent": USER_AGENT},
        extensions=extensions,
    )


def _read(response: httpx.Response) -> bytes:
    chunks, size = [], 0
    for chunk in response.iter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size >= ANSWER_LIMIT:
            break
    return b"".join(chunks)[:ANSWER_LIMIT]


def _verdict(status: int, answer: bytes) -> Attempt:
    if 200 <= status < 300:
        return Attempt(True, status, answer=answer)
    if 300 <= status < 400:
        return Attempt(False, status, f"HTTP {status}: redirects are not followed")
    gist = answer[:200].decode("utf-8", "replace").strip()
    return Attempt(False, status, f"HTTP {status}" + (f": {gist}" if gist else ""))


def send_email(delivery: Delivery) -> Attempt:
    """Send the e-mail through Django's mail backend (``EMAIL_URL``)."""
    payload = delivery.payload
    message = EmailMessage(
        subject=payload.get("subject", ""),
        body=payload.get("body", ""),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=list(payload.get("to", [])),
        headers={"X-Dajian-Message-Id": delivery.message_id},
    )
    try:
        sent = message.send()
    except (smtplib.SMTPException, OSError, ValueError) as exc:
        return Attempt(False, error=f"{type(exc).__name__}: {exc}")
    return Attempt(True) if sent else Attempt(False, error="the mail server accepted nothing")
