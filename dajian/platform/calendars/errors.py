"""Error codes of work-calendar settings and their localised messages."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from dajian.platform.errors import ErrorDetail
from dajian.platform.i18n import format_message


class CalendarErrorCode(StrEnum):
    UNSUPPORTED_COUNTRY = "UNSUPPORTED_COUNTRY"
    INVALID_WEEKDAY = "INVALID_WEEKDAY"
    NO_WORKING_DAYS = "NO_WORKING_DAYS"
    INVALID_TIME = "INVALID_TIME"
    INVALID_PERIOD = "INVALID_PERIOD"
    OVERLAPPING_PERIODS = "OVERLAPPING_PERIODS"
    NO_WORKING_HOURS = "NO_WORKING_HOURS"
    INVALID_DATE = "INVALID_DATE"
    DATE_CONFLICT = "DATE_CONFLICT"
    TOO_MANY_ITEMS = "TOO_MANY_ITEMS"


MESSAGES: dict[str, dict[str, str]] = {
    "UNSUPPORTED_COUNTRY": {
        "en": "No public holiday table for country {country!r}.",
        "zh-CN": "不支持国家/地区 {country} 的法定节假日。",
    },
    "INVALID_WEEKDAY": {
        "en": "A weekday is a whole number from 0 (Monday) to 6 (Sunday).",
        "zh-CN": "星期应为 0（周一）到 6（周日）的整数。",
    },
    "NO_WORKING_DAYS": {
        "en": "At least one day of the week must be a working day.",
        "zh-CN": "每周至少要有一个工作日。",
    },
    "INVALID_TIME": {
        "en": "Expected a time as HH:MM (00:00 to 24:00).",
        "zh-CN": "时间格式应为 HH:MM（00:00 至 24:00）。",
    },
    "INVALID_PERIOD": {
        "en": "A working period is a [start, end] pair with the start before the end.",
        "zh-CN": "工作时段应为 [开始, 结束]，且开始早于结束。",
    },
    "OVERLAPPING_PERIODS": {
        "en": "Working periods must be in order and must not overlap.",
        "zh-CN": "工作时段必须按时间顺序排列且不能重叠。",
    },
    "NO_WORKING_HOURS": {
        "en": "Give at least {minutes} minutes of working hours a day.",
        "zh-CN": "每天的工作时间至少为 {minutes} 分钟。",
    },
    "INVALID_DATE": {
        "en": "Expected a date as YYYY-MM-DD.",
        "zh-CN": "日期格式应为 YYYY-MM-DD。",
    },
    "DATE_CONFLICT": {
        "en": "{date} is both an extra holiday and an extra workday.",
        "zh-CN": "{date} 同时被设为假日和工作日。",
    },
    "TOO_MANY_ITEMS": {
        "en": "At most {limit} items.",
        "zh-CN": "最多 {limit} 项。",
    },
}


def calendar_error(code: CalendarErrorCode, path: str, **params: Any) -> ErrorDetail:
    """An error on the input key ``path`` starts with (``workingHours.1.end``)."""
    return ErrorDetail.at(path, code, format_message(MESSAGES, code, **params))
