"""Work other parts add to ``dajian demo`` (e.g. installing the demo apps).

The platform must not import the app templates, yet the demo workspace should come
with apps installed; the part that can do it registers a hook here (in its
``AppConfig.ready()``). Hooks run after the demo people exist, in registration order,
and must be idempotent: ``dajian demo`` runs them on every invocation.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

DemoHook = Callable[[Any], None]
_hooks: list[DemoHook] = []


def register(hook: DemoHook) -> None:
    """Add ``hook(workspace)`` to the demo (registering the same hook twice is a no-op)."""
    if hook not in _hooks:
        _hooks.append(hook)


def run(workspace: Any) -> None:
    """Call every registered hook with the demo workspace."""
    for hook in _hooks:
        hook(workspace)
