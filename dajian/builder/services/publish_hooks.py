"""Work other parts do when a form version or a metadata document is published.

The builder must not import the runtime, yet publishing a form has to create the
record table's unique and filter indexes, and publishing a workflow has to put existing
records into its initial stage; the runtime registers that work here in its
``AppConfig.ready()``. Hooks run inside the publishing transaction, after the new
version is current and before the audit event is written.
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


# Called with (actor, metadata, version) when a workflow or approval chain is published.
MetadataHook = Callable[[Any, Any, Any], None]
_metadata_hooks: list[MetadataHook] = []


def register_metadata_hook(hook: MetadataHook) -> None:
    """Run ``hook(actor, metadata, version)`` after each workflow or chain publish (not
    when publishing an unchanged draft returns the current version)."""
    if hook not in _metadata_hooks:
        _metadata_hooks.append(hook)


def run_metadata_hooks(actor: Any, metadata: Any, version: Any) -> None:
    for hook in _metadata_hooks:
        hook(actor, metadata, version)
