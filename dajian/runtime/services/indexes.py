"""Database indexes on the record table for unique and indexed fields (placeholder)."""

from __future__ import annotations

from typing import Any


def ensure_record_indexes(form_version: Any) -> None:
    """Create the unique and filter expression indexes a published version declares."""
