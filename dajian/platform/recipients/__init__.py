"""Who a spec in metadata points at: approvers, CC and notification recipients.

Specs are JSON objects with a ``type``, one module per type in this package:

- ``user`` (``users``: usernames) and ``role`` (``role``: a role key);
- ``owner`` (the record's owner) and ``submitter`` (the request's submitter);
- ``manager`` (``level``, default 1: the owner's direct manager; N walks up N managers),
  ``manager_chain`` (``levels``, default 2: each distinct manager going up, in order) and
  ``department_head`` (``depth``, default 1: the manager of the owner's org-unit
  ancestor at that depth, root = 0); each takes ``of``: ``owner`` (default) or
  ``submitter``;
- ``field`` (``field``: a user field of the record; every user id in it).

:func:`resolve_recipients` answers a whole list of specs with at most five queries,
whatever the specs, and only ever returns active members of the context's workspace.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from dajian.platform.errors import ErrorDetail
from dajian.platform.models import Workspace
from dajian.platform.recipients import registry
from dajian.platform.recipients.base import RecipientErrorCode, recipient_error
from dajian.platform.recipients.lookup import Lookup, RecipientContext

logger = logging.getLogger(__name__)

__all__ = [
    "RecipientContext",
    "RecipientErrorCode",
    "check_recipient_spec",
    "describe",
    "manager_of",
    "resolve_recipients",
]


def resolve_recipients(specs: Iterable[Mapping[str, Any]], ctx: RecipientContext) -> list[int]:
    """User ids of active members of ``ctx.workspace`` that the specs name, in spec order
    (then each spec's own order), without repeats. Specs of an unknown type name nobody
    (published metadata was checked when saved; this only guards old documents)."""
    types = []
    for spec in specs:
        recipient_type = registry.build(spec) if isinstance(spec, Mapping) else None
        if recipient_type is None:
            logger.warning("ignoring recipient spec of unknown type: %r", spec)
            continue
        types.append(recipient_type)
    lookup = Lookup(ctx)
    for recipient_type in types:
        recipient_type.prepare(lookup)
    lookup.load()
    named = dict.fromkeys(uid for t in types for uid in t.resolve(lookup))
    active = lookup.active_members(named)
    return [uid for uid in named if uid in active]


def manager_of(workspace: Workspace, user_id: int, level: int = 1) -> int | None:
    """The user's ``level``-th manager up the org chart when that manager is an active
    member (None otherwise): the same rule as a ``manager`` spec on a record they own."""
    ctx = RecipientContext(workspace=workspace, owner_id=user_id)
    found = resolve_recipients([{"type": "manager", "level": level}], ctx)
    return found[0] if found else None


def check_recipient_spec(
    spec: Mapping[str, Any],
    path: str,
    user_fields: Iterable[str],
    role_keys: Iterable[str],
) -> list[ErrorDetail]:
    """Problems with one spec for metadata checks, each at ``path`` or below it: not an
    object, unknown type, missing or unknown role, a field that is not one of
    ``user_fields``, a bad level, depth, ``of`` or user list."""
    if not isinstance(spec, Mapping):
        return [recipient_error(RecipientErrorCode.INVALID_RECIPIENT, path)]
    recipient_type = registry.build(spec)
    if recipient_type is None:
        return [
            recipient_error(
                RecipientErrorCode.UNKNOWN_RECIPIENT_TYPE, f"{path}.type", type=spec.get("type")
            )
        ]
    return recipient_type.check(path, frozenset(user_fields), frozenset(role_keys))


def describe(spec: Mapping[str, Any]) -> dict[str, str]:
    """A short label of the spec for UIs: ``{"zh-CN": "直属上级", "en": "Direct manager"}``."""
    recipient_type = registry.build(spec) if isinstance(spec, Mapping) else None
    if recipient_type is None:
        kind = spec.get("type") if isinstance(spec, Mapping) else None
        return {"zh-CN": f"未知接收人：{kind}", "en": f"Unknown recipient: {kind}"}
    return recipient_type.describe()
