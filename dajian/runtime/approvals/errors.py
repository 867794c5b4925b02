"""Approval error codes and their localised default messages (R11–R16).

Record-level refusals that approvals cause (``APPROVAL_PENDING``, ``RECORD_FROZEN``) are
:class:`~dajian.runtime.errors.RecordErrorCode` members, since record writes raise them too.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from dajian.platform.errors import DajianError
from dajian.platform.i18n import format_message


class ApprovalErrorCode(StrEnum):
    UNKNOWN_CHAIN = "UNKNOWN_CHAIN"
    NO_APPROVER = "NO_APPROVER"
    NOT_ASSIGNEE = "NOT_ASSIGNEE"
    ALREADY_DECIDED = "ALREADY_DECIDED"
    DECISION_NOT_ALLOWED = "DECISION_NOT_ALLOWED"
    REASON_REQUIRED = "REASON_REQUIRED"
    EVIDENCE_REQUIRED = "EVIDENCE_REQUIRED"
    SELF_APPROVAL = "SELF_APPROVAL"
    INVALID_RETURN_STEP = "INVALID_RETURN_STEP"
    DELEGATE_INVALID = "DELEGATE_INVALID"
    NOT_PENDING = "NOT_PENDING"
    NOT_FROZEN = "NOT_FROZEN"


MESSAGES: dict[str, dict[str, str]] = {
    "UNKNOWN_CHAIN": {
        "en": "No published approval chain {chain!r} exists for this form.",
        "zh-CN": "该表单没有已发布的审批流程 {chain}。",
    },
    "NO_APPROVER": {
        "en": "Step {step!r} has no approver (after removing the submitter).",
        "zh-CN": "审批步骤 {step} 找不到审批人（已排除提交人）。",
    },
    "NOT_ASSIGNEE": {
        "en": "This task is assigned to someone else.",
        "zh-CN": "该任务不属于你。",
    },
    "ALREADY_DECIDED": {
        "en": "This task was already decided or closed.",
        "zh-CN": "该任务已处理或已关闭。",
    },
    "DECISION_NOT_ALLOWED": {
        "en": "The decision {decision!r} is not allowed at this step.",
        "zh-CN": "当前步骤不允许“{decision}”操作。",
    },
    "REASON_REQUIRED": {
        "en": "Give a reason for the rejection.",
        "zh-CN": "驳回时必须填写原因。",
    },
    "EVIDENCE_REQUIRED": {
        "en": "An appeal needs at least {count} attachment(s) as evidence.",
        "zh-CN": "申诉至少需要 {count} 个附件作为证据。",
    },
    "SELF_APPROVAL": {
        "en": "You cannot decide your own request.",
        "zh-CN": "不能审批自己提交的申请。",
    },
    "INVALID_RETURN_STEP": {
        "en": "You can only return the request to an earlier step that applies.",
        "zh-CN": "只能退回到之前已适用的审批步骤。",
    },
    "DELEGATE_INVALID": {
        "en": "The task cannot be delegated to this person.",
        "zh-CN": "不能将任务转交给此人。",
    },
    "NOT_PENDING": {
        "en": "The request is no longer pending.",
        "zh-CN": "该申请已不在审批中。",
    },
    "NOT_FROZEN": {
        "en": "The record is not frozen.",
        "zh-CN": "记录未被冻结。",
    },
}


def message(code: str, **params: Any) -> str:
    """The localised default message of ``code``, formatted with ``params``."""
    return format_message(MESSAGES, code, **params)


def approval_error(
    code: ApprovalErrorCode, field: str | None = None, path: str | None = None, **params: Any
) -> DajianError:
    """A refusal with the code's localised message."""
    return DajianError.single(code, message(code, **params), field=field, path=path)
