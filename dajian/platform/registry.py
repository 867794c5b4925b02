"""The one registry mechanism (STYLE §1): a name → implementation map per pluggable
kind (field types, recipient types, timer actions…). Registering a name twice keeps the
first and records a conflict that Django's system checks report as ``dajian.E001``."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterable
from typing import Any, Generic, TypeVar

from django.core import checks

T = TypeVar("T")


class Registry(Generic[T]):
    """Implementations of one ``kind`` by name; built-ins are the modules of ``package``
    (except ``skip`` and private modules), imported by :meth:`load`."""

    def __init__(self, kind: str, package: str | None = None, skip: Iterable[str] = ()):
        self.kind = kind
        self.package = package
        self.skip = frozenset(skip)
        self.items: dict[str, T] = {}
        self.conflicts: list[str] = []
        self._loaded = package is None

    def add(self, name: str, item: T, origin: str) -> T:
        """Register ``item`` under ``name`` (``origin`` names where it comes from)."""
        if not name:
            self.conflicts.append(f"{origin} has no {self.kind} name")
        elif name in self.items and self.items[name] is not item:
            self.conflicts.append(
                f"{self.kind} {name!r} registered by {_origin(self.items[name])} and {origin}"
            )
        else:
            self.items[name] = item
        return item

    def load(self) -> None:
        """Import every module of the package so their registrations run."""
        self._loaded = True
        if self.package is None:
            return
        package = importlib.import_module(self.package)
        for module in pkgutil.iter_modules(package.__path__):
            if module.name not in self.skip and not module.name.startswith("_"):
                importlib.import_module(f"{self.package}.{module.name}")

    def get(self, name: Any) -> T | None:
        if not self._loaded:
            self.load()
        return self.items.get(name) if isinstance(name, str) else None

    def names(self) -> list[str]:
        if not self._loaded:
            self.load()
        return sorted(self.items)

    def check(self, app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
        return [
            checks.Error(
                conflict,
                hint=f"Give each {self.kind} a unique name and register it once.",
                id="dajian.E001",
            )
            for conflict in self.conflicts
        ]

    def register_checks(self) -> None:
        """Report this registry's conflicts in Django's system checks."""

        def check_conflicts(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
            return self.check()

        checks.register(check_conflicts)


def _origin(item: Any) -> str:
    return str(getattr(item, "__module__", item))
