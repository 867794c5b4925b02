"""``set_fields``: write fields of the record from CEL expressions on its variables.

``values`` maps field keys to expressions (``{"level": "amount > 100000.0 ? 'A' : 'B'"}``);
each is evaluated on the record's activation, turned into a stored-shape value
(:func:`stored_value`) and written through
:func:`~dajian.runtime.services.records.update_record` as the system actor, so the
write is validated like any other (a refused value fails the record for good, since
the same data would be refused again). Values equal to the stored ones write nothing,
so an automation that sets what is already there does not fire update triggers again.

The helpers for ``values`` maps (:func:`check_values`, :func:`evaluate_values`) are
shared with ``create_record`` and ``update_related``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from django.utils import timezone

from dajian.builder.errors import MetadataErrorCode
from dajian.builder.fields.base import FieldType
from dajian.builder.metadata.checks_workflow import check_expression, error
from dajian.platform.errors import ErrorDetail
from dajian.platform.expressions import ExpressionError, compile_expression
from dajian.platform.i18n import format_message
from dajian.runtime.automations.actions import action
from dajian.runtime.automations.actions.base import ActionType, CheckContext
from dajian.runtime.automations.context import Outcome, RunContext, Target
from dajian.runtime.services.records import update_record

VALUES_SCHEMA: dict[str, Any] = {
    "type": "object",
    "minProperties": 1,
    "maxProperties": 100,
    "propertyNames": {"pattern": "^[a-z][a-z0-9_]{0,62}$"},
    "additionalProperties": {"type": "string", "minLength": 1, "maxLength": 4096},
}


class ValuesErrorCode(StrEnum):
    READ_ONLY_FIELD = "READ_ONLY_FIELD"


MESSAGES = {
    "READ_ONLY_FIELD": {
        "en": "{key!r} is computed ({type}), so an automation cannot write it.",
        "zh-CN": "{key} 是自动计算的字段（{type}），自动化不能写入。",
    }
}


class ValuesError(Exception):
    """An expression of ``values`` that failed or gave a value no field can hold."""

    def __init__(self, key: str, message: str):
        self.key = key
        super().__init__(f"{key}: {message}")


def writable(field_type: FieldType) -> bool:
    """Whether records store what is written to the field (not a formula, rollup,
    autonumber or a field the form marks read-only)."""
    return (
        not field_type.read_only and field_type.stored and not field_type.definition.get("readonly")
    )


def check_values(
    values: Mapping[str, str],
    path: str,
    fields: Mapping[str, FieldType],
    names: frozenset[str],
) -> list[ErrorDetail]:
    """Keys are writable ``fields`` (``UNKNOWN_FIELD`` / ``READ_ONLY_FIELD`` at
    ``<path>.<key>``); expressions compile and read only ``names``."""
    errors = []
    for key, source in values.items():
        where = f"{path}.{key}"
        field_type = fields.get(key)
        if field_type is None:
            errors.append(error(MetadataErrorCode.UNKNOWN_FIELD, where, key=key))
        elif not writable(field_type):
            text = format_message(MESSAGES, "READ_ONLY_FIELD", key=key, type=field_type.type)
            errors.append(ErrorDetail.at(where, ValuesErrorCode.READ_ONLY_FIELD, text))
        errors.extend(check_expression(source, where, names))
    return errors


def stored_value(result: Any, field_type: FieldType | None) -> Any:
    """A CEL result in the shape records store (the record service then validates it):
    timestamps become ISO-8601 UTC text, or a date for date fields (midnight UTC is
    that date, as date fields enter CEL; any other instant is the local date)."""
    if isinstance(result, dt.datetime):
        if field_type is not None and field_type.type == "date":
            utc = result.astimezone(dt.UTC)
            if utc.time() == dt.time(0):
                return utc.date().isoformat()
            return timezone.localtime(result).date().isoformat()
        return result.astimezone(dt.UTC).isoformat()
    if isinstance(result, dt.date):
        return result.isoformat()
    if isinstance(result, dt.timedelta | bytes):
        raise TypeError(f"a {type(result).__name__} cannot be stored in a field")
    if isinstance(result, list):
        return [stored_value(v, None) for v in result]
    if isinstance(result, dict):
        return {str(k): stored_value(v, None) for k, v in result.items()}
    return result


def evaluate_values(
    values: Mapping[str, str], activation: Mapping[str, Any], fields: Mapping[str, FieldType]
) -> dict[str, Any]:
    """``{key: stored value}`` of every expression; raises :class:`ValuesError` for the
    first that fails (a CEL ``null`` clears the field)."""
    data = {}
    for key, source in values.items():
        try:
            result = compile_expression(source).evaluate(activation)
            data[key] = stored_value(result, fields.get(key))
        except ExpressionError as exc:
            raise ValuesError(key, exc.message) from None
        except TypeError as exc:
            raise ValuesError(key, str(exc)) from None
    return data


@action
class SetFieldsAction(ActionType):
    """Spec: ``values`` (``{field key: CEL expression}``)."""

    type = "set_fields"
    label = {"zh-CN": "更新字段", "en": "Set fields"}
    schema = {
        "type": "object",
        "required": ["type", "values"],
        "additionalProperties": False,
        "properties": {"type": {"const": "set_fields"}, "values": VALUES_SCHEMA},
    }

    def check(self, spec: Mapping[str, Any], path: str, ctx: CheckContext) -> list[ErrorDetail]:
        return check_values(spec["values"], f"{path}.values", ctx.fields, ctx.names)

    def run_one(self, ctx: RunContext, target: Target) -> Outcome:
        fields = ctx.form_definition.field_types
        try:
            data = evaluate_values(ctx.spec["values"], target.activation, fields)
        except ValuesError as exc:
            return Outcome.failed(str(exc), retry=False)
        stored = target.record.data
        changed = sorted(k for k, v in data.items() if stored.get(k) != v)
        if not changed:
            return Outcome.done(changed=[])
        result = update_record(ctx.actor, target.record.pk, {k: data[k] for k in changed})
        return Outcome.done(changed=changed, version=result.record.version)
