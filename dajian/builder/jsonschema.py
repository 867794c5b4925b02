"""JSON Schema validation with ``jsonschema-rs``: compiled validators are cached and
errors become :class:`ErrorDetail` with dotted paths and stable codes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema_rs

SCHEMA_DIR = Path(__file__).parent / "schemas"

# jsonschema-rs error kinds → our stable codes.
_KIND_CODES = {
    "Type": "INVALID_TYPE",
    "MaxLength": "TOO_LONG",
    "MinLength": "TOO_SHORT",
    "Maximum": "OUT_OF_RANGE",
    "Minimum": "OUT_OF_RANGE",
    "ExclusiveMaximum": "OUT_OF_RANGE",
    "ExclusiveMinimum": "OUT_OF_RANGE",
    "Enum": "INVALID_CHOICE",
    "Constant": "INVALID_CHOICE",
    "Pattern": "INVALID_FORMAT",
    "Format": "INVALID_FORMAT",
    "MaxItems": "TOO_MANY_ITEMS",
    "MinItems": "TOO_FEW_ITEMS",
    "UniqueItems": "DUPLICATE_ITEMS",
    "Required": "REQUIRED",
    "AdditionalProperties": "UNKNOWN_FIELD",
    "MultipleOf": "TOO_PRECISE",
}


@cache
def meta_schema(name: str) -> dict[str, Any]:
    """A meta-schema file of ``builder/schemas/`` as a dict."""
    return json.loads((SCHEMA_DIR / f"{name}.schema.json").read_text())


def compile_schema(schema: dict[str, Any]) -> Any:
    return jsonschema_rs.validator_for(schema)


@cache
def meta_validator(name: str) -> Any:
    return compile_schema(meta_schema(name))


def dotted(path: Any) -> str:
    return ".".join(str(p) for p in path)


def error_code(error: Any) -> str:
    kind = type(error.kind).__name__
    return _KIND_CODES.get(kind, "INVALID_VALUE")


def iter_errors(validator: Any, instance: Any) -> Iterator[tuple[str, str, str]]:
    """``(dotted path, code, message)`` for every violation of ``instance``."""
    for error in validator.iter_errors(instance):
        yield dotted(error.instance_path), error_code(error), error.message
