"""The field-type registry: ``type`` string → :class:`FieldType` subclass.

The shared :class:`~dajian.platform.registry.Registry`: registering one type twice is a
startup error reported through Django's system checks (``dajian.E001``). Built-in
types live one per module in this package.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dajian.builder.fields.base import FieldType
from dajian.platform.registry import Registry

_registry: Registry[type[FieldType]] = Registry(
    "field type", "dajian.builder.fields", skip={"base", "registry"}
)
_conflicts = _registry.conflicts
check_registry = _registry.check
load_builtin_types = _registry.load
register_checks = _registry.register_checks
type_names = _registry.names


def register(cls: type[FieldType]) -> type[FieldType]:
    """Class decorator: add a field type to the registry."""
    return _registry.add(cls.type, cls, f"{cls.__module__}.{cls.__name__}")


def get(type_name: str) -> type[FieldType] | None:
    return _registry.items.get(type_name)


def build(definition: Mapping[str, Any]) -> FieldType:
    """A field type instance for one field definition (its ``type`` must be registered)."""
    return _registry.items[definition["type"]](definition)
