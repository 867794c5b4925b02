"""Functions Dajian adds to CEL. The browser registers the same ones (same names, same
results), so every function here is specified precisely enough to re-implement.

``chars(s: string) -> int``
    Number of Unicode code points in ``s`` (``chars('Müller') == 6``), the same as
    ``size(s)``.
``normalize(s: string) -> string``
    Unicode NFKC (full-width letters, digits and spaces become half-width), then
    lowercase, then every run of whitespace — the characters ``[ \\t\\n\\v\\f\\r``
    ``\\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff]`` —
    becomes one space, then leading/trailing spaces are removed. With full-width
    letters and an ideographic space: ``normalize(' \\uff21\\uff22\\uff23\\u3000Def ')``
    is ``'abc def'``.
``days_since(t: timestamp) -> int``
    Whole days from ``t`` to the server's now, truncated toward zero (negative for a
    future ``t``): 47 hours ago → 1, 47 hours ahead → -1.
``hours_since(t: timestamp) -> double``
    Hours from ``t`` to the server's now, as a double (90 minutes ago → 1.5).
``today() -> timestamp``
    Today 00:00 in the current Django time zone (the workspace's, once activated),
    as a UTC timestamp.
``distance_m(a: map, b: map) -> double``
    Great-circle (haversine) distance in metres between two location maps
    ``{lat, lng, accuracy?}`` (degrees; ``accuracy`` is ignored), on a sphere of radius
    6,371,008.8 m (the IUGG mean Earth radius). Each map needs numeric ``lat`` in
    [-90, 90] and ``lng`` in [-180, 180]; anything else is an evaluation error.
``sum(values: list) -> int | double``
    The sum of a list of numbers: an int when every element is an int, else a double;
    ``0`` for an empty list. Anything but a list of numbers (booleans and nulls
    included) is an evaluation error. With a subtable: ``sum(lines.map(l, l.amount))``.

Internal (the browser needs no counterpart):

``_size(v) -> int``
    CEL's ``size()``: code points of a string, elements of a list, entries of a map,
    bytes of bytes; any other value is an evaluation error. The Rust library's built-in
    ``size()`` counts a string's UTF-8 bytes (``size('Müller') == 7``) and cannot be
    overridden, so the service renames every ``size`` call in the expression text to
    ``_size`` before compiling (``size(x)`` and ``x.size()`` alike). Authors never see
    the name: errors say ``size()``, ``CompiledExpression.functions`` says ``size``.

``now`` is not a function: it is a reserved variable the runtime puts in the activation.
Every function raises :class:`FunctionArgumentError` on bad input; the service turns it
into an ``ExpressionEvaluationError``.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, time, timedelta
from typing import Any

from django.utils import timezone

EARTH_RADIUS_M = 6_371_008.8
_WHITESPACE = re.compile(
    "[ \t\n\v\f\r\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]+"
)
_MICROSECONDS_PER_DAY = 86_400_000_000


class FunctionArgumentError(ValueError):
    """A custom function was called with a value it does not accept."""


def chars(s: str) -> int:
    """Number of Unicode code points in ``s``."""
    return len(_string(s, "chars"))


def size(*args: Any) -> int:
    """CEL ``size()``, counting a string's code points; registered as ``_size``."""
    if len(args) != 1:
        raise FunctionArgumentError(f"size() takes one argument, got {len(args)}")
    (value,) = args
    if isinstance(value, str | bytes | list | tuple | Mapping):
        return len(value)
    raise FunctionArgumentError(
        f"size() takes text, a list, a map or bytes, got {_cel_type(value)}"
    )


def normalize(s: str) -> str:
    """NFKC, lowercase, whitespace runs collapsed to one space, trimmed."""
    text = unicodedata.normalize("NFKC", _string(s, "normalize")).lower()
    return _WHITESPACE.sub(" ", text).strip(" ")


def days_since(t: datetime) -> int:
    """Whole days from ``t`` to now, truncated toward zero."""
    elapsed = timezone.now() - _timestamp(t, "days_since")
    microseconds = elapsed // timedelta(microseconds=1)
    days = abs(microseconds) // _MICROSECONDS_PER_DAY
    return days if microseconds >= 0 else -days


def hours_since(t: datetime) -> float:
    """Hours from ``t`` to now."""
    return (timezone.now() - _timestamp(t, "hours_since")).total_seconds() / 3600.0


def today() -> datetime:
    """Today 00:00 in the current Django time zone, in UTC."""
    zone = timezone.get_current_timezone()
    local_date = timezone.localdate(timezone.now(), zone)
    # The library only converts fixed-offset datetimes, so hand it UTC.
    return datetime.combine(local_date, time.min, tzinfo=zone).astimezone(UTC)


def distance_m(a: Mapping[str, Any], b: Mapping[str, Any]) -> float:
    """Haversine distance in metres between two ``{lat, lng}`` maps."""
    lat1, lng1 = _location(a, "first")
    lat2, lng2 = _location(b, "second")
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    d_phi = phi2 - phi1
    d_lambda = math.radians(lng2 - lng1)
    h = math.sin(d_phi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(d_lambda / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def sum_of(values: Any) -> int | float:
    """The sum of a list of numbers (an int when all are ints); CEL name ``sum``."""
    if not isinstance(values, list | tuple):
        raise FunctionArgumentError(f"sum() needs a list, got {_cel_type(values)}")
    total: int | float = 0
    for i, number in enumerate(values):
        if isinstance(number, bool) or not isinstance(number, int | float):
            raise FunctionArgumentError(f"sum(): element {i} is {_cel_type(number)}, not a number")
        total += number
    if any(isinstance(number, float) for number in values):
        return float(total)
    return total


def _string(value: Any, function: str) -> str:
    if not isinstance(value, str):
        raise FunctionArgumentError(f"{function}() needs a string, got {_cel_type(value)}")
    return value


def _timestamp(value: Any, function: str) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise FunctionArgumentError(f"{function}() needs a timestamp, got {_cel_type(value)}")
    return value


def _location(value: Any, which: str) -> tuple[float, float]:
    if not isinstance(value, Mapping):
        raise FunctionArgumentError(
            f"distance_m(): the {which} location must be a map, got {_cel_type(value)}"
        )
    coordinates = []
    for key, bound in (("lat", 90.0), ("lng", 180.0)):
        number = value.get(key)
        if isinstance(number, bool) or not isinstance(number, int | float):
            raise FunctionArgumentError(f"distance_m(): the {which} location has no numeric {key}")
        if not -bound <= number <= bound:  # also refuses NaN
            raise FunctionArgumentError(
                f"distance_m(): {key} {number} of the {which} location is outside "
                f"[-{bound:g}, {bound:g}]"
            )
        coordinates.append(float(number))
    return coordinates[0], coordinates[1]


def _cel_type(value: Any) -> str:
    names = {bool: "bool", int: "int", float: "double", str: "string", bytes: "bytes"}
    for python_type, name in names.items():
        if isinstance(value, python_type):
            return name
    if value is None:
        return "null"
    if isinstance(value, datetime):
        return "timestamp"
    if isinstance(value, timedelta):
        return "duration"
    if isinstance(value, Mapping):
        return "map"
    return "list" if isinstance(value, list) else type(value).__name__


FUNCTIONS: Mapping[str, Callable[..., Any]] = {
    "chars": chars,
    "normalize": normalize,
    "days_since": days_since,
    "hours_since": hours_since,
    "today": today,
    "distance_m": distance_m,
    "sum": sum_of,
}
# The name ``size`` calls are renamed to; registered only for expressions that call
# ``size``, so it is not part of the language authors write.
SIZE_FUNCTION = "_size"
