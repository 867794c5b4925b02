"""The recipient-type registry: spec ``type`` string → :class:`RecipientType` subclass.

Registering one type twice is a startup error reported through Django's system checks
(``dajian.E001``). Built-in types live one per module in this package.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Mapping
from typing import Any

from django.core import checks

from dajian.platform.recipients.base import RecipientType

_types: dict[str, type[RecipientType]] = {}
_conflicts: list[str] = []
_NOT_TYPES = {"base", "registry", "lookup"}


def register(cls: type[RecipientType]) -> type[RecipientType]:
    """Class decorator: add a recipient type to the registry."""
    if not cls.type:
        _conflicts.append(f"{cls.__module__}.{cls.__name__} has no type name")
    elif cls.type in _types and _types[cls.type] is not cls:
        _conflicts.append(
            f"recipient type {cls.type!r} registered by {_types[cls.type].__module__} "
            f"and {cls.__module__}"
        )
    else:
        _types[cls.type] = cls
    return cls


def load_builtin_types() -> None:
    """Import every module of this package so their ``@register`` runs."""
    package = importlib.import_module("dajian.platform.recipients")
    for module in pkgutil.iter_modules(package.__path__):
        if module.name not in _NOT_TYPES and not module.name.startswith("_"):
            importlib.import_module(f"dajian.platform.recipients.{module.name}")


def get(type_name: Any) -> type[RecipientType] | None:
    if not _types:
        load_builtin_types()
    return _types.get(type_name) if isinstance(type_name, str) else None


def type_names() -> list[str]:
    if not _types:
        load_builtin_types()
    return sorted(_types)


def build(spec: Mapping[str, Any]) -> RecipientType | None:
    """The recipient type instance for ``spec``, or None for an unknown type."""
    cls = get(spec.get("type"))
    return cls(spec) if cls is not None else None


def check_registry(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    return [
        checks.Error(
            conflict,
            hint="Give each recipient type a unique `type` string and register it once.",
            id="dajian.E001",
        )
        for conflict in _conflicts
    ]


def register_checks() -> None:
    checks.register(check_registry)
