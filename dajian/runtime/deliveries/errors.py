"""Error codes of outbound deliveries and their localised messages."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from dajian.platform.errors import ErrorDetail
from dajian.platform.i18n import format_message


class DeliveryErrorCode(StrEnum):
    INVALID_URL = "INVALID_URL"
    PRIVATE_ADDRESS = "PRIVATE_ADDRESS"
    INVALID_ALLOWLIST_ENTRY = "INVALID_ALLOWLIST_ENTRY"
    INVALID_EMAIL = "INVALID_EMAIL"
    NO_RECIPIENTS = "NO_RECIPIENTS"


MESSAGES: dict[str, dict[str, str]] = {
    "INVALID_URL": {
        "en": "Not an http(s) address: {detail}",
        "zh-CN": "不是有效的 http(s) 地址：{detail}",
    },
    "PRIVATE_ADDRESS": {
        "en": "{detail}; add it to the workspace's webhook allow-list to allow it.",
        "zh-CN": "{detail}；如需使用，请由管理员加入工作区的 Webhook 白名单。",
    },
    "INVALID_ALLOWLIST_ENTRY": {
        "en": "{entry!r} is not a host name, an IP address or a network (CIDR).",
        "zh-CN": "{entry} 不是主机名、IP 地址或网段（CIDR）。",
    },
    "INVALID_EMAIL": {
        "en": "{address!r} is not an e-mail address.",
        "zh-CN": "{address} 不是有效的电子邮件地址。",
    },
    "NO_RECIPIENTS": {
        "en": "Name recipients in to or addresses.",
        "zh-CN": "请在 to 或 addresses 中指定收件人。",
    },
}


def delivery_error(code: str, path: str, **params: Any) -> ErrorDetail:
    """An error at ``path`` with the caller's-language message of ``code``."""
    return ErrorDetail.at(path, code, format_message(MESSAGES, code, **params))
