"""Autonumbers: ``HT-2026-0001``, handed out by the server when a record is created."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, tzinfo
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo

from django.utils import timezone

from dajian.builder.fields.base import FieldType, FieldValueError, definition_path
from dajian.builder.fields.registry import register
from dajian.platform.errors import ErrorDetail

MAX_LENGTH = 100
_TOKEN = re.compile(r"\{([^{}]*)\}")
_SEQ = re.compile(r"^seq:(\d{1,2})$")
_DATE_TOKENS = {"YYYY": "%Y", "YY": "%y", "MM": "%m", "DD": "%d"}
# The finest date token present decides when the counter starts again at 1.
_PERIODS = (("DD", "%Y-%m-%d"), ("MM", "%Y-%m"), ("YYYY", "%Y"), ("YY", "%Y"))


@dataclass(frozen=True)
class Pattern:
    """A parsed pattern: literal text and tokens, in order."""

    parts: tuple[tuple[str, str], ...]  # ("text", "HT-") | ("date", "%Y") | ("seq", "4")
    period_format: str  # strftime format of the period key ("" = never resets)


def parse_pattern(pattern: str) -> Pattern:
    """Parse ``pattern``; raises ``ValueError`` with a readable reason."""
    parts: list[tuple[str, str]] = []
    tokens: list[str] = []
    position = 0
    for match in _TOKEN.finditer(pattern):
        parts.append(("text", pattern[position : match.start()]))
        token = match[1]
        seq = _SEQ.match(token)
        if token in _DATE_TOKENS:
            parts.append(("date", _DATE_TOKENS[token]))
        elif seq:
            width = int(seq[1])
            if not 1 <= width <= 12:
                raise ValueError(f"{{seq:{width}}}: the width is 1 to 12 digits.")
            parts.append(("seq", str(width)))
            token = "seq"
        else:
            raise ValueError(
                f"Unknown token {{{token}}}; use {{YYYY}} {{YY}} {{MM}} {{DD}} {{seq:N}}."
            )
        tokens.append(token)
        position = match.end()
    parts.append(("text", pattern[position:]))
    if any("{" in text or "}" in text for kind, text in parts if kind == "text"):
        raise ValueError("Braces are only allowed around tokens.")
    if tokens.count("seq") != 1:
        raise ValueError("The pattern needs exactly one {seq:N}.")
    period = next((fmt for token, fmt in _PERIODS if token in tokens), "")
    return Pattern(tuple(p for p in parts if p != ("text", "")), period)


@register
class AutonumberField(FieldType):
    """Read-only text made from ``pattern`` when a record is created.

    Tokens: ``{YYYY}`` ``{YY}`` ``{MM}`` ``{DD}`` (the creation date in the current time
    zone, or ``tz``) and exactly one ``{seq:N}`` (the counter, zero-padded to N digits,
    1 to 12; longer numbers are not cut). The counter starts again at 1 in each period of the
    finest date token (``{DD}`` daily, ``{MM}`` monthly, ``{YYYY}``/``{YY}`` yearly; never
    without date tokens). The runtime calls :meth:`period`, then
    ``services.autonumber.next_number``, then :meth:`format`. Definition code:
    ``INVALID_PATTERN``. Filters like text; sortable (zero-padded numbers sort as text).
    """

    type = "autonumber"
    label = {"zh-CN": "自动编号", "en": "Autonumber"}
    cel_type = "string"
    read_only = True
    filter_ops = frozenset(
        {"eq", "ne", "in", "nin", "isnull", "contains", "icontains", "startswith"}
    )
    options_schema = {
        "type": "object",
        "required": ["pattern"],
        "properties": {"pattern": {"type": "string", "minLength": 1, "maxLength": 60}},
    }

    @cached_property
    def pattern(self) -> Pattern:
        return parse_pattern(self.definition["pattern"])

    def check_definition(self, form_definition: Mapping[str, Any]) -> list[ErrorDetail]:
        try:
            parse_pattern(self.definition["pattern"])
        except ValueError as exc:
            path = f"{definition_path(form_definition, self.key)}.pattern"
            return [
                ErrorDetail(code="INVALID_PATTERN", message=str(exc), field="fields", path=path)
            ]
        return []

    # --- numbering ---------------------------------------------------------------------
    def period(self, when: datetime, tz: tzinfo | str | None = None) -> str:
        """The counter's period for a record created at ``when`` (``""``: never resets)."""
        fmt = self.pattern.period_format
        return _local(when, tz).strftime(fmt) if fmt else ""

    def format(self, number: int, when: datetime, tz: tzinfo | str | None = None) -> str:
        """The value for counter ``number`` of a record created at ``when``."""
        local = _local(when, tz)
        out = []
        for kind, text in self.pattern.parts:
            if kind == "text":
                out.append(text)
            elif kind == "date":
                out.append(local.strftime(text))
            else:
                out.append(str(number).zfill(int(text)))
        return "".join(out)

    # --- values ------------------------------------------------------------------------
    def json_schema(self) -> dict[str, Any]:
        return {"type": "string", "maxLength": MAX_LENGTH}

    def ui_hints(self) -> dict[str, Any]:
        return {"widget": "autonumber", "readOnly": True, "pattern": self.definition["pattern"]}

    def clean(self, value: Any) -> Any:
        """Normalises filter operands and imported numbers of old systems."""
        if not isinstance(value, str):
            raise FieldValueError("INVALID_TYPE", "Expected text.")
        value = value.strip()
        if len(value) > MAX_LENGTH:
            raise FieldValueError("TOO_LONG", f"At most {MAX_LENGTH} characters.")
        return value

    def sort_expression(self):  # type: ignore[no-untyped-def]
        return self.sql_text()

    def example_value(self, faker: Any) -> Any:
        return self.format(faker.random_int(1, 999), timezone.now())


def _local(when: datetime, tz: tzinfo | str | None) -> datetime:
    if timezone.is_naive(when):
        return when
    zone = ZoneInfo(tz) if isinstance(tz, str) else tz
    return timezone.localtime(when, zone)
