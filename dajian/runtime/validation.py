"""Validation of a record write: shape, types, field types, conditions, rules, references.

``validate_record`` collects *every* problem before refusing, so a form shows all its
errors at once. Order: payload size → unknown / read-only keys → JSON Schema per field →
field-type ``clean`` → formulas → conditions (visible / required / read-only) → CEL rules
(errors refuse, ``flag`` rules only flag, R3) → references (one query per kind).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings

from dajian.builder.definitions import FormDefinition
from dajian.builder.fields.base import FieldValueError
from dajian.builder.jsonschema import error_code
from dajian.platform.actors import Actor
from dajian.platform.errors import DajianError, ErrorDetail
from dajian.platform.expressions import ExpressionError
from dajian.platform.i18n import localize
from dajian.platform.permissions import FormPolicy
from dajian.runtime.errors import RecordErrorCode, message, value_message
from dajian.runtime.references import check_references


@dataclass
class WriteContext:
    """Everything a validation needs besides the incoming data."""

    actor: Actor
    definition: FormDefinition
    policy: FormPolicy
    now: datetime
    app_id: int
    existing_data: Mapping[str, Any] | None = None  # None on create
    record_system: Mapping[str, Any] = field(default_factory=dict)
    # False when the caller checks the references of many records at once (bulk create).
    check_references: bool = True


@dataclass
class ValidatedRecord:
    data: dict[str, Any]
    flags: list[str]
    changed: set[str]


def _error(
    code: str, field: str | None, path: str | None = None, text: str | None = None, **params: Any
) -> ErrorDetail:
    return ErrorDetail(
        code=str(code), message=text or message(code, **params), field=field, path=path or field
    )


def _check_size(incoming: Any) -> None:
    if not isinstance(incoming, Mapping):
        raise DajianError(_error(RecordErrorCode.INVALID_TYPE, "data", text="data is an object."))
    limit = settings.DAJIAN["MAX_RECORD_BYTES"]
    size = len(json.dumps(incoming, ensure_ascii=False, separators=(",", ":")).encode())
    if size > limit:
        raise DajianError(_error(RecordErrorCode.PAYLOAD_TOO_LARGE, "data", limit=limit))


def validate_record(ctx: WriteContext, incoming: Mapping[str, Any]) -> ValidatedRecord:
    """Return the full data to store, or raise :class:`DajianError` with every problem."""
    _check_size(incoming)
    definition = ctx.definition
    errors: list[ErrorDetail] = []
    existing = dict(ctx.existing_data or {})
    data = {k: v for k, v in existing.items() if k in definition.stored_keys}
    cleaned_keys: set[str] = set()
    blocked = ctx.policy.hidden_fields | ctx.policy.readonly_fields

    for key, value in incoming.items():
        field_type = definition.field_types.get(key)
        if field_type is None or key in ctx.policy.hidden_fields:
            errors.append(_error(RecordErrorCode.UNKNOWN_FIELD, key, key=key))
            continue
        spec = definition.field(key)
        if field_type.read_only or not field_type.stored or spec.get("readonly") or key in blocked:
            if value != existing.get(key):
                errors.append(_error(RecordErrorCode.READ_ONLY_FIELD, key))
            continue
        if value is None:
            data.pop(key, None)
            cleaned_keys.add(key)
            continue
        type_errors = (
            []
            if field_type.clean_checks_shape
            else [
                _error(
                    error_code(e),
                    key,
                    _join(key, e.instance_path),
                    text=value_message(error_code(e), e.message),
                )
                for e in definition.value_validators[key].iter_errors(value)
            ]
        )
        if type_errors:
            errors.extend(type_errors)
            continue
        try:
            data[key] = field_type.clean(value)
            cleaned_keys.add(key)
        except FieldValueError as exc:
            errors.extend(_field_errors(key, exc))

    if ctx.existing_data is None:
        for f in definition.fields:
            if "default" in f and f["key"] not in incoming and f["key"] in definition.writable_keys:
                try:
                    data[f["key"]] = definition.field_types[f["key"]].clean(f["default"])
                except FieldValueError:
                    continue

    activation = build_activation(ctx, data)
    errors.extend(_compute_formulas(definition, data, activation))
    flags = _check_conditions_and_rules(ctx, data, existing, activation, errors)
    if ctx.check_references:
        errors.extend(check_references(ctx.actor, ctx.app_id, definition, data, cleaned_keys))
    if errors:
        raise DajianError(errors)
    changed = {k for k in set(data) | set(existing) if data.get(k) != existing.get(k)}
    return ValidatedRecord(data=data, flags=flags, changed=changed)


def _join(key: str, instance_path: Any) -> str:
    return ".".join([key, *(str(p) for p in instance_path)])


def _field_errors(key: str, exc: FieldValueError) -> list[ErrorDetail]:
    """A field type's refusal; subtables carry one error per cell (``lines.2.qty``)."""
    items = getattr(exc, "errors", None)
    if items:
        out = []
        for item in items:
            path, code, text = _unpack(item)
            out.append(
                _error(code, key, f"{key}.{path}" if path else key, text=value_message(code, text))
            )
        return out
    path = f"{key}.{exc.path}" if exc.path else key
    return [_error(exc.code, key, path, text=value_message(exc.code, exc.message))]


def _unpack(item: Any) -> tuple[str | None, str, str]:
    if isinstance(item, tuple):
        return item[0], item[1], item[2]
    return getattr(item, "path", None), item.code, item.message


