"""The shared test vectors (``vectors.json``): format, decoding and comparison.

The file proves that the server (this package) and the browser (``@bufbuild/cel`` plus
the same custom functions) evaluate expressions identically. It is a JSON list of::

    {"expr": "n / 2", "vars": {"n": {"int": 7}}, "result": {"int": 3}}
    {"expr": "1 / 0", "vars": {}, "error": "EVALUATION"}

- ``vars`` maps variable names to *typed values*; ``result`` is a typed value; a vector
  has either ``result`` or ``error`` (the evaluation must fail; the message is free).
- Optional ``note`` explains the case.
- A typed value is a JSON object with exactly one key, the CEL type, because JSON alone
  cannot tell ``3`` (int) from ``3.0`` (double) once parsed in a browser:

  ========================  =======================================================
  ``{"null": null}``        null
  ``{"bool": true}``        bool
  ``{"int": 3}``            int; a decimal string (``{"int": "9223372036854775807"}``)
                            for values beyond ±2^53
  ``{"double": 2.5}``       double; ``"NaN"``, ``"Infinity"``, ``"-Infinity"`` as strings
  ``{"string": "Müller"}``  string
  ``{"list": [tv, ...]}``   list of typed values
  ``{"map": {"k": tv}}``    map with string keys
  ``{"timestamp": "..."}``  RFC 3339 (``2024-03-01T08:00:00Z``, offsets allowed)
  ``{"duration": "90m"}``   CEL duration text: an optional sign, then decimal numbers
                            with units ``h``, ``m``, ``s``, ``ms``, ``us``, ``ns``
  ========================  =======================================================

- Results compare by type and value; doubles within a relative 1e-9 (haversine in two
  maths libraries may differ in the last bits); timestamps compare as instants.
"""

from __future__ import annotations

import json
import math
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

VECTORS_PATH = Path(__file__).with_name("vectors.json")
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(h|ms|us|ns|m|s)")
_UNIT_SECONDS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}
_SPECIAL_DOUBLES = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def load_vectors(path: Path = VECTORS_PATH) -> list[dict[str, Any]]:
    """The vectors, as stored."""
    return json.loads(path.read_text(encoding="utf-8"))


def decode(typed: dict[str, Any]) -> Any:
    """The Python value of a typed value (the activation's conventions)."""
    if not isinstance(typed, dict) or len(typed) != 1:
        raise ValueError(f"a typed value has exactly one key, got {typed!r}")
    ((kind, raw),) = typed.items()
    if kind == "null":
        return None
    if kind == "bool" and isinstance(raw, bool):
        return raw
    if kind == "int" and not isinstance(raw, bool | float):
        return int(raw)
    if kind == "double":
        return _SPECIAL_DOUBLES[raw] if isinstance(raw, str) else float(raw)
    if kind == "string" and isinstance(raw, str):
        return raw
    if kind == "list":
        return [decode(item) for item in raw]
    if kind == "map":
        return {key: decode(value) for key, value in raw.items()}
    if kind == "timestamp":
        return datetime.fromisoformat(raw.replace("Z", "+00:00"))
    if kind == "duration":
        return parse_duration(raw)
    raise ValueError(f"unknown typed value {typed!r}")


def parse_duration(text: str) -> timedelta:
    """``'1h30m'`` → ``timedelta(minutes=90)``; the CEL ``duration()`` string syntax."""
    sign = -1 if text.startswith("-") else 1
    body = text.lstrip("+-")
    parts = _DURATION_PART.findall(body)
    if not parts or "".join(n + u for n, u in parts) != body:
        raise ValueError(f"not a duration: {text!r}")
    seconds = sum(float(number) * _UNIT_SECONDS[unit] for number, unit in parts)
    return timedelta(seconds=sign * seconds)


def same_value(actual: Any, expected: Any) -> bool:
    """Equal by CEL type and value (bool ≠ int ≠ double; doubles within 1e-9)."""
    if isinstance(expected, bool) or expected is None:
        return actual is expected
    if isinstance(expected, int):
        return type(actual) is int and actual == expected
    if isinstance(expected, float):
        if type(actual) is not float:
            return False
        if math.isnan(expected):
            return math.isnan(actual)
        return actual == expected or math.isclose(actual, expected, rel_tol=1e-9)
    if isinstance(expected, list):
        return (
            isinstance(actual, list)
            and len(actual) == len(expected)
            and all(same_value(a, e) for a, e in zip(actual, expected, strict=True))
        )
    if isinstance(expected, dict):
        return (
            isinstance(actual, dict)
            and actual.keys() == expected.keys()
            and all(same_value(actual[k], v) for k, v in expected.items())
        )
    return type(actual) is type(expected) and actual == expected
