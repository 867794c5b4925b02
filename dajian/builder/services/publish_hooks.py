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


# Called with (actor, metadata) after a document is unpublished (automations only).
UnpublishHook = Callable[[Any, Any], None]
_unpublish_hooks: list[UnpublishHook] = []


def register_unpublish_hook(hook: UnpublishHook) -> None:
    if hook not in _unpublish_hooks:
        _unpublish_hooks.append(hook)


def run_unpublish_hooks(actor: Any, metadata: Any) -> None:
    for hook in _unpublish_hooks:
        hook(actor, metadata)


# Semantic checks of a document kind the builder cannot check itself (automations: their
# actions live in the runtime). Called with (actor, form, document); returns ErrorDetails.
MetadataChecker = Callable[[Any, Any, Any], list[Any]]
_checkers: dict[str, MetadataChecker] = {}


def register_metadata_checker(kind: str, checker: MetadataChecker) -> None:
    _checkers[kind] = checker


def check_metadata(kind: str, actor: Any, form: Any, document: Any) -> list[Any]:
    checker = _checkers.get(kind)
    if checker is None:
        raise RuntimeError(f"no checker registered for {kind} documents")
    return checker(actor, form, document)
