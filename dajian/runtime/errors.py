"""Record error codes and their localised default messages."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from dajian.platform.i18n import current_locale, format_message


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
    APPROVAL_PENDING = "APPROVAL_PENDING"
    RECORD_FROZEN = "RECORD_FROZEN"


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
    "APPROVAL_PENDING": {
        "en": "The record is waiting for approval; withdraw the request to change it.",
        "zh-CN": "记录正在审批中，撤回申请后才能修改。",
    },
    "RECORD_FROZEN": {
        "en": "The record is frozen after a rejected approval.",
        "zh-CN": "审批被否决，记录已冻结。",
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


# Value problems reported by field types and JSON Schema carry a precise English text;
# other languages get these per-code texts.
VALUE_MESSAGES: dict[str, dict[str, str]] = {
    "INVALID_TYPE": {"zh-CN": "值的类型不正确。"},
    "TOO_LONG": {"zh-CN": "内容超出长度上限。"},
    "TOO_SHORT": {"zh-CN": "内容过短。"},
    "OUT_OF_RANGE": {"zh-CN": "数值超出允许范围。"},
    "INVALID_CHOICE": {"zh-CN": "不是可选的选项。"},
    "INVALID_FORMAT": {"zh-CN": "格式不正确。"},
    "TOO_PRECISE": {"zh-CN": "小数位数过多。"},
    "TOO_MANY_ITEMS": {"zh-CN": "数量超出上限。"},
    "TOO_FEW_ITEMS": {"zh-CN": "数量不足。"},
    "INVALID_VALUE": {"zh-CN": "值无效。"},
    "LOCATION_INACCURATE": {"zh-CN": "定位精度不足。"},
    "FORMULA_ERROR": {"zh-CN": "公式无法计算。"},
}


def value_message(code: str, english: str) -> str:
    """``english`` for English callers; the per-code text in other languages."""
    locale = current_locale()
    if locale == "en":
        return english
    return VALUE_MESSAGES.get(code, {}).get(locale, english)


def message(code: str, default: str | None = None, **params: Any) -> str:
    """The localised default message of ``code`` (or ``default``), formatted."""
    return format_message(MESSAGES, code, default, **params)