def build_activation(ctx: WriteContext, data: Mapping[str, Any]) -> dict[str, Any]:
    """Typed CEL variables: every field (null when empty), ``record``, ``user``, ``now``."""
    return _activation(ctx.actor, ctx.definition, ctx.record_system, ctx.now, data)


def record_system_values(record: Any) -> dict[str, Any]:
    """The ``record`` variable of CEL for a stored (or about to be stored) record."""
    return {
        "id": record.pk or 0,
        "stage": record.stage,
        "status": record.status,
        "owner": record.owner_id,
        "created_at": record.created_at,
        "version": record.version,
    }


def record_activation(
    actor: Actor, definition: FormDefinition, record: Any, now: datetime
) -> dict[str, Any]:
    """The CEL variables of a stored record, exactly as its validation sees them: what
    stage requirements, guards and approval step conditions evaluate."""
    return _activation(actor, definition, record_system_values(record), now, record.data)


def _activation(
    actor: Actor,
    definition: FormDefinition,
    system: Mapping[str, Any],
    now: datetime,
    data: Mapping[str, Any],
) -> dict[str, Any]:
    activation: dict[str, Any] = {}
    for key, field_type in definition.field_types.items():
        value = data.get(key)
        activation[key] = None if value is None else field_type.to_cel(value)
    activation["record"] = {k: v for k, v in system.items() if v is not None}
    activation["user"] = {
        "id": actor.user_id or 0,
        "roles": sorted(actor.roles),
        "is_admin": actor.is_admin,
    }
    activation["now"] = now
    return activation


def _compute_formulas(
    definition: FormDefinition, data: dict[str, Any], activation: dict[str, Any]
) -> list[ErrorDetail]:
    errors: list[ErrorDetail] = []
    for key in formula_keys(definition):
        field_type = definition.field_types[key]
        try:
            value = field_type.compute(activation)  # type: ignore[attr-defined]
        except FieldValueError as exc:
            errors.append(_error(exc.code, key, text=exc.message))
            continue
        if value is None:
            data.pop(key, None)
            activation[key] = None
        else:
            data[key] = value
            activation[key] = field_type.to_cel(value)
    return errors


def formula_keys(definition: FormDefinition) -> list[str]:
    """Stored computed fields in dependency order."""
    keys = [k for k, t in definition.field_types.items() if hasattr(t, "compute") and t.stored]
    if len(keys) < 2:
        return keys
    from dajian.builder.fields.formula import formula_order

    return formula_order(definition.raw)


def _is_true(compiled: Any, activation: Mapping[str, Any]) -> bool | None:
    """True/False, or None when the expression cannot be evaluated with these values."""
    try:
        result = compiled.evaluate(activation)
    except ExpressionError:
        return None
    return result if isinstance(result, bool) else None


def _check_conditions_and_rules(
    ctx: WriteContext,
    data: dict[str, Any],
    existing: Mapping[str, Any],
    activation: dict[str, Any],
    errors: list[ErrorDetail],
) -> list[str]:
    definition = ctx.definition
    invisible: set[str] = set()
    for f in definition.fields:
        key = f["key"]
        cond = definition.conditions.get(key, {})
        if "visible_if" in cond and _is_true(cond["visible_if"], activation) is not True:
            invisible.add(key)
            if key in data and key in definition.writable_keys:
                # A hidden field keeps no value, so stale answers cannot leak into rules.
                data.pop(key)
                activation[key] = None
    already = {e.field for e in errors}
    for f in definition.fields:
        key = f["key"]
        if key in invisible or key in already or not definition.field_types[key].stored:
            continue
        cond = definition.conditions.get(key, {})
        required = f.get("required", False)
        if "required_if" in cond:
            required = _is_true(cond["required_if"], activation) is True
        if (
            required
            and definition.field_types[key].empty(data.get(key))
            and key not in ctx.policy.hidden_fields
        ):
            errors.append(_error(RecordErrorCode.REQUIRED, key))
        if (
            "readonly_if" in cond
            and ctx.existing_data is not None
            and data.get(key) != existing.get(key)
            and _is_true(cond["readonly_if"], activation) is True
        ):
            errors.append(_error(RecordErrorCode.READ_ONLY_FIELD, key))
    flags: list[str] = []
    failed = {e.field for e in errors}
    for rule in definition.rules:
        if rule.field is not None and (rule.field in invisible or rule.field in failed):
            continue
        if rule.field is not None and data.get(rule.field) is None:
            continue  # an empty optional field passes its own rules; `required` covers it
        try:
            result = rule.expression.evaluate(activation)
        except ExpressionError as exc:
            if any(activation.get(name) is None for name in rule.expression.identifiers):
                # Rules over empty values: evidence rules flag, others leave it to `required`.
                result = rule.severity != "flag"
            else:
                errors.append(
                    _error(
                        RecordErrorCode.RULE_ERROR,
                        rule.field or (rule.fields[0] if rule.fields else None),
                        detail=exc.message,
                    )
                )
                continue
        if result is True:
            continue
        if rule.severity == "flag":
            flags.append(rule.flag or rule.key)
            continue
        text = localize(rule.message)
        targets: list[str | None] = [rule.field] if rule.field else [*rule.fields] or [None]
        errors.extend(_error(rule.code, key, text=text) for key in targets)
    return sorted(set(flags))
