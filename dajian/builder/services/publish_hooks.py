"""Work other parts do when a form version is published.

The builder must not import the runtime, yet publishing a form has to create the
record table's unique and filter indexes; the runtime registers that work here in its
``AppConfig.ready()``. Hooks run inside the publishing transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

PublishHook = Callable[[Any], None]
_hooks: list[PublishHook] = []


def register(hook: PublishHook) -> None:
    if hook not in _hooks:
        _hooks.append(hook)


def run(form_version: Any) -> None:
    for hook in _hooks:
        hook(form_version)
