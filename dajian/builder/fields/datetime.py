"""Instants in time (date and time of day, with a zone)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from django.utils import timezone

from dajian.builder.fields._scalar import RANGE_OPS
from dajian.builder.fields.base import FieldType, FieldValueError, definition_error
from dajian.builder.fields.date import parse_cell
from dajian.builder.fields.registry import register
from dajian.platform.errors import ErrorDetail


def parse_instant(value: str) -> datetime:
    """An aware datetime from ISO-8601 text with an offset (``Z`` or ``+08:00``)."""
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError as exc:
        raise FieldValueError(
            "INVALID_FORMAT", "Expected a date-time like 2026-01-05T09:30:00+08:00."
        ) from exc
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise FieldValueError(
            "INVALID_FORMAT", "Include a time zone offset (Z or +08:00).", reason="naive"
        )
    return moment


def format_utc(moment: datetime) -> str:
    """The stored shape ``YYYY-MM-DDTHH:MM:SSZ`` (UTC, whole seconds, fixed width)."""
    try:
        utc = moment.astimezone(UTC)
    except OverflowError as exc:
        raise FieldValueError("OUT_OF_RANGE", "The date-time is out of range.") from exc
    return (
        f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d}"
        f"T{utc.hour:02d}:{utc.minute:02d}:{utc.second:02d}Z"
    )


@register
class DateTimeField(FieldType):
    """An instant, stored as UTC text of one fixed shape, ``YYYY-MM-DDTHH:MM:SSZ``:
    fractional seconds are dropped (truncated) so that text order is time order and the
    value indexes as text. The API takes ISO-8601 with an offset; naive times are refused
    (INVALID_FORMAT). Spreadsheet cells without a zone are read in the current time zone
    (the workspace's when activated) and written in it. CEL ``timestamp`` (aware, UTC)."""

    type = "datetime"
    label = {"zh-CN": "日期时间", "en": "Date and time"}
    cel_type = "timestamp"
    filter_ops = RANGE_OPS
    options_schema = {
        "type": "object",
        "properties": {
            "min": {"type": "string", "format": "date-time", "maxLength": 64},
            "max": {"type": "string", "format": "date-time", "maxLength": 64},
            "placeholder": {"$ref": "#/$defs/text"},
        },
    }

    def bound(self, name: str) -> str | None:
        raw = self.definition.get(name)
        return None if raw is None else format_utc(parse_instant(raw))

    def check_definition(self, form_definition: Mapping[str, Any]) -> list[ErrorDetail]:
        errors: list[ErrorDetail] = []
        bounds: dict[str, str | None] = {}
        for name in ("min", "max"):
            try:
                bounds[name] = self.bound(name)
            except FieldValueError as exc:
                errors.append(
                    definition_error(form_definition, self.key, name, "INVALID_OPTION", exc.message)
                )
        low, high = bounds.get("min"), bounds.get("max")
        if low and high and low > high:
            errors.append(
                definition_error(
                    form_definition, self.key, "min", "INVALID_OPTION", "min is after max."
                )
            )
        return errors

    def json_schema(self) -> dict[str, Any]:
        return {"type": "string", "format": "date-time", "maxLength": 64}

    def ui_hints(self) -> dict[str, Any]:
        return {
            "widget": "datetime",
            "min": self.definition.get("min"),
            "max": self.definition.get("max"),
            "placeholder": self.definition.get("placeholder"),
        }

    def clean(self, value: Any) -> Any:
        if not isinstance(value, str):
            raise FieldValueError("INVALID_TYPE", "Expected a date-time text.")
        stored = format_utc(parse_instant(value))
        low, high = self.bound("min"), self.bound("max")
        if (low and stored < low) or (high and stored > high):
            raise FieldValueError(
                "OUT_OF_RANGE",
                f"Must be between {low or '…'} and {high or '…'}.",
                min=low,
                max=high,
            )
        return stored

    def to_cel(self, value: Any) -> Any:
        return datetime.fromisoformat(value).astimezone(UTC)

    def to_cell(self, value: Any) -> Any:
        """A naive datetime in the current time zone (spreadsheets have no zones)."""
        return timezone.localtime(datetime.fromisoformat(value)).replace(tzinfo=None)

    def from_cell(self, cell: Any) -> Any:
        parsed = parse_cell(cell)
        if parsed is None:
            return None
        day, clock, zone = parsed
        moment = datetime.combine(day, clock, zone)
        if zone is None:
            moment = timezone.make_aware(moment)
        return self.clean(moment.isoformat())

    def example_value(self, faker: Any) -> Any:
        low, high = self.definition.get("min"), self.definition.get("max")
        moment = faker.date_time_between(
            start_date=parse_instant(low) if low else "-1y",
            end_date=parse_instant(high) if high else "+30d",
            tzinfo=UTC,
        )
        return self.clean(moment.isoformat())
