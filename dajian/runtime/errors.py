"""Record error codes and their localised default messages."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from dajian.platform.i18n import localize


class RecordErrorCode(StrEnum):
    REQUIRED = "REQUIRED"
    UNKNOWN_FIELD = "UNKNOWN_FIELD"
    READ_ONLY_FIELD = "READ_ONLY_FIELD"
    INVALID_TYPE = "INVALID_TYPE"
    INVALID_REFERENCE = "INVALID_REFERENCE"
    RULE_VIOLATED = "RULE_VIOLATED"
    RULE_ERROR = "RULE_ERROR"
    DUPLICATE_VALUE = "DUPLICATE_VALUE"
    DUPLICATE_RECORD = "DUPLICATE_RECORD"
    STALE_VERSION = "STALE_VERSION"
    PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
    FORM_NOT_PUBLISHED = "FORM_NOT_PUBLISHED"
    IDEMPOTENCY_CONFLICT = "IDEMPOTENCY_CONFLICT"


MESSAGES: dict[str, dict[str, str]] = {
    "REQUIRED": {"en": "This field is required.", "zh-CN": "此项为必填项。"},
    "UNKNOWN_FIELD": {"en": "The form has no field {key!r}.", "zh-CN": "表单中没有字段 {key}。"},
    "READ_ONLY_FIELD": {"en": "This field cannot be changed.", "zh-CN": "此字段不可修改。"},
    "INVALID_REFERENCE": {
        "en": "Referenced item {id} was not found.",
        "zh-CN": "引用的对象 {id} 不存在。",
    },
    "RULE_ERROR": {
        "en": "The rule could not be evaluated: {detail}",
        "zh-CN": "规则无法计算：{detail}",
    },
    "DUPLICATE_VALUE": {
        "en": "Another record already has this value.",
        "zh-CN": "已有记录使用了该值。",
    },
    "DUPLICATE_RECORD": {
        "en": "A matching record already exists.",
        "zh-CN": "已存在重复的记录。",
    },
    "STALE_VERSION": {
        "en": "The record was changed by someone else (now version {current}); reload it.",
        "zh-CN": "记录已被他人修改（当前版本 {current}），请刷新后重试。",
    },
    "PAYLOAD_TOO_LARGE": {
        "en": "The data is larger than {limit} bytes.",
        "zh-CN": "数据超过 {limit} 字节的上限。",
    },
    "FORM_NOT_PUBLISHED": {
        "en": "The form has no published version.",
        "zh-CN": "表单尚未发布。",
    },
    "IDEMPOTENCY_CONFLICT": {
        "en": "This idempotency key was already used for another form.",
        "zh-CN": "该幂等键已用于其他表单。",
    },
}


def message(code: str, default: str | None = None, **params: Any) -> str:
    """The localised default message of ``code`` (or ``default``), formatted."""
    template = MESSAGES.get(code)
    text = localize(template) if template else (default or code)
    try:
        return text.format(**params)
    except (KeyError, IndexError, ValueError):
        return text
