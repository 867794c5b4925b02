"""Published workflows and chains as typed views, cached per immutable version."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from dajian.builder.metadata.approval_chain import ChainDefinition
from dajian.builder.metadata.workflow import WorkflowDefinition
from dajian.builder.models import Form, Metadata, MetadataKind, MetadataVersion

_CACHE_SIZE = 512
_cache: OrderedDict[tuple[int, str], Any] = OrderedDict()
_lock = threading.Lock()


def _cached(version: MetadataVersion, build: Any) -> Any:
    key = (version.pk, version.content_hash)  # id + hash: a reused id cannot hit
    with _lock:
        found = _cache.get(key)
        if found is not None:
            _cache.move_to_end(key)
            return found
    view = build()
    with _lock:
        _cache[key] = view
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return view


def workflow_view(version: MetadataVersion) -> WorkflowDefinition:
    return _cached(version, lambda: WorkflowDefinition.parse(version.definition))  # type: ignore[no-any-return]


def chain_view(metadata: Metadata, version: MetadataVersion) -> ChainDefinition:
    return _cached(version, lambda: ChainDefinition.parse(metadata.key, version.definition))  # type: ignore[no-any-return]


def form_workflow(form: Form) -> WorkflowDefinition | None:
    """The published workflow of ``form`` from its ``workflow`` column: no query when the
    form was read with ``select_related("workflow")`` (the definition itself is read
    only on a cache miss), none at all when the form has no workflow."""
    if form.workflow_id is None:
        return None
    return workflow_view(form.workflow)  # type: ignore[arg-type]


def published_workflow(form: Form) -> tuple[MetadataVersion, WorkflowDefinition] | None:
    """The published workflow of ``form`` (one query), or None when it has none."""
    row = (
        Metadata.objects.filter(
            form_id=form.pk, kind=MetadataKind.WORKFLOW, published__isnull=False
        )
        .select_related("published")
        .first()
    )
    if row is None or row.published is None:
        return None
    return row.published, workflow_view(row.published)


def published_chain(
    app_id: int, key: str
) -> tuple[Metadata, MetadataVersion, ChainDefinition] | None:
    """The published approval chain ``key`` of an app (one query), or None."""
    row = (
        Metadata.objects.filter(
            app_id=app_id, kind=MetadataKind.APPROVAL_CHAIN, key=key, published__isnull=False
        )
        .select_related("published")
        .first()
    )
    if row is None or row.published is None:
        return None
    return row, row.published, chain_view(row, row.published)
