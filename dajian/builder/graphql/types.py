"""GraphQL types of the builder: apps, forms and the render description of a form."""

from __future__ import annotations

from typing import Any

import graphene
from graphene.types.generic import GenericScalar

from dajian.builder.definitions import FormDefinition
from dajian.platform.i18n import localize

COMMON_KEYS = frozenset(
    {
        "key",
        "type",
        "label",
        "help",
        "required",
        "readonly",
        "unique",
        "indexed",
        "default",
        "required_if",
        "visible_if",
        "readonly_if",
        "rules",
    }
)


class FieldRule(graphene.ObjectType):
    expression = graphene.String(required=True)
    message = graphene.String(required=True)
    code = graphene.String(required=True)


class FormField(graphene.ObjectType):
    """One field as a client renders and validates it."""

    key = graphene.String(required=True)
    type = graphene.String(required=True)
    label = graphene.String(required=True)
    labels = GenericScalar(description="The label in every locale given.")
    help = graphene.String()
    required = graphene.Boolean(required=True)
    read_only = graphene.Boolean(required=True)
    unique = graphene.Boolean(required=True)
    indexed = graphene.Boolean(required=True)
    default = GenericScalar()
    visible_if = graphene.String()
    required_if = graphene.String()
    readonly_if = graphene.String()
    rules = graphene.List(graphene.NonNull(FieldRule), required=True)
    options = GenericScalar(description="The type's own options (choices, precision...).")
    ui_hints = GenericScalar()
    json_schema = GenericScalar()
    can_filter = graphene.Boolean(required=True)
    can_sort = graphene.Boolean(required=True)


class FormRule(graphene.ObjectType):
    key = graphene.String(required=True)
    expression = graphene.String(required=True)
    message = graphene.String(required=True)
    severity = graphene.String(required=True)
    flag = graphene.String()
    fields = graphene.List(graphene.NonNull(graphene.String), required=True)


class FormPermissions(graphene.ObjectType):
    """What the caller may do on this form."""

    can_create = graphene.Boolean(required=True)
    can_read = graphene.Boolean(required=True)
    can_update = graphene.Boolean(required=True)
    can_delete = graphene.Boolean(required=True)
    read_scopes = graphene.List(graphene.NonNull(graphene.String), required=True)


def field_object(spec: dict[str, Any], definition: FormDefinition, readonly: bool) -> FormField:
    field_type = definition.field_types[spec["key"]]
    return FormField(
        key=spec["key"],
        type=spec["type"],
        label=localize(spec["label"]),
        labels=spec["label"] if isinstance(spec["label"], dict) else {"": spec["label"]},
        help=localize(spec.get("help")) or None,
        required=bool(spec.get("required")),
        read_only=bool(
            readonly or spec.get("readonly") or field_type.read_only or not field_type.stored
        ),
        unique=bool(spec.get("unique")),
        indexed=bool(spec.get("indexed")),
        default=spec.get("default"),
        visible_if=spec.get("visible_if"),
        required_if=spec.get("required_if"),
        readonly_if=spec.get("readonly_if"),
        rules=[
            FieldRule(
                expression=r["expression"],
                message=localize(r["message"]),
                code=r.get("code", "RULE_VIOLATED"),
            )
            for r in spec.get("rules", [])
        ],
        options={k: v for k, v in spec.items() if k not in COMMON_KEYS},
        ui_hints=field_type.ui_hints(),
        json_schema=field_type.json_schema() if field_type.stored else None,
        can_filter=field_type.can_filter,
        can_sort=field_type.can_sort,
    )
