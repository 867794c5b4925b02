"""The field-type registry: ``type`` string → :class:`FieldType` subclass.

Registering one type twice is a startup error reported through Django's system checks
(``dajian.E001``). Built-in types live one per module in this package.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Mapping
from typing import Any

from django.core import checks

from dajian.builder.fields.base import FieldType

_types: dict[str, type[FieldType]] = {}
_conflicts: list[str] = []
_NOT_TYPES = {"base", "registry"}


def register(cls: type[FieldType]) -> type[FieldType]:
    """Class decorator: add a field type to the registry."""
    if not cls.type:
        _conflicts.append(f"{cls.__module__}.{cls.__name__} has no type name")
    elif cls.type in _types and _types[cls.type] is not cls:
        _conflicts.append(
            f"field type {cls.type!r} registered by {_types[cls.type].__module__} "
            f"and {cls.__module__}"
        )
    else:
        _types[cls.type] = cls
    return cls


def load_builtin_types() -> None:
    """Import every module of this package so their ``@register`` runs."""
    package = importlib.import_module("dajian.builder.fields")
    for module in pkgutil.iter_modules(package.__path__):
        if module.name not in _NOT_TYPES and not module.name.startswith("_"):
            importlib.import_module(f"dajian.builder.fields.{module.name}")


def get(type_name: str) -> type[FieldType] | None:
    return _types.get(type_name)


def type_names() -> list[str]:
    return sorted(_types)


def build(definition: Mapping[str, Any]) -> FieldType:
    """A field type instance for one field definition (its ``type`` must be registered)."""
    return _types[definition["type"]](definition)


def check_registry(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    return [
        checks.Error(
            conflict,
            hint="Give each field type a unique `type` string and register it once.",
            id="dajian.E001",
        )
        for conflict in _conflicts
    ]


def register_checks() -> None:
    checks.register(check_registry)
