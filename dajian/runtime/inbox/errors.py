"""Inbox error codes. Refusals shared with approvals (``NOT_ASSIGNEE``,
``ALREADY_DECIDED``) are :class:`~dajian.runtime.approvals.errors.ApprovalErrorCode`
members, so a client sees one code whichever mutation it called."""

from __future__ import annotations

from enum import StrEnum

from dajian.platform.errors import DajianError
from dajian.platform.i18n import localize


class InboxErrorCode(StrEnum):
    USE_DECIDE_TASK = "USE_DECIDE_TASK"


MESSAGES: dict[str, dict[str, str]] = {
    "USE_DECIDE_TASK": {
        "en": "Approval tasks are decided with decideTask, not completed.",
        "zh-CN": "审批任务请使用“审批处理”（decideTask），不能直接完成。",
    },
}


def inbox_error(code: InboxErrorCode, field: str | None = None) -> DajianError:
    """A refusal with the code's localised message."""
    return DajianError.single(code, localize(MESSAGES[code]), field=field)
