"""What a request was decided on: the record's data and version when submitted."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dajian.platform.audit import canonical_hash
from dajian.runtime.models import Record


@dataclass(frozen=True)
class Snapshot:
    data: dict[str, Any]
    version: int
    hash: str


def snapshot_hash(data: Mapping[str, Any]) -> str:
    """SHA-256 of the canonical JSON of ``data`` (sorted keys, UTC datetimes): the same
    data always hashes the same, on either database, so a verifier can recompute it."""
    return canonical_hash(dict(data))


def take_snapshot(record: Record) -> Snapshot:
    """A copy of the record's stored data (so later edits cannot reach it) and its hash."""
    data = copy.deepcopy(dict(record.data))
    return Snapshot(data=data, version=record.version, hash=snapshot_hash(data))
