"""The registry of automation actions (R18): one module per action type in this
package, each registering one :class:`~.base.ActionType` subclass with :func:`action`.

Adding an action type means adding one module and its tests; the meta-schema of
automation documents, the save-time checks and the builder's action list all read
this registry.
"""

from __future__ import annotations

from dajian.platform.registry import Registry
from dajian.runtime.automations.actions.base import ActionType, CheckContext

__all__ = ["ActionType", "CheckContext", "action", "get", "names", "registry"]

registry: Registry[ActionType] = Registry("automation action", __name__, skip={"base"})


def action(cls: type[ActionType]) -> type[ActionType]:
    """Class decorator: register one instance of ``cls`` under ``cls.type``."""
    registry.add(cls.type, cls(), f"{cls.__module__}.{cls.__qualname__}")
    return cls


def get(name: object) -> ActionType | None:
    return registry.get(name)


def names() -> list[str]:
    return registry.names()
