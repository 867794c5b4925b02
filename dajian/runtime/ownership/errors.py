"""Ownership error codes (pool, claims, reassignment, handover) and their messages."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from dajian.platform.errors import DajianError
from dajian.platform.i18n import format_message


class OwnershipErrorCode(StrEnum):
    NOT_IN_POOL = "NOT_IN_POOL"
    ALREADY_IN_POOL = "ALREADY_IN_POOL"
    CLAIM_LIMIT_REACHED = "CLAIM_LIMIT_REACHED"
    INACTIVE_MEMBER = "INACTIVE_MEMBER"
    SAME_USER = "SAME_USER"
    NO_SUBMITTER = "NO_SUBMITTER"


MESSAGES: dict[str, dict[str, str]] = {
    "NOT_IN_POOL": {
        "en": "The record is not in the public pool: someone owns it already.",
        "zh-CN": "该记录不在公海中，已有负责人。",
    },
    "ALREADY_IN_POOL": {
        "en": "The record is already in the public pool.",
        "zh-CN": "该记录已在公海中。",
    },
    "CLAIM_LIMIT_REACHED": {
        "en": "You have claimed your daily limit of {limit} records; claim more tomorrow.",
        "zh-CN": "今日已领取 {limit} 条，达到每日上限，请明天再领。",
    },
    "INACTIVE_MEMBER": {
        "en": "This person is no longer an active member of the workspace.",
        "zh-CN": "该成员已停用，不能接收记录。",
    },
    "SAME_USER": {
        "en": "Choose someone other than the current owner.",
        "zh-CN": "请选择当前负责人以外的成员。",
    },
    "NO_SUBMITTER": {
        "en": "An automation has no submitter: name the owner, a manager, a role, a user "
        "field or users.",
        "zh-CN": "自动化没有提交人：请指定负责人、上级、角色、成员字段或指定成员。",
    },
}


def ownership_message(code: OwnershipErrorCode, **params: Any) -> str:
    return format_message(MESSAGES, code, **params)


def ownership_error(
    code: OwnershipErrorCode, field: str | None = None, **params: Any
) -> DajianError:
    """A refusal with the code's localised message."""
    return DajianError.single(code, ownership_message(code, **params), field=field)
