"""IM group robots: each provider's text-message body, its signature and how its
answer says whether the message was accepted.

- WeCom (企业微信): ``{"msgtype": "text", "text": {"content", "mentioned_list"}}``;
  no signature (the robot key is in the URL).
- DingTalk (钉钉): ``{"msgtype": "text", "text": {"content"}, "at": {"isAtAll"}}``; a
  signed robot gets ``timestamp`` (ms) and ``sign`` query parameters: base64 HMAC-SHA256
  of ``"{timestamp}\\n{secret}"`` keyed by the secret, URL-encoded.
- Feishu (飞书): ``{"msg_type": "text", "content": {"text"}}``; a signed robot gets
  ``timestamp`` (s) and ``sign`` body fields: base64 HMAC-SHA256 of an empty message
  keyed by ``"{timestamp}\\n{secret}"``.

Signatures expire (an hour for DingTalk), so bodies are stored unsigned and signed at
each attempt. All three answer HTTP 200 with an error code in the body when they refuse
a message (``errcode`` / ``code`` other than 0), which is a failed attempt.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote_plus

import httpx

PROVIDERS = ("wecom", "dingtalk", "feishu")


def text_body(provider: str, text: str, mention_all: bool = False) -> dict[str, Any]:
    """The unsigned text-message body of ``provider``."""
    if provider == "wecom":
        content: dict[str, Any] = {"content": text}
        if mention_all:
            content["mentioned_list"] = ["@all"]
        return {"msgtype": "text", "text": content}
    if provider == "dingtalk":
        return {"msgtype": "text", "text": {"content": text}, "at": {"isAtAll": mention_all}}
    if provider == "feishu":
        if mention_all:
            text = f'{text} <at user_id="all">所有人</at>'
        return {"msg_type": "text", "content": {"text": text}}
    raise ValueError(f"unknown IM provider {provider!r}")


def _hmac_b64(key: str, message: str) -> str:
    digest = hmac.new(key.encode(), message.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """DingTalk's ``sign`` query parameter (already URL-encoded)."""
    return quote_plus(_hmac_b64(secret, f"{timestamp_ms}\n{secret}"))


def feishu_sign(secret: str, timestamp: int) -> str:
    """Feishu's ``sign`` body field."""
    return _hmac_b64(f"{timestamp}\n{secret}", "")


def signed_request(
    provider: str, url: str, body: Mapping[str, Any], secret: str, now: float
) -> tuple[str, dict[str, Any]]:
    """The URL and body to send at Unix time ``now`` (signed when ``secret`` is set)."""
    out = dict(body)
    if secret and provider == "dingtalk":
        timestamp_ms = int(now * 1000)
        separator = "&" if httpx.URL(url).query else "?"
        url = f"{url}{separator}timestamp={timestamp_ms}&sign={dingtalk_sign(secret, timestamp_ms)}"
    elif secret and provider == "feishu":
        timestamp = int(now)
        out = {"timestamp": str(timestamp), "sign": feishu_sign(secret, timestamp), **out}
    return url, out


def refusal(provider: str, answer: bytes) -> str | None:
    """The provider's reason for refusing a message answered with HTTP 2xx, or None."""
    try:
        data = json.loads(answer or b"{}")
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    if provider == "feishu":  # newer answers carry code/msg, older StatusCode/StatusMessage
        code = data.get("code", data.get("StatusCode", 0))
        message = data.get("msg", data.get("StatusMessage", ""))
    else:
        code, message = data.get("errcode", 0), data.get("errmsg", "")
    if code in (0, None):
        return None
    return f"{provider} refused the message: {code} {message}".strip()
