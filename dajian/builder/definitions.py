"""A parsed, validated form definition, shared read-only by every request.

:class:`FormDefinition` wraps the JSON of one published version: field types are built
once, expressions compiled once, the record JSON Schema compiled once. Versions are
immutable, so instances are cached by version id.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from dajian.builder.fields import registry
from dajian.builder.fields.base import FieldType
from dajian.builder.jsonschema import compile_schema
from dajian.platform.expressions import CompiledExpression, compile_expression

# Names an expression can read besides the form's field keys.
RESERVED_NAMES = frozenset({"record", "user", "now"})
# CEL keywords and words reserved by the spec cannot be field keys either.
CEL_RESERVED = frozenset(
    [
        "as",
        "break",
        "const",
        "continue",
        "else",
        "false",
        "for",
        "function",
        "if",
        "import",
        "in",
        "let",
        "loop",
        "package",
        "namespace",
        "null",
        "return",
        "true",
        "var",
        "void",
        "while",
    ]
)
# System columns that filters and sorting address by these names.
SYSTEM_FIELDS = frozenset(
    {"id", "stage", "status", "owner", "created_at", "updated_at", "created_by", "version"}
)


@dataclass(frozen=True)
class Rule:
    """A compiled CEL rule: true means the record passes."""

    key: str
    expression: CompiledExpression
    message: Any
    code: str
    severity: str = "error"  # error | flag
    flag: str | None = None
    fields: tuple[str, ...] = ()
    field: str | None = None  # set for per-field rules


class FormDefinition:
    """Read-only view of a form definition with built field types and compiled rules."""

    def __init__(self, raw: Mapping[str, Any], version_id: int | None = None):
        self.raw = raw
        self.version_id = version_id
        self.key: str = raw["key"]
        self.fields: list[Mapping[str, Any]] = list(raw.get("fields", []))
        self.field_types: dict[str, FieldType] = {f["key"]: registry.build(f) for f in self.fields}
        self.title_fields: list[str] = list(raw.get("title_fields") or self._default_titles())
        self.search_fields: list[str] = list(raw.get("search_fields") or self.title_fields)
        self.duplicates: list[Mapping[str, Any]] = list(raw.get("duplicates", []))
        self.permissions: list[Mapping[str, Any]] | None = raw.get("permissions")

    def _default_titles(self) -> list[str]:
        for f in self.fields:
            if f["type"] in ("text", "autonumber"):
                return [f["key"]]
        return []

    def field(self, key: str) -> Mapping[str, Any]:
        return next(f for f in self.fields if f["key"] == key)

    @cached_property
    def writable_keys(self) -> frozenset[str]:
        return frozenset(k for k, t in self.field_types.items() if not t.read_only and t.stored)

    @cached_property
    def stored_keys(self) -> frozenset[str]:
        return frozenset(k for k, t in self.field_types.items() if t.stored)

    @cached_property
    def conditions(self) -> dict[str, dict[str, CompiledExpression]]:
        """``{field key: {"visible_if"|"required_if"|"readonly_if": compiled}}``."""
        out: dict[str, dict[str, CompiledExpression]] = {}
        for f in self.fields:
            for name in ("visible_if", "required_if", "readonly_if"):
                if f.get(name):
                    out.setdefault(f["key"], {})[name] = compile_expression(f[name])
        return out

    @cached_property
    def rules(self) -> list[Rule]:
        """Field rules first (in field order), then form rules."""
        rules: list[Rule] = []
        for f in self.fields:
            for i, rule in enumerate(f.get("rules", [])):
                rules.append(
                    Rule(
                        key=f"{f['key']}.{i}",
                        expression=compile_expression(rule["expression"]),
                        message=rule["message"],
                        code=rule.get("code", "RULE_VIOLATED"),
                        fields=(f["key"],),
                        field=f["key"],
                    )
                )
        for rule in self.raw.get("rules", []):
            rules.append(
                Rule(
                    key=rule["key"],
                    expression=compile_expression(rule["expression"]),
                    message=rule["message"],
                    code=rule.get("code", "RULE_VIOLATED"),
                    severity=rule.get("severity", "error"),
                    flag=rule.get("flag", rule["key"]) if rule.get("severity") == "flag" else None,
                    fields=tuple(rule.get("fields", [])),
                )
            )
        return rules

    @cached_property
    def value_validators(self) -> dict[str, Any]:
        """One compiled JSON Schema validator per stored field."""
        return {
            key: compile_schema(t.json_schema() or {})
            for key, t in self.field_types.items()
            if t.stored
        }

    def json_schema(self) -> dict[str, Any]:
        """The JSON Schema of a record's ``data`` (for clients; the server validates
        field by field so it can report every problem with its own code)."""
        required = [
            f["key"]
            for f in self.fields
            if f.get("required") and not f.get("visible_if") and not f.get("required_if")
        ]
        return {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "object",
            "additionalProperties": False,
            "properties": {
                key: {"anyOf": [t.json_schema() or {}, {"type": "null"}]}
                for key, t in self.field_types.items()
                if t.stored
            },
            "required": required,
        }


_cache: OrderedDict[tuple[int, str], FormDefinition] = OrderedDict()
_cache_lock = threading.Lock()
_CACHE_SIZE = 512


def definition_for_version(version: Any) -> FormDefinition:
    """The cached :class:`FormDefinition` of a published ``FormVersion`` (keyed by id and
    content hash, so a reused id can never serve another definition)."""
    key = (version.pk, version.content_hash)
    with _cache_lock:
        found = _cache.get(key)
        if found is not None:
            _cache.move_to_end(key)
            return found
    definition = FormDefinition(version.definition, version_id=version.pk)
    with _cache_lock:
        _cache[key] = definition
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return definition
