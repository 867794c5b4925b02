"""Stage-engine error codes and their localised default messages (zh-CN, en)."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from dajian.platform.errors import ErrorDetail
from dajian.platform.i18n import format_message


class WorkflowErrorCode(StrEnum):
    """Refusals of ``advanceStage`` and the items of a ``missing`` checklist.

    ``STAGE_LOCKED`` is the first error of a refused move whose stage requirements are
    not met; the errors after it are exactly the ``missing`` entries (``REQUIRED``,
    ``EVIDENCE_*``, ``CHECK_FAILED`` or a check's own code, ``GUARD_FAILED``) of
    ``availableTransitions``. ``STAGE_IN_USE`` refuses publishing a workflow version
    without a stage that still holds records.
    """

    NO_WORKFLOW = "NO_WORKFLOW"
    UNKNOWN_STAGE = "UNKNOWN_STAGE"
    TRANSITION_NOT_ALLOWED = "TRANSITION_NOT_ALLOWED"
    GUARD_FAILED = "GUARD_FAILED"
    STAGE_LOCKED = "STAGE_LOCKED"
    REASON_REQUIRED = "REASON_REQUIRED"
    REQUIRED = "REQUIRED"
    EVIDENCE_MISSING = "EVIDENCE_MISSING"
    EVIDENCE_TOO_NEW = "EVIDENCE_TOO_NEW"
    EVIDENCE_TOO_OLD = "EVIDENCE_TOO_OLD"
    CHECK_FAILED = "CHECK_FAILED"
    STAGE_IN_USE = "STAGE_IN_USE"


MESSAGES: dict[str, dict[str, str]] = {
    "NO_WORKFLOW": {
        "en": "This form has no published workflow.",
        "zh-CN": "该表单没有已发布的阶段流程。",
    },
    "UNKNOWN_STAGE": {
        "en": "The workflow has no stage {to!r}.",
        "zh-CN": "流程中没有阶段「{to}」。",
    },
    "TRANSITION_NOT_ALLOWED": {
        "en": "A record in {stage} cannot move to {to}.",
        "zh-CN": "处于「{stage}」的记录不能推进到「{to}」。",
    },
    "ROLE_NOT_ALLOWED": {
        "en": "Your role may not move records from {stage} to {to}.",
        "zh-CN": "您的角色无权将记录从「{stage}」推进到「{to}」。",
    },
    "GUARD_FAILED": {
        "en": "The condition for moving to {to} is not met.",
        "zh-CN": "不满足推进到「{to}」的条件。",
    },
    "STAGE_LOCKED": {
        "en": "{stage} cannot be left yet: {count} requirement(s) missing.",
        "zh-CN": "尚不能离开「{stage}」：还有 {count} 项条件未满足。",
    },
    "REASON_REQUIRED": {
        "en": "Choose a reason for {to}: {reasons}.",
        "zh-CN": "请选择进入「{to}」的原因：{reasons}。",
    },
    "REQUIRED": {
        "en": "{label} must be filled in before leaving {stage}.",
        "zh-CN": "离开「{stage}」前必须填写「{label}」。",
    },
    "EVIDENCE_MISSING": {
        "en": "{label} needs at least {count} {files} ({have} now).",
        "zh-CN": "「{label}」至少需要 {count} 个{files}（当前 {have} 个）。",
    },
    "EVIDENCE_TOO_NEW": {
        "en": "{label}: {count} {files} uploaded at least {age} earlier are needed "
        "(possible from {ready_at}).",
        "zh-CN": "「{label}」需要 {count} 个至少提前 {age} 上传的{files}"
        "（最早 {ready_at} 可推进）。",
    },
    "EVIDENCE_TOO_OLD": {
        "en": "{label}: {count} {files} uploaded within the last {age} are needed.",
        "zh-CN": "「{label}」需要 {count} 个最近 {age} 内上传的{files}。",
    },
    "CHECK_FAILED": {"en": "A condition of this stage is not met.", "zh-CN": "未满足阶段条件。"},
    "STAGE_IN_USE": {
        "en": "Stage {stage} still holds {count} record(s); move them before removing it.",
        "zh-CN": "阶段「{stage}」仍有 {count} 条记录，请先将其移出再删除该阶段。",
    },
    "FILES": {"en": "file(s)", "zh-CN": "文件"},
    "IMAGES": {"en": "image(s)", "zh-CN": "图片"},
}


def workflow_message(code: str, **params: Any) -> str:
    """The localised default message of ``code``, formatted with ``params``."""
    return format_message(MESSAGES, code, **params)


def workflow_error(
    code: str, field: str | None = None, message: str | None = None, **params: Any
) -> ErrorDetail:
    """One :class:`ErrorDetail` of ``code`` (``message`` or the default text)."""
    return ErrorDetail(
        code=str(code),
        message=message or workflow_message(code, **params),
        field=field,
        path=field,
    )
