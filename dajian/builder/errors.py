"""Error codes of the builder (forms, workflows, approval chains)."""

from enum import StrEnum
from typing import Any

from dajian.platform.i18n import format_message


class FormErrorCode(StrEnum):
    INVALID_DEFINITION = "INVALID_DEFINITION"
    UNKNOWN_FIELD_TYPE = "UNKNOWN_FIELD_TYPE"
    DUPLICATE_KEY = "DUPLICATE_KEY"
    RESERVED_NAME = "RESERVED_NAME"
    UNKNOWN_REFERENCE = "UNKNOWN_REFERENCE"
    NOT_UNIQUE_CAPABLE = "NOT_UNIQUE_CAPABLE"
    NOT_INDEX_CAPABLE = "NOT_INDEX_CAPABLE"
    KEY_MISMATCH = "KEY_MISMATCH"
    NOTHING_TO_PUBLISH = "NOTHING_TO_PUBLISH"
    NOT_PUBLISHED = "NOT_PUBLISHED"
    TYPE_CHANGED = "TYPE_CHANGED"


class MetadataErrorCode(StrEnum):
    """Problems with workflow and approval-chain documents (messages: ``METADATA_MESSAGES``)."""

    INVALID_DEFINITION = "INVALID_DEFINITION"
    DUPLICATE_KEY = "DUPLICATE_KEY"
    KEY_MISMATCH = "KEY_MISMATCH"
    UNKNOWN_FORM = "UNKNOWN_FORM"
    FORM_NOT_PUBLISHED = "FORM_NOT_PUBLISHED"
    FORM_CHANGED = "FORM_CHANGED"
    UNKNOWN_FIELD = "UNKNOWN_FIELD"
    UNKNOWN_REFERENCE = "UNKNOWN_REFERENCE"
    NOT_EVIDENCE_FIELD = "NOT_EVIDENCE_FIELD"
    NOT_IMAGE_FIELD = "NOT_IMAGE_FIELD"
    EVIDENCE_IMPOSSIBLE = "EVIDENCE_IMPOSSIBLE"
    UNKNOWN_STAGE = "UNKNOWN_STAGE"
    INITIAL_TERMINAL = "INITIAL_TERMINAL"
    TERMINAL_ONLY = "TERMINAL_ONLY"
    NOT_ON_TERMINAL = "NOT_ON_TERMINAL"
    TRANSITION_FROM_TERMINAL = "TRANSITION_FROM_TERMINAL"
    SELF_TRANSITION = "SELF_TRANSITION"
    DUPLICATE_TRANSITION = "DUPLICATE_TRANSITION"
    UNKNOWN_ROLE = "UNKNOWN_ROLE"
    UNKNOWN_USER = "UNKNOWN_USER"
    UNKNOWN_CHAIN = "UNKNOWN_CHAIN"
    CHAIN_FORM_MISMATCH = "CHAIN_FORM_MISMATCH"
    CHAIN_NOT_PUBLISHED = "CHAIN_NOT_PUBLISHED"
    UNKNOWN_STEP = "UNKNOWN_STEP"
    RETURN_NOT_EARLIER = "RETURN_NOT_EARLIER"
    APPEAL_ON_LAST_STEP = "APPEAL_ON_LAST_STEP"
    CONFIRM_MIXED = "CONFIRM_MIXED"
    NO_PASSING_DECISION = "NO_PASSING_DECISION"
    RATIO_MISMATCH = "RATIO_MISMATCH"
    INVALID_DURATION = "INVALID_DURATION"
    DURATION_TOO_LONG = "DURATION_TOO_LONG"
    NOTHING_TO_PUBLISH = "NOTHING_TO_PUBLISH"
    NO_SUBMITTER = "NO_SUBMITTER"


