"""A GPS point captured on the device, with its accuracy and an optional address."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from django.db.models import Q

from dajian.builder.fields.base import FieldType, FieldValueError
from dajian.builder.fields.registry import register

MAX_ADDRESS = 300
MAX_ACCURACY = 100_000.0  # metres; anything worse is not a position
_CELL = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*[,\uff0c]\s*(-?\d+(?:\.\d+)?)\s*(.*)$", re.S)
_KEYS = ("lat", "lng", "accuracy", "address")


@register
class LocationField(FieldType):
    """``{"lat": float, "lng": float, "accuracy": metres ≥ 0 (optional), "address": text
    ≤ 300 (optional)}`` (WGS-84 degrees, as the browser's geolocation reports them).

    Option ``max_accuracy_m``: readings less accurate than this — or without an accuracy —
    are refused with ``LOCATION_INACCURATE``. Other codes: ``INVALID_TYPE``,
    ``UNKNOWN_FIELD``, ``REQUIRED`` (lat/lng missing), ``OUT_OF_RANGE``, ``TOO_LONG``,
    ``INVALID_VALUE`` (NaN / infinity); paths are ``lat``, ``accuracy``... Filter:
    ``isnull`` only; not sortable.
    """

    type = "location"
    label = {"zh-CN": "定位", "en": "Location"}
    cel_type = "map(string, dyn)"
    can_sort = False
    filter_ops = frozenset({"isnull"})
    options_schema = {
        "type": "object",
        "properties": {
            "max_accuracy_m": {"type": "number", "exclusiveMinimum": 0, "maximum": MAX_ACCURACY},
        },
    }

    @property
    def max_accuracy(self) -> float | None:
        value = self.definition.get("max_accuracy_m")
        return None if value is None else float(value)

    def json_schema(self) -> dict[str, Any]:
        return {
            "type": "object",
            "required": ["lat", "lng"],
            "additionalProperties": False,
            "properties": {
                "lat": {"type": "number", "minimum": -90, "maximum": 90},
                "lng": {"type": "number", "minimum": -180, "maximum": 180},
                "accuracy": {"type": "number", "minimum": 0, "maximum": MAX_ACCURACY},
                "address": {"type": "string", "maxLength": MAX_ADDRESS},
            },
        }

    def ui_hints(self) -> dict[str, Any]:
        return {"widget": "location", "source": "device", "maxAccuracyM": self.max_accuracy}

    def clean(self, value: Any) -> Any:
        if not isinstance(value, Mapping):
            raise FieldValueError("INVALID_TYPE", "Expected {lat, lng}.")
        for key in value:
            if key not in _KEYS:
                raise FieldValueError("UNKNOWN_FIELD", f"Unknown key {key!r}.", path=str(key))
        out: dict[str, Any] = {
            "lat": round(_number(value, "lat", -90.0, 90.0), 7),
            "lng": round(_number(value, "lng", -180.0, 180.0), 7),
        }
        if value.get("accuracy") is not None:
            out["accuracy"] = round(_number(value, "accuracy", 0.0, MAX_ACCURACY), 2)
        limit = self.max_accuracy
        if limit is not None:
            if "accuracy" not in out:
                raise FieldValueError(
                    "LOCATION_INACCURATE",
                    "The position has no accuracy; capture it on the device.",
                    path="accuracy",
                    max_accuracy_m=limit,
                )
            if out["accuracy"] > limit:
                raise FieldValueError(
                    "LOCATION_INACCURATE",
                    f"The position is accurate to {out['accuracy']:g} m; at most {limit:g} m "
                    "is needed.",
                    path="accuracy",
                    max_accuracy_m=limit,
                )
        address = value.get("address")
        if address is not None:
            if not isinstance(address, str):
                raise FieldValueError("INVALID_TYPE", "Expected text.", path="address")
            address = address.strip()
            if len(address) > MAX_ADDRESS:
                raise FieldValueError(
                    "TOO_LONG", f"At most {MAX_ADDRESS} characters.", path="address"
                )
            if address:
                out["address"] = address
        return out

    def to_cel(self, value: Any) -> Any:
        return {k: float(v) if k != "address" else v for k, v in value.items()}

    def filter_q(self, op: str, value: Any) -> Q:
        if op != "isnull":
            raise ValueError(f"unsupported operator {op}")
        return super().filter_q(op, value)

    def to_cell(self, value: Any) -> Any:
        if not isinstance(value, Mapping):
            return value
        cell = f"{value['lat']},{value['lng']}"
        return f"{cell} {value['address']}" if value.get("address") else cell

    def from_cell(self, cell: Any) -> Any:
        """``"lat,lng"`` optionally followed by the address; the accuracy is not kept."""
        if not isinstance(cell, str):
            return cell
        match = _CELL.match(cell)
        if not match:
            raise FieldValueError("INVALID_VALUE", "Expected “latitude,longitude”.")
        out: dict[str, Any] = {"lat": float(match[1]), "lng": float(match[2])}
        if match[3].strip():
            out["address"] = match[3].strip()
        return out

    def example_value(self, faker: Any) -> Any:
        value: dict[str, Any] = {
            "lat": round(faker.pyfloat(min_value=22, max_value=40), 6),
            "lng": round(faker.pyfloat(min_value=103, max_value=121), 6),
            "accuracy": float(faker.random_int(5, 30)),
            "address": faker.address()[:MAX_ADDRESS],
        }
        if self.max_accuracy is not None:
            value["accuracy"] = min(value["accuracy"], self.max_accuracy)
        return value


def _number(value: Mapping[str, Any], key: str, low: float, high: float) -> float:
    raw = value.get(key)
    if raw is None:
        raise FieldValueError("REQUIRED", f"{key} is required.", path=key)
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise FieldValueError("INVALID_TYPE", "Expected a number.", path=key)
    number = float(raw)
    if not math.isfinite(number):
        raise FieldValueError("INVALID_VALUE", "Expected a finite number.", path=key)
    if not low <= number <= high:
        raise FieldValueError(
            "OUT_OF_RANGE", f"{key} must be between {low:g} and {high:g}.", path=key
        )
    return number
