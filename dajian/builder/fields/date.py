"""Calendar dates; also the spreadsheet date parsing that datetime fields share."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

from django.utils import timezone

from dajian.builder.fields._scalar import RANGE_OPS, halfwidth
from dajian.builder.fields.base import FieldType, FieldValueError, definition_error
from dajian.builder.fields.registry import register
from dajian.platform.errors import ErrorDetail

ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# Spreadsheet text once ``_cell_text`` turned 年月日/时分秒 and / . separators into ISO ones.
CELL_DATE = re.compile(
    r"^(\d{4})-(\d{1,2})-(\d{1,2})"
    r"(?:[ T]+(\d{1,2})(?::(\d{1,2}))?(?::(\d{1,2}))?)?"
    r" *(Z|[+-]\d{2}:?\d{2})?$"
)
EXCEL_EPOCH = datetime(1899, 12, 30)
EXCEL_LAST = 2958466  # 10000-01-01


def excel_serial(number: float) -> datetime:
    """A naive datetime from an Excel serial number (45000 is 2023-03-15)."""
    if not 1 <= number < EXCEL_LAST:
        raise FieldValueError("INVALID_FORMAT", f"{number} is not an Excel date number.")
    if number < 61:
        number += 1  # Excel counts a 29 February 1900 that never was
    return EXCEL_EPOCH + timedelta(seconds=round(number * 86400))


def _cell_text(text: str) -> str:
    text = re.sub(r"^(\d{4}) *[年/.-] *(\d{1,2}) *[月/.-] *(\d{1,2}) *日?", r"\1-\2-\3 ", text)
    text = re.sub(r"(\d) *[时点分] *", r"\1:", text).replace("秒", "")
    return re.sub(r"\s+", " ", text).strip(" :")


def parse_cell(cell: Any) -> tuple[date, time, tzinfo | None] | None:
    """``(date, time, zone or None)`` of a spreadsheet cell; None when the cell is empty.

    Takes date/datetime objects, Excel serial numbers (also as text), and text such as
    ``2026-01-05``, ``2026/1/5 9:30``, ``2026年1月5日``, ``20260105`` or ISO-8601.
    """
    if cell is None or (isinstance(cell, str) and not cell.strip()):
        return None
    if isinstance(cell, datetime):
        return cell.date(), cell.time(), cell.tzinfo
    if isinstance(cell, date):
        return cell, time(0), None
    if isinstance(cell, bool) or not isinstance(cell, int | float | str):
        raise FieldValueError("INVALID_TYPE", "Expected a date.")
    if isinstance(cell, str):
        text = halfwidth(cell)
        # Serial numbers as text ("45000", from CSV); five digits reach the year 2173.
        if re.fullmatch(r"\d{1,5}(\.\d+)?", text):
            cell = float(text)
    if not isinstance(cell, str):
        moment = excel_serial(cell)
        return moment.date(), moment.time(), None
    try:
        moment = datetime.fromisoformat(text)
        return moment.date(), moment.time(), moment.tzinfo
    except ValueError:
        pass
    match = CELL_DATE.match(_cell_text(text))
    if match is None:
        raise FieldValueError("INVALID_FORMAT", f"{cell!r} is not a date.")
    y, mo, d, hh, mi, ss, zone = match.groups()
    try:
        day = date(int(y), int(mo), int(d))
        clock = time(int(hh or 0), int(mi or 0), int(ss or 0))
        zone_info = datetime.fromisoformat(f"2000-01-01T00:00{zone}").tzinfo if zone else None
    except ValueError as exc:
        raise FieldValueError("INVALID_FORMAT", f"{cell!r} is not a valid date.") from exc
    return day, clock, zone_info


@register
class DateField(FieldType):
    """A calendar date without time or zone, stored as ``YYYY-MM-DD`` text, so text order
    is date order. The API takes exactly that shape; ``min``/``max`` (same shape) are
    inclusive. CEL ``timestamp`` at 00:00 UTC of that day."""

    type = "date"
    label = {"zh-CN": "日期", "en": "Date"}
    cel_type = "timestamp"
    filter_ops = RANGE_OPS
    options_schema = {
        "type": "object",
        "properties": {
            "min": {"type": "string", "pattern": ISO_DATE.pattern},
            "max": {"type": "string", "pattern": ISO_DATE.pattern},
            "placeholder": {"$ref": "#/$defs/text"},
        },
    }

    def check_definition(self, form_definition: Mapping[str, Any]) -> list[ErrorDetail]:
        errors: list[ErrorDetail] = []
        bounds: dict[str, date] = {}
        for name in ("min", "max"):
            if name in self.definition:
                try:
                    bounds[name] = date.fromisoformat(self.definition[name])
                except ValueError:
                    errors.append(
                        definition_error(
                            form_definition, self.key, name, "INVALID_OPTION", "Not a date."
                        )
                    )
        if len(bounds) == 2 and bounds["min"] > bounds["max"]:
            errors.append(
                definition_error(
                    form_definition, self.key, "min", "INVALID_OPTION", "min is after max."
                )
            )
        return errors

    def json_schema(self) -> dict[str, Any]:
        return {"type": "string", "format": "date", "pattern": ISO_DATE.pattern}

    def ui_hints(self) -> dict[str, Any]:
        return {
            "widget": "date",
            "min": self.definition.get("min"),
            "max": self.definition.get("max"),
            "placeholder": self.definition.get("placeholder"),
        }

    def clean(self, value: Any) -> Any:
        if not isinstance(value, str):
            raise FieldValueError("INVALID_TYPE", "Expected a date like 2026-01-05.")
        value = value.strip()
        if not ISO_DATE.match(value):
            raise FieldValueError("INVALID_FORMAT", "Expected a date like 2026-01-05.")
        try:
            date.fromisoformat(value)
        except ValueError as exc:
            raise FieldValueError("INVALID_FORMAT", f"{value} is not a calendar date.") from exc
        low, high = self.definition.get("min"), self.definition.get("max")
        if (low and value < low) or (high and value > high):
            raise FieldValueError(
                "OUT_OF_RANGE",
                f"Must be between {low or '…'} and {high or '…'}.",
                min=low,
                max=high,
            )
        return value

    def to_cel(self, value: Any) -> Any:
        day = date.fromisoformat(value)
        return datetime(day.year, day.month, day.day, tzinfo=UTC)

    def to_cell(self, value: Any) -> Any:
        return date.fromisoformat(value)

    def from_cell(self, cell: Any) -> Any:
        parsed = parse_cell(cell)
        if parsed is None:
            return None
        day, clock, zone = parsed
        if zone is not None:
            day = timezone.localtime(datetime.combine(day, clock, zone)).date()
        return self.clean(day.isoformat())

    def example_value(self, faker: Any) -> Any:
        low, high = self.definition.get("min"), self.definition.get("max")
        start = date.fromisoformat(low) if low else "-1y"
        end = date.fromisoformat(high) if high else "+30d"
        return self.clean(faker.date_between(start_date=start, end_date=end).isoformat())