METADATA_MESSAGES: dict[str, dict[str, str]] = {
    "DUPLICATE_KEY": {"en": "The key {key!r} is used twice.", "zh-CN": "标识 {key} 重复。"},
    "KEY_MISMATCH": {
        "en": "The document is for {found!r}, not {expected!r}.",
        "zh-CN": "文档属于 {found}，而不是 {expected}。",
    },
    "UNKNOWN_FORM": {
        "en": "The app has no form {key!r}.",
        "zh-CN": "应用中没有表单 {key}。",
    },
    "FORM_NOT_PUBLISHED": {
        "en": "Publish the form {key!r} first.",
        "zh-CN": "请先发布表单 {key}。",
    },
    "FORM_CHANGED": {
        "en": "A published chain stays on its form {key!r}; create a new chain instead.",
        "zh-CN": "已发布的审批流只能用于表单 {key}，请新建审批流。",
    },
    "UNKNOWN_FIELD": {"en": "The form has no field {key!r}.", "zh-CN": "表单中没有字段 {key}。"},
    "UNKNOWN_REFERENCE": {
        "en": "The expression uses {key!r}, which is not a field of this form.",
        "zh-CN": "表达式使用了 {key}，它不是本表单的字段。",
    },
    "NOT_EVIDENCE_FIELD": {
        "en": "Evidence comes from a file field (attachment, photo, audio, signature); "
        "{key!r} is {type!r}.",
        "zh-CN": "凭证须来自附件、拍照、录音或签名字段；{key} 的类型是 {type}。",
    },
    "NOT_IMAGE_FIELD": {
        "en": "The field {key!r} does not accept images.",
        "zh-CN": "字段 {key} 不接受图片。",
    },
    "EVIDENCE_IMPOSSIBLE": {
        "en": "The field {key!r} holds at most {max} files; {min} cannot be required.",
        "zh-CN": "字段 {key} 最多 {max} 个文件，不能要求 {min} 个。",
    },
    "UNKNOWN_STAGE": {"en": "There is no stage {key!r}.", "zh-CN": "没有阶段 {key}。"},
    "INITIAL_TERMINAL": {
        "en": "The initial stage {key!r} cannot be terminal.",
        "zh-CN": "初始阶段 {key} 不能是结束阶段。",
    },
    "TERMINAL_ONLY": {
        "en": "Only terminal stages have {what}.",
        "zh-CN": "只有结束阶段才能设置 {what}。",
    },
    "NOT_ON_TERMINAL": {
        "en": "A terminal stage is never left, so it has no {what}.",
        "zh-CN": "结束阶段不会离开，不能设置 {what}。",
    },
    "TRANSITION_FROM_TERMINAL": {
        "en": "The stage {key!r} is terminal; no transition leaves it.",
        "zh-CN": "阶段 {key} 是结束阶段，不能从它流转。",
    },
    "SELF_TRANSITION": {
        "en": "A transition goes to another stage.",
        "zh-CN": "流转必须指向另一个阶段。",
    },
    "DUPLICATE_TRANSITION": {
        "en": "Transition {other} already goes from {source!r} to {key!r}.",
        "zh-CN": "第 {other} 条流转已经从 {source} 到 {key}。",
    },
    "UNKNOWN_ROLE": {
        "en": "The workspace has no role {key!r}.",
        "zh-CN": "工作区中没有角色 {key}。",
    },
    "UNKNOWN_USER": {
        "en": "{key!r} is not a member of the workspace.",
        "zh-CN": "{key} 不是工作区成员。",
    },
    "UNKNOWN_CHAIN": {
        "en": "The app has no approval chain {key!r}.",
        "zh-CN": "应用中没有审批流 {key}。",
    },
    "CHAIN_FORM_MISMATCH": {
        "en": "The approval chain {key!r} is for the form {found!r}, not {expected!r}.",
        "zh-CN": "审批流 {key} 属于表单 {found}，而不是 {expected}。",
    },
    "CHAIN_NOT_PUBLISHED": {
        "en": "Publish the approval chain {key!r} before this workflow.",
        "zh-CN": "请先发布审批流 {key}，再发布此流程。",
    },
    "UNKNOWN_STEP": {"en": "There is no step {key!r}.", "zh-CN": "没有步骤 {key}。"},
    "RETURN_NOT_EARLIER": {
        "en": "A step returns to an earlier step; {key!r} is not before it.",
        "zh-CN": "只能退回到之前的步骤；{key} 不在本步骤之前。",
    },
    "APPEAL_ON_LAST_STEP": {
        "en": "An appeal is reviewed by a later step; this is the last step.",
        "zh-CN": "申诉需要后续步骤复核，本步骤是最后一步。",
    },
    "CONFIRM_MIXED": {
        "en": "confirm goes alone or with appeal, not with {others}.",
        "zh-CN": "确认只能单独使用或与申诉一起使用，不能与 {others} 同用。",
    },
    "NO_PASSING_DECISION": {
        "en": "A step needs approve or confirm among its decisions.",
        "zh-CN": "步骤的决定中必须包含同意或确认。",
    },
    "RATIO_MISMATCH": {
        "en": "ratio goes together with mode: ratio.",
        "zh-CN": "比例只能与“按比例”模式一起使用。",
    },
    "INVALID_DURATION:zero": {"en": "A duration is longer than zero.", "zh-CN": "时长必须大于零。"},
    "INVALID_DURATION:order": {
        "en": "{first} must be shorter than {second}.",
        "zh-CN": "{first} 必须短于 {second}。",
    },
    "DURATION_TOO_LONG": {
        "en": "A working-time duration is at most {max} days.",
        "zh-CN": "工作时间的时长最多 {max} 天。",
    },
    "NOTHING_TO_PUBLISH": {"en": "There is no draft to publish.", "zh-CN": "没有可发布的草稿。"},
    "NO_SUBMITTER": {
        "en": "A stage has no submitter (only approval requests do); name the owner instead.",
        "zh-CN": "阶段没有提交人（只有审批申请才有），请改用记录负责人。",
    },
}


def metadata_message(key: str, /, **params: Any) -> str:
    """The caller's-language text of ``key`` (a code, or ``CODE:variant``), formatted."""
    return format_message(METADATA_MESSAGES, key, key.split(":")[0], **params)
