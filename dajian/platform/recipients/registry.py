"""The recipient-type registry: spec ``type`` string → :class:`RecipientType` subclass
(the shared :class:`~dajian.platform.registry.Registry`; built-in types live one per
module in this package)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dajian.platform.recipients.base import RecipientType
from dajian.platform.registry import Registry

_registry: Registry[type[RecipientType]] = Registry(
    "recipient type", "dajian.platform.recipients", skip={"base", "registry", "lookup"}
)
_conflicts = _registry.conflicts
check_registry = _registry.check
load_builtin_types = _registry.load
register_checks = _registry.register_checks
get = _registry.get
type_names = _registry.names


def register(cls: type[RecipientType]) -> type[RecipientType]:
    """Class decorator: add a recipient type to the registry."""
    return _registry.add(cls.type, cls, f"{cls.__module__}.{cls.__name__}")


def build(spec: Mapping[str, Any]) -> RecipientType | None:
    """The recipient type instance for ``spec``, or None for an unknown type."""
    cls = get(spec.get("type"))
    return cls(spec) if cls is not None else None
