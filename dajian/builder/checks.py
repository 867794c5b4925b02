"""Validation of a form definition: the meta-schema, then semantic checks.

``check_form_definition(raw)`` returns every problem found, each with a JSON path
(``fields.3.rules.0.expression``); an empty list means the definition can be saved.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from functools import cache
from typing import Any

from dajian.builder.definitions import CEL_RESERVED, RESERVED_NAMES, SYSTEM_FIELDS
from dajian.builder.errors import FormErrorCode
from dajian.builder.fields import registry
from dajian.builder.jsonschema import compile_schema, iter_errors, meta_schema, meta_validator
from dajian.platform.errors import ErrorDetail
from dajian.platform.expressions import ExpressionError, compile_expression

UNIQUE_CAPABLE = frozenset({"text", "email", "phone", "number", "url", "autonumber"})


def _err(code: str, message: str, path: str) -> ErrorDetail:
    return ErrorDetail(code=str(code), message=message, field=path.split(".")[0], path=path)


def check_form_definition(raw: Any) -> list[ErrorDetail]:
    """Every problem of a form definition; shape first, then meaning."""
    if not isinstance(raw, Mapping):
        return [_err(FormErrorCode.INVALID_DEFINITION, "A form definition is a JSON object.", "")]
    errors = [
        _err(FormErrorCode.INVALID_DEFINITION if code != "REQUIRED" else code, msg, path)
        for path, code, msg in iter_errors(meta_validator("form"), raw)
    ]
    if errors:
        return errors
    return _check_fields(raw) or _check_references(raw)


def _check_fields(raw: Mapping[str, Any]) -> list[ErrorDetail]:
    errors: list[ErrorDetail] = []
    counts = Counter(f["key"] for f in raw["fields"])
    defs = meta_schema("form")["$defs"]
    for i, f in enumerate(raw["fields"]):
        path = f"fields.{i}"
        key = f["key"]
        if counts[key] > 1:
            errors.append(
                _err(
                    FormErrorCode.DUPLICATE_KEY, f"Field key {key!r} is used twice.", f"{path}.key"
                )
            )
        if key in RESERVED_NAMES or key in CEL_RESERVED or key in SYSTEM_FIELDS:
            errors.append(
                _err(FormErrorCode.RESERVED_NAME, f"{key!r} is a reserved name.", f"{path}.key")
            )
        type_cls = registry.get(f["type"])
        if type_cls is None:
            errors.append(
                _err(
                    FormErrorCode.UNKNOWN_FIELD_TYPE,
                    f"Unknown field type {f['type']!r}; known: {', '.join(registry.type_names())}.",
                    f"{path}.type",
                )
            )
            continue
        common = set(defs["field"]["properties"])
        options = {k: v for k, v in f.items() if k not in common}
        for sub_path, code, msg in iter_errors(_options_validator(type_cls.type), options):
            code = "UNKNOWN_OPTION" if code == "UNKNOWN_FIELD" else code
            errors.append(_err(code, msg, f"{path}.{sub_path}" if sub_path else path))
        if f.get("unique") and f["type"] not in UNIQUE_CAPABLE:
            errors.append(
                _err(
                    FormErrorCode.NOT_UNIQUE_CAPABLE,
                    f"Fields of type {f['type']!r} cannot be unique.",
                    f"{path}.unique",
                )
            )
        if f.get("indexed") and not (type_cls.can_filter and type_cls.stored):
            errors.append(
                _err(
                    FormErrorCode.NOT_INDEX_CAPABLE,
                    f"Fields of type {f['type']!r} cannot be indexed.",
                    f"{path}.indexed",
                )
            )
    if errors:
        return errors
    for f in raw["fields"]:
        errors.extend(registry.build(f).check_definition(raw))
    return errors


@cache
def _options_validator(type_name: str) -> Any:
    """The compiled schema of a field type's own options (unknown options refused)."""
    type_cls = registry.get(type_name)
    assert type_cls is not None
    schema = {
        "$defs": meta_schema("form")["$defs"],
        "type": "object",
        "additionalProperties": False,
        **type_cls.options_schema,
    }
    return compile_schema(schema)


def _expressions(raw: Mapping[str, Any]) -> Iterable[tuple[str, str]]:
    """``(path, source)`` of every expression in the definition."""
    for i, f in enumerate(raw["fields"]):
        for name in ("visible_if", "required_if", "readonly_if"):
            if name in f:
                yield f"fields.{i}.{name}", f[name]
        for j, rule in enumerate(f.get("rules", [])):
            yield f"fields.{i}.rules.{j}.expression", rule["expression"]
    for j, rule in enumerate(raw.get("rules", [])):
        yield f"rules.{j}.expression", rule["expression"]


def _check_references(raw: Mapping[str, Any]) -> list[ErrorDetail]:
    errors: list[ErrorDetail] = []
    keys = {f["key"] for f in raw["fields"]}
    known = keys | RESERVED_NAMES
    for path, source in _expressions(raw):
        try:
            compiled = compile_expression(source)
        except ExpressionError as exc:
            where = f" at {exc.line}:{exc.column}" if exc.line is not None else ""
            errors.append(_err(exc.code, f"Invalid expression{where}: {exc.message}", path))
            continue
        for name in sorted(compiled.identifiers - known):
            errors.append(
                _err(
                    FormErrorCode.UNKNOWN_REFERENCE,
                    f"The expression uses {name!r}, which is not a field of this form.",
                    path,
                )
            )

    def refs(path: str, names: Iterable[str], allow_system: bool = False) -> None:
        for j, name in enumerate(names):
            if name not in keys and not (allow_system and name in SYSTEM_FIELDS):
                errors.append(
                    _err(FormErrorCode.UNKNOWN_REFERENCE, f"No field {name!r}.", f"{path}.{j}")
                )

    refs("title_fields", raw.get("title_fields", []))
    refs("search_fields", raw.get("search_fields", []))
    for j, rule in enumerate(raw.get("rules", [])):
        refs(f"rules.{j}.fields", rule.get("fields", []))
    for j, dup in enumerate(raw.get("duplicates", [])):
        refs(f"duplicates.{j}.fields", dup["fields"])
    for j, section in enumerate(raw.get("layout", [])):
        refs(f"layout.{j}.fields", section["fields"])
    for j, perm in enumerate(raw.get("permissions", [])):
        refs(f"permissions.{j}.fields", list(perm.get("fields", {})))
    for kind, items in (("rules", raw.get("rules", [])), ("duplicates", raw.get("duplicates", []))):
        seen = Counter(item["key"] for item in items)
        for j, item in enumerate(items):
            if seen[item["key"]] > 1:
                errors.append(
                    _err(FormErrorCode.DUPLICATE_KEY, "Key used twice.", f"{kind}.{j}.key")
                )
    return errors
