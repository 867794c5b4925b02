"""Who a spec in metadata points at: approvers, CC and notification recipients.

STUB: the registry (one module per spec type) is being written. Specs are JSON objects
with a ``type``: ``user`` (``users``: usernames), ``role`` (``role``), ``owner``,
``manager`` (``level``: 1 = the owner's direct manager), ``manager_chain`` (``levels``:
each manager up the org chart, in order), ``department_head`` (``depth``: the manager of
the owner's org unit ancestor at that depth, 1 = top-level department), ``field`` (a user
field of the record, ``field``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from dajian.platform.errors import ErrorDetail
from dajian.platform.models import Workspace


@dataclass(frozen=True)
class RecipientContext:
    """What resolution may look at: the record's owner and data, the submitter."""

    workspace: Workspace
    owner_id: int | None
    submitter_id: int | None = None
    data: Mapping[str, Any] = field(default_factory=dict)


def resolve_recipients(specs: Iterable[Mapping[str, Any]], ctx: RecipientContext) -> list[int]:
    """User ids of active members the specs name, in spec order, without repeats."""
    raise NotImplementedError


def manager_of(workspace: Workspace, user_id: int, level: int = 1) -> int | None:
    """The user's ``level``-th manager up the org chart (None if there is none)."""
    raise NotImplementedError


def check_recipient_spec(
    spec: Mapping[str, Any],
    path: str,
    user_fields: Iterable[str],
    role_keys: Iterable[str],
) -> list[ErrorDetail]:
    """Problems with one spec for metadata checks (unknown type, missing role or
    field, a field that is not a user field…), each with ``path``."""
    raise NotImplementedError
