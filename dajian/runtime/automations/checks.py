"""The meaning of an automation document, checked at save and at publish.

The builder checks the document's shape against ``automation.schema.json`` and calls
:func:`check_automation` (registered in ``RuntimeConfig.ready``) for the rest: the
trigger against the form (fields, stages, chains, a cron expression that parses, a date
field), the filter (compiled like a list view's), the CEL condition, and each action:
a registered type, its own JSON Schema, then its semantic check. Every problem comes
back with its JSON path; a few queries build the context, whatever the document.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from functools import cache
from typing import Any

from croniter import croniter

from dajian.builder.definitions import FormDefinition
from dajian.builder.filters import compile_filter
from dajian.builder.jsonschema import compile_schema, iter_errors
from dajian.builder.metadata.checks_workflow import check_expression
from dajian.builder.metadata.loaders import form_workflow
from dajian.builder.models import Form, Metadata, MetadataKind
from dajian.platform.actors import Actor
from dajian.platform.errors import DajianError, ErrorDetail
from dajian.platform.models import Membership, Role
from dajian.runtime.automations import actions
from dajian.runtime.automations.actions.base import CheckContext
from dajian.runtime.models import WebhookSettings
from dajian.runtime.policies import definition_of

DATE_SYSTEM_FIELDS = frozenset({"created_at", "updated_at", "stage_entered_at"})


def _error(code: str, path: str, message: str) -> ErrorDetail:
    return ErrorDetail(code=code, message=message, field=path.split(".")[0], path=path)


def valid_cron(expression: str) -> bool:
    """Five fields (minute hour day-of-month month day-of-week) that croniter parses."""
    return len(expression.split()) == 5 and croniter.is_valid(expression)


def _usernames(value: Any) -> Iterator[str]:
    """Usernames named by ``{"type": "user", "users": [...]}`` specs anywhere in ``value``."""
    if isinstance(value, Mapping):
        if value.get("type") == "user" and isinstance(value.get("users"), list):
            yield from (u for u in value["users"] if isinstance(u, str))
        for item in value.values():
            yield from _usernames(item)
    elif isinstance(value, list):
        for item in value:
            yield from _usernames(item)


def build_check_context(actor: Actor, form: Form, document: Mapping[str, Any]) -> CheckContext:
    definition = definition_of(form)
    assert definition is not None
    forms = {}
    for other in Form.objects.select_related("published").filter(app_id=form.app_id):
        other_definition = definition_of(other)
        if other_definition is not None:
            forms[other.key] = other_definition.field_types
    names = set(_usernames(document.get("actions")))
    members = (
        Membership.objects.filter(
            workspace=actor.workspace, is_active=True, user__username__in=names
        ).values_list("user__username", flat=True)
        if names
        else []
    )
    chains = dict(
        Metadata.objects.filter(
            app_id=form.app_id, kind=MetadataKind.APPROVAL_CHAIN, published__isnull=False
        ).values_list("key", "form__key")
    )
    allowlist = (
        WebhookSettings.objects.filter(workspace=actor.workspace)
        .values_list("allowlist", flat=True)
        .first()
    )
    return CheckContext(
        form_key=form.key,
        fields=definition.field_types,
        forms=forms,
        role_keys=frozenset(
            Role.objects.filter(workspace=actor.workspace).values_list("key", flat=True)
        ),
        member_usernames=frozenset(members),
        chains=chains,
        webhook_allowlist=tuple(allowlist or ()),
    )


def check_automation(actor: Actor, form: Form, document: Mapping[str, Any]) -> list[ErrorDetail]:
    """Every problem with the meaning of ``document`` (its shape is already valid)."""
    definition = definition_of(form)
    assert definition is not None
    ctx = build_check_context(actor, form, document)
    errors = _check_trigger(document["trigger"], form, definition)
    if document.get("filter"):
        try:
            compile_filter(definition, document["filter"], path="filter")
        except DajianError as exc:
            errors.extend(exc.errors)
    if document.get("condition"):
        errors.extend(check_expression(document["condition"], "condition", ctx.names))
    for index, spec in enumerate(document["actions"]):
        errors.extend(check_action(spec, f"actions.{index}", ctx))
    return errors


def _check_trigger(
    trigger: Mapping[str, Any], form: Form, definition: FormDefinition
) -> list[ErrorDetail]:
    kind = trigger["type"]
    fields = definition.field_types
    errors = []
    if kind == "record_updated":
        for i, key in enumerate(trigger.get("fields", [])):
            if key not in fields:
                errors.append(_error("UNKNOWN_FIELD", f"trigger.fields.{i}", f"No field {key!r}."))
    elif kind in ("stage_entered", "time_limit") and trigger.get("of", "stage") == "stage":
        workflow = form_workflow(form)
        if workflow is None:
            return [_error("NO_WORKFLOW", "trigger.type", "The form has no published stages.")]
        for i, key in enumerate(trigger.get("stages", [])):
            if key not in workflow.stage_map:
                errors.append(_error("UNKNOWN_STAGE", f"trigger.stages.{i}", f"No stage {key!r}."))
    elif kind == "approval_decided" and trigger.get("chain"):
        exists = Metadata.objects.filter(
            app_id=form.app_id, kind=MetadataKind.APPROVAL_CHAIN, key=trigger["chain"]
        ).exists()
        if not exists:
            errors.append(
                _error("UNKNOWN_CHAIN", "trigger.chain", f"No approval chain {trigger['chain']!r}.")
            )
    elif kind == "schedule" and not valid_cron(trigger["cron"]):
        errors.append(
            _error(
                "INVALID_CRON",
                "trigger.cron",
                "A schedule is five cron fields: minute hour day-of-month month day-of-week "
                "(e.g. '0 8 * * *' daily at 08:00, '0 10 * * 1' Mondays 10:00).",
            )
        )
    elif kind == "date":
        key = trigger["field"]
        field_type = fields.get(key)
        is_date = key in DATE_SYSTEM_FIELDS or (
            field_type is not None and _value_type(field_type.definition) in ("date", "datetime")
        )
        if not is_date:
            errors.append(
                _error("NOT_DATE_FIELD", "trigger.field", f"{key!r} is not a date field.")
            )
    return errors


def _value_type(spec: Mapping[str, Any]) -> str | None:
    if spec.get("type") == "formula":
        return spec.get("result_type")  # type: ignore[no-any-return]
    return spec.get("type")  # type: ignore[no-any-return]


@cache
def _action_validator(kind: str) -> Any:
    action = actions.get(kind)
    assert action is not None
    schema = dict(action.schema)
    schema.setdefault("$schema", "https://json-schema.org/draft/2020-12/schema")
    return compile_schema(schema)


def check_action(spec: Any, path: str, ctx: CheckContext) -> list[ErrorDetail]:
    """One action: known type, its schema, then its own checks."""
    action = actions.get(spec.get("type"))
    if action is None:
        known = ", ".join(actions.names())
        return [
            _error(
                "UNKNOWN_ACTION_TYPE",
                f"{path}.type",
                f"Unknown action type {spec.get('type')!r}; known: {known}.",
            )
        ]
    errors = [
        _error(
            "UNKNOWN_PROPERTY" if code == "UNKNOWN_FIELD" else code,
            f"{path}.{where}" if where else path,
            message,
        )
        for where, code, message in iter_errors(_action_validator(action.type), spec)
    ]
    if errors:
        return errors
    return action.check(spec, path, ctx)
